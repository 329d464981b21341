/**
 * The trainer's event kinds, declared once: each kind's zod schema, from which events.ts
 * derives the TypeScript types. Whoever receives events over a wire (the hub) validates them
 * with these instead of trusting them; a test checks real trainer output against them.
 * Adding a kind is one entry in {@link trainerEventSchema}: the compiler then points at every
 * switch over `type` (trainer, hub, storage) that must handle it.
 */
import { z } from 'zod';
import { BACKENDS, hyperparamsSchema, runIdSchema } from './config';

/** The largest value an integer column holds (32-bit, on SQLite and PostgreSQL alike). */
export const INT_COLUMN_MAX = 2 ** 31 - 1;
/** Times are ms since 1970 within what a Date can hold. */
const DATE_MAX_MS = 8.64e15;

const finite = z.number().finite();
const time = z.number().min(-DATE_MAX_MS).max(DATE_MAX_MS);
const count = z.number().int().min(0).max(INT_COLUMN_MAX);
const epochNumber = z.number().int().min(1).max(INT_COLUMN_MAX);
const percent = z.number().min(0).max(100);
const probabilities = z.array(z.number().min(0).max(1)).length(10);
const digit = z.number().int().min(0).max(9);

/** Metrics that may stop being finite when a run diverges; each is sent as null then. */
export const WATCHED_METRICS = [
  'loss',
  'accuracy',
  'trainLoss',
  'trainAccuracy',
  'testLoss',
] as const;
/** What a non-finite value was (JSON has no NaN: it would arrive as null, saying nothing). */
export const NON_FINITE_VALUES = ['NaN', 'Infinity', '-Infinity'] as const;

export const RUN_STATUSES_REPORTED = [
  'running',
  'paused',
  'completed',
  'stopped',
  'failed',
] as const;
export const TRAINING_PHASES = ['train', 'eval-train', 'eval-test'] as const;
export const CONTROL_ACTIONS = ['pause', 'resume', 'stop', 'set-lr'] as const;

export const backendInfoSchema = z.object({
  name: z.enum(BACKENDS),
  /** What actually computes, e.g. "WebAssembly SIMD, 1 thread" or the GPU adapter's name. */
  device: z.string().max(256),
  /** Host the trainer runs on. */
  host: z.string().max(256),
});

export const digitPredictionSchema = z.object({
  /** Index into the test set; pixels are retrievable by index. */
  index: count,
  label: digit,
  predicted: digit,
  /**
   * The 10 class probabilities, summing to 1; null when the model's outputs were not finite (a
   * diverged run): then there is no prediction to show, and `predicted` is only argmax's 0.
   */
  probabilities: probabilities.nullable(),
});

/** confusion[true][predicted] counts over the test set. */
export const confusionSchema = z.array(z.array(count).length(10)).length(10);

export const batchPointSchema = z.object({
  /** Global step, 1-based: number of optimizer updates so far. */
  step: count,
  epoch: epochNumber,
  /** Batch index within the epoch, 0-based. */
  batch: count,
  /** Mean loss over the batch; null when it was not finite (NaN, ±Infinity: a diverging run). */
  loss: finite.nullable(),
  /** Percentage of the batch classified correctly, 0–100; null when not finite. */
  accuracy: percent.nullable(),
  learningRate: z.number().positive(),
  /** Training throughput over the last batch(es), samples per second. */
  samplesPerSec: z.number().min(0).finite(),
  /** Wall-clock time, ms since the epoch (Date.now()). */
  time,
});

export const epochSummarySchema = z.object({
  epoch: epochNumber,
  step: count,
  trainLoss: finite.nullable(),
  trainAccuracy: percent.nullable(),
  /** Null when not finite (a diverged model). */
  testLoss: finite.nullable(),
  testAccuracy: percent,
  confusion: confusionSchema,
  /** Training samples/s over this epoch (training time only, evaluation excluded). */
  samplesPerSec: z.number().min(0).finite(),
  trainMs: z.number().min(0).max(DATE_MAX_MS),
  evalMs: z.number().min(0).max(DATE_MAX_MS),
});

const base = { runId: runIdSchema, seq: z.number().int().min(1).max(INT_COLUMN_MAX) };

export const trainerEventSchema = z.discriminatedUnion('type', [
  z.object({
    ...base,
    type: z.literal('run:started'),
    hyperparams: hyperparamsSchema,
    backend: backendInfoSchema,
    trainSize: count,
    testSize: count,
    batchesPerEpoch: count,
    totalSteps: count,
    /** Step the run starts from (>0 when resumed from a checkpoint). */
    startStep: count,
    parameterCount: count,
    time,
  }),
  z.object({ ...base, type: z.literal('metrics:batch'), point: batchPointSchema }),
  z.object({
    ...base,
    type: z.literal('predictions'),
    step: count,
    epoch: epochNumber,
    items: z.array(digitPredictionSchema).max(64),
  }),
  z.object({
    ...base,
    type: z.literal('phase'),
    phase: z.enum(TRAINING_PHASES),
    epoch: epochNumber,
    done: count,
    total: count,
  }),
  z.object({ ...base, type: z.literal('metrics:epoch'), summary: epochSummarySchema }),
  z.object({
    ...base,
    type: z.literal('misclassified'),
    epoch: epochNumber,
    total: count,
    items: z.array(digitPredictionSchema).max(10_000),
  }),
  /** A metric stopped being finite at this step (sent once per stretch of non-finite values). */
  z.object({
    ...base,
    type: z.literal('metrics:nonfinite'),
    metric: z.enum(WATCHED_METRICS),
    value: z.enum(NON_FINITE_VALUES),
    step: count,
    epoch: epochNumber,
  }),
  z.object({
    ...base,
    type: z.literal('checkpoint'),
    epoch: count,
    step: count,
    path: z.string().max(4096),
    reason: z.enum(['epoch', 'stop']),
  }),
  z.object({
    ...base,
    type: z.literal('status'),
    status: z.enum(RUN_STATUSES_REPORTED),
    message: z.string().max(4096).optional(),
    step: count,
    time,
  }),
  z.object({
    ...base,
    type: z.literal('control'),
    action: z.enum(CONTROL_ACTIONS),
    learningRate: z.number().positive().optional(),
    step: count,
  }),
]);
