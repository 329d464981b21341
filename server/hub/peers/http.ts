/**
 * The JSON HTTP API under /api, in the same envelope as the socket acks: a request is matched
 * to its route in the table (routes.ts) and answered with the envelope; bodies are
 * size-limited and validated there. The handlers share the run and annotation commands with
 * the socket side.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorCode, Failure, HttpRoute } from '../../protocol';
import { HubError, toFailure } from '../errors';
import type { Actor } from '../runs/annotations';
import { exportRun } from './export';
import { createRoutes, type ApiDeps, type Route, type RouteRequest } from './routes';

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

/**
 * A route key (`METHOD /api/path/:id`) as a matcher of a request's method and path segments
 * (after `/api`): it gives the `:id` segment ('' when there is none), or null. `literals`
 * orders matching: `/api/runs/manage` is tried before `/api/runs/:id`.
 */
function compileRoute<K extends string>(key: K) {
  const [method, path] = key.split(' ');
  const segments = path.split('/').filter(Boolean).slice(1);
  return {
    key,
    literals: segments.filter((s) => s !== ':id').length,
    match(m: string, parts: readonly string[]): string | null {
      if (m !== method || parts.length !== segments.length) return null;
      let id = '';
      for (const [i, segment] of segments.entries()) {
        if (segment === ':id') id = parts[i];
        else if (segment !== parts[i]) return null;
      }
      return id;
    },
  };
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

/** A path segment, %-escapes decoded. */
function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new HubError('INVALID', `the URL has a malformed %-escape: "${part.slice(0, 100)}"`);
  }
}

/** Handles /api/* requests; returns false for other paths. */
export function createApi(deps: ApiDeps) {
  const { auth, storage, log } = deps;
  const routes = createRoutes(deps, Date.now());
  /** The export answers with a file (export.ts), not an envelope, so it is not in HttpBodies. */
  const exportRoute = compileRoute('GET /api/runs/:id/export');
  const compiled = (Object.keys(routes) as HttpRoute[])
    .map(compileRoute)
    .sort((a, b) => b.literals - a.literals);

  /** Calls route `key`'s handler and answers with its body in the success envelope. */
  async function answer<R extends HttpRoute>(key: R, request: RouteRequest): Promise<void> {
    const route: Route<R> = routes[key];
    send(request.res, route.status ?? 200, { ok: true, data: await route.handle(request) });
  }

  async function route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const parts = url.pathname.split('/').filter(Boolean).slice(1).map(decodePart);
    const method = req.method ?? 'GET';
    const actor = (name?: string): Actor => ({
      id: null,
      name: name ?? 'api',
      address: auth.clientAddress(req),
    });
    let found: { key: HttpRoute; id: string } | null = null;
    for (const candidate of compiled) {
      const id = candidate.match(method, parts);
      if (id !== null) {
        found = { key: candidate.key, id };
        break;
      }
    }
    if (!found || !routes[found.key].open) auth.browser(req);
    if (found) return answer(found.key, { req, res, url, id: found.id, actor });
    const exportId = exportRoute.match(method, parts);
    if (exportId !== null)
      return exportRun(
        storage,
        exportId,
        url.searchParams.get('format') ?? 'json',
        url.searchParams.get('table') ?? 'batches',
        res,
      );
    if (parts.length === 1 && parts[0] === 'runs')
      throw new HubError('INVALID', `${method} is not allowed on /api/runs`);
    throw new HubError('NOT_FOUND', `no route ${method} ${url.pathname}`);
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
