/**
 * One fan-out scenario: a hub process (or several on one PostgreSQL database and one Redis),
 * a trainer daemon (wasm, connected to the first hub) and N watchers in forked watcher
 * processes spread over the hubs; one run started with `run:start` on the first hub and
 * watched by everyone until it ends.
 * Returns what bench/fanout.ts prints. Everything started here is stopped before it returns,
 * also when it throws.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { z } from 'zod';
import { PROTOCOL_VERSION, type Result, type RunSummary } from '../../server/protocol';
import type { HyperparamsInput } from '../../server/trainer/config';
import {
  forkEntry,
  meterLoad,
  nextMessage,
  outputOf,
  type Load,
  removeDir,
  spawnEntry,
  stopChild,
  tempDir,
} from './children';
import { Histogram, int, overallSamplesPerSec } from './histogram';
import {
  hubMessageSchema,
  watcherMessageSchema,
  type HubMessage,
  type WatcherReport,
} from './messages';

/** What one scenario measured. */
export interface ScenarioResult {
  watchers: number;
  latency: Histogram;
  /** Latency of points made after every watcher had its snapshot (the join storm over). */
  steady: Histogram;
  /** Trainer → hub leg of the latency (hub arrival − point.time). */
  upstream: Histogram;
  /** Per frame, last watcher's receive − first watcher's. */
  spread: Histogram;
  pointsPerTrainerMessage: Histogram;
  delivered: number[];
  stored: number;
  totalSteps: number;
  reports: WatcherReport[];
  snapshotPoints: number;
  watchFailures: string[];
  /** Per hub process (the first one stores the run). */
  hubs: Array<{ cpuPct: number; rssMaxMb: number; watchers: number }>;
  hubCpuPct: number;
  hubRssMaxMb: number;
  hubLagP99Ms: number;
  hubLagMaxMs: number;
  /** Hub event-loop stalls over 100 ms: seconds after the run started, and how long. */
  hubStalls: Array<{ atS: number; ms: number }>;
  samplesPerSec: number;
  /** CPU of this benchmark and of other processes on the machine from run:start to the end. */
  load: Load | null;
  connectMs: number;
  watchMs: number;
  trainMs: number;
}

/** Scenario settings. */
export interface ScenarioOptions {
  watchers: number;
  hyperparams: HyperparamsInput;
  /** Watcher processes to spread the sockets over. */
  watcherProcs: number;
  /** Niceness of the watcher processes (0 = same priority as the trainer). */
  watcherNice: number;
  /** The hub's ingest flush interval (ms); the hub's default when undefined. */
  hubFlushMs?: number;
  /** Hub processes (default 1); more than one needs `databaseUrl` and `redisUrl`. */
  hubs?: number;
  /** Shared database of the hubs (PostgreSQL); a SQLite file per scenario when undefined. */
  databaseUrl?: string;
  /** Redis the hubs share rooms and streams through. */
  redisUrl?: string;
  /** Called about once a second with a one-line status. */
  progress: (line: string) => void;
}

const runSchema = z.object({
  status: z.string(),
  statusMessage: z.string().nullable(),
  lastSeq: z.number(),
  lastStep: z.number(),
  totalSteps: z.number().nullable(),
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
});
const runResponse = z.object({
  ok: z.literal(true),
  data: z.object({
    run: runSchema,
    epochs: z.array(z.object({ samplesPerSec: z.number(), trainMs: z.number() })),
  }),
});
const metricsResponse = z.object({
  ok: z.literal(true),
  data: z.object({ points: z.array(z.object({ seq: z.number() })), complete: z.boolean() }),
});
const healthResponse = z.object({ ok: z.literal(true), data: z.object({ trainers: z.number() }) });
const FINISHED = new Set(['completed', 'stopped', 'failed', 'interrupted']);

async function getJson<S extends z.ZodType>(url: string, schema: S): Promise<z.infer<S>> {
  const res = await fetch(url);
  return schema.parse(await res.json());
}

async function until<T>(
  check: () => Promise<T | false>,
  what: string,
  timeoutMs: number,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Hub CPU % (of one core), max RSS and event-loop delay over [from, to] (ms since the epoch). */
function hubUsage(
  samples: Array<Extract<HubMessage, { kind: 'stats' }>>,
  from: number,
  to: number,
) {
  if (samples.length < 2)
    return {
      cpuPct: Number.NaN,
      rssMaxMb: Number.NaN,
      lagP99Ms: Number.NaN,
      lagMaxMs: Number.NaN,
      stalls: [],
    };
  const start = samples.findLast((s) => s.t <= from) ?? samples[0];
  const end = samples.find((s) => s.t >= to) ?? samples[samples.length - 1];
  const inside = samples.filter((s) => s.t >= start.t && s.t <= end.t);
  return {
    cpuPct: ((end.cpuUs - start.cpuUs) / 1000 / Math.max(1, end.t - start.t)) * 100,
    rssMaxMb: Math.max(...inside.map((s) => s.rss)) / 2 ** 20,
    lagP99Ms: Math.max(...inside.map((s) => s.lagP99Ms)),
    lagMaxMs: Math.max(...inside.map((s) => s.lagMaxMs)),
    // A sample covers the interval before it, so a stall ended by t began at most lagMaxMs earlier.
    stalls: inside
      .filter((s) => s.lagMaxMs > 100)
      .map((s) => ({ atS: (s.t - s.lagMaxMs - from) / 1000, ms: s.lagMaxMs })),
  };
}

/** Runs one scenario; see the module comment. */
export async function runScenario(opts: ScenarioOptions): Promise<ScenarioResult> {
  const dir = await tempDir('livetrain-fanout-');
  const children: ChildProcess[] = [];
  let controller: Socket | null = null;
  try {
    const hubCount = opts.hubs ?? 1;
    const prefix = `bench-${process.pid}-${Date.now().toString(36)}`;
    const hubArgs = [
      '--dir',
      dir,
      ...(opts.hubFlushMs ? ['--flush-ms', String(opts.hubFlushMs)] : []),
      ...(opts.databaseUrl ? ['--database-url', opts.databaseUrl] : []),
      ...(opts.redisUrl ? ['--redis-url', opts.redisUrl, '--redis-prefix', prefix] : []),
    ];
    const hubs: Array<{
      child: ChildProcess;
      url: string;
      stats: Array<Extract<HubMessage, { kind: 'stats' }>>;
    }> = [];
    // One after the other: the first applies the database's migrations.
    for (let i = 0; i < hubCount; i++) {
      const child = forkEntry('bench/lib/hubProcess.ts', hubArgs);
      children.push(child);
      const stats: Array<Extract<HubMessage, { kind: 'stats' }>> = [];
      child.on('message', (raw) => {
        const m = hubMessageSchema.safeParse(raw);
        if (m.success && m.data.kind === 'stats') stats.push(m.data);
      });
      const ready = await nextMessage(
        child,
        hubMessageSchema,
        `hub ${i + 1} start`,
        60_000,
        (m) => m.kind === 'ready',
      );
      hubs.push({ child, url: (ready as Extract<HubMessage, { kind: 'ready' }>).url, stats });
    }
    const hub = hubs[0].child;
    const stats = hubs[0].stats;
    const url = hubs[0].url;

    const trainer = spawnEntry('server/agent/main.ts', [
      '--hub',
      url,
      '--backend',
      'wasm',
      '--id',
      'bench-trainer',
      '--checkpoint-dir',
      path.join(dir, 'checkpoints'),
      '--exit-on-stdin-close',
    ]);
    children.push(trainer);
    await until(
      async () => (await getJson(`${url}/api/health`, healthResponse)).data.trainers === 1 || false,
      'trainer registered',
      60_000,
    );

    // Watchers: split evenly over the watcher processes, the processes over the hubs.
    const started = Date.now();
    const procs: ChildProcess[] = [];
    const perHub = hubs.map(() => 0);
    const procCount = Math.max(opts.watcherProcs, hubCount);
    for (let p = 0, first = 0; p < procCount; p++) {
      const count = Math.floor(opts.watchers / procCount) + (p < opts.watchers % procCount ? 1 : 0);
      if (count === 0) continue;
      perHub[p % hubCount] += count;
      procs.push(
        forkEntry(
          'bench/lib/watcherProcess.ts',
          ['--url', hubs[p % hubCount].url, '--count', String(count), '--first', String(first)],
          { nice: opts.watcherNice },
        ),
      );
      first += count;
    }
    children.push(...procs);
    await Promise.all(
      procs.map((p) =>
        nextMessage(
          p,
          watcherMessageSchema,
          'watchers connect',
          120_000,
          (m) => m.kind === 'connected',
        ),
      ),
    );
    const connectMs = Date.now() - started;
    const progress = new Map<ChildProcess, { points: number; minLastSeq: number }>();
    for (const p of procs) {
      p.on('message', (raw) => {
        const m = watcherMessageSchema.safeParse(raw);
        if (m.success && m.data.kind === 'progress') progress.set(p, m.data);
      });
    }

    controller = io(url, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      auth: { protocolVersion: PROTOCOL_VERSION },
    });
    const hello: Result<unknown> = await controller
      .timeout(30_000)
      .emitWithAck('hello', { name: 'bench' });
    if (!hello.ok) throw new Error(`hello: ${hello.message}`);
    const meter = meterLoad(trainer);
    const start: Result<{ run: RunSummary }> = await controller
      .timeout(30_000)
      .emitWithAck('run:start', {
        name: `fanout ${opts.watchers}`,
        hyperparams: opts.hyperparams,
        reporting: { evalTrainSet: false },
      });
    if (!start.ok) throw new Error(`run:start: ${start.error} ${start.message}`);
    const runId = start.data.run.id;
    const watchStarted = Date.now();
    procs.forEach((p) => p.send({ kind: 'watch', runId }));
    const watching = await Promise.all(
      procs.map((p) =>
        nextMessage(p, watcherMessageSchema, 'run:watch', 180_000, (m) => m.kind === 'watching'),
      ),
    );
    const watchMs = Date.now() - watchStarted;

    let lastCpu = stats.at(-1);
    const run = await until(
      async () => {
        const { run } = (await getJson(`${url}/api/runs/${runId}`, runResponse)).data;
        const now = stats.at(-1);
        const cpu =
          now && lastCpu && now.t > lastCpu.t
            ? `${(((now.cpuUs - lastCpu.cpuUs) / 1000 / (now.t - lastCpu.t)) * 100).toFixed(0)} %`
            : '–';
        lastCpu = now;
        const points = [...progress.values()].reduce((a, p) => a + p.points, 0);
        opts.progress(
          `${run.status} step ${run.lastStep}/${run.totalSteps ?? '?'} · hub CPU ${cpu}, RSS ${int((now?.rss ?? 0) / 2 ** 20)} MB · watchers received ${int(points)} points`,
        );
        return FINISHED.has(run.status) ? run : false;
      },
      'run finished',
      30 * 60_000,
      1000,
    );
    const load = meter.stop();
    if (run.status !== 'completed')
      throw new Error(
        `run ${run.status}: ${run.statusMessage ?? ''}\ntrainer output:\n${outputOf(trainer)}`,
      );

    // The last frames go out with the final status; give slow watchers time to read them.
    await until(
      async () => {
        const { run: now } = (await getJson(`${url}/api/runs/${runId}`, runResponse)).data;
        return procs.every((p) => (progress.get(p)?.minLastSeq ?? -1) >= now.lastSeq) || false;
      },
      'watchers caught up with the last seq',
      20_000,
      250,
    ).catch((error: Error) => opts.progress(`${error.message}; reporting what arrived`));

    const reports = (await Promise.all(
      procs.map((p) => {
        const answer = nextMessage(
          p,
          watcherMessageSchema,
          'watcher report',
          30_000,
          (m) => m.kind === 'report',
        );
        p.send({ kind: 'report' });
        return answer;
      }),
    )) as WatcherReport[];
    const hubAnswer = nextMessage(
      hub,
      hubMessageSchema,
      'hub report',
      30_000,
      (m) => m.kind === 'report',
    );
    hub.send({ kind: 'report' });
    const hubReport = (await hubAnswer) as Extract<HubMessage, { kind: 'report' }>;

    let stored = 0;
    for (let after = 0; ;) {
      const page = (
        await getJson(
          `${url}/api/runs/${runId}/metrics?afterSeq=${after}&limit=100000`,
          metricsResponse,
        )
      ).data;
      stored += page.points.length;
      if (page.complete || page.points.length === 0) break;
      after = page.points[page.points.length - 1].seq;
    }
    const final = (await getJson(`${url}/api/runs/${runId}`, runResponse)).data;
    const from = Date.parse(final.run.startedAt ?? '') || watchStarted;
    const to = Date.parse(final.run.endedAt ?? '') || Date.now();
    const usage = hubUsage(stats, from, to);
    const usages = hubs.map((h) => hubUsage(h.stats, from, to));

    return {
      watchers: opts.watchers,
      latency: reports.reduce((h, r) => h.merge(r.latency), new Histogram()),
      steady: reports.reduce((h, r) => h.merge(r.steady), new Histogram()),
      spread: reports.reduce((h, r) => h.merge(r.spread), new Histogram()),
      upstream: new Histogram().merge(hubReport.upstream),
      pointsPerTrainerMessage: new Histogram().merge(hubReport.pointsPerMessage),
      delivered: reports.flatMap((r) => r.delivered),
      stored,
      totalSteps: final.run.totalSteps ?? Number.NaN,
      reports,
      snapshotPoints: watching.reduce(
        (a, m) => a + (m.kind === 'watching' ? m.snapshotPoints : 0),
        0,
      ),
      watchFailures: watching.flatMap((m) => (m.kind === 'watching' ? m.failures : [])),
      hubs: usages.map((u, i) => ({ cpuPct: u.cpuPct, rssMaxMb: u.rssMaxMb, watchers: perHub[i] })),
      hubCpuPct: usage.cpuPct,
      hubRssMaxMb: usage.rssMaxMb,
      hubLagP99Ms: Math.max(...usages.map((u) => u.lagP99Ms)),
      hubLagMaxMs: Math.max(...usages.map((u) => u.lagMaxMs)),
      hubStalls: usages.flatMap((u) => u.stalls).sort((x, y) => x.atS - y.atS),
      samplesPerSec: overallSamplesPerSec(final.epochs),
      load,
      connectMs,
      watchMs,
      trainMs: to - from,
    };
  } finally {
    controller?.disconnect();
    // Watchers first (their disconnects are not part of anything measured), the hub last.
    for (const child of children.slice().reverse()) await stopChild(child);
    await removeDir(dir);
  }
}
