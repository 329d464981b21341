/**
 * Batches and evaluation: the tutorial's per-epoch metrics over a whole split (loss = summed
 * NLL / N, accuracy = 100 × correct / N), the confusion matrix, misclassified digits and the
 * prediction panel. Log-probabilities are read back once per evaluation batch and reduced in
 * JavaScript, which also gives the probabilities of the misclassified digits for free.
 */
import * as tf from '@tensorflow/tfjs-core';
import { normalizeInto, NUM_CLASSES, type MnistSplit } from './data/mnist';
import type { DigitPrediction } from './events';
import type { Model } from './model';

export interface Batch {
  x: tf.Tensor4D;
  oneHot: tf.Tensor2D;
  labels: Uint8Array;
}

/** Builds normalised inputs and one-hot targets for the samples at `indices`. */
export function makeBatch(split: MnistSplit, indices: ArrayLike<number>): Batch {
  const n = indices.length;
  const pixels = split.rows * split.cols;
  const xs = new Float32Array(n * pixels);
  normalizeInto(xs, split.images, indices, pixels);
  const labels = new Uint8Array(n);
  const oneHot = new Float32Array(n * NUM_CLASSES);
  for (let i = 0; i < n; i++) {
    labels[i] = split.labels[indices[i]];
    oneHot[i * NUM_CLASSES + labels[i]] = 1;
  }
  return {
    x: tf.tensor4d(xs, [n, split.rows, split.cols, 1]),
    oneHot: tf.tensor2d(oneHot, [n, NUM_CLASSES]),
    labels,
  };
}

export interface EvalOptions {
  batchSize?: number;
  /** Also compute the confusion matrix and misclassified digits. */
  details?: boolean;
  maxMisclassified?: number;
  onProgress?: (done: number, total: number) => void;
  /** Checked between batches; true aborts the evaluation with an {@link EvalAborted}. */
  shouldAbort?: () => boolean;
}

export interface EvalResult {
  loss: number;
  accuracy: number;
  count: number;
  confusion: number[][];
  misclassified: DigitPrediction[];
  misclassifiedTotal: number;
}

export class EvalAborted extends Error {
  constructor() {
    super('evaluation aborted');
    this.name = 'EvalAborted';
  }
}

/** Evaluates the model (inference mode, no dropout) over a whole split. */
export async function evaluate(
  model: Model,
  split: MnistSplit,
  opts: EvalOptions = {},
): Promise<EvalResult> {
  const batchSize = opts.batchSize ?? 1000;
  const maxMis = opts.maxMisclassified ?? Infinity;
  const confusion = Array.from({ length: NUM_CLASSES }, () =>
    new Array<number>(NUM_CLASSES).fill(0),
  );
  const misclassified: DigitPrediction[] = [];
  let misclassifiedTotal = 0;
  let nll = 0;
  let correct = 0;
  const indices = new Uint32Array(batchSize);
  for (let start = 0; start < split.count; start += batchSize) {
    if (opts.shouldAbort?.()) throw new EvalAborted();
    const n = Math.min(batchSize, split.count - start);
    for (let i = 0; i < n; i++) indices[i] = start + i;
    const batch = makeBatch(split, indices.subarray(0, n));
    const logProbs = model.forward(batch.x);
    const values = await logProbs.data();
    tf.dispose([batch.x, batch.oneHot, logProbs]);
    for (let i = 0; i < n; i++) {
      const row = values.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES);
      const label = batch.labels[i];
      const predicted = argMax(row);
      nll -= row[label];
      if (predicted === label) {
        correct++;
      } else if (opts.details) {
        misclassifiedTotal++;
        if (misclassified.length < maxMis) {
          misclassified.push({
            index: start + i,
            label,
            predicted,
            probabilities: toProbabilities(row),
          });
        }
      }
      if (opts.details) confusion[label][predicted]++;
    }
    opts.onProgress?.(start + n, split.count);
    // Give the event loop a turn (wasm's data() resolves at once): events, control and
    // the connection to the hub keep flowing during a long evaluation.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return {
    loss: nll / split.count,
    accuracy: (100 * correct) / split.count,
    count: split.count,
    confusion,
    misclassified,
    misclassifiedTotal,
  };
}

export interface Classification {
  predicted: number;
  probabilities: number[] | null;
}

/** Classifies a batch of normalised images (inference mode); `x` stays the caller's to dispose. */
export async function classify(model: Model, x: tf.Tensor4D): Promise<Classification[]> {
  const logProbs = model.forward(x);
  const values = await logProbs.data();
  logProbs.dispose();
  return Array.from({ length: x.shape[0] }, (_, i) => {
    const row = values.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES);
    return { predicted: argMax(row), probabilities: toProbabilities(row) };
  });
}

/** Predictions on a fixed set of test digits (the live prediction panel). */
export async function predictPanel(
  model: Model,
  split: MnistSplit,
  indices: readonly number[],
): Promise<DigitPrediction[]> {
  const batch = makeBatch(split, indices);
  const results = await classify(model, batch.x);
  tf.dispose([batch.x, batch.oneHot]);
  return indices.map((index, i) => ({ index, label: batch.labels[i], ...results[i] }));
}

export function argMax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/**
 * exp() of log-probabilities, rounded to 5 decimals to keep events small; null when the row is
 * not finite (a diverged model predicts nothing).
 */
export function toProbabilities(logRow: ArrayLike<number>): number[] | null {
  const out = Array.from(logRow, (v) => Math.round(Math.exp(v) * 1e5) / 1e5);
  return out.every(Number.isFinite) ? out : null;
}
