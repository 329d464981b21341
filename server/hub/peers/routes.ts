/**
 * The HTTP API's routes as one table, a handler for each key of the protocol's `HttpBodies`
 * (a route added there does not compile until it has one here), with the query and body
 * schemas they parse. http.ts matches a request to its route and writes the envelope.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import {
  browserSchemas,
  PROTOCOL_VERSION,
  runDeleteSchema,
  runEditSchema,
  runsManageSchema,
  runStartSchema,
  seriesRangeSchema,
  type HealthDetails,
  type HttpBodies,
  type HttpRoute,
} from '../../protocol';
import { runsQuerySchema, type RunsQuery } from '../storage/runsQuery';
import { INT_COLUMN_MAX } from '../../trainer/eventSchema';
import type { Cluster } from '../cluster/cluster';
import { fieldErrors, HubError } from '../errors';
import { NO_SERIES, rangeToJson, type Snapshots } from '../live/snapshot';
import type { Actor, Annotations } from '../runs/annotations';
import type { RunCommands } from '../runs/commands';
import type { RunManagement } from '../runs/manage';
import type { DatabaseWatch } from '../runs/database';
import type { Ingest } from '../runs/ingest';
import type { TrainerDirectory } from '../runs/trainerDirectory';
import type { RunUpdates } from '../runs/updates';
import type { HubServer } from '../sockets';
import type { Storage } from '../storage/storage';
import type { Auth } from './auth';
import type { DigitService } from './digits';
import { DIGIT_PIXELS } from '../../trainer/predict';

export interface ApiDeps {
  io: HubServer;
  auth: Pick<Auth, 'browser' | 'allows' | 'clientAddress'>;
  storage: Storage;
  snapshots: Snapshots;
  commands: RunCommands;
  manage: RunManagement;
  updates: Pick<RunUpdates, 'summary'>;
  annotations: Annotations;
  trainers: TrainerDirectory;
  cluster: Cluster;
  ingest: Pick<Ingest, 'eventsStored'>;
  database: Pick<DatabaseWatch, 'state' | 'pinged'>;
  digits: DigitService;
  log: (line: string) => void;
}

export const MAX_BODY_BYTES = 64 * 1024;

const annotationBody = z.object({
  step: browserSchemas['annotation:add'].shape.step,
  text: browserSchemas['annotation:add'].shape.text,
  author: z.string().trim().min(1).max(64).optional(),
});
const lrBody = z.object({ learningRate: browserSchemas['run:set-lr'].shape.learningRate });
const seqQuery = z.coerce.number().int().min(0).max(INT_COLUMN_MAX);
/** A whole-number query parameter: its number, `fallback` when absent, and the text as given when it is not a number (the schema then says so). */
function intParam(q: URLSearchParams, name: string, fallback: number): number | string {
  const v = q.get(name);
  if (v === null) return fallback;
  return v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
}
const digitsQuery = z.object({
  split: z.enum(['train', 'test']).default('test'),
  indices: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'comma-separated digit indices')
    .transform((s) => s.split(',').map(Number))
    .refine((a) => a.length <= 1000, 'at most 1000 digits at a time'),
});
const sparklineQuery = z.object({
  ids: z
    .string()
    .transform((s) => s.split(',').filter(Boolean))
    .refine((a) => a.length >= 1 && a.length <= 200, '1 to 200 run ids'),
  points: z.coerce.number().int().min(2).max(500).default(60),
});
const image = z
  .array(z.number().min(0).max(255))
  .length(DIGIT_PIXELS, `a digit is 28×28 = ${DIGIT_PIXELS} grey values`);
const predictBody = z.union([
  z.object({ pixels: image }).transform((b) => [b.pixels]),
  z.object({ images: z.array(image).min(1).max(16) }).transform((b) => b.images),
]);

/** What a route's handler is given: the request, its URL, the run id in its path, and who asks. */
export interface RouteRequest {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** The path's `:id` (empty for routes without one). */
  id: string;
  /** The API's actor: `api`, or the name a body gives. */
  actor: (name?: string) => Actor;
}
/** One route: its handler, the status of its success (200 unless said), whether it needs no token. */
export interface Route<R extends HttpRoute> {
  status?: 201;
  open?: true;
  handle: (request: RouteRequest) => Promise<HttpBodies[R]>;
}
/** A handler for every key of the protocol's HttpBodies: a route without one does not compile. */
export type RouteTable = { [R in HttpRoute]: Route<R> };

async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const hasBody =
    Number(req.headers['content-length'] ?? 0) > 0 ||
    req.headers['transfer-encoding'] !== undefined;
  // A page can post text/plain to another site without asking; JSON it cannot.
  if (hasBody && type !== 'application/json')
    throw new HubError(
      'INVALID',
      `send the body as JSON with Content-Type: application/json (this request said ${type ? `"${type}"` : 'nothing'})`,
    );
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new HubError('TOO_LARGE', `request bodies are limited to ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HubError('INVALID', 'the request body is not valid JSON');
  }
}

function parse<T extends z.ZodType>(schema: T, input: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new HubError('INVALID', `invalid ${what}`, fieldErrors(parsed.error));
  return parsed.data;
}

/**
 * The runs list's query (protocol's runsQuerySchema): each parameter once, every value valid,
 * no unknown names; refused with what is wrong in words otherwise.
 */
function runsQuery(url: URL): RunsQuery {
  const params = new Map<string, string>();
  for (const [name, value] of url.searchParams) {
    if (params.has(name))
      throw new HubError(
        'INVALID',
        `${JSON.stringify(name.slice(0, 100))} is given more than once: give each parameter once`,
        { [name]: 'given more than once' },
      );
    params.set(name, value);
  }
  const parsed = runsQuerySchema.safeParse(Object.fromEntries(params));
  if (!parsed.success)
    throw new HubError(
      'INVALID',
      parsed.error.issues.map((i) => i.message).join('; '),
      fieldErrors(parsed.error),
    );
  return parsed.data;
}

/** Every route's handler; `:id` is the run's id from the path. `started`: when the hub started (uptime). */
export function createRoutes(
  {
    io,
    auth,
    storage,
    snapshots,
    commands,
    manage,
    updates,
    annotations,
    trainers,
    cluster,
    ingest,
    database,
    digits,
  }: ApiDeps,
  started: number,
): RouteTable {
  return {
    'GET /api/health': {
      // A health check must answer without the token, and while Redis is away (a balancer
      // would drop every hub).
      open: true,
      handle: async ({ req }) => {
        const { trainers: reachable, everywhere } = await trainers.reachable(500);
        // A hub without its database stores nothing: a balancer should send people elsewhere.
        // Writes failing (a full disk) count as much as no answer at all.
        const failure = await storage.runs.ping().then(
          () => null,
          (error: unknown) => error ?? new Error('no answer'),
        );
        const answers = failure === null;
        database.pinged(answers, failure);
        if (!answers)
          throw new HubError(
            'UNAVAILABLE',
            'the database does not answer: nothing can be stored until it is back',
            { database: 'unavailable' },
          );
        if (!database.state.available)
          throw new HubError(
            'UNAVAILABLE',
            `the database takes no writes (${database.state.message}): nothing can be stored until it does`,
            { database: 'unavailable' },
          );
        const redis = cluster.shared
          ? cluster.reachable() && everywhere
            ? 'ok'
            : 'unreachable'
          : 'none';
        const status = redis === 'unreachable' ? 'degraded' : 'ok';
        // Without the token (a load balancer's probe, anyone), only whether the hub is well.
        if (!auth.allows(req)) return { status, protocolVersion: PROTOCOL_VERSION };
        const hub: HealthDetails['hub'] = {
          id: cluster.hubId,
          shared: cluster.shared,
          redis,
          trainersCounted: everywhere ? 'all hubs' : 'this hub',
          browsers: io.sockets.sockets.size,
          relaying: cluster.relaying(),
          eventsStored: ingest.eventsStored(),
        };
        return {
          status,
          protocolVersion: PROTOCOL_VERSION,
          database: storage.provider,
          trainers: reachable.length,
          hub,
          uptimeSec: Math.round((Date.now() - started) / 1000),
        };
      },
    },
    'GET /api/digits': {
      handle: async ({ url }) => {
        const q = parse(digitsQuery, Object.fromEntries(url.searchParams), 'digit query');
        return { split: q.split, digits: await digits.digits(q.split, q.indices) };
      },
    },
    'POST /api/runs/manage': {
      handle: async ({ req, actor }) => {
        const { runIds, action } = parse(runsManageSchema, await readJson(req), 'request');
        return { results: await manage.many(runIds, action, actor()) };
      },
    },
    'GET /api/runs/sparklines': {
      handle: async ({ url }) => {
        const q = parse(sparklineQuery, Object.fromEntries(url.searchParams), 'sparkline query');
        return { sparklines: await storage.runs.sparklines(q.ids, q.points) };
      },
    },
    'GET /api/runs': {
      handle: async ({ url }) => {
        const q = runsQuery(url);
        const asOf = new Date().toISOString();
        const [{ runs, total }, tags] = await Promise.all([
          storage.runs.list(q),
          storage.runs.tags(),
        ]);
        return {
          runs,
          total,
          offset: q.offset,
          limit: q.limit,
          sort: q.sort,
          order: q.order,
          tags,
          asOf,
        };
      },
    },
    'POST /api/runs': {
      status: 201,
      handle: async ({ req, actor }) => ({
        run: await commands.start(parse(runStartSchema, await readJson(req), 'run'), actor()),
      }),
    },
    'GET /api/runs/:id': {
      handle: async ({ id }) => {
        // Points come from /metrics; this is the run's record without them.
        const snap = await snapshots.build(id, NO_SERIES, () => {});
        return {
          run: snap.run,
          epochs: snap.epochs,
          annotations: snap.annotations,
          predictions: snap.predictions,
          lastSeq: snap.lastSeq,
        };
      },
    },
    'PATCH /api/runs/:id': {
      handle: async ({ req, id, actor }) => ({
        run: await manage.edit(id, parse(runEditSchema, await readJson(req), 'run'), actor()),
      }),
    },
    'DELETE /api/runs/:id': {
      handle: async ({ req, id, actor }) =>
        manage.remove(
          id,
          parse(runDeleteSchema, await readJson(req), 'deletion').confirmName,
          actor(),
        ),
    },
    'POST /api/runs/:id/archive': {
      handle: async ({ id, actor }) => ({ run: await manage.archive(id, actor()) }),
    },
    'POST /api/runs/:id/restore': {
      handle: async ({ id, actor }) => ({ run: await manage.restore(id, actor()) }),
    },
    'POST /api/runs/:id/stop': {
      handle: async ({ id, actor }) => ({ run: await commands.control(id, 'stop', actor()) }),
    },
    'POST /api/runs/:id/pause': {
      handle: async ({ id, actor }) => ({ run: await commands.control(id, 'pause', actor()) }),
    },
    'POST /api/runs/:id/resume': {
      handle: async ({ id, actor }) => ({ run: await commands.control(id, 'resume', actor()) }),
    },
    'POST /api/runs/:id/set-lr': {
      handle: async ({ req, id, actor }) => {
        const { learningRate } = parse(lrBody, await readJson(req), 'learning rate');
        return { run: await commands.control(id, 'set-lr', actor(), learningRate) };
      },
    },
    'GET /api/runs/:id/metrics': {
      handle: async ({ url, id }) => {
        await updates.summary(id);
        const afterSeq = parse(
          seqQuery.default(0),
          url.searchParams.get('afterSeq') ?? undefined,
          'afterSeq',
        );
        const limit = parse(
          z.coerce.number().int().min(1).max(100_000).default(100_000),
          url.searchParams.get('limit') ?? undefined,
          'limit',
        );
        const points = await storage.events.points(id, afterSeq, { limit });
        return { points, complete: points.length < limit };
      },
    },
    'GET /api/runs/:id/series': {
      handle: async ({ url, id }) => {
        const q = url.searchParams;
        const query = parse(
          seriesRangeSchema,
          {
            runId: id,
            series: q.get('series') ?? 'loss',
            fromStep: intParam(q, 'from', 0),
            toStep: intParam(q, 'to', INT_COLUMN_MAX),
            columns: intParam(q, 'columns', 1000),
          },
          'range',
        );
        return rangeToJson(await snapshots.range(query));
      },
    },
    'GET /api/runs/:id/confusion': {
      handle: async ({ url, id }) => {
        await updates.summary(id);
        const epoch = parse(
          z.coerce.number().int().min(1).max(INT_COLUMN_MAX),
          url.searchParams.get('epoch') ?? undefined,
          'epoch',
        );
        const confusion = await storage.events.confusion(id, epoch);
        if (!confusion)
          throw new HubError('NOT_FOUND', `run ${id} has no confusion matrix for epoch ${epoch}`);
        return { epoch, confusion };
      },
    },
    'GET /api/runs/:id/misclassified': {
      handle: async ({ url, id }) => {
        await updates.summary(id);
        const last = await storage.events.lastEpoch(id);
        const epoch =
          parse(
            z.coerce.number().int().min(1).max(INT_COLUMN_MAX).optional(),
            url.searchParams.get('epoch') ?? undefined,
            'epoch',
          ) ?? last;
        const items = epoch === null ? [] : await storage.events.misclassified(id, epoch);
        return { epoch, items };
      },
    },
    'POST /api/runs/:id/predict': {
      handle: async ({ req, id }) =>
        digits.predict(id, parse(predictBody, await readJson(req), 'digit')),
    },
    'GET /api/runs/:id/queue': {
      handle: async ({ id }) => {
        await updates.summary(id);
        const [ahead, { trainers: reachable }] = await Promise.all([
          storage.runs.queueAhead(id),
          trainers.reachable(500),
        ]);
        return { queued: ahead !== null, ahead: ahead ?? 0, trainers: reachable.length };
      },
    },
    'GET /api/runs/:id/annotations': {
      handle: async ({ id }) => {
        await updates.summary(id);
        return { annotations: await annotations.list(id) };
      },
    },
    'POST /api/runs/:id/annotations': {
      status: 201,
      handle: async ({ req, id, actor }) => {
        const body = parse(annotationBody, await readJson(req), 'annotation');
        const annotation = await annotations.addNote(actor(body.author), {
          runId: id,
          step: body.step,
          text: body.text,
        });
        return { annotation };
      },
    },
  };
}
