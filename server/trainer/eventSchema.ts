/**
 * zod schemas for {@link TrainerEvent}s, so that whoever receives events from a trainer over
 * a wire (the hub) validates them instead of trusting them. Kept next to events.ts; a test
 * checks real trainer output against it.
 */
import { z } from 'zod';
import { BACKENDS, hyperparamsSchema } from './config';
import type { TrainerEvent } from './events';

const finite = z.number().finite();
const count = z.number().int().min(0);
const probabilities = z.array(z.number().min(0).max(1)).length(10);
const digit = z.number().int().min(0).max(9);

export const digitPredictionSchema = z.object({ index: count, label: digit, predicted: digit, probabilities });

export const batchPointSchema = z.object({
  step: count,
  epoch: z.number().int().min(1),
  batch: count,
  loss: finite,
  accuracy: z.number().min(0).max(100),
  learningRate: z.number().positive(),
  samplesPerSec: z.number().min(0),
  time: finite,
});

export const epochSummarySchema = z.object({
  epoch: z.number().int().min(1),
  step: count,
  trainLoss: finite.nullable(),
  trainAccuracy: z.number().min(0).max(100).nullable(),
  testLoss: finite,
  testAccuracy: z.number().min(0).max(100),
  confusion: z.array(z.array(count).length(10)).length(10),
  samplesPerSec: z.number().min(0),
  trainMs: z.number().min(0),
  evalMs: z.number().min(0),
});

const base = { runId: z.string().min(1).max(128), seq: z.number().int().min(1) };

export const trainerEventSchema = z.discriminatedUnion('type', [
  z.object({
    ...base,
    type: z.literal('run:started'),
    hyperparams: hyperparamsSchema,
    backend: z.object({ name: z.enum(BACKENDS), device: z.string().max(256), host: z.string().max(256) }),
    trainSize: count,
    testSize: count,
    batchesPerEpoch: count,
    totalSteps: count,
    startStep: count,
    parameterCount: count,
    time: finite,
  }),
  z.object({ ...base, type: z.literal('metrics:batch'), point: batchPointSchema }),
  z.object({ ...base, type: z.literal('predictions'), step: count, epoch: z.number().int().min(1), items: z.array(digitPredictionSchema).max(64) }),
  z.object({ ...base, type: z.literal('phase'), phase: z.enum(['train', 'eval-train', 'eval-test']), epoch: z.number().int().min(1), done: count, total: count }),
  z.object({ ...base, type: z.literal('metrics:epoch'), summary: epochSummarySchema }),
  z.object({ ...base, type: z.literal('misclassified'), epoch: z.number().int().min(1), total: count, items: z.array(digitPredictionSchema).max(10_000) }),
  z.object({ ...base, type: z.literal('checkpoint'), epoch: count, step: count, path: z.string().max(4096), reason: z.enum(['epoch', 'stop']) }),
  z.object({
    ...base,
    type: z.literal('status'),
    status: z.enum(['running', 'paused', 'completed', 'stopped', 'failed']),
    message: z.string().max(4096).optional(),
    step: count,
    time: finite,
  }),
  z.object({ ...base, type: z.literal('control'), action: z.enum(['pause', 'resume', 'stop', 'set-lr']), learningRate: z.number().positive().optional(), step: count }),
]);

// Compile-time check that the schema and the TypeScript union describe the same events.
type Parsed = z.infer<typeof trainerEventSchema>;
const _sameShape: [Parsed] extends [TrainerEvent] ? ([TrainerEvent] extends [Parsed] ? true : false) : false = true;
void _sameShape;
