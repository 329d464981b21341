/**
 * The live protocol: every Socket.IO event between browsers, the hub and trainer daemons, its
 * payload schema and its ack. The hub, the trainer agent and the dashboard all import this
 * module; docs/protocol.md is its prose. Browsers use the default namespace, trainers
 * `/trainer`; both send {@link PROTOCOL_VERSION} in the handshake and the hub refuses others.
 */
import { z } from 'zod';
import { hyperparamsSchema, reportingSchema } from './trainer/config';
import { trainerEventSchema } from './trainer/eventSchema';
import type { BackendInfo, BatchPoint, DigitPrediction, EpochSummary, TrainerEvent } from './trainer/events';
import type { ControlCommand, DaemonMessage, JobInput } from './trainer/daemon';

export const PROTOCOL_VERSION = 1;

/** Error codes in `{ ok: false, error }` envelopes (acks and HTTP). */
export const ERROR_CODES = [
  'INVALID',
  'NOT_FOUND',
  'CONFLICT',
  'FORBIDDEN',
  'UNAUTHORIZED',
  'RATE_LIMITED',
  'TOO_LARGE',
  'NO_HELLO',
  'UNSUPPORTED_VERSION',
  'UNAVAILABLE',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export type Failure = { ok: false; error: ErrorCode; message: string; details?: unknown };
export type Result<T> = { ok: true; data: T } | Failure;
export type Ack<T> = (result: Result<T>) => void;

/** Largest JSON payload a browser may send in one event. */
export const MAX_BROWSER_PAYLOAD_BYTES = 64 * 1024;
export const MAX_ANNOTATION_CHARS = 2000;
export const MAX_NAME_CHARS = 64;

export const RUN_STATUSES = ['queued', 'running', 'paused', 'completed', 'stopped', 'failed', 'interrupted'] as const;
export type HubRunStatus = (typeof RUN_STATUSES)[number];
/** Statuses in which the run holds (or waits for) a trainer. */
export const ACTIVE_STATUSES: readonly HubRunStatus[] = ['queued', 'running', 'paused'];

// ---------------------------------------------------------------------------------------------
// Wire shapes (hub → clients)

export interface RunSummary {
  id: string;
  name: string;
  status: HubRunStatus;
  statusMessage: string | null;
  hyperparams: z.infer<typeof hyperparamsSchema>;
  backend: string | null;
  device: string | null;
  trainerHost: string | null;
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
}

export type WirePoint = BatchPoint & { seq: number };
export type WireEpoch = EpochSummary & { seq: number; time: number };
export interface WirePanel {
  seq: number;
  step: number;
  epoch: number;
  items: DigitPrediction[];
  time: number;
}
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
export interface Participant extends PresenceUser {}

/** `run:watch` answer: everything needed to draw the run, consistent with the live frames. */
export interface RunSnapshot {
  run: RunSummary;
  epochs: WireEpoch[];
  annotations: WireAnnotation[];
  presence: PresenceUser[];
  /** Batch points with seq in (afterSeq, lastSeq]. */
  points: WirePoint[];
  /** Latest prediction panel at or before lastSeq, if any. */
  predictions: WirePanel | null;
  /** Live frames for this run that follow start at lastSeq + 1. */
  lastSeq: number;
}

/**
 * Every message of a run's live stream covers a contiguous seq range: the next message's
 * `fromSeq` is the previous one's `toSeq + 1`. A watcher that sees a jump re-watches with
 * `afterSeq` to catch up.
 */
interface StreamRange {
  runId: string;
  fromSeq: number;
  toSeq: number;
}

export interface ServerToClientEvents {
  'metrics:batch': (msg: StreamRange & { points: WirePoint[] }) => void;
  'metrics:epoch': (msg: StreamRange & { epoch: WireEpoch }) => void;
  'run:predictions': (msg: StreamRange & { panel: WirePanel }) => void;
  'run:misclassified': (msg: StreamRange & { epoch: number; total: number; items: DigitPrediction[] }) => void;
  'run:progress': (msg: StreamRange & { phase: 'train' | 'eval-train' | 'eval-test'; epoch: number; done: number; total: number }) => void;
  'run:status': (msg: { runId: string; status: HubRunStatus; message: string | null; run: RunSummary }) => void;
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
  /**
   * Broadcasts from other hubs may have been lost (their Redis went away and came back):
   * reload what is not seq-covered (watch again with afterSeq, reload the runs list).
   */
  'hub:resync': (msg: { reason: string }) => void;
}

// ---------------------------------------------------------------------------------------------
// Browser → hub payloads

const runId = z.string().min(1).max(128);
const colour = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'a #rrggbb colour');

export const browserSchemas = {
  hello: z.object({
    name: z.string().trim().min(1).max(MAX_NAME_CHARS),
    /** A stable id the browser keeps (localStorage) so edits stay "yours" across reloads. */
    participantId: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/).optional(),
    colour: colour.optional(),
  }),
  'run:watch': z.object({ runId, afterSeq: z.number().int().min(0).optional() }),
  'run:unwatch': z.object({ runId }),
  'run:start': z.object({
    name: z.string().trim().min(1).max(120).optional(),
    hyperparams: hyperparamsSchema.default(hyperparamsSchema.parse({})),
    reporting: reportingSchema.partial().optional(),
  }),
  'run:stop': z.object({ runId }),
  'run:pause': z.object({ runId }),
  'run:resume': z.object({ runId }),
  'run:set-lr': z.object({ runId, learningRate: hyperparamsSchema.shape.learningRate.unwrap() }),
  'annotation:add': z.object({ runId, step: z.number().int().min(0), text: z.string().trim().min(1).max(MAX_ANNOTATION_CHARS) }),
  'annotation:edit': z.object({ id: z.number().int().min(1), text: z.string().trim().min(1).max(MAX_ANNOTATION_CHARS) }),
  'annotation:delete': z.object({ id: z.number().int().min(1) }),
} as const;

export type BrowserCommand = keyof typeof browserSchemas;
export type BrowserPayload<K extends BrowserCommand> = z.input<(typeof browserSchemas)[K]>;

/** What each command's ack carries on success. */
export interface BrowserAckData {
  hello: { participant: Participant; protocolVersion: number };
  'run:watch': RunSnapshot;
  'run:unwatch': { runId: string };
  'run:start': { run: RunSummary };
  'run:stop': { run: RunSummary };
  'run:pause': { run: RunSummary };
  'run:resume': { run: RunSummary };
  'run:set-lr': { run: RunSummary };
  'annotation:add': { annotation: WireAnnotation };
  'annotation:edit': { annotation: WireAnnotation };
  'annotation:delete': { id: number };
}

export type ClientToServerEvents = {
  [K in BrowserCommand]: (payload: BrowserPayload<K>, ack: Ack<BrowserAckData[K]>) => void;
};

/** Handshake `auth` for both namespaces. */
export const handshakeSchema = z.object({
  protocolVersion: z.number().int(),
  token: z.string().max(512).optional(),
});

// ---------------------------------------------------------------------------------------------
// Trainer namespace (`/trainer`)

export const TRAINER_NAMESPACE = '/trainer';

export const trainerHandshakeSchema = handshakeSchema.extend({
  /** Stable across reconnects of one daemon process, so the hub re-attaches its runs. */
  trainerId: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/),
  backend: z.object({ name: z.string().max(64), device: z.string().max(256), host: z.string().max(256) }),
  concurrency: z.number().int().min(1).max(64),
  /** Runs this daemon is still running or holds unacknowledged events for. */
  runs: z.array(z.string().max(128)).max(1024).default([]),
});
export type TrainerHandshake = z.input<typeof trainerHandshakeSchema>;

/** A job as the hub assigns it: the daemon's job plus the checkpoint to resume from, if stored. */
export type TrainerJob = JobInput & { checkpoint?: { step: number; data: Uint8Array } };

export interface HubToTrainerEvents {
  'job:assign': (job: TrainerJob, ack: Ack<{ runId: string }>) => void;
  'job:control': (command: ControlCommand) => void;
}

export interface TrainerToHubEvents {
  /** Events of one run in seq order; acked once stored, with the highest stored seq. */
  'trainer:events': (msg: { runId: string; events: TrainerEvent[] }, ack: Ack<{ storedSeq: number }>) => void;
  /** The daemon's other reports (accepted, done, failed, rejected). */
  'trainer:report': (message: Exclude<DaemonMessage, { kind: 'events' } | { kind: 'ready' }>) => void;
  'checkpoint:upload': (msg: { runId: string; seq: number; data: Uint8Array }, ack: Ack<{ id: number }>) => void;
}

export const trainerEventsSchema = z.object({ runId, events: z.array(trainerEventSchema).min(1).max(10_000) });
export const checkpointUploadSchema = z.object({
  runId,
  seq: z.number().int().min(1),
  data: z.instanceof(Uint8Array).refine((d) => d.byteLength <= 32 * 1024 * 1024, 'checkpoint larger than 32 MiB'),
});

export type { BackendInfo, BatchPoint, DigitPrediction, EpochSummary };
