/**
 * The HTTP API's response bodies (`data` of the envelope), by route, and the runs list's page
 * with the sort keys and limits the dashboard builds its query from (the query's parser lives
 * with the runs list, server/hub/storage/runsQuery.ts).
 */
import { z } from 'zod';
import type { SeriesName } from '../columns/buckets';
import { digitPredictionSchema } from '../trainer/eventSchema';
import type { DigitPrediction } from '../trainer/events';
import type { RunManageResult } from './browser';
import type { RunSummary, WireAnnotation, WireEpoch, WirePredictions, WirePoint } from './stream';

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

/**
 * What each route answers with on success, keyed by method and path (`:id` a run's id). The
 * hub's handlers are a table with these keys (server/hub/peers/http.ts): a route added here
 * does not compile until it has its handler. `GET /api/runs/:id/export` is not here: it answers
 * with a file, not an envelope.
 */
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
    predictions: WirePredictions | null;
    lastSeq: number;
  };
  'POST /api/runs/:id/stop': { run: RunSummary };
  'POST /api/runs/:id/pause': { run: RunSummary };
  'POST /api/runs/:id/resume': { run: RunSummary };
  'POST /api/runs/:id/set-lr': { run: RunSummary };
  'PATCH /api/runs/:id': { run: RunSummary };
  'POST /api/runs/:id/archive': { run: RunSummary };
  'POST /api/runs/:id/restore': { run: RunSummary };
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

/** A route of the HTTP API, as `HttpBodies` keys it. */
export type HttpRoute = keyof HttpBodies;
