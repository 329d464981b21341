/**
 * Real parts for hub tests: a hub on a free port over a real database, trainer daemons as
 * real processes, and browsers as real socket.io-client peers.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { io, type Socket } from 'socket.io-client';
import { openDatabase, type LivetrainDatabase } from '../../server/db/client';
import { createHub, type Hub, type HubDeps } from '../../server/hub/hub';
import {
  PROTOCOL_VERSION,
  TRAINER_NAMESPACE,
  type BrowserAckData,
  type BrowserCommand,
  type RunSnapshot,
  type WirePoint,
  type BrowserPayload,
  type ClientToServerEvents,
  type Result,
  type ServerToClientEvents,
} from '../../server/protocol';
import { fromPointColumns, type PointColumns } from '../../server/columns';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { TrainerEvent } from '../../server/trainer/events';
import { spawnEntry } from './proc';

export interface TestHub {
  url: string;
  hub: Hub;
  db: LivetrainDatabase;
  logs: string[];
  close(): Promise<void>;
}

/**
 * A hub on 127.0.0.1 (or `listenHost`) and a free port; SQLite in a temp dir unless
 * `databaseUrl` is given.
 */
export async function startHub(
  opts: Partial<Omit<HubDeps, 'db' | 'provider'>> & {
    databaseUrl?: string;
    listenHost?: string;
  } = {},
): Promise<TestHub> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livetrain-hub-'));
  const db = await openDatabase({ url: opts.databaseUrl ?? `file:${path.join(dir, 'hub.db')}` });
  const logs: string[] = [];
  let hub: Hub | null = null;
  const server = http.createServer((req, res) => {
    void hub!.handleRequest(req, res).then((handled) => {
      if (!handled) res.writeHead(404).end('not the hub');
    });
  });
  hub = await createHub(server, {
    graceMs: 1500,
    ...opts,
    db: db.prisma,
    provider: db.provider,
    log: (l) => logs.push(l),
  });
  await new Promise<void>((resolve) => server.listen(0, opts.listenHost ?? '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    hub: hub!,
    db,
    logs,
    async close() {
      await hub!.close();
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface TrainerProcess {
  child: ChildProcessWithoutNullStreams;
  id: string;
  output: () => string;
  /** Resolves with the exit code/signal. */
  exited: Promise<number | string | null>;
  stop(): Promise<void>;
}

/** Starts `npm run trainer` (server/agent/main.ts) on the wasm backend against `url`. */
export async function startTrainer(
  url: string,
  opts: { id: string; token?: string; checkpointDir?: string; concurrency?: number } = { id: 't1' },
): Promise<TrainerProcess> {
  const checkpointDir =
    opts.checkpointDir ?? (await mkdtemp(path.join(os.tmpdir(), 'livetrain-ckpt-')));
  const args = [
    '--hub',
    url,
    '--backend',
    'wasm',
    '--id',
    opts.id,
    '--checkpoint-dir',
    checkpointDir,
    '--concurrency',
    String(opts.concurrency ?? 1),
  ];
  const child = spawnEntry('server/agent/main.ts', args, {
    LIVETRAIN_TRAINER_TOKEN: opts.token ?? '',
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | string | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  return {
    child,
    id: opts.id,
    output: () => out,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

type Received = {
  [K in keyof ServerToClientEvents]: {
    event: K;
    payload: Parameters<ServerToClientEvents[K]>[0];
    at: number;
  };
}[keyof ServerToClientEvents];

export interface TestBrowser {
  socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  received: Received[];
  call<K extends BrowserCommand>(
    event: K,
    payload: BrowserPayload<K> | unknown,
  ): Promise<Result<BrowserAckData[K]>>;
  /** Resolves with the first (past or future) message matching. */
  waitFor<K extends keyof ServerToClientEvents>(
    event: K,
    match?: (p: Parameters<ServerToClientEvents[K]>[0]) => boolean,
    timeoutMs?: number,
  ): Promise<Parameters<ServerToClientEvents[K]>[0]>;
  /** A mark: the number of messages received so far, for `waitForAfter` and `receivedAfter`. */
  mark(): number;
  /** Like `waitFor`, but only messages that arrived after `mark` count. */
  waitForAfter<K extends keyof ServerToClientEvents>(
    mark: number,
    event: K,
    match?: (p: Parameters<ServerToClientEvents[K]>[0]) => boolean,
    timeoutMs?: number,
  ): Promise<Parameters<ServerToClientEvents[K]>[0]>;
  /** The messages that arrived after `mark`. */
  receivedAfter(mark: number): Received[];
  /** What the hub answered the hello with (who this browser is), when it said hello. */
  hello: BrowserAckData['hello'] | null;
  close(): void;
}

/** A browser: connects, says hello as `name` (unless null) and records everything it receives. */
export async function connectBrowser(
  url: string,
  name: string | null,
  opts: {
    token?: string;
    protocolVersion?: number;
    participantId?: string;
    credential?: string;
  } = {},
): Promise<TestBrowser> {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    auth: {
      protocolVersion: opts.protocolVersion ?? PROTOCOL_VERSION,
      ...(opts.token ? { token: opts.token } : {}),
    },
  });
  const received: Received[] = [];
  const waiters: Array<() => void> = [];
  socket.onAny((event, payload) => {
    received.push({ event, payload, at: Date.now() } as Received);
    waiters.splice(0).forEach((w) => w());
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (e) => reject(e));
  });
  const browser: TestBrowser = {
    socket,
    received,
    call: (event, payload) =>
      (socket as unknown as Socket).timeout(20_000).emitWithAck(event, payload),
    waitFor: (event, match, timeoutMs) => browser.waitForAfter(0, event, match, timeoutMs),
    mark: () => received.length,
    receivedAfter: (mark) => received.slice(mark),
    waitForAfter(mark, event, match = () => true, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `timed out waiting for ${event}${mark > 0 ? ` after message ${mark}` : ''}`,
              ),
            ),
          timeoutMs,
        );
        const check = () => {
          let hit: Received | undefined;
          for (let i = mark; i < received.length && !hit; i++)
            if (received[i].event === event && match(received[i].payload as never))
              hit = received[i];
          if (hit) {
            clearTimeout(timer);
            resolve(hit.payload as never);
          } else waiters.push(check);
        };
        check();
      });
    },
    hello: null,
    close: () => void socket.disconnect(),
  };
  if (name !== null) {
    const hello = await browser.call('hello', {
      name,
      participantId: opts.participantId,
      credential: opts.credential,
    });
    if (!hello.ok) throw new Error(`hello failed: ${hello.message}`);
    browser.hello = hello.data;
  }
  return browser;
}

/** Small, fast hyperparameters: 320 training and 100 test digits. */
export const SMALL = { epochs: 2, batchSize: 32, trainLimit: 320, testLimit: 100 } as const;

/** Polls `check` until it returns a value (not undefined/false) or the time runs out. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > until) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A snapshot's raw points (its tail, decoded from binary columns). The runs these tests make
 * are short: every point is in the tail, there is no overview of buckets (asserted).
 */
export function snapshotPoints(snapshot: RunSnapshot): WirePoint[] {
  assert.equal(snapshot.series.overview, null, 'a short run: every point in the tail');
  return fromPointColumns(snapshot.series.tail);
}

/** A live `metrics:batch` frame's points, decoded from binary columns. */
export function framePoints(payload: unknown): WirePoint[] {
  return fromPointColumns((payload as { points: PointColumns }).points);
}

/** A watcher's view of a run: snapshot points, then live frames; asserts seq ranges chain up. */
export function pointsSeen(
  browser: TestBrowser,
  runId: string,
  snapshot: RunSnapshot,
): WirePoint[] {
  const points = snapshotPoints(snapshot);
  let last = snapshot.lastSeq;
  for (const r of browser.received) {
    const p = r.payload as { runId?: string; fromSeq?: number; toSeq?: number };
    if (p.runId !== runId || p.fromSeq === undefined || p.toSeq === undefined) continue;
    assert.equal(
      p.fromSeq,
      last + 1,
      `${r.event} starts right after the previous message (seq ${last})`,
    );
    assert.ok(p.toSeq >= p.fromSeq);
    last = p.toSeq;
    if (r.event === 'metrics:batch') points.push(...framePoints(p));
  }
  return points;
}

/** A trainer handshake for hand-written trainer peers. */
export const trainerAuth = (trainerId: string, extra: Record<string, unknown> = {}) => ({
  protocolVersion: PROTOCOL_VERSION,
  trainerId,
  backend: { name: 'wasm', device: 'test', host: 'test-host' },
  concurrency: 1,
  ...extra,
});

/** A trainer peer speaking the protocol by hand, to send exactly what a test needs. */
export async function fakeTrainer(url: string, auth: Record<string, unknown>): Promise<Socket> {
  const socket = io(new URL(TRAINER_NAMESPACE, url).toString(), {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    auth,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

/**
 * A hand-written trainer peer that accepts the first job it is given: `job` resolves with that
 * run's id (start a run after this, with nothing else to take it).
 */
export async function fakeTrainerTakingAJob(
  url: string,
  trainerId: string,
): Promise<{ socket: Socket; job: Promise<string> }> {
  const socket = await fakeTrainer(url, trainerAuth(trainerId));
  const job = new Promise<string>((resolve) =>
    socket.once(
      'job:assign',
      (j: { runId: string }, ack: (r: unknown) => void) => (
        ack({ ok: true, data: { runId: j.runId } }),
        resolve(j.runId)
      ),
    ),
  );
  return { socket, job };
}

/** A hub (with `hubOpts`), Ada, and a hand-written trainer holding the run Ada started; all closed after `t`. */
export async function runOnFakeTrainer(
  t: TestContext,
  trainerId: string,
  hubOpts: Parameters<typeof startHub>[0] = {},
): Promise<{ hub: TestHub; ada: TestBrowser; trainer: Socket; runId: string }> {
  const hub = await startHub(hubOpts);
  const ada = await connectBrowser(hub.url, 'Ada');
  const { socket: trainer, job } = await fakeTrainerTakingAJob(hub.url, trainerId);
  t.after(async () => {
    ada.close();
    trainer.close();
    await hub.close();
  });
  const started = await ada.call('run:start', { hyperparams: { epochs: 1 } });
  assert.ok(started.ok, JSON.stringify(started));
  return { hub, ada, trainer, runId: await job };
}

/** 'connected', or the error code the hub refused a handshake with (then disconnects). */
export function handshakeOutcome(url: string, namespace: string, auth: unknown): Promise<string> {
  return new Promise((resolve) => {
    const s = io(new URL(namespace, url).toString(), {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      auth: auth as Record<string, unknown>,
    });
    s.once('connect', () => (s.close(), resolve('connected')));
    s.once(
      'connect_error',
      (e: Error & { data?: { error?: string } }) => (
        s.close(),
        resolve(e.data?.error ?? e.message)
      ),
    );
  });
}

/** A trainer's `metrics:batch` event for `step` (epoch 1, a loss falling as 2 / step). */
export function batchPointEvent(runId: string, seq: number, step: number): TrainerEvent {
  return {
    runId,
    seq,
    type: 'metrics:batch',
    point: {
      step,
      epoch: 1,
      batch: step - 1,
      loss: 2 / step,
      accuracy: 10,
      learningRate: 0.01,
      samplesPerSec: 1000,
      time: Date.now(),
    },
  };
}
