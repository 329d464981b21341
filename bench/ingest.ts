/**
 * bench/ingest: how many rows a second the hub's storage path commits, on SQLite and on
 * PostgreSQL, feeding createIngest the way trainer messages arrive (a few events each, several
 * in flight). Reference in the same invocation: the same batch rows through Prisma's own
 * createMany, the path the hub used before its bulk inserts.
 *
 *   npm run bench:ingest -- [--points 100000] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { z } from 'zod';
import { openDatabase, type LivetrainDatabase } from '../server/db/client';
import { createIngest } from '../server/hub/runs/ingest';
import { createStorage } from '../server/hub/storage/storage';
import { hyperparamsSchema } from '../server/trainer/config';
import type { TrainerEvent } from '../server/trainer/events';
import { runMain } from '../server/trainer/runMain';

const flags = z
  .object({ points: z.coerce.number().int().min(1000).max(5_000_000), postgres: z.string().url() })
  .parse(
    parseArgs({
      options: {
        points: { type: 'string', default: '100000' },
        postgres: { type: 'string', default: 'postgresql://postgres@127.0.0.1:5432/postgres' },
      },
    }).values,
  );

/** Like the trainer agent when the hub is the bottleneck: what is pending, up to 2,000 events a message, 8 in flight. */
const PER_MESSAGE = 2000;
const IN_FLIGHT = 8;
const STEPS_PER_EPOCH = 1875;
const MISCLASSIFIED_PER_EPOCH = 400;

/** A run's events: batch points, and at each epoch end a summary and its misclassified digits. */
function* runEvents(runId: string, points: number): Generator<TrainerEvent> {
  let seq = 0;
  const probs = [0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.82, 0.02, 0.02];
  const confusion = Array.from({ length: 10 }, (_, i) =>
    Array.from({ length: 10 }, (_, j) => (i === j ? 960 : 4)),
  );
  for (let step = 1; step <= points; step++) {
    const epoch = Math.ceil(step / STEPS_PER_EPOCH);
    yield {
      runId,
      seq: ++seq,
      type: 'metrics:batch',
      point: {
        step,
        epoch,
        batch: (step - 1) % STEPS_PER_EPOCH,
        loss: 2.3 / Math.sqrt(step) + Math.random() * 0.1,
        accuracy: 90 + Math.random() * 10,
        learningRate: 0.01,
        samplesPerSec: 2400 + Math.random() * 100,
        time: Date.now(),
      },
    };
    if (step % STEPS_PER_EPOCH === 0) {
      yield {
        runId,
        seq: ++seq,
        type: 'metrics:epoch',
        summary: {
          epoch,
          step,
          trainLoss: 0.1,
          trainAccuracy: 97,
          testLoss: 0.1,
          testAccuracy: 96,
          confusion,
          samplesPerSec: 2400,
          trainMs: 25_000,
          evalMs: 5000,
        },
      };
      yield {
        runId,
        seq: ++seq,
        type: 'misclassified',
        epoch,
        total: MISCLASSIFIED_PER_EPOCH,
        items: Array.from({ length: MISCLASSIFIED_PER_EPOCH }, (_, i) => ({
          index: i * 7,
          label: i % 10,
          predicted: (i + 1) % 10,
          probabilities: probs,
        })),
      };
    }
  }
}

const rowsOf = (e: TrainerEvent) =>
  e.type === 'misclassified' ? e.items.length : e.type === 'metrics:epoch' ? 2 : 1;

async function newRun(db: LivetrainDatabase, id: string): Promise<void> {
  await db.prisma.run.create({
    data: {
      id,
      name: id,
      hyperparams: hyperparamsSchema.parse({}),
      status: 'running',
      createdBy: 'bench',
    },
  });
}

/** Feeds the ingest like trainer messages and waits for every commit; rows per second. */
async function throughIngest(
  db: LivetrainDatabase,
  points: number,
): Promise<{ rows: number; seconds: number }> {
  await newRun(db, 'ingest');
  const ingest = createIngest({ events: createStorage(db.prisma, db.provider).events });
  const inFlight = new Set<Promise<number>>();
  let rows = 0;
  let message: TrainerEvent[] = [];
  const t0 = performance.now();
  const send = async () => {
    const p = ingest.store('ingest', message, {});
    message = [];
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
    if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
  };
  for (const e of runEvents('ingest', points)) {
    message.push(e);
    rows += rowsOf(e);
    if (message.length >= PER_MESSAGE) await send();
  }
  if (message.length) await send();
  await Promise.all(inFlight);
  await ingest.close();
  return { rows, seconds: (performance.now() - t0) / 1000 };
}

/** The reference: the same batch points through Prisma's createMany, 300 rows a transaction. */
async function throughCreateMany(
  db: LivetrainDatabase,
  points: number,
): Promise<{ rows: number; seconds: number }> {
  await newRun(db, 'createmany');
  const t0 = performance.now();
  let chunk: Array<Record<string, unknown>> = [];
  let rows = 0;
  for (const e of runEvents('createmany', points)) {
    if (e.type !== 'metrics:batch') continue;
    chunk.push({ runId: 'createmany', seq: e.seq, ...e.point });
    rows++;
    if (chunk.length === 300) {
      await db.prisma.$transaction([db.prisma.batchMetric.createMany({ data: chunk as never })]);
      chunk = [];
    }
  }
  if (chunk.length) await db.prisma.batchMetric.createMany({ data: chunk as never });
  return { rows, seconds: (performance.now() - t0) / 1000 };
}

async function measure(label: string, url: string, points: number): Promise<string[]> {
  const db = await openDatabase({ url });
  try {
    process.stderr.write(
      `[${label}] ingest path, ${points.toLocaleString('en-US')} batch points…\n`,
    );
    const ours = await throughIngest(db, points);
    const refPoints = Math.min(points, 20_000);
    process.stderr.write(
      `[${label}] reference: Prisma createMany, ${refPoints.toLocaleString('en-US')} points…\n`,
    );
    const ref = await throughCreateMany(db, refPoints);
    const a = ours.rows / ours.seconds;
    const b = ref.rows / ref.seconds;
    return [
      label,
      ours.rows.toLocaleString('en-US'),
      ours.seconds.toFixed(1),
      Math.round(a).toLocaleString('en-US'),
      Math.round(b).toLocaleString('en-US'),
      `${(a / b).toFixed(1)}×`,
    ];
  } finally {
    await db.close();
  }
}

async function main(): Promise<number> {
  const rows: string[][] = [];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livetrain-ingest-'));
  try {
    rows.push(await measure('SQLite (WAL)', `file:${path.join(dir, 'bench.db')}`, flags.points));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const name = `livetrain_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: flags.postgres, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    const url = new URL(flags.postgres);
    url.pathname = `/${name}`;
    rows.push(await measure('PostgreSQL', url.toString(), flags.points));
  } catch (error) {
    process.stderr.write(`PostgreSQL skipped: ${error instanceof Error ? error.message : error}\n`);
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => {});
    await admin.end().catch(() => {});
  }
  const head = [
    'database',
    'rows stored',
    'seconds',
    'rows/s (hub ingest)',
    'rows/s (createMany ref.)',
    'ratio',
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padStart(widths[i])).join(' | ');
  process.stdout.write(
    `bench/ingest: up to ${PER_MESSAGE} events a message (as the agent sends when acks lag), ${IN_FLIGHT} in flight, ${MISCLASSIFIED_PER_EPOCH} misclassified digits per ${STEPS_PER_EPOCH}-step epoch\n`,
  );
  process.stdout.write(
    `${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('-+-')}\n${rows.map(line).join('\n')}\n`,
  );
  process.stdout.write(
    'rows: batch points + epoch summaries and confusion matrices + misclassified digits; the reference stores batch points only.\n',
  );
  return 0;
}

runMain(main);
