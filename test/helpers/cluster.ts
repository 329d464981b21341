/**
 * Two hubs sharing one PostgreSQL database and one Redis, in this process, and what a watcher
 * of one of them saw compared with what was stored.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { RunSnapshot, WirePoint } from '../../server/protocol';
import {
  connectBrowser,
  eventually,
  pointsSeen,
  startHub,
  startTrainer,
  type TestBrowser,
  type TestHub,
  type TrainerProcess,
} from './hub';
import type { PostgresDatabases } from './db';
import { sharedRedis } from './redis';

/** Two in-process hubs on a fresh PostgreSQL database and the machine's Redis, or null (skipped). */
export async function startTwoHubs(
  t: TestContext,
  pgdb: PostgresDatabases,
  opts: { redisUrl?: string; graceMs?: number } = {},
): Promise<[TestHub, TestHub] | null> {
  const databaseUrl = await pgdb.create(t);
  if (!databaseUrl) return null;
  const redis = opts.redisUrl ? { url: opts.redisUrl, prefix: 'lt-private' } : await sharedRedis(t);
  if (!redis) return null;
  const common = {
    databaseUrl,
    redisUrl: redis.url,
    redisPrefix: redis.prefix,
    graceMs: opts.graceMs ?? 3000,
  };
  const a = await startHub(common);
  const b = await startHub(common);
  t.after(async () => {
    await a.close();
    await b.close();
  });
  return [a, b];
}

/** The points a watcher saw (snapshot + frames, chained by seq) equal the stored ones, exactly. */
export async function assertSawStored(
  hub: TestHub,
  browser: TestBrowser,
  runId: string,
  snapshot: RunSnapshot,
  who: string,
): Promise<WirePoint[]> {
  const stored = await hub.db.prisma.batchMetric.findMany({
    where: { runId },
    orderBy: { seq: 'asc' },
  });
  const seen = await eventually(
    () => {
      const points = pointsSeen(browser, runId, snapshot);
      return points.length >= stored.length ? points : undefined;
    },
    `${who} saw all ${stored.length} points`,
    20_000,
  );
  assert.deepEqual(
    seen.map((p) => [p.seq, p.step, p.loss]),
    stored.map((p) => [p.seq, p.step, p.loss]),
    `${who}: every stored point once, in order`,
  );
  return seen;
}

/** A trainer process on hub A, Ada watching from A and Bob from B; all stopped after the test. */
export async function trainerOnAWatchersOnBoth(
  t: TestContext,
  a: TestHub,
  b: TestHub,
  trainerId: string,
  concurrency = 1,
): Promise<{ trainer: TrainerProcess; ada: TestBrowser; bob: TestBrowser }> {
  const trainer = await startTrainer(a.url, { id: trainerId, concurrency });
  const ada = await connectBrowser(a.url, 'Ada');
  const bob = await connectBrowser(b.url, 'Bob');
  t.after(async () => {
    ada.close();
    bob.close();
    await trainer.stop();
  });
  return { trainer, ada, bob };
}
