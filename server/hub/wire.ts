/**
 * Conversions between stored rows and the protocol's wire shapes, and from trainer events to
 * the rows that store them. One place, so the snapshot, the live stream and the HTTP API all
 * describe a run the same way.
 */
import type { Annotation, BatchMetric, EpochMetric, PredictionPanel, Run } from '../db/generated/sqlite/client';
import type { HubRunStatus, RunSummary, WireAnnotation, WireEpoch, WirePanel, WirePoint } from '../protocol';
import { hyperparamsSchema } from '../trainer/config';
import type { DigitPrediction, TrainerEvent } from '../trainer/events';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toRunSummary(run: Run): RunSummary {
  const hp = hyperparamsSchema.safeParse(run.hyperparams);
  return {
    id: run.id,
    name: run.name,
    status: run.status as HubRunStatus,
    statusMessage: run.statusMessage,
    hyperparams: hp.success ? hp.data : hyperparamsSchema.parse({}),
    backend: run.backend,
    device: run.device,
    trainerHost: run.trainerHost,
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
  };
}

export function toWirePoint(row: BatchMetric): WirePoint {
  const { seq, step, epoch, batch, loss, accuracy, learningRate, samplesPerSec, time } = row;
  return { seq, step, epoch, batch, loss, accuracy, learningRate, samplesPerSec, time };
}

export function toWireEpoch(row: EpochMetric, confusion: number[][]): WireEpoch {
  const { seq, epoch, step, trainLoss, trainAccuracy, testLoss, testAccuracy, samplesPerSec, trainMs, evalMs, time } = row;
  return { seq, epoch, step, trainLoss, trainAccuracy, testLoss, testAccuracy, samplesPerSec, trainMs, evalMs, time, confusion };
}

export function toWirePanel(row: PredictionPanel): WirePanel {
  return { seq: row.seq, step: row.step, epoch: row.epoch, items: row.items as unknown as DigitPrediction[], time: row.time };
}

export function toWireAnnotation(row: Annotation & { _count?: { edits: number } }): WireAnnotation {
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

/** Trainer events as the wire shapes the live stream and snapshots carry. */
export type WireEvent =
  | { seq: number; kind: 'point'; point: WirePoint }
  | { seq: number; kind: 'epoch'; epoch: WireEpoch }
  | { seq: number; kind: 'panel'; panel: WirePanel }
  | { seq: number; kind: 'misclassified'; epoch: number; total: number; items: DigitPrediction[] }
  | { seq: number; kind: 'progress'; phase: 'train' | 'eval-train' | 'eval-test'; epoch: number; done: number; total: number }
  /** Stored or acted on by the hub but not forwarded as its own message (status, checkpoint...). */
  | { seq: number; kind: 'silent' };

export function toWireEvent(event: TrainerEvent, receivedAt: number): WireEvent {
  const seq = event.seq;
  switch (event.type) {
    case 'metrics:batch':
      return { seq, kind: 'point', point: { ...event.point, seq } };
    case 'metrics:epoch':
      return { seq, kind: 'epoch', epoch: { ...event.summary, seq, time: receivedAt } };
    case 'predictions':
      return { seq, kind: 'panel', panel: { seq, step: event.step, epoch: event.epoch, items: event.items, time: receivedAt } };
    case 'misclassified':
      return { seq, kind: 'misclassified', epoch: event.epoch, total: event.total, items: event.items };
    case 'phase':
      return { seq, kind: 'progress', phase: event.phase, epoch: event.epoch, done: event.done, total: event.total };
    case 'run:started':
    case 'checkpoint':
    case 'status':
    case 'control':
      return { seq, kind: 'silent' };
  }
}
