/**
 * The dashboard (app/) as request and upgrade handlers for the hub's own HTTP server,
 * through Next.js's custom-server API.
 *
 * Upgrades. Next's custom server, on the first request it handles, adds its own
 * `'upgrade'` listener to the HTTP server it runs behind (the `httpServer` option, or
 * else `req.socket.server`). That listener would see every upgrade, `/socket.io/`
 * included. Here Next is given a private emitter as its `httpServer`, so it never
 * attaches itself to the hub's server; the hub owns the one `'upgrade'` dispatch and
 * hands Next only `/_next/*` upgrades (in dev, the HMR socket at `/_next/hmr`), through
 * {@link WebHandler.handleUpgrade}. Production Next serves no WebSockets, so there is no
 * `handleUpgrade` then. (`app.getUpgradeHandler()` is no help: in Next 16 it calls a
 * no-op on the inner server; the HMR socket is handled by the router-level
 * `upgradeHandler`, which this module calls.)
 */
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import path from 'node:path';
import type { Duplex } from 'node:stream';
// Types from this path, not the bare 'next': the bare entry declares
// `process.env.NODE_ENV` required for the whole program (see app/tsconfig.json).
import type { NextServerOptions, UpgradeHandler } from 'next/dist/server/next';

/** Options for {@link createWebHandler}. */
export interface WebHandlerOptions {
  /** Development mode: compile on demand, hot reload. Otherwise serve the `next build` output. */
  dev: boolean;
  /** The Next.js project directory (the one holding app/ and next.config.js). */
  dir: string;
  /** The hostname the hub is reached at (Next uses it to accept dev HMR origins); default localhost. */
  hostname?: string;
  /** The port the hub listens on, if known; default 3000. */
  port?: number;
}

/** The dashboard, ready to be called from the hub's HTTP server. */
export interface WebHandler {
  /** Serves a request that is not the hub's own (`/api/*` is the hub's). Never throws. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /**
   * Dev mode only. Serves a WebSocket upgrade under `/_next/` (HMR); any other upgrade
   * passed in is refused (socket destroyed). The caller must not pass `/socket.io/`
   * upgrades here, and must destroy upgrades nobody claims.
   */
  handleUpgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Stops Next (file watchers, HMR sockets and compilers in dev). The HTTP server is the caller's. */
  close(): Promise<void>;
}

/** Thrown by {@link createWebHandler} in production mode when there is no `next build` output. */
export class MissingBuildError extends Error {
  override readonly name = 'MissingBuildError';

  constructor(readonly buildIdPath: string) {
    super(
      `The dashboard has not been built: ${buildIdPath} is missing. ` +
        'Run `npm run build` (or `npm start`, which builds when needed), or start the hub in dev mode.',
    );
  }
}

/** Where `next build` records a finished build, for the default `distDir`. */
export function buildIdPath(dir: string): string {
  return path.join(dir, '.next', 'BUILD_ID');
}

/** Whether an upgrade request is Next's (its HMR socket lives under `/_next/`). */
export function isNextUpgrade(req: IncomingMessage): boolean {
  return (req.url ?? '').startsWith('/_next/');
}

/**
 * The router-level upgrade handler that Next's custom server keeps after `prepare()`.
 * Not in Next's published types, so it is looked up and checked at run time.
 */
function routerUpgradeHandler(app: object): UpgradeHandler | undefined {
  const candidate: unknown = Reflect.get(app, 'upgradeHandler');
  return typeof candidate === 'function' ? (candidate as UpgradeHandler) : undefined;
}

function failRequest(res: ServerResponse, err: unknown): void {
  console.error('[web] request failed:', err);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = 500;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.end('Internal Server Error');
}

/**
 * Prepares the Next.js app in `opts.dir` and returns handlers for the hub's HTTP server.
 * In production mode it requires a finished `next build` and throws {@link MissingBuildError}
 * without one. Next is loaded here, not when this module is imported.
 *
 * The caller's upgrade contract (see the module comment):
 * ```ts
 * const io = new SocketIOServer(httpServer, { path: '/socket.io', destroyUpgrade: false });
 * httpServer.on('upgrade', (req, socket, head) => {
 *   if (req.url?.startsWith('/socket.io/')) return; // engine.io's own listener has it
 *   if (web.handleUpgrade && isNextUpgrade(req)) web.handleUpgrade(req, socket, head);
 *   else socket.destroy();
 * });
 * ```
 */
export async function createWebHandler(opts: WebHandlerOptions): Promise<WebHandler> {
  const dir = path.resolve(opts.dir);
  if (!opts.dev && !existsSync(buildIdPath(dir))) {
    throw new MissingBuildError(buildIdPath(dir));
  }

  // Receives the 'upgrade' listener Next would otherwise add to the hub's server.
  const upgradeSink = new EventEmitter();
  const options: NextServerOptions = {
    dev: opts.dev,
    dir,
    hostname: opts.hostname,
    port: opts.port,
    httpServer: upgradeSink as unknown as Server,
  };
  const { default: createNextServer } = await import('next/dist/server/next.js');
  const app = createNextServer(options);
  await app.prepare();
  const nextRequest = app.getRequestHandler();

  const handler: WebHandler = {
    handle(req, res) {
      nextRequest(req, res).catch((err: unknown) => failRequest(res, err));
    },
    async close() {
      upgradeSink.removeAllListeners();
      await app.close();
    },
  };

  if (opts.dev) {
    const nextUpgrade = routerUpgradeHandler(app);
    if (!nextUpgrade) {
      await app.close();
      throw new Error(
        'This Next.js version has no router upgrade handler on its custom server; ' +
          'server/web.ts needs updating for dev-mode hot reload.',
      );
    }
    handler.handleUpgrade = (req, socket, head) => {
      if (!isNextUpgrade(req)) {
        socket.destroy();
        return;
      }
      nextUpgrade(req, socket, head).catch((err: unknown) => {
        console.error('[web] upgrade failed:', err);
        socket.destroy();
      });
    };
  }
  return handler;
}
