/**
 * bench/runs-list: how long one page of the runs list takes the database (the storage call
 * `GET /api/runs` makes: the page and its total in one transaction), at 10,000 runs against a
 * 100-run reference in the same invocation, on SQLite and PostgreSQL; a page's sparklines in
 * one query against the query per run they replaced; and sorting by a hyperparameter through
 * its promoted column against reading it out of the JSON per row.
 *
 *   npm run bench:runs -- [--runs 10000] [--reference 100] [--repeats 40] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { z } from 'zod';
import { openDatabase, type LivetrainDatabase } from '../server/db/client';
import { createStorage } from '../server/hub/storage/storage';
import { runsQuerySchema } from '../server/hub/storage/runsQuery';
import { runMain } from '../server/trainer/runMain';
import { seedRuns } from '../test/helpers/runsSeed';

const flags = z
  .object({
    runs: z.coerce.number().int().min(1000).max(200_000),
    reference: z.coerce.number().int().min(10).max(10_000),
    repeats: z.coerce.number().int().min(5).max(1000),
    postgres: z.string().url(),
  })
  .parse(
    parseArgs({
      options: {
        runs: { type: 'string', default: '10000' },
        reference: { type: 'string', default: '100' },
        repeats: { type: 'string', default: '40' },
        postgres: { type: 'string', default: 'postgresql://postgres@127.0.0.1:5432/postgres' },
      },
    }).values,
  );

/** The pages measured, as the dashboard (or a script) would ask for them. */
const CASES: Array<[string, Record<string, string>]> = [
  ['newest first (the default)', { limit: '50' }],
  ['by name, page 100', { sort: 'name', limit: '50', offset: '4950' }],
  ['by latest loss (some have none)', { sort: 'loss', limit: '50' }],
  ['by epochs, descending (a hyperparameter)', { sort: 'epochs', order: 'desc', limit: '50' }],
  ['tag "sweep"', { tag: 'sweep', limit: '50' }],
  ['text "sweep 12"', { q: 'sweep 12', limit: '50' }],
  ['failed, by test accuracy', { status: 'failed', sort: 'accuracy', order: 'desc', limit: '50' }],
];
const SPARK_RUNS = 50;
const SPARK_BATCHES = 1000;
const SPARK_POINTS = 60;

/** Median and 95th percentile of `repeats` timings of `f`, ms, after two warm-up calls. */
async function time(
  f: () => Promise<unknown>,
  repeats = flags.repeats,
): Promise<{ p50: number; p95: number }> {
  await f();
  await f();
  const ms: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await f();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return {
    p50: ms[Math.floor(ms.length / 2)]!,
    p95: ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.95))]!,
  };
}

/** The sparklines as they were read before: one query per run. */
async function sparklinesPerRun(
  db: LivetrainDatabase,
  ids: string[],
  points: number,
): Promise<number> {
  const runs = await db.prisma.run.findMany({
    where: { id: { in: ids } },
    select: { id: true, lastStep: true },
  });
  let n = 0;
  for (const run of runs) {
    const span = Math.max(1, run.lastStep);
    const rows = await db.prisma.$queryRaw<unknown[]>`
      SELECT ((step - 1) * CAST(${points} AS INTEGER)) / CAST(${span} AS INTEGER) AS bucket, CAST(AVG(loss) AS DOUBLE PRECISION) AS loss
      FROM "BatchMetric" WHERE "runId" = ${run.id} GROUP BY bucket ORDER BY bucket`;
    n += rows.length;
  }
  return n;
}

/** Writes `n` seeded runs (and batches for the first page's runs) into a fresh database at `url`. */
async function seeded(url: string, n: number): Promise<LivetrainDatabase> {
  const db = await openDatabase({ url });
  const storage = createStorage(db.prisma, db.provider);
  await storage.runs.insertMany(
    seedRuns(n).map((r, i) =>
      i >= n - SPARK_RUNS ? { ...r, lastStep: SPARK_BATCHES, totalSteps: SPARK_BATCHES } : r,
    ),
  );
  const newest = (
    await storage.runs.list(
      runsQuerySchema.parse({ archived: 'include', limit: String(SPARK_RUNS) }),
    )
  ).runs.map((r) => r.id);
  const batches = newest.flatMap((runId, j) =>
    Array.from({ length: SPARK_BATCHES }, (_, k) => ({
      runId,
      seq: k + 1,
      epoch: 1,
      batch: k,
      step: k + 1,
      loss: 2 / (k + 1) + j / 100,
      accuracy: 50,
      learningRate: 0.01,
      samplesPerSec: 100,
      time: 0,
    })),
  );
  for (let i = 0; i < batches.length; i += 5000)
    await db.prisma.batchMetric.createMany({ data: batches.slice(i, i + 5000) });
  return db;
}

const f1 = (ms: number) => ms.toFixed(2);

async function measure(label: string, urls: { big: string; small: string }): Promise<string[][]> {
  process.stderr.write(
    `[${label}] seeding ${flags.runs.toLocaleString('en-US')} and ${flags.reference.toLocaleString('en-US')} runs…\n`,
  );
  const big = await seeded(urls.big, flags.runs);
  const small = await seeded(urls.small, flags.reference);
  const rows: string[][] = [];
  try {
    const [bigStore, smallStore] = [
      createStorage(big.prisma, big.provider),
      createStorage(small.prisma, small.provider),
    ];
    for (const [name, params] of CASES) {
      const q = runsQuerySchema.parse(params);
      // The reference has fewer runs than a deep page's offset: it reads its last page instead.
      const qSmall = runsQuerySchema.parse({
        ...params,
        offset: String(Math.min(q.offset, flags.reference - q.limit)),
      });
      const a = await time(() => bigStore.runs.list(q));
      const b = await time(() => smallStore.runs.list(qSmall));
      rows.push([label, name, f1(b.p50), f1(a.p50), f1(a.p95), `${(a.p50 / b.p50).toFixed(1)}×`]);
    }
    const tags = await time(() => bigStore.runs.tags());
    const tagsSmall = await time(() => smallStore.runs.tags());
    rows.push([
      label,
      'the tags in use (every page asks)',
      f1(tagsSmall.p50),
      f1(tags.p50),
      f1(tags.p95),
      `${(tags.p50 / tagsSmall.p50).toFixed(1)}×`,
    ]);

    // Sorting by a hyperparameter: the promoted column against the JSON path, ids only, raw SQL.
    const json =
      big.provider === 'sqlite'
        ? `json_extract("hyperparams", '$.epochs')`
        : `("hyperparams" ->> 'epochs')::INTEGER`;
    const byColumn = await time(() =>
      big.prisma.$queryRawUnsafe(
        `SELECT "id" FROM "Run" WHERE "archivedAt" IS NULL ORDER BY "hpEpochs" DESC, "id" DESC LIMIT 50`,
      ),
    );
    const byJson = await time(() =>
      big.prisma.$queryRawUnsafe(
        `SELECT "id" FROM "Run" WHERE "archivedAt" IS NULL ORDER BY ${json} DESC, "id" DESC LIMIT 50`,
      ),
    );
    rows.push([
      label,
      `by epochs, ids only: JSON path (reference) vs column`,
      f1(byJson.p50),
      f1(byColumn.p50),
      f1(byColumn.p95),
      `${(byColumn.p50 / byJson.p50).toFixed(2)}×`,
    ]);

    const ids = (
      await bigStore.runs.list(
        runsQuerySchema.parse({ archived: 'include', limit: String(SPARK_RUNS) }),
      )
    ).runs.map((r) => r.id);
    const one = await time(
      () => bigStore.runs.sparklines(ids, SPARK_POINTS),
      Math.min(flags.repeats, 20),
    );
    const perRun = await time(
      () => sparklinesPerRun(big, ids, SPARK_POINTS),
      Math.min(flags.repeats, 20),
    );
    rows.push([
      label,
      `sparklines, ${SPARK_RUNS} runs × ${SPARK_BATCHES} batches: per run (reference) vs one query`,
      f1(perRun.p50),
      f1(one.p50),
      f1(one.p95),
      `${(one.p50 / perRun.p50).toFixed(2)}×`,
    ]);
  } finally {
    await big.close();
    await small.close();
  }
  return rows;
}

async function main(): Promise<number> {
  const rows: string[][] = [];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livetrain-runs-list-'));
  try {
    rows.push(
      ...(await measure('SQLite', {
        big: `file:${path.join(dir, 'big.db')}`,
        small: `file:${path.join(dir, 'small.db')}`,
      })),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const names = [
    `livetrain_bench_runs_${process.pid}_big`,
    `livetrain_bench_runs_${process.pid}_small`,
  ];
  const admin = new pg.Client({ connectionString: flags.postgres, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
    for (const name of names) await admin.query(`CREATE DATABASE "${name}"`);
    const url = (name: string) =>
      Object.assign(new URL(flags.postgres), { pathname: `/${name}` }).toString();
    rows.push(...(await measure('PostgreSQL', { big: url(names[0]!), small: url(names[1]!) })));
  } catch (error) {
    process.stderr.write(`PostgreSQL skipped: ${error instanceof Error ? error.message : error}\n`);
  } finally {
    for (const name of names)
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => {});
    await admin.end().catch(() => {});
  }
  const head = [
    'database',
    'query',
    `${flags.reference.toLocaleString('en-US')} runs p50 ms (reference)`,
    `${flags.runs.toLocaleString('en-US')} runs p50 ms`,
    'p95 ms',
    'ratio',
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ');
  process.stdout.write(
    `bench/runs-list: storage.runs.list (page + total, one transaction), 50 runs a page, ${flags.repeats} repeats after 2 warm-ups\n`,
  );
  process.stdout.write(
    `${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('-+-')}\n${rows.map(line).join('\n')}\n`,
  );
  process.stdout.write(
    'The last two rows of each database compare within the 10,000-run database: their first figure is the reference, not the 100-run one.\n',
  );
  return 0;
}

runMain(main);
