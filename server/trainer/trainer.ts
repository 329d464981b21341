/**
 * The fit loop: the tutorial's training schedule, streaming typed events to a sink.
 * No transport here: the caller passes an {@link EventSink}; control goes through
 * {@link Trainer}'s methods between batches.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { reportingSchema, type Hyperparams, type Reporting } from './config';
import { createControl, type ControlAction } from './control';
import { saveCheckpoint, type Checkpoint } from './checkpoint';
import { epochPermutation, mixSeed, pickPanel } from './data/shuffle';
import type { MnistData, MnistSplit } from './data/mnist';
import { createDivergenceWatch, Diverged } from './divergence';
import { createEmitter } from './emitter';
import { EvalAborted, evaluate, makeBatch, predictPanel } from './evaluate';
import type { BackendInfo, EpochSummary, EventSink, RunStatus } from './events';
import { softmaxNll } from './loss';
import { createModel, setWeights, type Model } from './model';
import { createOptimizer, type Optimizer } from './optimizer';
import { createThroughputMeter } from './throughput';

export interface TrainerOptions {
  runId: string;
  hyperparams: Hyperparams;
  reporting?: Partial<Reporting>;
  /** The loaded dataset; `trainLimit`/`testLimit` are applied here. */
  data: MnistData;
  backend: BackendInfo;
  /** Directory for this run's checkpoints; null = none. */
  checkpointDir: string | null;
  /** Continue from this checkpoint (same run id and hyperparameters). */
  resume?: Checkpoint;
  /**
   * Seq of the last event already emitted for this run; the next event gets one more. Default:
   * 0, or when resuming, the seq after the checkpoint event (room for the stopped run's final
   * status). A hub that stored more events than that passes its own last seq.
   */
  lastSeq?: number;
  /** How long events may wait to be batched before the sink gets them (default 50 ms). */
  flushMs?: number;
}

export interface RunResult {
  runId: string;
  status: Extract<RunStatus, 'completed' | 'stopped'>;
  hyperparams: Hyperparams;
  backend: BackendInfo;
  epochs: EpochSummary[];
  step: number;
  /** Training samples per second over the whole run, evaluation excluded. */
  samplesPerSec: number;
  testAccuracy: number | null;
  lastCheckpoint: string | null;
  /** tf.memory().numTensors at each epoch end (leak check). */
  numTensorsAtEpochEnd: number[];
}

export interface Trainer {
  run(): Promise<RunResult>;
  pause(): void;
  resume(): void;
  stop(): void;
  setLearningRate(lr: number): void;
  readonly status: RunStatus | 'idle';
  /** Optimizer steps taken so far. */
  readonly step: number;
}

/** A view of the first `limit` samples (no copy). */
export function limitSplit(split: MnistSplit, limit: number | null): MnistSplit {
  if (limit === null || limit >= split.count) return split;
  const pixels = split.rows * split.cols;
  return {
    ...split,
    count: limit,
    images: split.images.subarray(0, limit * pixels),
    labels: split.labels.subarray(0, limit),
  };
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export function createTrainer(opts: TrainerOptions, sink: EventSink): Trainer {
  const hp = opts.hyperparams;
  const reporting = reportingSchema.parse(opts.reporting ?? {});
  const control = createControl();
  const train = limitSplit(opts.data.train, hp.trainLimit);
  const test = limitSplit(opts.data.test, hp.testLimit);
  const batchesPerEpoch = Math.ceil(train.count / hp.batchSize);
  const totalSteps = batchesPerEpoch * hp.epochs;
  const emitter = createEmitter(opts.runId, sink, {
    lastSeq: opts.lastSeq ?? (opts.resume ? opts.resume.header.lastSeq + 1 : 0),
    flushMs: opts.flushMs,
  });
  let status: RunStatus | 'idle' = 'idle';
  let currentStep = 0;

  const setStatus = (next: RunStatus, step: number, message?: string) => {
    status = next;
    emitter.emit({
      type: 'status',
      status: next,
      step,
      time: Date.now(),
      ...(message ? { message } : {}),
    });
  };

  async function run(): Promise<RunResult> {
    if (status !== 'idle') throw new Error('a trainer runs once');
    const model = createModel(hp.seed);
    const optimizer = createOptimizer(model.params, {
      name: hp.optimizer,
      learningRate: hp.learningRate,
      momentum: hp.momentum,
      beta1: hp.beta1,
      beta2: hp.beta2,
      epsilon: hp.epsilon,
    });
    let step = 0;
    let position = { epoch: 1, batch: 0 };
    let epochsCompleted = 0;
    if (opts.resume) {
      restore(opts.resume, model, optimizer);
      ({ step, position, epochsCompleted } = opts.resume.header);
      currentStep = step;
    }
    const epochs: EpochSummary[] = [];
    const numTensorsAtEpochEnd: number[] = [];
    const panel = pickPanel(test.count, Math.min(reporting.panelSize, test.count), hp.seed);
    const meter = createThroughputMeter();
    const divergence = createDivergenceWatch(reporting.stopAfterNonFinite);
    let lastCheckpoint: string | null = null;
    let trainMsTotal = 0;
    let samplesTotal = 0;

    emitter.emit({
      type: 'run:started',
      hyperparams: hp,
      backend: opts.backend,
      trainSize: train.count,
      testSize: test.count,
      batchesPerEpoch,
      totalSteps,
      startStep: step,
      parameterCount: model.parameterCount(),
      time: Date.now(),
    });
    setStatus('running', step);

    const onApplied = (action: ControlAction, learningRate?: number) => {
      emitter.emit({
        type: 'control',
        action,
        step,
        ...(learningRate !== undefined ? { learningRate } : {}),
      });
      if (action === 'pause') setStatus('paused', step);
      if (action === 'resume') setStatus('running', step);
    };
    const hooks = { onApplied, applyLearningRate: (lr: number) => (optimizer.learningRate = lr) };

    const checkpoint = async (reason: 'epoch' | 'stop') => {
      if (!opts.checkpointDir) return;
      const tensors = new Map<string, tf.Tensor>([...model.params, ...optimizer.state().tensors]);
      lastCheckpoint = await saveCheckpoint(
        opts.checkpointDir,
        {
          runId: opts.runId,
          position,
          step,
          epochsCompleted,
          hyperparams: hp,
          learningRate: optimizer.learningRate,
          optimizerStep: optimizer.state().step,
          lastSeq: emitter.lastSeq + 1,
          reason,
          backend: opts.backend.name,
          time: Date.now(),
        },
        tensors,
      );
      emitter.emit({
        type: 'checkpoint',
        epoch: epochsCompleted,
        step,
        path: lastCheckpoint,
        reason,
      });
    };

    let stopped = false;
    try {
      epochLoop: for (let epoch = position.epoch; epoch <= hp.epochs; epoch++) {
        const order = epochPermutation(train.count, hp.seed, epoch);
        let epochTrainMs = 0;
        let epochSamples = 0;
        let nextPanelAt = 0;
        for (let b = position.batch; b < batchesPerEpoch; b++) {
          await yieldToEventLoop();
          if (!(await control.checkpoint(hooks))) {
            stopped = true;
            break epochLoop;
          }
          const started = performance.now();
          const indices = order.subarray(
            b * hp.batchSize,
            Math.min((b + 1) * hp.batchSize, train.count),
          );
          currentStep = ++step;
          const metrics = trainStep(model, optimizer, train, indices, mixSeed(hp.seed, step));
          // data(), not dataSync(): WebGPU in Node has no synchronous read.
          const [loss, correct] = await metrics.data();
          metrics.dispose();
          const ms = performance.now() - started;
          epochTrainMs += ms;
          epochSamples += indices.length;
          position = { epoch, batch: b + 1 };
          const checked = divergence.batch(step, epoch, loss, (100 * correct) / indices.length);
          emitter.emit({
            type: 'metrics:batch',
            point: {
              step,
              epoch,
              batch: b,
              loss: checked.loss,
              accuracy: checked.accuracy,
              learningRate: optimizer.learningRate,
              samplesPerSec: meter.record(indices.length, ms),
              time: Date.now(),
            },
          });
          for (const e of checked.events) emitter.emit(e);
          if (checked.diverged) throw new Diverged(checked.diverged);
          const panelDue = reporting.panelEveryBatches
            ? step % reporting.panelEveryBatches === 0
            : epochTrainMs >= nextPanelAt;
          if (panelDue || b === batchesPerEpoch - 1) {
            nextPanelAt = epochTrainMs + reporting.panelEveryMs;
            emitter.emit({
              type: 'predictions',
              step,
              epoch,
              items: await predictPanel(model, test, panel),
            });
          }
        }
        trainMsTotal += epochTrainMs;
        samplesTotal += epochSamples;

        const evalStarted = performance.now();
        const shouldAbort = () => control.stopRequested;
        const phase = (name: 'eval-train' | 'eval-test') => (done: number, total: number) =>
          emitter.emit({ type: 'phase', phase: name, epoch, done, total });
        const trainEval = reporting.evalTrainSet
          ? await evaluate(model, train, { shouldAbort, onProgress: phase('eval-train') })
          : null;
        const testEval = await evaluate(model, test, {
          details: true,
          maxMisclassified: reporting.maxMisclassified,
          shouldAbort,
          onProgress: phase('eval-test'),
        });
        const evaluated = divergence.epoch(step, epoch, {
          trainLoss: trainEval?.loss ?? null,
          trainAccuracy: trainEval?.accuracy ?? null,
          testLoss: testEval.loss,
        });
        const summary: EpochSummary = {
          epoch,
          step,
          ...evaluated.values,
          testAccuracy: testEval.accuracy,
          confusion: testEval.confusion,
          samplesPerSec: epochTrainMs > 0 ? (epochSamples / epochTrainMs) * 1000 : 0,
          trainMs: Math.round(epochTrainMs),
          evalMs: Math.round(performance.now() - evalStarted),
        };
        epochs.push(summary);
        epochsCompleted = epoch;
        position = { epoch: epoch + 1, batch: 0 };
        emitter.emit({ type: 'metrics:epoch', summary });
        for (const e of evaluated.events) emitter.emit(e);
        emitter.emit({
          type: 'misclassified',
          epoch,
          total: testEval.misclassifiedTotal,
          items: testEval.misclassified,
        });
        await checkpoint('epoch');
        numTensorsAtEpochEnd.push(tf.memory().numTensors);
      }
    } catch (error) {
      if (!(error instanceof EvalAborted)) {
        setStatus('failed', step, error instanceof Error ? error.message : String(error));
        await emitter.flush();
        model.dispose();
        optimizer.dispose();
        throw error;
      }
      stopped = true;
      hooks.onApplied('stop');
    }
    if (stopped) await checkpoint('stop');
    setStatus(stopped ? 'stopped' : 'completed', step);
    await emitter.flush();
    model.dispose();
    optimizer.dispose();
    return {
      runId: opts.runId,
      status: stopped ? 'stopped' : 'completed',
      hyperparams: hp,
      backend: opts.backend,
      epochs,
      step,
      samplesPerSec: trainMsTotal > 0 ? (samplesTotal / trainMsTotal) * 1000 : 0,
      testAccuracy: epochs.length ? epochs[epochs.length - 1].testAccuracy : null,
      lastCheckpoint,
      numTensorsAtEpochEnd,
    };
  }

  return {
    run,
    pause: () => control.pause(),
    resume: () => control.resume(),
    stop: () => control.stop(),
    setLearningRate: (lr) => control.setLearningRate(lr),
    get status() {
      return status;
    },
    get step() {
      return currentStep;
    },
  };
}

/** One optimizer step; returns a [mean loss, number correct] tensor to read back in one transfer. */
export function trainStep(
  model: Model,
  optimizer: Optimizer,
  split: MnistSplit,
  indices: Uint32Array,
  dropoutSeed: number,
): tf.Tensor1D {
  const batch = makeBatch(split, indices);
  let correct: tf.Scalar | null = null;
  const metrics = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => {
      const logits = model.logits(batch.x, dropoutSeed);
      // Kept past variableGrads' scope; disposed below once read. Log-softmax subtracts one
      // value per row, so the logits' arg max is the most probable class.
      correct = tf.keep(
        tf.sum(
          tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(batch.oneHot, 1)), 'float32'),
        ) as tf.Scalar,
      );
      return softmaxNll(logits, batch.oneHot);
    });
    optimizer.apply(grads);
    return tf.stack([value, correct!]) as tf.Tensor1D;
  });
  tf.dispose([correct!, batch.x, batch.oneHot]);
  return metrics;
}

/** Loads weights and optimizer slots from a checkpoint into a fresh model/optimizer. */
function restore(ckpt: Checkpoint, model: Model, optimizer: Optimizer): void {
  setWeights(model, ckpt.tensors);
  const slots = new Map<string, Float32Array>();
  for (const [name, entry] of ckpt.tensors) if (name.includes('/')) slots.set(name, entry.values);
  optimizer.load({ tensors: slots, step: ckpt.header.optimizerStep });
  optimizer.learningRate = ckpt.header.learningRate;
}

/** Directory for a run's checkpoints under a root. */
export function runCheckpointDir(root: string, runId: string): string {
  const dir = path.join(root, runId.replace(/[^A-Za-z0-9_.-]/g, '_'));
  const inside = path.relative(path.resolve(root), path.resolve(dir));
  if (inside === '' || inside.startsWith('..') || path.isAbsolute(inside))
    throw new Error(`run id "${runId}" does not name a directory inside ${root}`);
  return dir;
}
