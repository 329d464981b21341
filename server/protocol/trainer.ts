/**
 * The trainer namespace (`/trainer`): a trainer daemon's handshake, the runs it creates, the
 * jobs the hub assigns it, its events and reports, and its checkpoints.
 */
import { z } from 'zod';
import { runIdSchema } from '../trainer/config';
import type { ControlCommand, JobInput } from '../trainer/daemon';
import { DAEMON_ERROR_CODES } from '../trainer/daemonErrors';
import { INT_COLUMN_MAX, trainerEventSchema } from '../trainer/eventSchema';
import type { TrainerEvent } from '../trainer/events';
import { handshakeSchema, type Ack } from './envelope';
import { runStartSchema } from './browser';
import type { HubRunStatus } from './stream';

export type { DaemonErrorCode } from '../trainer/daemonErrors';

export const TRAINER_NAMESPACE = '/trainer';

export const trainerHandshakeSchema = handshakeSchema.extend({
  /** Stable across reconnects of one daemon process, so the hub re-attaches its runs. */
  trainerId: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/),
  backend: z.object({
    name: z.string().max(64),
    device: z.string().max(256),
    host: z.string().max(256),
  }),
  concurrency: z.number().int().min(1).max(64),
  /** Runs this daemon is still running or holds unacknowledged events for. */
  runs: z.array(runIdSchema).max(1024).default([]),
  /**
   * A secret the daemon process picks once and sends on every (re)connect: a connection with a
   * connected trainer's id is refused unless it carries the same instance (the same process
   * coming back over a connection the hub has not seen drop yet).
   */
  instance: z.string().min(16).max(128).optional(),
  /**
   * Whether the scheduler may give this trainer queued runs. `false`: it trains only the runs
   * it creates itself (`run:create`; `npm run train -- --hub`).
   */
  takesJobs: z.boolean().default(true),
});
export type TrainerHandshake = z.input<typeof trainerHandshakeSchema>;

// --- Trainer-initiated runs (`run:create`) -------------------------------------------------

/**
 * A run a trainer creates itself (`npm run train -- --hub`), checked like a `run:start`.
 * `runId`: an id the trainer picked, so that a create sent again after a lost ack makes no
 * second run (the hub answers with the same run while it is this trainer's). The run is the
 * trainer's alone: no other trainer is given it, and it is interrupted if the trainer goes.
 */
export const runCreateSchema = z.intersection(
  z.object({
    runId: runIdSchema.optional(),
    /** Where the trainer runs, shown on the run's page ("from the command line on <host>"). */
    host: z.string().trim().min(1).max(256),
  }),
  runStartSchema,
);
export type RunCreate = z.input<typeof runCreateSchema>;

// --- end of trainer-initiated runs ----------------------------------------------------------

/** A job as the hub assigns it: the daemon's job plus the checkpoint to resume from, if stored. */
export type TrainerJob = JobInput & { checkpoint?: { step: number; data: Uint8Array } };

/** The daemon's reports besides its events: a job accepted, done or failed, a refusal. */
export const trainerReportSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('job:accepted'),
    runId: runIdSchema,
    queued: z.number().int().min(0),
  }),
  z.object({
    kind: z.literal('job:done'),
    runId: runIdSchema,
    status: z.enum(['completed', 'stopped', 'failed']),
    testAccuracy: z.number().nullable(),
    samplesPerSec: z.number().nullable(),
    checkpoint: z.string().max(4096).nullable(),
  }),
  z.object({ kind: z.literal('job:failed'), runId: runIdSchema, message: z.string().max(4096) }),
  z.object({
    kind: z.literal('rejected'),
    runId: runIdSchema.optional(),
    error: z.enum(DAEMON_ERROR_CODES),
    message: z.string().max(4096),
  }),
]);
export type TrainerReport = z.infer<typeof trainerReportSchema>;

export interface HubToTrainerEvents {
  'job:assign': (job: TrainerJob, ack: Ack<{ runId: string }>) => void;
  'job:control': (command: ControlCommand) => void;
  /**
   * The hub took the run back from this trainer and ended it (e.g. it failed the run because
   * the trainer's `job:assign` ack was not a valid envelope): stop training it and drop its
   * unsent events; any still sent are refused with `GONE`.
   */
  'job:revoked': (msg: { runId: string; status: HubRunStatus; message: string }) => void;
}

export interface TrainerToHubEvents {
  /** Creates a run that this trainer trains (see {@link runCreateSchema}); acked with its id. */
  'run:create': (msg: RunCreate, ack: Ack<{ runId: string }>) => void;
  /** Events of one run in seq order; acked once stored, with the highest stored seq. */
  'trainer:events': (
    msg: { runId: string; events: TrainerEvent[] },
    ack: Ack<{ storedSeq: number }>,
  ) => void;
  /** The daemon's other reports (accepted, done, failed, rejected). */
  'trainer:report': (report: TrainerReport) => void;
  'checkpoint:upload': (
    msg: { runId: string; seq: number; data: Uint8Array },
    ack: Ack<{ id: number }>,
  ) => void;
}

/**
 * How far past the last seq a run accepted an event may be: a trainer skips no seqs, so a
 * message beyond this is refused (INVALID) rather than opening a hole the hub would have to
 * hold and read back.
 */
export const MAX_SEQ_AHEAD = 100_000;

export const trainerEventsSchema = z.object({
  runId: runIdSchema,
  events: z.array(trainerEventSchema).min(1).max(10_000),
});
export const checkpointUploadSchema = z.object({
  runId: runIdSchema,
  seq: z.number().int().min(1).max(INT_COLUMN_MAX),
  data: z
    .instanceof(Uint8Array)
    .refine((d) => d.byteLength <= 32 * 1024 * 1024, 'checkpoint larger than 32 MiB'),
});
