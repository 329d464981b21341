/**
 * Batched persistence on real databases: every kind of event row is stored, a batch written
 * again (a trainer's resend after a failed write) stores nothing twice, and a run's lastSeq
 * never moves back. On SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, test, type TestContext } from 'node:test';
import { openDatabase } from '../server/db/client';
import { createIngest } from '../server/hub/runs/ingest';
import { createStorage } from '../server/hub/storage/storage';
import { hyperparamsSchema } from '../server/trainer/config';
import type { TrainerEvent } from '../server/trainer/events';
import { postgresDatabases, tempSqlite } from './helpers/db';

const pg = postgresDatabases();
after(() => pg.dropAll());

const probs = [0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.55, 0.05, 0.05];
function events(runId: string): TrainerEvent[] {
  const confusion = Array.from({ length: 10 }, (_, i) =>
    Array.from({ length: 10 }, (_, j) => (i === j ? 9 : 0)),
  );
  return [
    {
      runId,
      seq: 1,
      type: 'metrics:batch',
      point: {
        step: 1,
        epoch: 1,
        batch: 0,
        loss: 2.3025850929940455,
        accuracy: 9.375,
        learningRate: 0.01,
        samplesPerSec: 1234.5,
        time: 1764345600123.25,
      },
    },
    {
      runId,
      seq: 2,
      type: 'predictions',
      step: 1,
      epoch: 1,
      items: [{ index: 0, label: 7, predicted: 7, probabilities: probs }],
    },
    {
      runId,
      seq: 3,
      type: 'metrics:epoch',
      summary: {
        epoch: 1,
        step: 1,
        trainLoss: null,
        trainAccuracy: null,
        testLoss: 0.5,
        testAccuracy: 90,
        confusion,
        samplesPerSec: 1000,
        trainMs: 10,
        evalMs: 5,
      },
    },
    {
      runId,
      seq: 4,
      type: 'misclassified',
      epoch: 1,
      total: 1,
      items: [{ index: 3, label: 0, predicted: 7, probabilities: probs }],
    },
    { runId, seq: 5, type: 'checkpoint', epoch: 1, step: 1, path: '/tmp/x.ckpt', reason: 'epoch' },
  ];
}

async function check(t: TestContext, url: string | null): Promise<void> {
  if (!url) return;
  const db = await openDatabase({ url });
  t.after(() => db.close());
  await db.prisma.run.create({
    data: {
      id: 'r1',
      name: 'r1',
      hyperparams: hyperparamsSchema.parse({}),
      status: 'running',
      createdBy: 'test',
    },
  });
  const ingest = createIngest({
    events: createStorage(db.prisma, db.provider).events,
    flushMs: 10,
  });
  assert.equal(await ingest.store('r1', events('r1'), { lastStep: 1 }), 5);
  assert.equal(await ingest.store('r1', events('r1'), {}), 5, 'the same batch again');
  // A resend of stored events answers with the run's stored seq, every seq up to it stored.
  assert.equal(await ingest.store('r1', events('r1').slice(0, 2), {}), 5);
  await ingest.close();
  const p = db.prisma;
  const counts = [
    await p.batchMetric.count(),
    await p.predictionPanel.count(),
    await p.epochMetric.count(),
    await p.confusionMatrix.count(),
    await p.misclassified.count(),
    await p.checkpoint.count(),
  ];
  assert.deepEqual(counts, [1, 1, 1, 1, 1, 1], 'each row once');
  const run = await p.run.findUniqueOrThrow({ where: { id: 'r1' } });
  assert.equal(run.lastSeq, 5, 'lastSeq never moves back');
  const point = await p.batchMetric.findFirstOrThrow();
  assert.deepEqual(
    [point.loss, point.samplesPerSec, point.time],
    [2.3025850929940455, 1234.5, 1764345600123.25],
    'doubles stored exactly',
  );
  const epoch = await p.epochMetric.findFirstOrThrow();
  assert.deepEqual([epoch.trainLoss, epoch.testAccuracy], [null, 90]);
  assert.deepEqual(
    (await p.confusionMatrix.findFirstOrThrow()).matrix,
    events('r1')[2].type === 'metrics:epoch'
      ? (events('r1')[2] as Extract<TrainerEvent, { type: 'metrics:epoch' }>).summary.confusion
      : null,
  );
  assert.deepEqual((await p.predictionPanel.findFirstOrThrow()).items, [
    { index: 0, label: 7, predicted: 7, probabilities: probs },
  ]);
  assert.deepEqual((await p.misclassified.findFirstOrThrow()).probabilities, probs);
}

test('ingest on SQLite: all rows, idempotent, exact', async (t) => {
  const file = await tempSqlite();
  t.after(() => file.cleanup());
  await check(t, file.url);
});

test('ingest on PostgreSQL: all rows, idempotent, exact', async (t) => {
  await check(t, await pg.create(t));
});
