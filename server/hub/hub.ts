/**
 * The hub: Socket.IO for browsers (default namespace) and trainers (`/trainer`), the JSON API
 * and the login page, over one HTTP server. createHub attaches to a server the caller owns
 * (which also serves the dashboard) and starts nothing else: no port, no process.
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { Server } from 'socket.io';
import type { Db } from '../db/client';
import { TRAINER_NAMESPACE } from '../protocol';
import { createRateLimiter } from './annotations';
import { handleLogin, presentedToken, tokenMatches } from './auth';
import { attachBrowsers } from './browser';
import type { BrowserServer, HubContext, HubOptions, TrainerNamespace } from './context';
import { createApi } from './http';
import { createDigitService } from './digits';
import { createIngest } from './ingest';
import { createParticipantWriter } from './participants';
import { cancelPresence } from './presence';
import { afterCommit } from './runs';
import { createLiveStreams } from './stream';
import { applyRemoteChange, redisCluster, soloCluster } from './cluster';
import { createHoleFiller } from './replay';
import { attachTrainers } from './trainers';

export interface HubDeps extends Partial<HubOptions> {
  db: Db;
  provider: 'sqlite' | 'postgresql';
  log?: (line: string) => void;
  /** Ingest batching: flush every `flushMs` or at `maxRows` rows. */
  flushMs?: number;
  maxRows?: number;
  /** Live frame interval per room (50 ms = 20 frames/s). */
  frameMs?: number;
  /** MNIST directory for digit pixels (default: the bundled files). */
  dataDir?: string;
  /** Largest Socket.IO message accepted (trainer event batches are the big ones). */
  maxMessageBytes?: number;
  /** Redis shared by several hubs on one database (redis://…); none = this hub is alone. */
  redisUrl?: string | null;
  /** Prefix of this deployment's Redis keys and channels (default "livetrain"). */
  redisPrefix?: string;
}

export interface Hub {
  /** Serves /api/*, /login and the token gate for pages; false when the request is the caller's. */
  handleRequest(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  readonly io: BrowserServer;
  readonly context: HubContext;
  /** Writes what is queued (metrics, participants) now. */
  flush(): Promise<void>;
  /** Disconnects everyone, stores what is queued; the HTTP server is closed too. */
  close(): Promise<void>;
}

export async function createHub(httpServer: HttpServer, deps: HubDeps): Promise<Hub> {
  const log = deps.log ?? ((line: string) => process.stderr.write(`[hub] ${line}\n`));
  const options: HubOptions = {
    graceMs: deps.graceMs ?? 15_000,
    browserToken: deps.browserToken ?? null,
    trainerToken: deps.trainerToken ?? null,
    annotationsPerMinute: deps.annotationsPerMinute ?? 30,
  };
  const io: BrowserServer = new Server(httpServer, {
    maxHttpBufferSize: deps.maxMessageBytes ?? 16 * 1024 * 1024,
    // Leave other upgrade requests (Next's dev HMR) to the server's other listeners.
    destroyUpgrade: false,
    serveClient: false,
  });
  const trainers = io.of(TRAINER_NAMESPACE) as unknown as TrainerNamespace;
  let ctx!: HubContext;
  const holes = createHoleFiller(() => ctx);
  // Frames go to this hub's own sockets: every hub sends its watchers their frames itself (cluster.ts).
  const streams = createLiveStreams((room, event, ...args) => io.local.to(room).emit(event, ...args), deps.frameMs ?? 50, holes.noticed);
  const ingest = createIngest({ db: deps.db, provider: deps.provider, flushMs: deps.flushMs, maxRows: deps.maxRows, log, onCommitted: (stored) => afterCommit(ctx, stored) });
  ctx = { db: deps.db, provider: deps.provider, io, trainers, streams, cluster: soloCluster(), ingest, options, runs: new Map(), log, schedule: () => trainerSide.schedule() };
  if (deps.redisUrl) {
    ctx.cluster = await redisCluster(ctx, { url: deps.redisUrl, prefix: deps.redisPrefix, onRemoteChange: (change) => applyRemoteChange(ctx, change) });
    log(`sharing rooms and live streams with other hubs through Redis (hub ${ctx.cluster.hubId})`);
  }
  const trainerSide = attachTrainers(ctx);
  const participants = createParticipantWriter(ctx);
  attachBrowsers(ctx, participants);
  const digits = createDigitService(ctx, { dataDir: deps.dataDir });
  const api = createApi(ctx, createRateLimiter(options.annotationsPerMinute, 60_000), deps.provider, digits);
  await trainerSide.recover();

  return {
    io,
    context: ctx,
    async handleRequest(req, res) {
      if (await api(req, res)) return true;
      if (await handleLogin(req, res, options.browserToken)) return true;
      if (options.browserToken !== null && !tokenMatches(options.browserToken, presentedToken(req))) {
        const path = new URL(req.url ?? '/', 'http://hub').pathname;
        // Next's own assets are not secret; the pages and their data are.
        if (path.startsWith('/_next/static/') || path === '/favicon.ico') return false;
        res.writeHead(303, { location: `/login?next=${encodeURIComponent(req.url ?? '/')}` });
        res.end();
        return true;
      }
      return false;
    },
    async flush() {
      await ingest.flush();
      await participants.flush();
    },
    async close() {
      trainerSide.close();
      holes.close();
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await ingest.close();
      await participants.close();
      // After the disconnects and the last commits, which announce.
      cancelPresence(ctx);
      await ctx.cluster.close();
      streams.closeAll();
      digits.dispose();
    },
  };
}
