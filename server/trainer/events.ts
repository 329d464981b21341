/**
 * Typed events the trainer emits. The trainer core knows nothing about transport: it hands
 * events to an {@link EventSink}; the daemon forwards them (stdout JSON lines, or Socket.IO to
 * the hub). Every event carries the run id and a per-run, gap-free `seq`. The kinds and their
 * fields are declared once, as schemas, in eventSchema.ts; these are their types.
 */
import type { z } from 'zod';
import type {
  RUN_STATUSES_REPORTED,
  backendInfoSchema,
  batchPointSchema,
  digitPredictionSchema,
  epochSummarySchema,
  trainerEventSchema,
} from './eventSchema';

export type RunStatus = (typeof RUN_STATUSES_REPORTED)[number];
export type BackendInfo = z.infer<typeof backendInfoSchema>;
export type BatchPoint = z.infer<typeof batchPointSchema>;
export type DigitPrediction = z.infer<typeof digitPredictionSchema>;
export type EpochSummary = z.infer<typeof epochSummarySchema>;
export type TrainerEvent = z.infer<typeof trainerEventSchema>;

/** An event before the emitter stamps it with `runId` and `seq`. */
export type UnstampedEvent = TrainerEvent extends infer E
  ? E extends TrainerEvent
    ? Omit<E, 'runId' | 'seq'>
    : never
  : never;

/** Receives events in order. Returning a promise lets the sink apply back-pressure to itself. */
export interface EventSink {
  write(events: readonly TrainerEvent[]): void | Promise<void>;
}

/** Exhaustiveness helper for switches over discriminated unions. */
export function assertNever(value: never): never {
  throw new Error(`Unhandled case: ${JSON.stringify(value)}`);
}
