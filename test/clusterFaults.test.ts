/**
 * Faults with several hubs, on the machine's real PostgreSQL and Redis: Redis killed and
 * started again empty mid-run (each hub keeps serving its own rooms; cross-hub delivery comes
 * back, with what Redis lost read back from the database), and a hub killed with SIGKILL
 * mid-run (its trainer replays into the restarted hub; watchers on both hubs end with every
 * stored point exactly once).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { applyMessage, applySnapshot, emptyRunView, type StreamMessage } from '../app/lib/runState';
import type { WirePoint } from '../server/protocol';
import { assertSawStored, startTwoHubs, trainerOnAWatchersOnBoth } from './helpers/cluster';
import { postgresDatabases } from './helpers/db';
import {
  connectBrowser,
  eventually,
  pointsSeen,
  startTrainer,
  SMALL,
  type TestBrowser,
  framePoints,
} from './helpers/hub';
import { startHubProcess } from './helpers/hubProcess';
import { privateRedis, sharedRedis } from './helpers/redis';

const pgdb = postgresDatabases();
after(() => pgdb.dropAll());

const framesAfter = (browser: TestBrowser, since: number) =>
  browser.received.filter((r) => r.event === 'metrics:batch' && r.at > since).length;

test('Redis killed and restarted empty mid-run: each hub keeps its own rooms live, cross-hub delivery comes back without a lost point', async (t) => {
  const redis = await privateRedis(t);
  if (!redis) return;
  const hubs = await startTwoHubs(t, pgdb, { redisUrl: redis.url, graceMs: 20_000 });
  // After hooks run in order: the hubs close first, while their Redis is still there.
  t.after(() => redis.stop());
  if (!hubs) return;
  const [a, b] = hubs;
  const { ada, bob } = await trainerOnAWatchersOnBoth(t, a, b, 'steady', 2);
  const started = await ada.call('run:start', {
    hyperparams: { ...SMALL, epochs: 4, trainLimit: 3200 },
  });
  assert.ok(started.ok);
  const runId = started.data.run.id;
  const onA = await ada.call('run:watch', { runId });
  const onB = await bob.call('run:watch', { runId });
  assert.ok(onA.ok && onB.ok);
  await bob.waitFor('metrics:batch', (m) => m.runId === runId && m.toSeq > 20, 60_000);

  const down = Date.now();
  await redis.kill();
  // Without Redis, hub A's own watcher still gets the run live.
  await eventually(
    () => framesAfter(ada, down) >= 5,
    'frames on hub A while Redis is down',
    20_000,
  );
  const running = await a.db.prisma.run.findUniqueOrThrow({ where: { id: runId } });
  assert.equal(running.status, 'running', 'the outage fell mid-run');
  // Hub A still answers its health check, and still starts a run on its own trainer.
  const health = (await (await fetch(`${a.url}/api/health`)).json()) as {
    data: { trainers: number; hub: { redis: string; trainersCounted: string } };
  };
  assert.deepEqual(
    [health.data.trainers, health.data.hub.redis, health.data.hub.trainersCounted],
    [1, 'unreachable', 'this hub'],
  );
  const second = await fetch(`${a.url}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hyperparams: SMALL }),
  });
  const secondId = ((await second.json()) as { data: { run: { id: string } } }).data.run.id;
  await eventually(
    async () => {
      const row = await a.db.prisma.run.findUnique({ where: { id: secondId } });
      return row?.trainerId === 'steady' && row.status === 'running';
    },
    'a run started during the outage trains on the trainer on A',
    15_000,
  );
  // A note added on A meanwhile: A's watchers see it at once.
  const during = await ada.call('annotation:add', { runId, step: 2, text: 'during the outage' });
  assert.ok(during.ok);
  await ada.waitFor('annotation:added', (m) => m.annotation.text === 'during the outage', 5000);
  await redis.start();
  const up = Date.now();

  // Cross-hub delivery is back: frames reach B again; B asks its browsers to resync, and a
  // watch again shows what pub/sub may have dropped; a note added on A now arrives live.
  await eventually(
    () =>
      framesAfter(bob, up) > 0 || bob.received.some((r) => r.event === 'run:status' && r.at > up),
    'frames on hub B after Redis is back',
    30_000,
  );
  await bob.waitFor('hub:resync', () => true, 15_000);
  const again = await bob.call('run:watch', { runId, afterSeq: onB.data.lastSeq });
  assert.ok(again.ok);
  assert.ok(
    again.data.annotations.some((n) => n.text === 'during the outage'),
    'the note added during the outage reaches B',
  );
  const note = await ada.call('annotation:add', { runId, step: 1, text: 'after the outage' });
  assert.ok(note.ok);
  await bob.waitFor('annotation:added', (m) => m.annotation.text === 'after the outage', 15_000);

  await eventually(
    async () =>
      (await a.db.prisma.run.findUnique({ where: { id: runId } }))?.status === 'completed',
    'completed',
    180_000,
  );
  await assertSawStored(a, ada, runId, onA.data, 'Ada on A');
  await assertSawStored(b, bob, runId, onB.data, 'Bob on B').catch((e) => {
    const frames = bob.received
      .filter((r) => (r.payload as { toSeq?: number }).toSeq !== undefined)
      .map(
        (r) =>
          `${r.event}:${(r.payload as { fromSeq: number }).fromSeq}-${(r.payload as { toSeq: number }).toSeq}@${r.at - up}`,
      );
    const st = b.hub.parts.streams;
    throw new Error(
      `${e.message}\nB: ${b.logs.join('\n')}\nA: ${a.logs.join('\n')}\nframes: ${frames.slice(-15).join(' ')}\nopen ${st.isOpen(runId)} hole ${JSON.stringify(st.hole(runId))} published ${st.publishedSeq(runId)}`,
    );
  });
});

test('hub A killed with SIGKILL mid-run and started again: the run has every step once, watchers on A and B catch up exactly', async (t) => {
  const databaseUrl = await pgdb.create(t);
  if (!databaseUrl) return;
  const redis = await sharedRedis(t);
  if (!redis) return;
  const env = { REDIS_URL: redis.url, LIVETRAIN_REDIS_PREFIX: redis.prefix };
  const args = ['--no-web', '--no-local-trainer', '--grace-ms', '30000'];
  let hubA = await startHubProcess(args, { databaseUrl, env });
  const hubB = await startHubProcess(args, { databaseUrl, env });
  const port = Number(new URL(hubA.url).port);
  const trainer = await startTrainer(hubA.url, { id: 'survivor' });
  let ada = await connectBrowser(hubA.url, 'Ada');
  const bob = await connectBrowser(hubB.url, 'Bob');
  t.after(async () => {
    ada.close();
    bob.close();
    await trainer.stop();
    await hubA.stop();
    await hubB.stop();
  });

  const started = await bob.call('run:start', {
    hyperparams: { ...SMALL, epochs: 6, trainLimit: 1600 },
  });
  assert.ok(started.ok);
  const runId = started.data.run.id;
  const adaFirst = await ada.call('run:watch', { runId });
  const onB = await bob.call('run:watch', { runId });
  assert.ok(adaFirst.ok && onB.ok);
  await ada.waitFor('metrics:batch', (m) => m.runId === runId && m.toSeq > 30, 60_000);

  hubA.child.kill('SIGKILL');
  assert.equal(await hubA.exited, 'SIGKILL');
  const oldOutput = hubA.output();
  // Ada's page as the dashboard holds it (app/lib/runState): what she had when her hub died.
  const view = emptyRunView();
  applySnapshot(view, adaFirst.data, 0);
  applyReceived(view, ada, runId);
  ada.close();
  await new Promise((r) => setTimeout(r, 1000));
  hubA = await startHubProcess(args, { port, databaseUrl, env });

  // Ada's page reconnects and asks for what came after the last seq it has.
  ada = await connectBrowser(hubA.url, 'Ada');
  const afterSeq = view.lastSeq;
  const adaAgain = await ada.call('run:watch', { runId, afterSeq });
  assert.ok(adaAgain.ok, JSON.stringify(adaAgain));
  const status = await bob.waitFor(
    'run:status',
    (m) => m.runId === runId && m.status === 'completed',
    180_000,
  );
  assert.equal(status.run.lastStep, status.run.totalSteps);

  const { openDatabase } = await import('../server/db/client');
  const db = await openDatabase({ url: databaseUrl, migrate: false });
  try {
    const stored = await db.prisma.batchMetric.findMany({
      where: { runId },
      orderBy: { seq: 'asc' },
    });
    const steps = new Set(stored.map((p) => p.step));
    const missing = [...Array(status.run.totalSteps ?? 0).keys()]
      .map((i) => i + 1)
      .filter((i) => !steps.has(i));
    assert.equal(
      stored.length,
      status.run.totalSteps,
      `every step stored once; missing ${missing} (seqs around: ${stored.filter((p) => Math.abs(p.step - (missing[0] ?? 0)) < 3).map((p) => `${p.step}@${p.seq}`)})\nold A: ${oldOutput}\nA: ${hubA.output()}\nB: ${hubB.output()}\ntrainer: ${trainer.output()}`,
    );
    stored.forEach((p, i) => assert.equal(p.step, i + 1, 'no gap, no duplicate'));
    const key = (p: WirePoint | (typeof stored)[number]) => `${p.seq}:${p.step}:${p.loss}`;
    // The restarted hub may answer with lastSeq below afterSeq (it had not stored all Ada had
    // seen) and then resend those seqs: the page ignores what it has (docs/protocol.md).
    const adaSaw = await eventually(
      () => {
        const caughtUp = emptyRunView();
        caughtUp.points.push(...view.points);
        caughtUp.lastSeq = view.lastSeq;
        applySnapshot(caughtUp, adaAgain.data, afterSeq);
        applyReceived(caughtUp, ada, runId);
        return caughtUp.points.length >= stored.length ? caughtUp.points : undefined;
      },
      'Ada caught up',
      20_000,
    );
    assert.deepEqual(
      adaSaw.map(key),
      stored.map(key),
      'Ada: before the crash + catch-up = what is stored',
    );
    const fake = { db } as unknown as Parameters<typeof assertSawStored>[0];
    await assertSawStored(fake, bob, runId, onB.data, 'Bob on B, through the crash of A');
  } finally {
    await db.close();
  }
  assert.match(trainer.output(), /disconnected from the hub[\s\S]*connected to/);
});

/** Applies every live message `browser` received for the run, as the dashboard does; none may be a gap. */
function applyReceived(
  view: ReturnType<typeof emptyRunView>,
  browser: TestBrowser,
  runId: string,
): void {
  for (const r of browser.received) {
    const msg = r.payload as { runId?: string; fromSeq?: number };
    if (msg.runId !== runId || msg.fromSeq === undefined) continue;
    assert.notEqual(
      applyMessage(view, { event: r.event, msg } as StreamMessage),
      'gap',
      `${r.event} from ${msg.fromSeq} after ${view.lastSeq}`,
    );
  }
}

test('a trainer on hub A killed with SIGKILL: its run is interrupted, a trainer on hub B resumes it from the uploaded checkpoint, a watcher on B sees one curve', async (t) => {
  const hubs = await startTwoHubs(t, pgdb, { graceMs: 1500 });
  if (!hubs) return;
  const [a, b] = hubs;
  const doomed = await startTrainer(a.url, { id: 'doomed' });
  const bob = await connectBrowser(b.url, 'Bob');
  let spare: Awaited<ReturnType<typeof startTrainer>> | undefined;
  t.after(async () => {
    bob.close();
    await doomed.stop();
    await spare?.stop();
  });
  const started = await bob.call('run:start', { hyperparams: { ...SMALL, epochs: 100 } });
  assert.ok(started.ok);
  const runId = started.data.run.id;
  const watch = await bob.call('run:watch', { runId });
  assert.ok(watch.ok);
  await bob.waitFor('metrics:epoch', (p) => p.runId === runId && p.epoch.epoch === 2, 60_000);
  await eventually(
    async () =>
      (await b.db.prisma.checkpoint.findFirst({ where: { runId, data: { not: null } } })) ??
      undefined,
    'checkpoint uploaded',
  );
  spare = await startTrainer(b.url, { id: 'spare' });
  await eventually(
    async () =>
      ((await (await fetch(`${a.url}/api/health`)).json()) as { data: { trainers: number } }).data
        .trainers === 2,
    'both trainers registered',
  );

  doomed.child.kill('SIGKILL');
  assert.equal(await doomed.exited, 'SIGKILL');
  await bob.waitFor('run:status', (p) => p.runId === runId && p.status === 'interrupted', 15_000);
  const run = await b.db.prisma.run.findUniqueOrThrow({ where: { id: runId } });
  const stored = await b.db.prisma.batchMetric.findMany({
    where: { runId },
    orderBy: { seq: 'asc' },
  });
  stored.forEach((p, i) => assert.equal(p.step, i + 1, 'steps 1..n stored without a gap'));
  const ckpt = await b.db.prisma.checkpoint.findFirstOrThrow({
    where: { runId, data: { not: null } },
    orderBy: { seq: 'desc' },
  });

  const resumed = await bob.call('run:resume', { runId });
  assert.ok(resumed.ok, JSON.stringify(resumed));
  await bob.waitFor(
    'metrics:batch',
    (p) => p.runId === runId && framePoints(p).some((pt) => pt.seq > run.lastSeq),
    30_000,
  );
  assert.equal(
    (await b.db.prisma.run.findUniqueOrThrow({ where: { id: runId } })).trainerId,
    'spare',
  );
  const stop = await bob.call('run:stop', { runId });
  assert.ok(stop.ok, JSON.stringify(stop));
  await bob.waitFor('run:status', (p) => p.runId === runId && p.status === 'stopped', 30_000);

  const seen = await eventually(async () => {
    const all = await b.db.prisma.batchMetric.findMany({
      where: { runId },
      orderBy: { seq: 'asc' },
    });
    const points = pointsSeen(bob, runId, watch.data);
    return points.length >= all.length ? { points, all } : undefined;
  }, 'Bob saw everything stored');
  assert.deepEqual(
    seen.points.map((p) => p.seq),
    seen.all.map((p) => p.seq),
    'Bob saw exactly what is stored, across the interruption',
  );
  const after = seen.points.find((p) => p.seq > run.lastSeq)!;
  assert.equal(after.step, ckpt.step + 1, 'the resumed curve continues right after the checkpoint');
});
