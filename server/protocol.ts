/**
 * The live protocol, the whole wire in one module: every Socket.IO event between browsers, the
 * hub and trainer daemons with its payload schema and its ack; the HTTP API's response bodies;
 * every error code (the hub's envelopes and the trainer daemon's reports); and the messages
 * hubs exchange through Redis. The hub, the trainer agent and the dashboard all import it;
 * docs/protocol.md is its prose. Browsers use the default namespace, trainers `/trainer`;
 * both send {@link PROTOCOL_VERSION} in the handshake and the hub refuses others.
 */
import { z } from 'zod';
import {
  crossFieldIssues,
  hyperparamsSchema,
  MAX_RUN_NAME_CHARS,
  reportingSchema,
  runIdSchema,
  type DatasetSizes,
  type Hyperparams,
} from './trainer/config';
import {
  batchPointSchema,
  digitPredictionSchema,
  epochSummarySchema,
  INT_COLUMN_MAX,
  TRAINING_PHASES,
  trainerEventSchema,
} from './trainer/eventSchema';
import type {
  BackendInfo,
  BatchPoint,
  DigitPrediction,
  EpochSummary,
  TrainerEvent,
} from './trainer/events';
import type { ControlCommand, JobInput } from './trainer/daemon';
import {
  RANGE_MAX_COLUMNS,
  SERIES,
  type BucketColumns,
  type PointColumns,
  type SeriesName,
} from './columns';

/**
 * 2: snapshots carry a run's batch series as an overview of buckets plus a raw tail, numbers
 * travel as columns (server/columns.ts: binary in snapshots and ranges, base64 in live frames),
 * `run:series` answers a step range.
 * 3: `run:misclassified` says how many digits an epoch got wrong, not which (they are read on
 * demand, like a past epoch's).
 */
export const PROTOCOL_VERSION = 3;

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
  /** A trainer's events for a run that is no longer its (the hub ended it or took it back): stop it, drop them, do not resend. */
  'GONE',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * Why a trainer daemon refused a job or a control command (its `rejected` report): a payload
 * that is not valid, a run it does not hold, a run it already holds, a command it cannot apply.
 */
export const DAEMON_ERROR_CODES = [
  'INVALID',
  'UNKNOWN_RUN',
  'DUPLICATE_RUN',
  'BAD_CONTROL',
] as const;
export type DaemonErrorCode = (typeof DAEMON_ERROR_CODES)[number];

export type Failure = { ok: false; error: ErrorCode; message: string; details?: unknown };
export type Result<T> = { ok: true; data: T } | Failure;
export type Ack<T> = (result: Result<T>) => void;

/** Largest JSON payload a browser may send in one event. */
export const MAX_BROWSER_PAYLOAD_BYTES = 64 * 1024;
export const MAX_ANNOTATION_CHARS = 2000;
export const MAX_NAME_CHARS = 64;

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
export const wirePanelSchema = z.object({
  seq,
  step: z.number().int().min(0),
  epoch: z.number().int().min(1),
  items: z.array(digitPredictionSchema).max(64),
  time: z.number().finite(),
});
export type WirePoint = z.infer<typeof wirePointSchema>;
export type WireEpoch = z.infer<typeof wireEpochSchema>;
export type WirePanel = z.infer<typeof wirePanelSchema>;

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
  predictions: WirePanel | null;
  /** Live frames for this run that follow start at lastSeq + 1. */
  lastSeq: number;
}

/** Notes a snapshot carries at most (the newest). */
export const SNAPSHOT_MAX_NOTES = 500;
/** A catch-up (`afterSeq`) that misses more points than this gets a full snapshot instead. */
export const CATCH_UP_MAX_POINTS = 20_000;

/** `run:series`: one series over a step range, for a chart `columns` pixels wide. */
export const seriesRangeSchema = z
  .object({
    runId: runIdSchema,
    series: z.enum(SERIES),
    fromStep: z.number().int().min(0).max(INT_COLUMN_MAX),
    toStep: z.number().int().min(0).max(INT_COLUMN_MAX),
    columns: z.number().int().min(1).max(RANGE_MAX_COLUMNS),
  })
  .refine((r) => r.toStep >= r.fromStep, {
    message: 'toStep must be at least fromStep',
    path: ['toStep'],
  });

/**
 * The answer: raw points (every one in the range, all series) when the range holds few enough,
 * else buckets of one width holding the series asked for. It covers what is stored up to
 * `upToSeq`; points a watcher has live beyond it are newer.
 */
export type SeriesRange = {
  runId: string;
  series: SeriesName;
  fromStep: number;
  toStep: number;
  upToSeq: number;
} & ({ kind: 'raw'; points: PointColumns } | { kind: 'buckets'; buckets: BucketColumns });

// ---------------------------------------------------------------------------------------------
// A run's live stream: declared once, here

/**
 * The kinds of a run's live stream, declared once: a trainer event becomes one of these (or
 * `silent`, a seq the hub stores or acts on but does not forward); the hub's frames, its
 * snapshots, the inter-hub relay and the dashboard all switch over `kind`, and each switch
 * ends in `assertNever`, so a new kind here is a compile error wherever it is not handled yet.
 */
export const wireEventSchema = z.discriminatedUnion('kind', [
  z.object({ seq, kind: z.literal('point'), point: wirePointSchema }),
  z.object({ seq, kind: z.literal('epoch'), epoch: wireEpochSchema }),
  z.object({ seq, kind: z.literal('panel'), panel: wirePanelSchema }),
  z.object({
    seq,
    kind: z.literal('misclassified'),
    epoch: z.number().int().min(1),
    total: z.number().int().min(0),
    items: z.array(digitPredictionSchema).max(10_000),
  }),
  z.object({
    seq,
    kind: z.literal('progress'),
    phase: z.enum(TRAINING_PHASES),
    epoch: z.number().int().min(1),
    done: z.number().int().min(0),
    total: z.number().int().min(0),
  }),
  z.object({ seq, kind: z.literal('silent') }),
]);
/** One seq of a run's live stream, as the hub holds, relays and frames it. */
export type WireEvent = z.infer<typeof wireEventSchema>;
export type WireEventKind = WireEvent['kind'];

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
  'run:predictions': { panel: WirePanel };
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

// ---------------------------------------------------------------------------------------------
// Browser → hub payloads

const colour = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'a #rrggbb colour');

/**
 * A tag: a word or two, kept as written ("Live Demo"). Tags compare without regard to case
 * ({@link tagKey}): "Baseline" and "baseline" are one tag, on a run and in the list's filter.
 * A refusal quotes the tag, so a person sees which of several is wrong.
 */
export const tagSchema = z
  .string()
  .trim()
  .regex(/^[\p{L}\p{N}][\p{L}\p{N} _.-]{0,31}$/u, {
    error: (issue) =>
      `${JSON.stringify(String(issue.input ?? '').slice(0, 40))} is not a tag: a tag is 1–32 letters, digits, spaces, _ . or -, starting with a letter or digit`,
  });
/** What a tag is compared and filtered by: its lower-case form. */
export function tagKey(tag: string): string {
  return tag.toLowerCase();
}
/** Tags once each without regard to case, the first spelling kept. */
export function uniqueTags(tags: readonly string[]): string[] {
  const seen = new Set<string>();
  return tags.filter((t) => !seen.has(tagKey(t)) && Boolean(seen.add(tagKey(t))));
}
export const MAX_TAGS = 20;
export const MAX_DESCRIPTION_CHARS = 10_000;
export const runNameSchema = z
  .string()
  .trim()
  .min(1, 'a name needs at least one character')
  .max(MAX_RUN_NAME_CHARS, `a name has at most ${MAX_RUN_NAME_CHARS} characters`);

/** What people may change about a run (`run:edit`, `PATCH /api/runs/:id`): at least one field. */
export const runEditSchema = z
  .object({
    name: runNameSchema.optional(),
    description: z
      .string()
      .max(
        MAX_DESCRIPTION_CHARS,
        `a description has at most ${MAX_DESCRIPTION_CHARS.toLocaleString('en-US')} characters`,
      )
      .optional(),
    tags: z
      .array(tagSchema)
      .max(MAX_TAGS, `at most ${MAX_TAGS} tags`)
      .transform(uniqueTags)
      .optional(),
  })
  .refine(
    (e) => e.name !== undefined || e.description !== undefined || e.tags !== undefined,
    'nothing to change: give a name, a description or tags',
  );
/** Deleting a run for good: the person types its name again. */
export const runDeleteSchema = z.object({ confirmName: z.string().max(200) });

/**
 * A run to start (socket `run:start` and `POST /api/runs`): each field on its own. The rules
 * across fields and the data set (trainer/config.ts crossFieldIssues) need the hub's data set
 * sizes, so the hub checks them when it starts the run; {@link runStartIssues} gives them with
 * the payload's paths.
 */
export const runStartSchema = z.object({
  name: runNameSchema.optional(),
  hyperparams: hyperparamsSchema.default(hyperparamsSchema.parse({})),
  reporting: reportingSchema.partial().optional(),
});

/** A run's cross-field problems as `{ "hyperparams.<field>": message }`, every field that causes one named; empty when none. */
export function runStartIssues(
  hyperparams: Hyperparams,
  sizes: DatasetSizes,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of crossFieldIssues(hyperparams, sizes))
    for (const field of issue.fields) out[`hyperparams.${field}`] ??= issue.message;
  return out;
}

/** The most runs one `runs:manage` changes (the runs page holds 50 a page). */
const MAX_RUNS_PER_MANAGE = 200;
/**
 * Several runs changed at once (`runs:manage`, `POST /api/runs/manage`), each as its own
 * command would: archive, restore, add or remove tags, or delete for good, which needs the
 * number of runs typed again. Each run gets its own result, so a partial failure says which.
 */
export const runsManageSchema = z
  .object({
    runIds: z
      .array(runIdSchema)
      .min(1, 'tick at least one run')
      .max(MAX_RUNS_PER_MANAGE, `at most ${MAX_RUNS_PER_MANAGE} runs at once`)
      .refine((ids) => new Set(ids).size === ids.length, 'each run once'),
    action: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('archive') }),
      z.object({ kind: z.literal('restore') }),
      z
        .object({
          kind: z.literal('tag'),
          add: z.array(tagSchema).max(MAX_TAGS).default([]),
          remove: z.array(tagSchema).max(MAX_TAGS).default([]),
        })
        .refine((a) => a.add.length + a.remove.length > 0, {
          message: 'give tags to add or to remove',
          path: ['add'],
        }),
      z.object({
        kind: z.literal('delete'),
        confirmCount: z.number().int().min(0).max(MAX_RUNS_PER_MANAGE),
      }),
    ]),
  })
  .superRefine((m, ctx) => {
    if (m.action.kind === 'delete' && m.action.confirmCount !== m.runIds.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['action', 'confirmCount'],
        message: `type the number of runs ticked, ${m.runIds.length}, to delete them and everything stored of them`,
      });
    }
  });
export type RunsManageAction = z.infer<typeof runsManageSchema>['action'];
/** One run's outcome of `runs:manage`: its new summary (null once deleted), or why it was not changed. */
export type RunManageResult =
  | { runId: string; ok: true; run: RunSummary | null }
  | { runId: string; ok: false; error: ErrorCode; message: string };

export const browserSchemas = {
  hello: z.object({
    name: z.string().trim().min(1).max(MAX_NAME_CHARS),
    /**
     * The id and credential the hub gave this browser (kept in localStorage) so edits stay
     * "yours" across reloads; an id without its credential gets a new participant.
     */
    participantId: z
      .string()
      .regex(/^[A-Za-z0-9_-]{8,64}$/)
      .optional(),
    credential: z
      .string()
      .regex(/^[A-Za-z0-9_-]{16,128}$/)
      .optional(),
    colour: colour.optional(),
  }),
  'run:watch': z.object({
    runId: runIdSchema,
    afterSeq: z.number().int().min(0).max(INT_COLUMN_MAX).optional(),
  }),
  'run:unwatch': z.object({ runId: runIdSchema }),
  'run:start': runStartSchema,
  'run:stop': z.object({ runId: runIdSchema }),
  'run:pause': z.object({ runId: runIdSchema }),
  'run:resume': z.object({ runId: runIdSchema }),
  'run:set-lr': z.object({
    runId: runIdSchema,
    learningRate: hyperparamsSchema.shape.learningRate.unwrap(),
  }),
  'run:edit': z.intersection(z.object({ runId: runIdSchema }), runEditSchema),
  'run:archive': z.object({ runId: runIdSchema }),
  'run:restore': z.object({ runId: runIdSchema }),
  'run:delete': runDeleteSchema.extend({ runId: runIdSchema }),
  'runs:manage': runsManageSchema,
  'run:series': seriesRangeSchema,
  'annotation:add': z.object({
    runId: runIdSchema,
    step: z.number().int().min(0).max(INT_COLUMN_MAX),
    text: z.string().trim().min(1).max(MAX_ANNOTATION_CHARS),
  }),
  'annotation:edit': z.object({
    id: z.number().int().min(1).max(INT_COLUMN_MAX),
    text: z.string().trim().min(1).max(MAX_ANNOTATION_CHARS),
  }),
  'annotation:delete': z.object({ id: z.number().int().min(1).max(INT_COLUMN_MAX) }),
} as const;

export type BrowserCommand = keyof typeof browserSchemas;
export type BrowserPayload<K extends BrowserCommand> = z.input<(typeof browserSchemas)[K]>;

/** What each command's ack carries on success. */
export interface BrowserAckData {
  /**
   * `tokenRequired`: the hub asks for the team token (so the page offers to sign out).
   * `dataset`: the sizes of the data set the hub's runs train on (the start form's limits);
   * null when the hub cannot read it.
   */
  hello: {
    participant: Participant;
    credential: string;
    protocolVersion: number;
    tokenRequired: boolean;
    dataset: DatasetSizes | null;
  };
  'run:watch': RunSnapshot;
  'run:series': SeriesRange;
  'run:unwatch': { runId: string };
  'run:start': { run: RunSummary };
  'run:stop': { run: RunSummary };
  'run:pause': { run: RunSummary };
  'run:resume': { run: RunSummary };
  'run:set-lr': { run: RunSummary };
  'run:edit': { run: RunSummary };
  'run:archive': { run: RunSummary };
  'run:restore': { run: RunSummary };
  'run:delete': { runId: string };
  'runs:manage': { results: RunManageResult[] };
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

// ---------------------------------------------------------------------------------------------
// The runs list (`GET /api/runs`): sorted, filtered and paged by the hub's database

/**
 * Columns the runs list sorts by (`sort=`), named as the dashboard's table names them:
 * when it was created, its name, status, progress (steps done / steps), the latest batch loss,
 * the final test accuracy, the learning rate in force, the backend, who started it, and the
 * hyperparameters epochs, batch size, optimizer and seed.
 */
export const RUN_SORT_KEYS = [
  'created',
  'name',
  'status',
  'progress',
  'loss',
  'accuracy',
  'lr',
  'backend',
  'creator',
  'epochs',
  'batchSize',
  'optimizer',
  'seed',
] as const;
export type RunSortKey = (typeof RUN_SORT_KEYS)[number];
export const SORT_ORDERS = ['asc', 'desc'] as const;
export type SortOrder = (typeof SORT_ORDERS)[number];
/** Which runs the list holds: those not archived (the default), only archived ones, or all. */
export const ARCHIVED_CHOICES = ['exclude', 'only', 'include'] as const;
export type ArchivedChoice = (typeof ARCHIVED_CHOICES)[number];
/** The most runs one page of the list holds (`limit=`), and how many without a limit. */
export const RUNS_PAGE_MAX = 1000;
export const RUNS_PAGE_DEFAULT = 200;
/** The longest text search (`q=`). */
export const RUNS_SEARCH_MAX_CHARS = 200;
/** The order a sort key takes without `order=`: newest first, every other column ascending. */
export function defaultOrder(sort: RunSortKey): SortOrder {
  return sort === 'created' ? 'desc' : 'asc';
}

const quoted = (input: unknown) => JSON.stringify(String(input).slice(0, 100));
const oneOf = <const T extends readonly [string, ...string[]]>(
  param: string,
  values: T,
  what: string,
) =>
  z.enum(values, {
    error: (issue) =>
      `${param}: ${quoted(issue.input)} is not ${what}; use one of ${values.join(', ')}`,
  });
const wholeNumber = (param: string, min: number, max: number) =>
  z.string().transform((text, ctx) => {
    const n = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
    if (Number.isSafeInteger(n) && n >= min && n <= max) return n;
    ctx.addIssue({
      code: 'custom',
      message: `${param}: a whole number from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}, got ${quoted(text)}`,
    });
    return z.NEVER;
  });
const RUNS_QUERY_PARAMS = [
  'sort',
  'order',
  'status',
  'tag',
  'q',
  'creator',
  'archived',
  'limit',
  'offset',
] as const;

/**
 * `GET /api/runs` query parameters, as strings from the URL (each given at most once). Every
 * value that is not valid is refused with a message that says what it must be; an unknown
 * parameter (a typo) is refused too, naming the ones there are. Omitted ones take a default:
 * sort `created`, order {@link defaultOrder}, archived `exclude`, limit {@link RUNS_PAGE_DEFAULT},
 * offset 0. Runs tie-break by id in the same order, so pages never overlap or skip a run;
 * runs without a value of the sort column (no loss yet) come last in either order.
 */
export const runsQuerySchema = z
  .strictObject(
    {
      sort: oneOf('sort', RUN_SORT_KEYS, 'a column the runs list sorts by').default('created'),
      order: oneOf('order', SORT_ORDERS, 'an order').optional(),
      status: oneOf('status', RUN_STATUSES, 'a run status').optional(),
      tag: z
        .string()
        .transform((text, ctx) => {
          const tag = tagSchema.safeParse(text);
          if (tag.success) return tagKey(tag.data);
          ctx.addIssue({
            code: 'custom',
            message: `tag: ${tag.error.issues[0]?.message ?? `${quoted(text)} is not a tag`}`,
          });
          return z.NEVER;
        })
        .optional(),
      /** Text in the name, description, tags, creator or id, without regard to case. */
      q: z
        .string()
        .max(RUNS_SEARCH_MAX_CHARS, `q: a search is at most ${RUNS_SEARCH_MAX_CHARS} characters`)
        .regex(/^[^\p{Cc}]*$/u, 'q: a search is one line of text, without control characters')
        .transform((text) => text.trim())
        .optional(),
      /** Who started the runs (their display name, or `api`), without regard to case. */
      creator: z
        .string()
        .trim()
        .min(1, 'creator: a name of at least one character')
        .max(MAX_NAME_CHARS, `creator: a name is at most ${MAX_NAME_CHARS} characters`)
        .optional(),
      archived: oneOf('archived', ARCHIVED_CHOICES, 'a choice of archived runs').default('exclude'),
      limit: wholeNumber('limit', 1, RUNS_PAGE_MAX).default(RUNS_PAGE_DEFAULT),
      /** How many runs of the ordering come before this page; past the end, a page is empty. */
      offset: wholeNumber('offset', 0, INT_COLUMN_MAX).default(0),
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? `unknown parameter${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map(quoted).join(', ')}: GET /api/runs takes ${RUNS_QUERY_PARAMS.join(', ')}`
          : undefined,
    },
  )
  .transform((q) => ({ ...q, q: q.q || undefined, order: q.order ?? defaultOrder(q.sort) }));
export type RunsQuery = z.output<typeof runsQuerySchema>;

/** One page of the runs list, and what it is a page of. */
export interface RunsPage {
  runs: RunSummary[];
  /** How many runs match the filter (every page together). */
  total: number;
  offset: number;
  limit: number;
  sort: RunSortKey;
  order: SortOrder;
  /** Every tag in use on any run, sorted (the tag filter's choices). */
  tags: string[];
  /** The hub's time (ISO) just before it read the page: a run created later is new to it. */
  asOf: string;
}

// ---------------------------------------------------------------------------------------------
// HTTP API response bodies (`data` of the envelope), by route

/** A test digit: its label and 784 grey values 0–255, row-major, base64. */
export const wireDigitSchema = z.object({
  index: z.number().int().min(0),
  label: z.number().int().min(0).max(9),
  pixels: z.string(),
});
export type WireDigit = z.infer<typeof wireDigitSchema>;

/** What anyone may know of a hub: whether it is well (`degraded`: its Redis is away). */
export interface HealthSummary {
  status: 'ok' | 'degraded';
  protocolVersion: number;
}

/** What the token's holders (or anyone, on loopback without a token) see too. */
export interface HealthDetails extends HealthSummary {
  database: 'sqlite' | 'postgresql';
  trainers: number;
  hub: {
    id: string;
    shared: boolean;
    redis: 'ok' | 'unreachable' | 'none';
    trainersCounted: 'all hubs' | 'this hub';
    browsers: number;
    relaying: number;
    eventsStored: number;
  };
  uptimeSec: number;
}

/** What each route answers with on success. */
export interface HttpBodies {
  'GET /api/health': HealthSummary | HealthDetails;
  'GET /api/digits': { split: 'train' | 'test'; digits: WireDigit[] };
  'GET /api/runs': RunsPage;
  'POST /api/runs': { run: RunSummary };
  'GET /api/runs/sparklines': { sparklines: Record<string, number[]> };
  'GET /api/runs/:id': {
    run: RunSummary;
    epochs: WireEpoch[];
    annotations: WireAnnotation[];
    predictions: WirePanel | null;
    lastSeq: number;
  };
  'POST /api/runs/:id/control': { run: RunSummary };
  'PATCH /api/runs/:id': { run: RunSummary };
  'POST /api/runs/:id/archive': { run: RunSummary };
  'DELETE /api/runs/:id': { runId: string };
  'POST /api/runs/manage': { results: RunManageResult[] };
  'GET /api/runs/:id/metrics': { points: WirePoint[]; complete: boolean };
  /** `run:series` over HTTP, in JSON: the same answer with plain arrays (`?series=&from=&to=&columns=`). */
  'GET /api/runs/:id/series': JsonSeriesRange;
  'GET /api/runs/:id/confusion': { epoch: number; confusion: number[][] };
  'GET /api/runs/:id/misclassified': { epoch: number | null; items: DigitPrediction[] };
  'POST /api/runs/:id/predict': {
    checkpoint: { step: number; epoch: number; seq: number };
    predictions: Array<{ predicted: number; probabilities: number[] | null }>;
  };
  'GET /api/runs/:id/queue': RunQueuePlace;
  'GET /api/runs/:id/annotations': { annotations: WireAnnotation[] };
  'POST /api/runs/:id/annotations': { annotation: WireAnnotation };
}

/** Where a run waits for a trainer (`GET /api/runs/:id/queue`). */
export interface RunQueuePlace {
  /** Whether it waits for a trainer now. */
  queued: boolean;
  /** Runs the scheduler hands out before it (oldest first); 0 when not queued. */
  ahead: number;
  /** Trainers connected (to any hub that this one can reach): 0 means nothing can take it. */
  trainers: number;
}

/** A bucket in JSON (`GET /api/runs/:id/series`): one series' summary; NaN/none are null. */
export interface JsonBucket {
  index: number;
  count: number;
  firstStep: number;
  lastStep: number;
  firstTime: number;
  lastTime: number;
  min: number | null;
  max: number | null;
  minStep: number | null;
  maxStep: number | null;
  first: number | null;
  last: number | null;
  mean: number | null;
  gapStep: number | null;
}
export type JsonSeriesRange = {
  runId: string;
  series: SeriesName;
  fromStep: number;
  toStep: number;
  upToSeq: number;
} & (
  { kind: 'raw'; points: WirePoint[] } | { kind: 'buckets'; width: number; buckets: JsonBucket[] }
);

/** The digits route's body, for clients that validate what they get. */
export const digitsBodySchema = z.object({ digits: z.array(wireDigitSchema) });
/** The misclassified route's body, for clients that validate what they get. */
export const misclassifiedBodySchema = z.object({
  epoch: z.number().int().min(1).nullable(),
  items: z.array(digitPredictionSchema),
});

// ---------------------------------------------------------------------------------------------
// Hub ↔ hub, through Redis (several hubs on one database)

/**
 * A change one hub made to a run, announced to the others (`serverSideEmit`): their snapshots
 * of it are read again, and a hub that holds the run takes the new status or trainer.
 */
export const runChangeSchema = z.object({
  runId: runIdSchema,
  /** Set when the hub changed the run's status or trainer (not for notes). */
  status: z.enum(RUN_STATUSES).optional(),
  trainerId: z.string().max(128).nullable().optional(),
});
export type RunChange = z.infer<typeof runChangeSchema>;

export interface InterHubEvents {
  /** `hub`: the id of the hub that made the change (it ignores its own). */
  'livetrain:run': (change: RunChange & { hub: string }) => void;
}
export const interHubRunChangeSchema = runChangeSchema.extend({ hub: z.string().max(256) });

/**
 * One entry of a run's Redis stream (entry id `<seq>-0` for events, `<seq>-1` for the end):
 * `h` the hub that appended it, `s` the run's stored seq then, `e` the events (JSON), or
 * `k: 'end'` when the run's live stream ended there. Redis gives fields as strings.
 */
export const relayEntrySchema = z.union([
  z.object({ h: z.string().max(256), k: z.literal('end'), s: z.string().regex(/^\d{1,10}$/) }),
  z.object({ h: z.string().max(256), s: z.string().regex(/^\d{1,10}$/), e: z.string() }),
]);
export type RelayEntry = z.infer<typeof relayEntrySchema>;
/** The events of a relay entry (`e`, parsed from JSON). */
export const relayEventsSchema = z.array(wireEventSchema).min(1).max(10_000);

export type { BackendInfo, BatchPoint, DigitPrediction, EpochSummary };
export { assertNever } from './trainer/events';
/** Which hyperparameters each optimizer reads (the dashboard shows only those). */
export {
  describeHyperparamIssue,
  HYPERPARAM_BOUNDS,
  HYPERPARAM_RULES,
  OPTIMIZER_PARAMS,
  optimizerReads,
} from './trainer/config';
export { MAX_RUN_NAME_CHARS, type DatasetSizes } from './trainer/config';
