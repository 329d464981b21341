/**
 * Nothing acknowledged is lost, and one run's bad input harms only that run: a write that
 * fails in the database (a real SQLite trigger that refuses one row) fails that run's
 * events and no other run's, and the hub never acknowledges a seq past the hole it left,
 * until the trainer's resend fills it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Socket } from 'socket.io-client';
import type { TrainerEvent } from '../server/trainer/events';
import { connectBrowser, fakeTrainerTakingAJob, startHub } from './helpers/hub';

function point(runId: string, seq: number): TrainerEvent {
  return {
    runId,
    seq,
    type: 'metrics:batch',
    point: {
      step: seq,
      epoch: 1,
      batch: seq - 1,
      loss: 2 / seq,
      accuracy: 50,
      learningRate: 0.01,
      samplesPerSec: 100,
      time: Date.now(),
    },
  };
}

test('a failed write fails only its own run, and no acknowledgement passes the hole it leaves', async (t) => {
  const hub = await startHub();
  const ada = await connectBrowser(hub.url, 'Ada');
  const a = await fakeTrainerTakingAJob(hub.url, 'ta');
  const b = await fakeTrainerTakingAJob(hub.url, 'tb');
  t.after(async () => {
    ada.close();
    a.socket.close();
    b.socket.close();
    await hub.close();
  });
  for (const name of ['bad', 'good'])
    assert.ok((await ada.call('run:start', { name, hyperparams: { epochs: 1 } })).ok);
  const [runA, runB] = [await a.job, await b.job];
  const send = (trainer: Socket, runId: string, seqs: number[]) =>
    trainer
      .timeout(30_000)
      .emitWithAck('trainer:events', { runId, events: seqs.map((s) => point(runId, s)) });
  const storedSeqs = async (runId: string) =>
    (await hub.db.prisma.batchMetric.findMany({ where: { runId }, orderBy: { seq: 'asc' } })).map(
      (r) => r.seq,
    );
  const lastSeq = async (runId: string) =>
    (await hub.db.prisma.run.findUniqueOrThrow({ where: { id: runId } })).lastSeq;

  const [a1, b1] = await Promise.all([
    send(a.socket, runA, [1, 2, 3, 4]),
    send(b.socket, runB, [1, 2, 3, 4]),
  ]);
  assert.ok(a1.ok && a1.data.storedSeq === 4 && b1.ok && b1.data.storedSeq === 4);

  // The database refuses run A's seq 5: the same write holds run B's seqs 5 and 6.
  await hub.db.prisma.$executeRawUnsafe(
    `CREATE TRIGGER refuse_one BEFORE INSERT ON "BatchMetric" WHEN NEW."runId" = '${runA}' AND NEW."seq" = 5 BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
  );
  const [a2, b2] = await Promise.all([send(a.socket, runA, [5, 6]), send(b.socket, runB, [5, 6])]);
  assert.ok(
    b2.ok && b2.data.storedSeq === 6,
    `run B is stored and acknowledged: ${JSON.stringify(b2)}`,
  );
  assert.ok(!a2.ok, `run A's write failed: ${JSON.stringify(a2)}`);
  assert.ok(
    hub.logs.some((l) => /writing each run on its own/.test(l)),
    'the shared write was split by run',
  );
  assert.deepEqual(await storedSeqs(runB), [1, 2, 3, 4, 5, 6]);

  // Run A goes on above the hole: stored, but acknowledged (and recorded) only up to it.
  const a3 = await send(a.socket, runA, [7, 8]);
  assert.ok(a3.ok && a3.data.storedSeq === 4, `acknowledged below the hole: ${JSON.stringify(a3)}`);
  assert.deepEqual(await storedSeqs(runA), [1, 2, 3, 4, 7, 8]);
  assert.equal(await lastSeq(runA), 4, "the run's stored seq stays below the hole");

  // The database takes the row again; the trainer's resend fills the hole.
  await hub.db.prisma.$executeRawUnsafe('DROP TRIGGER refuse_one');
  const a4 = await send(a.socket, runA, [5, 6, 7, 8]);
  assert.ok(a4.ok && a4.data.storedSeq === 8, JSON.stringify(a4));
  assert.deepEqual(await storedSeqs(runA), [1, 2, 3, 4, 5, 6, 7, 8], 'every seq once');
  assert.equal(await lastSeq(runA), 8);
  assert.equal(await lastSeq(runB), 6);
});
