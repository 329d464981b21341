/**
 * What watchers receive: a run's summary, its snapshot (`run:watch`'s answer) and its live
 * stream, the stream's kinds as the hub holds and relays them, and every hub → browser event.
 */
import { z } from 'zod';
import { digitPredictionSchema, INT_COLUMN_MAX, TRAINING_PHASES } from '../trainer/eventSchema';
import { batchPointSchema, epochSummarySchema } from '../trainer/eventSchema';
import { hyperparamsSchema } from '../trainer/config';
import type { BucketColumns, PointColumns } from '../columns/codec';

/** Where a run was created (RunSummary.origin). */
export const RUN_ORIGINS = ['hub', 'cli'] as const;
export type RunOrigin = (typeof RUN_ORIGINS)[number];

export const RUN_STATUSES = [
  'queued',
  'running',
  'paused',
  'completed',
  'stopped',
  'failed',
  'interrupted',
] as const;
export type HubRunStatus = (typeof RUN_STATUSES)[number];
/** Statuses in which the run holds (or waits for) a trainer. */
export const ACTIVE_STATUSES: readonly HubRunStatus[] = ['queued', 'running', 'paused'];

/** Statuses after which nothing more happens to a run unless someone resumes it. */
export function isFinished(status: HubRunStatus): boolean {
  return (
    status === 'completed' ||
    status === 'stopped' ||
    status === 'failed' ||
    status === 'interrupted'
  );
}

// ---------------------------------------------------------------------------------------------
// Wire shapes (hub → clients)

export interface RunSummary {
  id: string;
  name: string;
  /** Markdown, as people wrote it (the dashboard shows it as text-safe HTML). */
  description: string;
  tags: string[];
  /** ISO time it was archived; null while it is not (archived runs are hidden by default). */
  archivedAt: string | null;
  status: HubRunStatus;
  statusMessage: string | null;
  hyperparams: z.infer<typeof hyperparamsSchema>;
  backend: string | null;
  device: string | null;
  trainerHost: string | null;
  /**
   * Where the run was created: `hub` (the dashboard or the API; any trainer may take it) or
   * `cli` (a trainer created it, `npm run train -- --hub`: only that trainer trains it),
   * with the host the trainer said it runs on.
   */
  origin: RunOrigin;
  originHost: string | null;
  createdBy: string;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  trainSize: number | null;
  testSize: number | null;
  batchesPerEpoch: number | null;
  totalSteps: number | null;
  lastStep: number;
  lastSeq: number;
  finalTrainLoss: number | null;
  finalTrainAccuracy: number | null;
  finalTestLoss: number | null;
  finalTestAccuracy: number | null;
  samplesPerSec: number | null;
  /**
   * The learning rate's history: the first value, then each change at the step from which it
   * applied (a set-lr). The last one is the current value; empty before the run starts.
   */
  learningRates: LearningRateChange[];
}

/** A learning rate in force from `step` on. */
export interface LearningRateChange {
  step: number;
  value: number;
}
/** The most changes a run keeps (then the first and the latest ones). */
export const MAX_LEARNING_RATE_CHANGES = 1000;
export const learningRatesSchema = z
  .array(z.object({ step: z.number().int().min(0), value: z.number().positive() }))
  .max(MAX_LEARNING_RATE_CHANGES);

const seq = z.number().int().min(1).max(INT_COLUMN_MAX);
export const wirePointSchema = batchPointSchema.extend({ seq });
export const wireEpochSchema = epochSummarySchema.extend({ seq, time: z.number().finite() });
export const wirePredictionsSchema = z.object({
  seq,
  step: z.number().int().min(0),
  epoch: z.number().int().min(1),
  items: z.array(digitPredictionSchema).max(64),
  time: z.number().finite(),
});
export type WirePoint = z.infer<typeof wirePointSchema>;
export type WireEpoch = z.infer<typeof wireEpochSchema>;
export type WirePredictions = z.infer<typeof wirePredictionsSchema>;

export interface WireAnnotation {
  id: number;
  runId: string;
  step: number;
  kind: 'note' | 'event';
  text: string;
  authorId: string | null;
  authorName: string;
  createdAt: string;
  updatedAt: string;
  /** How many times the text was edited. */
  edits: number;
}
export interface PresenceUser {
  id: string;
  name: string;
  colour: string;
}
export type Participant = PresenceUser;

/**
 * A run's batch series in a snapshot, bounded whatever the run's length. `full`: `head` (the
 * first HEAD_STEPS or so raw), `overview` (buckets of one width, null when the tail holds every
 * point) and `tail` (every point after the overview's last bucket) are the whole series up to
 * the snapshot's lastSeq. Not full (a
 * catch-up, `run:watch` with `afterSeq`): `tail` holds the points with seq in (afterSeq, lastSeq]
 * and continues what the watcher holds. `points` counts the run's points up to lastSeq.
 */
export interface SnapshotSeries {
  full: boolean;
  /** With an overview: the run's first points raw (steps before the overview's first bucket). */
  head: PointColumns | null;
  overview: BucketColumns | null;
  tail: PointColumns;
  points: number;
}

/** `run:watch` answer: everything needed to draw the run, consistent with the live frames. */
export interface RunSnapshot {
  run: RunSummary;
  /**
   * Every epoch's results; the confusion matrix only on the latest (the others `[]`: ask
   * `GET /api/runs/:id/confusion?epoch=N`), so a 1,000-epoch run's snapshot stays small.
   */
  epochs: WireEpoch[];
  /** The newest {@link SNAPSHOT_MAX_NOTES} notes (`GET /api/runs/:id/annotations` has them all). */
  annotations: WireAnnotation[];
  /** How many notes the run has in all. */
  annotationsTotal: number;
  presence: PresenceUser[];
  series: SnapshotSeries;
  /** Latest prediction panel at or before lastSeq, if any. */
  predictions: WirePredictions | null;
  /** Live frames for this run that follow start at lastSeq + 1. */
  lastSeq: number;
}

/** Notes a snapshot carries at most (the newest). */
export const SNAPSHOT_MAX_NOTES = 500;
/** A catch-up (`afterSeq`) that misses more points than this gets a full snapshot instead. */
export const CATCH_UP_MAX_POINTS = 20_000;

// ---------------------------------------------------------------------------------------------
// A run's live stream: declared once, here

/**
 * The kinds of a run's live stream, declared once: a trainer event becomes one of these (or
 * `silent`, a seq the hub stores or acts on but does not forward); the hub's frames, its
 * snapshots and the inter-hub relay all switch over `type` (the discriminant the trainer's
 * events use too), and each switch ends in `assertNever`, so a new kind here is a compile
 * error wherever it is not handled yet. One name per concept, the one watchers see:
 * `predictions` (the trainer's `predictions` event, the socket's `run:predictions`, the
 * snapshot's `predictions`) and `progress` (the trainer's `phase` event, `run:progress`).
 */
export const wireEventSchema = z.discriminatedUnion('type', [
  z.object({ seq, type: z.literal('point'), point: wirePointSchema }),
  z.object({ seq, type: z.literal('epoch'), epoch: wireEpochSchema }),
  z.object({ seq, type: z.literal('predictions'), predictions: wirePredictionsSchema }),
  z.object({
    seq,
    type: z.literal('misclassified'),
    epoch: z.number().int().min(1),
    total: z.number().int().min(0),
    items: z.array(digitPredictionSchema).max(10_000),
  }),
  z.object({
    seq,
    type: z.literal('progress'),
    phase: z.enum(TRAINING_PHASES),
    epoch: z.number().int().min(1),
    done: z.number().int().min(0),
    total: z.number().int().min(0),
  }),
  z.object({ seq, type: z.literal('silent') }),
]);
/** One seq of a run's live stream, as the hub holds, relays and frames it. */
export type WireEvent = z.infer<typeof wireEventSchema>;
export type WireEventType = WireEvent['type'];

/**
 * Every message of a run's live stream covers a contiguous seq range: the next message's
 * `fromSeq` is the previous one's `toSeq + 1`. A watcher that sees a jump re-watches with
 * `afterSeq` to catch up.
 */
export interface StreamRange {
  runId: string;
  fromSeq: number;
  toSeq: number;
}

/** The socket event of each stream message and what it carries besides its seq range. */
export interface StreamPayloads {
  /** Batch points (kind `point`), several per message as columns (base64 text: one pre-encoded frame for the room), and the silent seqs between them. */
  'metrics:batch': { points: PointColumns };
  'metrics:epoch': { epoch: WireEpoch };
  'run:predictions': { panel: WirePredictions };
  /**
   * An epoch's misclassified digits were stored: how many the model got wrong (`total`) and
   * how many are listed (`listed`, up to the run's cap). The digits themselves are fetched
   * with `GET /api/runs/:id/misclassified?epoch=N`: at 1,000 listed digits they are ~200 KB,
   * which sent to every watcher at once stalled the hub at each epoch's end.
   */
  'run:misclassified': { epoch: number; total: number; listed: number };
  'run:progress': {
    phase: (typeof TRAINING_PHASES)[number];
    epoch: number;
    done: number;
    total: number;
  };
}
export type StreamEvent = keyof StreamPayloads;
/** One stream message, as a watcher receives it. */
export type StreamMessage = {
  [E in StreamEvent]: { event: E; msg: StreamRange & StreamPayloads[E] };
}[StreamEvent];
/** Every stream event, for watchers that subscribe to them all. */
export const STREAM_EVENTS = [
  'metrics:batch',
  'metrics:epoch',
  'run:predictions',
  'run:misclassified',
  'run:progress',
] as const satisfies readonly StreamEvent[];
type Nothing<T extends never> = T;
/** Compiles only while {@link STREAM_EVENTS} lists every key of {@link StreamPayloads}. */
export type StreamEventsListed = Nothing<Exclude<StreamEvent, (typeof STREAM_EVENTS)[number]>>;

export type ServerToClientEvents = {
  [E in StreamEvent]: (msg: StreamRange & StreamPayloads[E]) => void;
} & {
  'run:status': (msg: {
    runId: string;
    status: HubRunStatus;
    message: string | null;
    run: RunSummary;
  }) => void;
  'annotation:added': (msg: { annotation: WireAnnotation }) => void;
  'annotation:edited': (msg: { annotation: WireAnnotation }) => void;
  'annotation:deleted': (msg: { runId: string; id: number }) => void;
  /**
   * Who watches `runId`; `runId: null` is everyone connected (the runs page). At most 50
   * people are listed; `total` counts them all.
   */
  presence: (msg: { runId: string | null; users: PresenceUser[]; total: number }) => void;
  /** `loss`: the latest batch loss, for the runs list's live sparkline. */
  'runs:changed': (msg: { run: RunSummary; loss?: number | null }) => void;
  /** A run was deleted for good (to everyone: lists drop it, its page says so). */
  'runs:deleted': (msg: { runId: string; by: string }) => void;
  /**
   * Broadcasts from other hubs may have been lost (their Redis went away and came back):
   * reload what is not seq-covered (watch again with afterSeq, reload the runs list).
   */
  'hub:resync': (msg: { reason: string }) => void;
  /**
   * This hub's database stopped or started answering (sent to each of its sockets, and after
   * hello while it is away): what browsers see stays live but is not being saved until then.
   */
  'hub:database': (msg: DatabaseState) => void;
};

/** Whether a hub's database answers; `since` is ms since 1970; `message` says what failed. */
export interface DatabaseState {
  available: boolean;
  since: number;
  message: string | null;
}
