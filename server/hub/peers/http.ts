/**
 * The JSON HTTP API under /api, in the same envelope as the socket acks. Handlers share the
 * run and annotation commands with the socket side; bodies are size-limited and validated.
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
  type ErrorCode,
  type Failure,
  type HealthDetails,
  type HttpBodies,
} from '../../protocol';
import { runsQuerySchema, type RunsQuery } from '../storage/runsQuery';
import { INT_COLUMN_MAX } from '../../trainer/eventSchema';
import type { Cluster } from '../cluster/cluster';
import { fieldErrors, HubError, toFailure } from '../errors';
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
import { exportRun } from './export';

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

const STATUS: Record<ErrorCode, number> = {
  INVALID: 400,
  NO_HELLO: 400,
  UNSUPPORTED_VERSION: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  GONE: 410,
  TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
};

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

/** Answers with the success envelope around the route's body (protocol's HttpBodies). */
function ok<R extends keyof HttpBodies>(
  res: ServerResponse,
  _route: R,
  data: HttpBodies[R],
  status = 200,
): void {
  send(res, status, { ok: true, data });
}

/** Answers with a failure envelope and its HTTP status. */
export function sendFailure(res: ServerResponse, failure: Failure): void {
  send(res, STATUS[failure.error], failure);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end(text);
}

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

/** A path segment, %-escapes decoded. */
function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new HubError('INVALID', `the URL has a malformed %-escape: "${part.slice(0, 100)}"`);
  }
}

/** Handles /api/* requests; returns false for other paths. */
export function createApi({
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
  log,
}: ApiDeps) {
  const started = Date.now();

  async function route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const apiActor = (name?: string): Actor => ({
      id: null,
      name: name ?? 'api',
      address: auth.clientAddress(req),
    });
    const parts = url.pathname.split('/').filter(Boolean).slice(1).map(decodePart);
    const method = req.method ?? 'GET';
    const [head, id, sub, extra] = parts;
    if (head === 'health' && parts.length === 1 && method === 'GET') {
      // A health check must answer while Redis is away (a balancer would drop every hub).
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
      if (!auth.allows(req))
        return ok(res, 'GET /api/health', { status, protocolVersion: PROTOCOL_VERSION });
      const hub: HealthDetails['hub'] = {
        id: cluster.hubId,
        shared: cluster.shared,
        redis,
        trainersCounted: everywhere ? 'all hubs' : 'this hub',
        browsers: io.sockets.sockets.size,
        relaying: cluster.relaying(),
        eventsStored: ingest.eventsStored(),
      };
      return ok(res, 'GET /api/health', {
        status,
        protocolVersion: PROTOCOL_VERSION,
        database: storage.provider,
        trainers: reachable.length,
        hub,
        uptimeSec: Math.round((Date.now() - started) / 1000),
      });
    }
    auth.browser(req);
    if (head === 'digits' && parts.length === 1 && method === 'GET') {
      const q = parse(digitsQuery, Object.fromEntries(url.searchParams), 'digit query');
      return ok(res, 'GET /api/digits', {
        split: q.split,
        digits: await digits.digits(q.split, q.indices),
      });
    }
    if (head !== 'runs' || extra !== undefined)
      throw new HubError('NOT_FOUND', `no route ${method} ${url.pathname}`);
    if (id === 'manage' && method === 'POST' && !sub) {
      const { runIds, action } = parse(runsManageSchema, await readJson(req), 'request');
      return ok(res, 'POST /api/runs/manage', {
        results: await manage.many(runIds, action, apiActor()),
      });
    }
    if (id === 'sparklines' && method === 'GET' && !sub) {
      const q = parse(sparklineQuery, Object.fromEntries(url.searchParams), 'sparkline query');
      return ok(res, 'GET /api/runs/sparklines', {
        sparklines: await storage.runs.sparklines(q.ids, q.points),
      });
    }
    if (!id) {
      if (method === 'GET') {
        const q = runsQuery(url);
        const asOf = new Date().toISOString();
        const [{ runs, total }, tags] = await Promise.all([
          storage.runs.list(q),
          storage.runs.tags(),
        ]);
        return ok(res, 'GET /api/runs', {
          runs,
          total,
          offset: q.offset,
          limit: q.limit,
          sort: q.sort,
          order: q.order,
          tags,
          asOf,
        });
      }
      if (method === 'POST') {
        const body = parse(runStartSchema, await readJson(req), 'run');
        return ok(res, 'POST /api/runs', { run: await commands.start(body, apiActor()) }, 201);
      }
      throw new HubError('INVALID', `${method} is not allowed on /api/runs`);
    }
    switch (`${method} ${sub ?? ''}`) {
      case 'GET ': {
        // Points come from /metrics; this is the run's record without them.
        const snap = await snapshots.build(id, NO_SERIES, () => {});
        return ok(res, 'GET /api/runs/:id', {
          run: snap.run,
          epochs: snap.epochs,
          annotations: snap.annotations,
          predictions: snap.predictions,
          lastSeq: snap.lastSeq,
        });
      }
      case 'PATCH ':
        return ok(res, 'PATCH /api/runs/:id', {
          run: await manage.edit(id, parse(runEditSchema, await readJson(req), 'run'), apiActor()),
        });
      case 'DELETE ':
        return ok(
          res,
          'DELETE /api/runs/:id',
          await manage.remove(
            id,
            parse(runDeleteSchema, await readJson(req), 'deletion').confirmName,
            apiActor(),
          ),
        );
      case 'POST archive':
        return ok(res, 'POST /api/runs/:id/archive', { run: await manage.archive(id, apiActor()) });
      case 'POST restore':
        return ok(res, 'POST /api/runs/:id/archive', { run: await manage.restore(id, apiActor()) });
      case 'POST stop':
      case 'POST pause':
      case 'POST resume':
        return ok(res, 'POST /api/runs/:id/control', {
          run: await commands.control(id, sub as 'stop' | 'pause' | 'resume', apiActor()),
        });
      case 'POST set-lr': {
        const { learningRate } = parse(lrBody, await readJson(req), 'learning rate');
        return ok(res, 'POST /api/runs/:id/control', {
          run: await commands.control(id, 'set-lr', apiActor(), learningRate),
        });
      }
      case 'GET metrics': {
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
        return ok(res, 'GET /api/runs/:id/metrics', { points, complete: points.length < limit });
      }
      case 'GET series': {
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
        return ok(res, 'GET /api/runs/:id/series', rangeToJson(await snapshots.range(query)));
      }
      case 'GET confusion': {
        await updates.summary(id);
        const epoch = parse(
          z.coerce.number().int().min(1).max(INT_COLUMN_MAX),
          url.searchParams.get('epoch') ?? undefined,
          'epoch',
        );
        const confusion = await storage.events.confusion(id, epoch);
        if (!confusion)
          throw new HubError('NOT_FOUND', `run ${id} has no confusion matrix for epoch ${epoch}`);
        return ok(res, 'GET /api/runs/:id/confusion', { epoch, confusion });
      }
      case 'GET misclassified': {
        await updates.summary(id);
        const last = await storage.events.lastEpoch(id);
        const epoch =
          parse(
            z.coerce.number().int().min(1).max(INT_COLUMN_MAX).optional(),
            url.searchParams.get('epoch') ?? undefined,
            'epoch',
          ) ?? last;
        const items = epoch === null ? [] : await storage.events.misclassified(id, epoch);
        return ok(res, 'GET /api/runs/:id/misclassified', { epoch, items });
      }
      case 'POST predict': {
        const images = parse(predictBody, await readJson(req), 'digit');
        return ok(res, 'POST /api/runs/:id/predict', await digits.predict(id, images));
      }
      case 'GET export':
        return exportRun(
          storage,
          id,
          url.searchParams.get('format') ?? 'json',
          url.searchParams.get('table') ?? 'batches',
          res,
        );
      case 'GET queue': {
        await updates.summary(id);
        const [ahead, { trainers: reachable }] = await Promise.all([
          storage.runs.queueAhead(id),
          trainers.reachable(500),
        ]);
        return ok(res, 'GET /api/runs/:id/queue', {
          queued: ahead !== null,
          ahead: ahead ?? 0,
          trainers: reachable.length,
        });
      }
      case 'GET annotations':
        await updates.summary(id);
        return ok(res, 'GET /api/runs/:id/annotations', {
          annotations: await annotations.list(id),
        });
      case 'POST annotations': {
        const body = parse(annotationBody, await readJson(req), 'annotation');
        const annotation = await annotations.addNote(apiActor(body.author), {
          runId: id,
          step: body.step,
          text: body.text,
        });
        return ok(res, 'POST /api/runs/:id/annotations', { annotation }, 201);
      }
      default:
        throw new HubError('NOT_FOUND', `no route ${method} ${url.pathname}`);
    }
  }

  return async function handleApi(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://hub');
    if (url.pathname !== '/api' && !url.pathname.startsWith('/api/')) return false;
    try {
      await route(req, res, url);
    } catch (error) {
      const failure = toFailure(error, log);
      if (!res.headersSent) sendFailure(res, failure);
      else res.destroy();
      // Drain what the client still sends so the socket is reusable.
      req.resume();
    }
    return true;
  };
}
