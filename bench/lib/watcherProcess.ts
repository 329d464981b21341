/**
 * bench/lib/watcherProcess: N dashboard watchers as real socket.io-client peers (websocket
 * transport, one connection each, like N browser tabs), in one process forked by
 * bench/fanout.ts:
 *
 *   node --import tsx bench/lib/watcherProcess.ts --url URL --count N [--first K]
 *
 * Each socket says `hello {name: watcher-K…}`; on `watch {runId}` every socket sends
 * `run:watch` at once. From then on each socket checks that the run's stream messages chain
 * (fromSeq = previous toSeq + 1, starting after the snapshot's lastSeq), counts the distinct
 * points it holds (snapshot + live) and records receive time − point.time for every live
 * point. Frames that arrive before the `run:watch` ack (the hub joins the room, then answers)
 * are held and applied after the snapshot, as a dashboard must.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { io, type Socket } from 'socket.io-client';
import { z } from 'zod';
import { fromPointColumns, readPointColumns, type PointColumns } from '../../server/columns';
import { PROTOCOL_VERSION, type Result, type RunSnapshot } from '../../server/protocol';
import { Histogram } from './histogram';
import { toParent, watcherCommandSchema } from './messages';

const flags = z
  .object({
    url: z.url(),
    count: z.coerce.number().int().min(1).max(5000),
    first: z.coerce.number().int().min(0),
  })
  .parse(
    parseArgs({
      options: {
        url: { type: 'string' },
        count: { type: 'string' },
        first: { type: 'string', default: '0' },
      },
    }).values,
  );

/** The part of a stream message (metrics:batch, metrics:epoch, run:progress, …) checked here. */
interface StreamMessage {
  runId: string;
  fromSeq: number;
  toSeq: number;
  points?: PointColumns;
}

interface Watcher {
  socket: Socket;
  /** Last seq of the chain; -1 until the snapshot arrived. */
  lastSeq: number;
  /** Stream messages received before the snapshot. */
  early: Array<{ event: string; msg: StreamMessage; at: number }>;
  /** seen[seq] = 1 for every point held. */
  seen: Uint8Array;
  delivered: number;
}

const latency = new Histogram();
const steady = new Histogram();
/** When every socket here had its snapshot (points made later are "steady state"). */
let steadyFrom = Number.POSITIVE_INFINITY;
const lag = monitorEventLoopDelay({ resolution: 1 });
const frameTimes = new Map<number, { first: number; last: number }>();
const totals = {
  chainBreaks: 0,
  duplicates: 0,
  frames: 0,
  presence: 0,
  presenceUsers: 0,
  disconnects: 0,
  early: 0,
  points: 0,
  snapshotPoints: 0,
};
/** JSON bytes per presence user entry, measured on the first non-empty message. */
let bytesPerUser = 0;
const examples: string[] = [];
let runId: string | null = null;
let watchStarted = {
  cpu: process.cpuUsage(),
  elu: performance.eventLoopUtilization(),
  at: Date.now(),
};

function isStreamMessage(msg: unknown): msg is StreamMessage {
  // A structural check, not zod: at 500 sockets × 20 frames/s, parsing every frame with a
  // schema would make this process, not the hub, the thing being measured.
  const m = msg as Partial<StreamMessage> | null;
  return (
    typeof m === 'object' &&
    m !== null &&
    m.runId === runId &&
    typeof m.fromSeq === 'number' &&
    typeof m.toSeq === 'number'
  );
}

function countPresence(msg: unknown): void {
  const users = (msg as { users?: unknown[] } | null)?.users;
  totals.presence++;
  if (!Array.isArray(users)) return;
  totals.presenceUsers += users.length;
  if (!bytesPerUser && users.length) bytesPerUser = JSON.stringify(msg).length / users.length;
}

function hold(w: Watcher, seq: number): boolean {
  if (seq >= w.seen.length) {
    const grown = new Uint8Array(Math.max(seq + 1, w.seen.length * 2));
    grown.set(w.seen);
    w.seen = grown;
  }
  if (w.seen[seq]) {
    totals.duplicates++;
    return false;
  }
  w.seen[seq] = 1;
  w.delivered++;
  return true;
}

function apply(w: Watcher, index: number, event: string, msg: StreamMessage, at: number): void {
  if (msg.fromSeq !== w.lastSeq + 1) {
    totals.chainBreaks++;
    if (examples.length < 5)
      examples.push(
        `watcher ${flags.first + index}: ${event} ${msg.fromSeq}..${msg.toSeq} after ${w.lastSeq}`,
      );
  }
  w.lastSeq = Math.max(w.lastSeq, msg.toSeq);
  if (event !== 'metrics:batch' || !msg.points) return;
  for (const p of fromPointColumns(msg.points)) {
    if (!hold(w, p.seq)) continue;
    latency.add(at - p.time);
    if (p.time >= steadyFrom) steady.add(at - p.time);
    totals.points++;
  }
}

function connect(index: number): Promise<Watcher> {
  const socket = io(flags.url, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    auth: { protocolVersion: PROTOCOL_VERSION },
  });
  const w: Watcher = { socket, lastSeq: -1, early: [], seen: new Uint8Array(4096), delivered: 0 };
  socket.onAny((event: string, msg: unknown) => {
    const at = Date.now();
    if (event === 'presence') return void countPresence(msg);
    if (!isStreamMessage(msg)) return;
    if (event === 'metrics:batch') {
      totals.frames++;
      const f = frameTimes.get(msg.fromSeq);
      if (f) f.last = Math.max(f.last, at);
      else frameTimes.set(msg.fromSeq, { first: at, last: at });
    }
    if (w.lastSeq < 0) {
      totals.early++;
      w.early.push({ event, msg, at });
    } else apply(w, index, event, msg, at);
  });
  socket.on('disconnect', () => {
    if (runId) totals.disconnects++;
  });
  return new Promise((resolve, reject) => {
    socket.once('connect_error', reject);
    socket.once('connect', () => {
      socket
        .timeout(60_000)
        .emitWithAck('hello', { name: `watcher-${flags.first + index}` })
        .then(
          (r: Result<unknown>) => (r.ok ? resolve(w) : reject(new Error(`hello: ${r.message}`))),
          reject,
        );
    });
  });
}

async function watch(watchers: Watcher[], id: string): Promise<void> {
  runId = id;
  const started = Date.now();
  watchStarted = { cpu: process.cpuUsage(), elu: performance.eventLoopUtilization(), at: started };
  lag.enable();
  const failures: string[] = [];
  await Promise.all(
    watchers.map(async (w, i) => {
      let r: Result<RunSnapshot>;
      try {
        r = await w.socket.timeout(120_000).emitWithAck('run:watch', { runId: id });
      } catch (error) {
        return void failures.push(
          `watcher ${flags.first + i}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      if (!r.ok) return void failures.push(`watcher ${flags.first + i}: ${r.error} ${r.message}`);
      const tail = readPointColumns(r.data.series.tail);
      for (const seq of tail.seq) hold(w, seq);
      totals.snapshotPoints += r.data.series.points;
      w.lastSeq = r.data.lastSeq;
      for (const e of w.early.splice(0)) apply(w, i, e.event, e.msg, e.at);
    }),
  );
  steadyFrom = Date.now();
  toParent({
    kind: 'watching',
    ms: steadyFrom - started,
    failures,
    snapshotPoints: totals.snapshotPoints,
  });
}

function report(watchers: Watcher[]): void {
  const spread = new Histogram();
  for (const f of frameTimes.values()) spread.add(f.last - f.first);
  const cpu = process.cpuUsage(watchStarted.cpu);
  toParent({
    kind: 'report',
    latency: latency.toJSON(),
    steady: steady.toJSON(),
    spread: spread.toJSON(),
    delivered: watchers.map((w) => w.delivered),
    chainBreaks: totals.chainBreaks,
    duplicates: totals.duplicates,
    examples,
    frames: totals.frames,
    presence: totals.presence,
    presenceUsers: totals.presenceUsers,
    presenceBytes: Math.round(totals.presenceUsers * bytesPerUser),
    disconnects: totals.disconnects,
    early: totals.early,
    cpuUs: cpu.user + cpu.system,
    wallMs: Date.now() - watchStarted.at,
    elu: performance.eventLoopUtilization(watchStarted.elu).utilization,
    // The histogram is in ns and each reading includes the 1 ms sampling period.
    lagP99Ms: Math.max(0, lag.percentile(99) / 1e6 - 1),
    lagMaxMs: Math.max(0, lag.max / 1e6 - 1),
  });
}

async function main(): Promise<void> {
  const started = Date.now();
  const watchers: Watcher[] = [];
  // Connect in small waves: a real audience does not arrive in one SYN burst either.
  for (let i = 0; i < flags.count; i += 25) {
    const wave = Array.from({ length: Math.min(25, flags.count - i) }, (_, k) => connect(i + k));
    watchers.push(...(await Promise.all(wave)));
  }
  toParent({ kind: 'connected', sockets: watchers.length, ms: Date.now() - started });

  const progress = setInterval(() => {
    if (!runId) return;
    toParent({
      kind: 'progress',
      points: totals.points,
      minLastSeq: Math.min(...watchers.map((w) => w.lastSeq)),
    });
  }, 500);
  const stop = () => {
    clearInterval(progress);
    runId = null;
    for (const w of watchers) w.socket.disconnect();
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.on('message', (raw) => {
    const command = watcherCommandSchema.safeParse(raw);
    if (!command.success) return;
    switch (command.data.kind) {
      case 'watch':
        return void watch(watchers, command.data.runId);
      case 'report':
        return report(watchers);
      case 'stop':
        return stop();
      default:
        throw new Error(`unhandled command ${JSON.stringify(command.data satisfies never)}`);
    }
  });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
}

main().catch((error) => {
  process.stderr.write(
    `watcher process: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
