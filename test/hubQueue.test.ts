/**
 * Scheduling with real trainer processes: runs queue when no trainer is free, several
 * trainers (one of them taking two runs at once) train several runs concurrently, and every
 * queued run is eventually trained exactly once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectBrowser, eventually, SMALL, startHub, startTrainer } from './helpers/hub';

test('runs queue for free trainers and several trainers train several runs at once', async (t) => {
  const hub = await startHub();
  const ada = await connectBrowser(hub.url, 'Ada');
  const solo = await startTrainer(hub.url, { id: 'solo', concurrency: 1 });
  const duo = await startTrainer(hub.url, { id: 'duo', concurrency: 2 });
  t.after(async () => {
    ada.close();
    await solo.stop();
    await duo.stop();
    await hub.close();
  });
  await eventually(
    async () => (await hub.db.prisma.trainer.count()) === 2,
    'both trainers registered',
  );

  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await ada.call('run:start', {
      name: `queued ${i}`,
      hyperparams: { ...SMALL, epochs: 6 },
    });
    assert.ok(r.ok);
    ids.push(r.data.run.id);
  }
  // Three run at once (one on solo, two on duo); the fourth waits in the queue.
  const busy = await eventually(
    async () => {
      const runs = await hub.db.prisma.run.findMany({ where: { id: { in: ids } } });
      const running = runs.filter((r) => r.status === 'running');
      return running.length === 3 ? runs : undefined;
    },
    'three runs training at once',
    60_000,
  );
  const waiting = busy.filter((r) => r.status === 'queued');
  assert.equal(waiting.length, 1);
  assert.equal(waiting[0].trainerId, null, 'the queued run holds no trainer');
  assert.equal(waiting[0].id, ids[3], 'oldest first');
  const perTrainer = busy
    .filter((r) => r.status === 'running')
    .map((r) => r.trainerId)
    .sort();
  assert.deepEqual(perTrainer, ['duo', 'duo', 'solo']);

  const done = await eventually(
    async () => {
      const runs = await hub.db.prisma.run.findMany({ where: { id: { in: ids } } });
      return runs.every((r) => r.status === 'completed') ? runs : undefined;
    },
    'all four completed',
    120_000,
  );
  for (const run of done) {
    assert.equal(
      await hub.db.prisma.batchMetric.count({ where: { runId: run.id } }),
      run.totalSteps,
      `${run.name}: trained exactly once`,
    );
  }
});
