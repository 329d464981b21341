/**
 * Stored rows as the protocol's wire shapes, in one place, so that the snapshot, the live
 * stream's read-back, the export and the HTTP API describe a run the same way. JSON columns
 * are checked on the way out: a row that does not hold what it should is an error that names
 * it, not a value of the wrong shape handed on.
 */
import { z } from 'zod';
import type {
  AnnotationRow,
  BatchMetricRow,
  EpochMetricRow,
  PredictionPanelRow,
  RunRow,
} from '../../db/rows';
import {
  learningRatesSchema,
  RUN_ORIGINS,
  RUN_STATUSES,
  type DigitPrediction,
  type LearningRateChange,
  type HubRunStatus,
  type RunSummary,
  type WireAnnotation,
  type WireEpoch,
  type WirePredictions,
  type WirePoint,
} from '../../protocol';
import { hyperparamsSchema } from '../../trainer/config';
import { confusionSchema, digitPredictionSchema } from '../../trainer/eventSchema';

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const statusSchema = z.enum(RUN_STATUSES);
const originSchema = z.enum(RUN_ORIGINS);
const panelItemsSchema = z.array(digitPredictionSchema);

/** A JSON column's value checked against its schema; the error names the row. */
export function storedJson<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new Error(
      `stored ${what} is not what it should be: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
    );
  return parsed.data;
}

/** The 10 class probabilities of a stored misclassified digit (checked by hand: 10,000 a list). */
export function storedProbabilities(value: unknown, what: string): number[] | null {
  // null: the model's outputs were not finite (a diverged run).
  if (value === null) return null;
  if (!Array.isArray(value) || value.length !== 10 || !value.every((p) => typeof p === 'number'))
    throw new Error(`stored ${what} is not 10 probabilities`);
  return value;
}

export function storedStatus(value: string, runId: string): HubRunStatus {
  return storedJson(statusSchema, value, `status of run ${runId}`);
}

export function toRunSummary(run: RunRow): RunSummary {
  const hp = hyperparamsSchema.safeParse(run.hyperparams);
  return {
    id: run.id,
    name: run.name,
    description: run.description,
    tags: storedTags(run.tags, run.id),
    archivedAt: iso(run.archivedAt),
    status: storedStatus(run.status, run.id),
    statusMessage: run.statusMessage,
    hyperparams: hp.success ? hp.data : hyperparamsSchema.parse({}),
    backend: run.backend,
    device: run.device,
    trainerHost: run.trainerHost,
    origin: storedJson(originSchema, run.origin, `origin of run ${run.id}`),
    originHost: run.originHost,
    createdBy: run.createdBy,
    createdAt: run.createdAt.toISOString(),
    startedAt: iso(run.startedAt),
    endedAt: iso(run.endedAt),
    trainSize: run.trainSize,
    testSize: run.testSize,
    batchesPerEpoch: run.batchesPerEpoch,
    totalSteps: run.totalSteps,
    lastStep: run.lastStep,
    lastSeq: run.lastSeq,
    finalTrainLoss: run.finalTrainLoss,
    finalTrainAccuracy: run.finalTrainAccuracy,
    finalTestLoss: run.finalTestLoss,
    finalTestAccuracy: run.finalTestAccuracy,
    samplesPerSec: run.samplesPerSec,
    learningRates: storedLearningRates(run.learningRates, run.id),
  };
}

const storedTagsSchema = z.array(z.string());
/** A run's stored tags (none stored yet: none). */
export function storedTags(value: unknown, runId: string): string[] {
  return value === null || value === undefined
    ? []
    : storedJson(storedTagsSchema, value, `tags of run ${runId}`);
}

/** A run's stored learning-rate history (none stored yet: empty). */
export function storedLearningRates(value: unknown, runId: string): LearningRateChange[] {
  return value === null || value === undefined
    ? []
    : storedJson(learningRatesSchema, value, `learning rates of run ${runId}`);
}

export function toWirePoint(row: BatchMetricRow): WirePoint {
  const { seq, step, epoch, batch, loss, accuracy, learningRate, samplesPerSec, time } = row;
  return { seq, step, epoch, batch, loss, accuracy, learningRate, samplesPerSec, time };
}

export function toWireEpoch(row: EpochMetricRow, confusion: unknown): WireEpoch {
  const {
    seq,
    epoch,
    step,
    trainLoss,
    trainAccuracy,
    testLoss,
    testAccuracy,
    samplesPerSec,
    trainMs,
    evalMs,
    time,
  } = row;
  // An epoch whose matrix is not stored (yet) has none; a stored one must be 10×10.
  const matrix =
    confusion === undefined
      ? []
      : storedJson(
          confusionSchema,
          confusion,
          `confusion matrix of run ${row.runId} epoch ${epoch}`,
        );
  return {
    seq,
    epoch,
    step,
    trainLoss,
    trainAccuracy,
    testLoss,
    testAccuracy,
    samplesPerSec,
    trainMs,
    evalMs,
    time,
    confusion: matrix,
  };
}

export function toWirePredictions(row: PredictionPanelRow): WirePredictions {
  const items: DigitPrediction[] = storedJson(
    panelItemsSchema,
    row.items,
    `prediction panel ${row.seq} of run ${row.runId}`,
  );
  return { seq: row.seq, step: row.step, epoch: row.epoch, items, time: row.time };
}

export function toWireAnnotation(
  row: AnnotationRow & { _count?: { edits: number } },
): WireAnnotation {
  return {
    id: row.id,
    runId: row.runId,
    step: row.step,
    kind: row.kind === 'event' ? 'event' : 'note',
    text: row.text,
    authorId: row.authorId,
    authorName: row.authorName,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    edits: row._count?.edits ?? 0,
  };
}
