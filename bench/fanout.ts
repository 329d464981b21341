/**
 * bench/fanout: what live fan-out costs. For each watcher count, a hub (own process), a trainer
 * daemon (wasm, own process) and N socket.io-client watchers (forked watcher processes) run
 * one training run; every watcher records receive time − point.time for each point and checks
 * that the seq ranges chain. Training speed is compared with a headless run of the same
 * hyperparameters (`npm run train -- --json`) in this invocation. A benchmark, not a test.
 *
 *   npm run bench:fanout -- [--watchers 1,100,500] [--epochs N] [--train-limit N] [--batch-size 32]
 *                           [--test-limit N] [--watcher-procs 1] [--watcher-nice 10] [--reference-runs 2]
 *                           [--hub-flush-ms N]   (what-if: the hub's ingest flush interval, default the hub's)
 *                           [--hubs N --redis [--redis-url URL] [--postgres-url URL]]
 *
 * With --hubs N --redis, N hub processes share one throwaway PostgreSQL database (created on
 * --postgres-url's server, dropped at the end) and one Redis; the trainer connects to the
 * first hub and the watchers are spread evenly over all of them, so most watchers get every
 * point through the Redis relay. E.g. `npm run bench:fanout -- --watchers 1000 --hubs 2 --redis`.
 *
 * Watchers run in one process at lower priority (nice 10) by default. On a small machine they
 * share cores with the trainer, which remote browsers would not; niced, they use only CPU the
 * trainer and the hub leave idle, so a training slowdown is the hub's doing. The price is that
 * a watcher may read a frame late when the machine is saturated, which can only overstate
 * latency; the notes print the watcher process's own event-loop delay to show by how much.
 * One process: at 500 sockets it used ~15–20 % of a core (event-loop utilisation < 0.4) on a
 * 2-core machine, and a second process would only compete for the same idle core.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import {
  cleanupAll,
  installCleanup,
  meterLoad,
  removeDir,
  runEntry,
  tempDir,
  type Load,
} from './lib/children';
import { int, overallSamplesPerSec, pct, summarise, table } from './lib/histogram';
import { runScenario, type ScenarioResult } from './lib/scenario';
import pg from 'pg';

const TARGET_P99_MS = 100;
const TARGET_AT_WATCHERS = 500;
const TARGET_MIN_RATIO = 0.97;

const flagsSchema = z
  .object({
    watchers: z
      .string()
      .regex(/^\d+(,\d+)*$/, 'a comma-separated list like 1,100,500')
      .transform((s) => s.split(',').map(Number))
      .pipe(z.array(z.number().int().min(1).max(5000))),
    epochs: z.coerce.number().int().min(1).max(100),
    'train-limit': z.coerce.number().int().min(32).optional(),
    'test-limit': z.coerce.number().int().min(1).optional(),
    'batch-size': z.coerce.number().int().min(1).max(8192),
    'watcher-procs': z.coerce.number().int().min(1).max(16),
    'watcher-nice': z.coerce.number().int().min(0).max(19),
    'reference-runs': z.coerce.number().int().min(0).max(10),
    'hub-flush-ms': z.coerce.number().int().min(1).max(10_000).optional(),
    hubs: z.coerce.number().int().min(1).max(8),
    redis: z.boolean(),
    'redis-url': z.string().regex(/^rediss?:\/\//, 'a redis:// URL'),
    'postgres-url': z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// URL'),
  })
  .refine((f) => f.hubs === 1 || f.redis, {
    message: 'several hubs share rooms through Redis: add --redis',
    path: ['hubs'],
  });

function readFlags(): z.infer<typeof flagsSchema> {
  const { values } = parseArgs({
    options: {
      watchers: { type: 'string', default: '1,100,500' },
      epochs: { type: 'string', default: '1' },
      'train-limit': { type: 'string' },
      'test-limit': { type: 'string' },
      'batch-size': { type: 'string', default: '32' },
      'watcher-procs': { type: 'string', default: '1' },
      'watcher-nice': { type: 'string', default: '10' },
      'reference-runs': { type: 'string', default: '2' },
      'hub-flush-ms': { type: 'string' },
      hubs: { type: 'string', default: '1' },
      redis: { type: 'boolean', default: false },
      'redis-url': { type: 'string', default: process.env.REDIS_URL || 'redis://127.0.0.1:6379' },
      'postgres-url': { type: 'string', default: 'postgresql://postgres@127.0.0.1:5432/postgres' },
    },
  });
  const parsed = flagsSchema.safeParse(values);
  if (!parsed.success) {
    process.stderr.write(
      `${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('\n')}\n`,
    );
    process.exit(2);
  }
  return parsed.data;
}

const headlessSchema = z.object({
  status: z.literal('completed'),
  epochs: z.array(z.object({ samplesPerSec: z.number(), trainMs: z.number() })).min(1),
});

/** Training samples/s of a headless run (server/trainer/cli.ts, wasm) with the same settings. */
async function headless(
  flags: z.infer<typeof flagsSchema>,
): Promise<{ samplesPerSec: number; load: Load | null }> {
  const dir = await tempDir('livetrain-fanout-ref-');
  const meter = meterLoad();
  try {
    const args = [
      '--json',
      '--backend',
      'wasm',
      '--no-train-eval',
      '--checkpoint-dir',
      dir,
      '--epochs',
      String(flags.epochs),
      '--batch-size',
      String(flags['batch-size']),
    ];
    if (flags['train-limit']) args.push('--train-limit', String(flags['train-limit']));
    if (flags['test-limit']) args.push('--test-limit', String(flags['test-limit']));
    const out = await runEntry('server/trainer/cli.ts', args);
    if (out.code !== 0)
      throw new Error(`headless run exited ${out.code}: ${out.stderr.slice(-2000)}`);
    const load = meter.stop();
    return {
      samplesPerSec: overallSamplesPerSec(
        headlessSchema.parse(JSON.parse(out.stdout.trim().split('\n').at(-1)!)).epochs,
      ),
      load,
    };
  } finally {
    await removeDir(dir);
  }
}

/** A status line on stderr: rewritten in place on a terminal, every 5 s otherwise. */
function progressLine(label: string): (line: string) => void {
  let printed = 0;
  return (line) => {
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K[${label}] ${line}`);
    else if (Date.now() - printed >= 5000) {
      printed = Date.now();
      process.stderr.write(`[${label}] ${line}\n`);
    }
  };
}

function endProgress(): void {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
}

/** Other processes' load (cores) above which speed ratios are called unreliable. */
const NOISY_OTHERS = 0.1;

function describeLoad(load: Load | null): string {
  if (!load) return 'machine load unknown (no /proc)';
  const trainer = load.watched === undefined ? '' : ` (trainer ${load.watched.toFixed(2)})`;
  return `CPU: bench ${load.ours.toFixed(2)} cores${trainer}, other processes ${load.others.toFixed(2)} cores`;
}

function lostPoints(r: ScenarioResult): number {
  return (
    r.delivered.reduce((lost, d) => lost + Math.max(0, r.stored - d), 0) +
    r.stored * (r.watchers - r.delivered.length)
  );
}

function verdict(r: ScenarioResult, reference: number): string {
  const p99ok = r.latency.quantile(0.99) < TARGET_P99_MS;
  const lossOk =
    lostPoints(r) === 0 &&
    r.stored === r.totalSteps &&
    r.reports.every((w) => w.chainBreaks === 0 && w.duplicates === 0);
  const ratio = r.samplesPerSec / reference;
  const mark = (ok: boolean) => (ok ? 'ok' : 'MISS');
  return `p99 ${mark(p99ok)}, lost ${mark(lossOk)}, speed ${Number.isFinite(ratio) ? mark(ratio >= TARGET_MIN_RATIO) : '–'}`;
}

function notes(r: ScenarioResult): string {
  const sum = (f: (w: ScenarioResult['reports'][number]) => number) =>
    r.reports.reduce((a, w) => a + f(w), 0);
  const wallS = Math.max(...r.reports.map((w) => w.wallMs)) / 1000;
  const lines = [
    `${r.watchers} watchers: connected in ${(r.connectMs / 1000).toFixed(1)} s; all watching ${(r.watchMs / 1000).toFixed(1)} s after run:start (${int(r.snapshotPoints)} points came in snapshots); run ${(r.trainMs / 1000).toFixed(1)} s`,
    `  latency mean ${r.latency.mean.toFixed(0)} ms, ${int(r.latency.above(TARGET_P99_MS))} of ${int(r.latency.count)} samples > ${TARGET_P99_MS} ms; ` +
      `once all were watching p50/p99/max ${summarise(r.steady)} ms (${int(r.steady.count)} samples)`,
    `  trainer → hub leg p50/p99/max ${summarise(r.upstream)} ms (${r.pointsPerTrainerMessage.mean.toFixed(1)} points per trainer message); ` +
      `fan-out spread per frame (first to last watcher) p50/p99/max ${summarise(r.spread)} ms`,
    `  hub event-loop delay p99 ≤ ${r.hubLagP99Ms.toFixed(0)} ms, max ${r.hubLagMaxMs.toFixed(0)} ms; ${(sum((w) => w.frames) / r.watchers / wallS).toFixed(1)} frames/s per watcher`,
    `  watcher processes: CPU ${pct((sum((w) => w.cpuUs) / 1000 / (wallS * 1000)) * 100)} of one core, event-loop utilisation ${Math.max(...r.reports.map((w) => w.elu)).toFixed(2)}, ` +
      `own event-loop delay p99 ${Math.max(...r.reports.map((w) => w.lagP99Ms)).toFixed(0)} ms, max ${Math.max(...r.reports.map((w) => w.lagMaxMs)).toFixed(0)} ms; ${describeLoad(r.load)}`,
    `  stored ${int(r.stored)} of ${int(r.totalSteps)} steps; chain breaks ${sum((w) => w.chainBreaks)}, duplicates ${sum((w) => w.duplicates)}, disconnects ${sum((w) => w.disconnects)}, ` +
      `messages before the run:watch ack ${int(sum((w) => w.early))}, ` +
      `presence: ${int(sum((w) => w.presence) / r.watchers)} messages per watcher, ${(sum((w) => w.presenceBytes) / 2 ** 20).toFixed(1)} MB sent in all`,
  ];
  if (r.hubStalls.length)
    lines.push(
      `  hub stalls > 100 ms: ${r.hubStalls
        .slice(0, 8)
        .map((s) => `${s.ms.toFixed(0)} ms at ${s.atS.toFixed(1)} s`)
        .join(', ')}${r.hubStalls.length > 8 ? ', …' : ''}`,
    );
  for (const e of [...r.watchFailures, ...r.reports.flatMap((w) => w.examples)].slice(0, 5))
    lines.push(`  ! ${e}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const flags = readFlags();
  installCleanup(() => {
    interrupted = true;
    endProgress();
  });
  const hyperparams = {
    epochs: flags.epochs,
    batchSize: flags['batch-size'],
    trainLimit: flags['train-limit'] ?? null,
    testLimit: flags['test-limit'] ?? null,
  };
  const cpus = os.cpus();
  console.log('bench/fanout: live fan-out from one hub to N watchers while a wasm trainer trains');
  console.log(
    `machine: ${cpus.length} × ${cpus[0]?.model ?? '?'}, ${int(os.totalmem() / 2 ** 20)} MB, node ${process.version}`,
  );
  console.log(
    `run: epochs ${flags.epochs}, batch ${flags['batch-size']}, train ${flags['train-limit'] ?? 'all 60,000'}, test ${flags['test-limit'] ?? 'all 10,000'}, no train-set eval`,
  );
  console.log(
    `watchers: ${Math.max(flags['watcher-procs'], flags.hubs)} process(es), nice ${flags['watcher-nice']}; hub and trainer in their own processes` +
      (flags['hub-flush-ms']
        ? `; hub ingest flush ${flags['hub-flush-ms']} ms (not the default)`
        : ''),
  );
  const shared = flags.redis ? await throwawayPostgres(flags['postgres-url']) : null;
  if (shared) {
    console.log(
      `hubs: ${flags.hubs} processes on one PostgreSQL database (${shared.name}) and Redis ${flags['redis-url']}; the trainer on hub 1, watchers spread over all`,
    );
  }

  const references: number[] = [];
  const loads: Array<Load | null> = [];
  const reference = async (label: string) => {
    if (references.length >= flags['reference-runs']) return;
    process.stderr.write(`[reference] headless run (${label})…\n`);
    const ref = await headless(flags);
    references.push(ref.samplesPerSec);
    loads.push(ref.load);
    console.log(
      `reference ${references.length} (headless, ${label}): ${int(ref.samplesPerSec)} samples/s; ${describeLoad(ref.load)}`,
    );
  };
  await reference('before the scenarios');

  const results: ScenarioResult[] = [];
  for (const n of flags.watchers) {
    process.stderr.write(`[fanout ${n}] starting hub, trainer and ${n} watchers…\n`);
    const result = await runScenario({
      watchers: n,
      hyperparams,
      watcherProcs: Math.min(flags['watcher-procs'], n),
      watcherNice: flags['watcher-nice'],
      hubFlushMs: flags['hub-flush-ms'],
      hubs: flags.hubs,
      databaseUrl: shared?.url,
      redisUrl: flags.redis ? flags['redis-url'] : undefined,
      progress: progressLine(`fanout ${n}`),
    });
    endProgress();
    results.push(result);
    loads.push(result.load);
    console.log(
      `scenario ${n} watchers: p50/p99/max ${summarise(result.latency)} ms, ${int(result.samplesPerSec)} samples/s; ${describeLoad(result.load)}`,
    );
  }
  await reference('after the scenarios');
  await shared?.drop();
  dropShared = null;

  const ref = references.length
    ? references.reduce((a, b) => a + b, 0) / references.length
    : Number.NaN;
  const spreadNote =
    references.length > 1
      ? ` (runs ${references.map(int).join(' / ')}, spread ${pct(((Math.max(...references) - Math.min(...references)) / ref) * 100)})`
      : '';
  console.log(`\nheadless reference: ${int(ref)} samples/s${spreadNote}\n`);
  console.log(
    table(
      [
        'watchers',
        'latency p50 / p99 / max ms',
        'points delivered / emitted',
        'lost',
        flags.hubs > 1
          ? 'per hub: CPU % avg / RSS MB max (watchers)'
          : 'hub CPU % avg / RSS MB max',
        'samples/s',
        'vs headless',
        'targets',
      ],
      results.map((r) => [
        String(r.watchers),
        summarise(r.latency),
        `${int(Math.min(...r.delivered, r.delivered.length < r.watchers ? 0 : Infinity))} / ${int(r.stored)}`,
        int(lostPoints(r)),
        r.hubs.length > 1
          ? r.hubs
              .map(
                (h, i) =>
                  `${i + 1}: ${h.cpuPct.toFixed(1)} / ${h.rssMaxMb.toFixed(0)} (${h.watchers})`,
              )
              .join(' · ')
          : `${r.hubCpuPct.toFixed(1)} / ${r.hubRssMaxMb.toFixed(0)}`,
        int(r.samplesPerSec),
        Number.isFinite(ref) ? `${(r.samplesPerSec / ref).toFixed(3)}×` : '–',
        verdict(r, ref),
      ]),
      new Set([0, 1, 2, 3, 4, 5, 6]),
    ),
  );
  const busiest = Math.max(...loads.map((l) => l?.others ?? 0));
  if (busiest > NOISY_OTHERS) {
    console.log(
      `\nwarning: other processes used up to ${busiest.toFixed(2)} cores during these measurements; samples/s ratios are unreliable (rerun on a quiet machine)`,
    );
  }
  console.log(
    "\nlatency: watcher receive time − point.time (the trainer's clock when the batch finished), live frames only, all watchers together.",
  );
  console.log(
    'delivered: fewest distinct points any one watcher held (snapshot + live); emitted: BatchMetric rows the hub stored. Hub CPU: % of one core.',
  );
  console.log(
    `targets: p99 < ${TARGET_P99_MS} ms at ${TARGET_AT_WATCHERS} watchers, zero lost points, training slowed ≤ ${Math.round((1 - TARGET_MIN_RATIO) * 100)} % (≥ ${TARGET_MIN_RATIO}× headless)\n`,
  );
  for (const r of results) console.log(notes(r));
}

/** A database for the hubs to share, on the given server; dropped by `drop`. */
async function throwawayPostgres(
  adminUrl: string,
): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `livetrain_bench_${process.pid}`;
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>) => {
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  await admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await c.query(`CREATE DATABASE "${name}"`);
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const drop = () =>
    admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined);
  dropShared = drop;
  return { name, url: url.toString(), drop };
}

/** Drops the hubs' shared database when the benchmark fails half-way. */
let dropShared: (() => Promise<void>) | null = null;

/** Set on Ctrl-C: the scenario then fails as its processes go, which is no news. */
let interrupted = false;

main()
  .then(cleanupAll, async (error) => {
    if (interrupted) return new Promise<never>(() => {}); // installCleanup exits
    endProgress();
    process.stderr.write(
      `bench/fanout failed: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    await cleanupAll();
    await dropShared?.().catch(() => undefined);
    process.exitCode = 1;
  })
  .finally(() => process.exit());
