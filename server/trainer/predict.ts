/**
 * Predictions on demand from a checkpoint: the dashboard's "draw a digit" and the review of
 * past runs. Pixels are 28×28 grey values 0–255 (white digit on black, like MNIST), row-major.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Checkpoint } from './checkpoint';
import { MNIST_COLS, MNIST_ROWS, normalizeInto, type MnistSplit } from './data/mnist';
import { classify, type Classification } from './evaluate';
import { createModel, setWeights, type Model } from './model';

export const DIGIT_PIXELS = MNIST_ROWS * MNIST_COLS;

export type Prediction = Classification;

export interface Predictor {
  /** Classifies one or more images of 784 pixels each. */
  predict(images: ReadonlyArray<ArrayLike<number>>): Promise<Prediction[]>;
  readonly step: number;
  dispose(): void;
}

export class PredictInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PredictInputError';
  }
}

/** Builds a model from a checkpoint's weights (optimizer slots are ignored). */
export function createPredictor(ckpt: Checkpoint): Predictor {
  const model: Model = createModel(ckpt.header.hyperparams.seed);
  try {
    setWeights(model, ckpt.tensors);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return {
    step: ckpt.header.step,
    async predict(images) {
      if (images.length === 0 || images.length > 1024)
        throw new PredictInputError('expected 1 to 1024 images');
      const bytes = new Uint8Array(images.length * DIGIT_PIXELS);
      images.forEach((image, i) => {
        if (image.length !== DIGIT_PIXELS)
          throw new PredictInputError(
            `image ${i} has ${image.length} pixels, expected ${DIGIT_PIXELS}`,
          );
        for (let p = 0; p < DIGIT_PIXELS; p++) {
          const v = image[p];
          if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 255) {
            throw new PredictInputError(`image ${i} pixel ${p} is ${String(v)}, expected 0–255`);
          }
          bytes[i * DIGIT_PIXELS + p] = Math.round(v);
        }
      });
      const xs = new Float32Array(bytes.length);
      normalizeInto(
        xs,
        bytes,
        Array.from(images, (_, i) => i),
        DIGIT_PIXELS,
      );
      const x = tf.tensor4d(xs, [images.length, MNIST_ROWS, MNIST_COLS, 1]);
      try {
        return await classify(model, x);
      } finally {
        x.dispose();
      }
    },
    dispose: () => model.dispose(),
  };
}

/** The raw pixels (0–255, row-major) of one image of a split, e.g. a misclassified test digit. */
export function digitPixels(split: MnistSplit, index: number): Uint8Array {
  if (!Number.isInteger(index) || index < 0 || index >= split.count) {
    throw new PredictInputError(`digit index ${index} is out of range 0–${split.count - 1}`);
  }
  const size = split.rows * split.cols;
  return split.images.subarray(index * size, (index + 1) * size);
}
