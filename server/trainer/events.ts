/**
 * Typed events the trainer emits. The trainer core knows nothing about transport: it hands
 * events to an {@link EventSink}; the daemon forwards them (stdout JSON lines now, Socket.IO
 * in the hub). Every event carries the run id and a per-run, gap-free `seq`.
 */
import type { BackendName, Hyperparams } from './config';

export type RunStatus = 'running' | 'paused' | 'completed' | 'stopped' | 'failed';

export interface BackendInfo {
  name: BackendName;
  /** What actually computes, e.g. "WebAssembly SIMD, 1 thread" or the GPU adapter's name. */
  device: string;
  /** Host the trainer runs on. */
  host: string;
}

export interface BatchPoint {
  /** Global step, 1-based: number of optimizer updates so far. */
  step: number;
  epoch: number;
  /** Batch index within the epoch, 0-based. */
  batch: number;
  loss: number;
  /** Percentage of the batch classified correctly, 0–100. */
  accuracy: number;
  learningRate: number;
  /** Training throughput over the last batch(es), samples per second. */
  samplesPerSec: number;
  /** Wall-clock time, ms since the epoch (Date.now()). */
  time: number;
}

export interface DigitPrediction {
  /** Index into the test set; pixels are retrievable by index. */
  index: number;
  label: number;
  predicted: number;
  /** The 10 class probabilities, summing to 1. */
  probabilities: number[];
}

export interface EpochSummary {
  epoch: number;
  step: number;
  trainLoss: number | null;
  trainAccuracy: number | null;
  testLoss: number;
  testAccuracy: number;
  /** confusion[true][predicted] counts over the test set. */
  confusion: number[][];
  /** Training samples/s over this epoch (training time only, evaluation excluded). */
  samplesPerSec: number;
  trainMs: number;
  evalMs: number;
}

interface EventBase {
  runId: string;
  seq: number;
}

export type TrainerEvent =
  | (EventBase & {
      type: 'run:started';
      hyperparams: Hyperparams;
      backend: BackendInfo;
      trainSize: number;
      testSize: number;
      batchesPerEpoch: number;
      totalSteps: number;
      /** Step the run starts from (>0 when resumed from a checkpoint). */
      startStep: number;
      parameterCount: number;
      time: number;
    })
  | (EventBase & { type: 'metrics:batch'; point: BatchPoint })
  | (EventBase & { type: 'predictions'; step: number; epoch: number; items: DigitPrediction[] })
  | (EventBase & { type: 'phase'; phase: 'train' | 'eval-train' | 'eval-test'; epoch: number; done: number; total: number })
  | (EventBase & { type: 'metrics:epoch'; summary: EpochSummary })
  | (EventBase & { type: 'misclassified'; epoch: number; total: number; items: DigitPrediction[] })
  | (EventBase & { type: 'checkpoint'; epoch: number; step: number; path: string; reason: 'epoch' | 'stop' })
  | (EventBase & { type: 'status'; status: RunStatus; message?: string; step: number; time: number })
  | (EventBase & { type: 'control'; action: 'pause' | 'resume' | 'stop' | 'set-lr'; learningRate?: number; step: number });

export type TrainerEventType = TrainerEvent['type'];
/** An event before the emitter stamps it with `runId` and `seq`. */
export type UnstampedEvent = TrainerEvent extends infer E ? (E extends TrainerEvent ? Omit<E, 'runId' | 'seq'> : never) : never;

/** Receives events in order. Returning a promise lets the sink apply back-pressure to itself. */
export interface EventSink {
  write(events: readonly TrainerEvent[]): void | Promise<void>;
}

/** Exhaustiveness helper for switches over discriminated unions. */
export function assertNever(value: never): never {
  throw new Error(`Unhandled case: ${JSON.stringify(value)}`);
}
