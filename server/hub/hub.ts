/**
 * The hub: Socket.IO for browsers (default namespace) and trainers (`/trainer`), the JSON API
 * and the login page, over one HTTP server. createHub attaches to a server the caller owns
 * (which also serves the dashboard) and starts nothing else: no port, no process.
 *
 * What a hub holds is what this function builds, lowest layer first (see docs/architecture.md):
 * storage → live streams and snapshots → the cluster (other hubs) → the run registry and the
 * run logic → the peers (browsers, trainers, HTTP).
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { Server } from 'socket.io';
import type { Db } from '../db/client';
import { TRAINER_NAMESPACE } from '../protocol';
import { soloCluster, type Cluster } from './cluster/cluster';
import { redisCluster } from './cluster/redis';
import { createHoleFiller } from './live/holes';
import { createSnapshots } from './live/snapshot';
import { createLiveStreams, type LiveStreams } from './live/stream';
import { HubError, toFailure } from './errors';
import { createAuth } from './peers/auth';
import { attachBrowsers } from './peers/browser';
import { createDigitService } from './peers/digits';
import { createIdentities } from './peers/identities';
import { createRequestGuard } from './peers/guard';
import { createApi, sendFailure } from './peers/http';
import { createMessageLimits } from './peers/messageLimits';
import { createParticipantWriter } from './peers/participants';
import { createProxyTrust } from './peers/proxies';
import { createPresence } from './peers/presence';
import { attachTrainers } from './peers/trainers';
import { createAnnotations } from './runs/annotations';
import { createRunCommands } from './runs/commands';
import { createControlLog } from './runs/controlLog';
import { createRunManagement } from './runs/manage';
import { createDatabaseWatch } from './runs/database';
import { createIngest, type Ingest } from './runs/ingest';
import { createEventReceiver } from './runs/receive';
import { createRunRegistry, type RunRegistry } from './runs/registry';
import { remoteChanges } from './runs/remote';
import { createScheduler } from './runs/scheduler';
import { createTrainerDirectory } from './runs/trainerDirectory';
import { createRunUpdates } from './runs/updates';
import type { HubServer } from './sockets';
import { createStorage, type Storage } from './storage/storage';

export interface HubOptions {
  /** Grace period for a disconnected trainer to come back before its runs are interrupted. */
  graceMs: number;
  /** Token browsers and HTTP clients must present; null = none (loopback only). */
  browserToken: string | null;
  /** Token trainer daemons must present; null = none. */
  trainerToken: string | null;
  /** Annotation adds/edits allowed per participant per minute (socket and HTTP together). */
  annotationsPerMinute: number;
  /** Runs one person may have waiting for a trainer at once. */
  queuedPerPerson: number;
}

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
  /** Addresses people reach the hub by besides loopback (see peers/guard.ts). */
  publicUrls?: readonly string[];
  /**
   * Proxies besides one on this machine whose X-Forwarded-For / X-Forwarded-Proto are
   * believed (`--trusted-proxy`): addresses or CIDR ranges.
   */
  trustedProxies?: readonly string[];
  /** The dashboard runs on Next's dev server (its pages need a looser script policy). */
  dev?: boolean;
}

export interface Hub {
  /** Serves /api/*, /login and the token gate for pages; false when the request is the caller's. */
  handleRequest(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  readonly io: HubServer;
  /** The hub's parts that tests and benchmarks look into. */
  readonly parts: {
    storage: Storage;
    registry: RunRegistry;
    ingest: Ingest;
    cluster: Cluster;
    streams: LiveStreams;
  };
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
    queuedPerPerson: deps.queuedPerPerson ?? 20,
  };
  const guard = createRequestGuard({ publicUrls: deps.publicUrls, dev: deps.dev });
  const maxMessageBytes = deps.maxMessageBytes ?? 16 * 1024 * 1024;
  const io: HubServer = new Server(httpServer, {
    allowRequest: guard.allowRequest,
    // Only authenticated trainers get this (peers/messageLimits.ts); everyone else far less.
    maxHttpBufferSize: maxMessageBytes,
    // Leave other upgrade requests (Next's dev HMR) to the server's other listeners.
    destroyUpgrade: false,
    serveClient: false,
  });
  const trainerNsp = io.of(TRAINER_NAMESPACE);
  const limits = createMessageLimits(io, maxMessageBytes, log);
  const shared = Boolean(deps.redisUrl);

  // Storage, and each run's live stream to this hub's own sockets (every hub sends its
  // watchers their frames itself, cluster/redis.ts).
  const storage = createStorage(deps.db, deps.provider);
  const streams = createLiveStreams(
    (room, event, ...args) => io.local.to(room).emit(event, ...args),
    deps.frameMs ?? 50,
  );
  const snapshots = createSnapshots({ storage, streams });

  // The runs this hub holds, and the other hubs.
  const registry = createRunRegistry({ storage, streams, log });
  const trainers = createTrainerDirectory(trainerNsp, shared);
  const holes = createHoleFiller({
    storage,
    streams,
    storesHere: (runId) => trainers.holds(registry.get(runId)?.trainerId ?? null),
    log,
  });
  const onRemoteChange = remoteChanges({ registry, snapshots, streams, trainers, io });
  const cluster: Cluster = deps.redisUrl
    ? await redisCluster({
        url: deps.redisUrl,
        prefix: deps.redisPrefix,
        io,
        streams,
        storedState: (runId) => storage.runs.state(runId),
        holds: registry.has,
        invalidate: snapshots.invalidate,
        onRemoteChange,
        log,
      })
    : soloCluster();
  if (shared)
    log(`sharing rooms and live streams with other hubs through Redis (hub ${cluster.hubId})`);
  // Other hubs close their copies of a released run's stream too.
  registry.onReleased((runId, acceptedSeq) => cluster.ended(runId, acceptedSeq));

  // What happens to runs: storing their events, their status, the queue, commands and notes.
  // Each hub tells its own browsers whether its database answers.
  const database = createDatabaseWatch({
    ping: storage.runs.ping,
    onChange: (state) => io.local.emit('hub:database', state),
    log,
  });
  const ingest = createIngest({
    events: storage.events,
    flushMs: deps.flushMs,
    maxRows: deps.maxRows,
    log,
    onWriteFailed: database.suspect,
  });
  ingest.onCommitted(() => database.answered());
  const updates = createRunUpdates({
    storage,
    registry,
    ingest,
    streams,
    snapshots,
    cluster,
    io,
    log,
  });
  const annotations = createAnnotations({
    storage,
    updates,
    io,
    perMinute: options.annotationsPerMinute,
  });
  const controlLog = createControlLog({
    annotations,
    lastStep: (runId) => registry.get(runId)?.lastStep ?? 0,
    log,
  });
  const receiver = createEventReceiver({
    registry,
    streams,
    cluster,
    ingest,
    onNotesStored: annotations.recorded,
    onControlApplied: controlLog.applied,
    log,
  });
  const scheduler = createScheduler({ storage, registry, trainers, cluster, updates, log });
  const digits = createDigitService(storage, { dataDir: deps.dataDir });
  const manage = createRunManagement({ storage, registry, updates, annotations, io, log });
  const commands = createRunCommands({
    storage,
    registry,
    updates,
    annotations,
    controlLog,
    trainers,
    scheduler,
    cluster,
    io,
    queuedPerPerson: options.queuedPerPerson,
    datasetSizes: digits.sizes,
    onStarted: () => digits.warm(),
  });

  // The peers.
  const participants = createParticipantWriter({ peers: storage.peers, log });
  const presence = createPresence({ io, shared, log });
  const auth = createAuth({
    browserToken: options.browserToken,
    trainerToken: options.trainerToken,
    proxies: createProxyTrust(deps.trustedProxies),
  });
  const trainerPeers = attachTrainers({
    nsp: trainerNsp,
    auth,
    graceMs: options.graceMs,
    shared,
    storage,
    registry,
    receiver,
    ingest,
    updates,
    scheduler,
    commands,
    trainers,
    limits,
    log,
  });
  const identities = await createIdentities(storage.peers);
  attachBrowsers({
    io,
    auth,
    identities,
    participants,
    presence,
    snapshots,
    cluster,
    commands,
    manage,
    annotations,
    database,
    datasetSizes: digits.sizes,
    log,
  });
  const api = createApi({
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
  });
  await trainerPeers.recover();

  return {
    io,
    parts: { storage, registry, ingest, cluster, streams },
    async handleRequest(req, res) {
      try {
        guard.check(req, res);
      } catch (error) {
        sendFailure(res, toFailure(error, log));
        req.resume();
        return true;
      }
      if (await api(req, res)) return true;
      if (await auth.handle(req, res)) return true;
      if (!auth.required) return false;
      const path = new URL(req.url ?? '/', 'http://hub').pathname;
      // Next's own assets are not secret; the pages and their data are.
      if (path.startsWith('/_next/static/') || path === '/favicon.ico' || path === '/icon.svg')
        return false;
      try {
        auth.browser(req);
        return false;
      } catch (error) {
        if (error instanceof HubError && error.code === 'RATE_LIMITED') {
          sendFailure(res, toFailure(error));
          return true;
        }
        res.writeHead(303, { location: `/login?next=${encodeURIComponent(req.url ?? '/')}` });
        res.end();
        return true;
      }
    },
    async flush() {
      await ingest.flush();
      await participants.flush();
    },
    async close() {
      trainerPeers.close();
      scheduler.close();
      holes.close();
      database.close();
      controlLog.close();
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await ingest.close();
      await participants.close();
      // After the disconnects and the last commits, which announce.
      presence.close();
      await cluster.close();
      streams.closeAll();
      digits.dispose();
    },
  };
}
