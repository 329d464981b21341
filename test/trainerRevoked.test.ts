/**
 * A trainer whose `job:assign` ack is not a valid envelope (it answered `{ runId }`, as an old
 * protocol document said): the hub fails the run, takes it back from the trainer, tells the
 * trainer (`job:revoked`), and refuses the trainer's events for it with `GONE`, storing none.
 * Through a real hub on a free port, a real SQLite file and a hostile socket.io-client trainer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TrainerEvent } from '../server/trainer/events';
import { hyperparamsSchema } from '../server/trainer/config';
import {
  batchPointEvent as point,
  connectBrowser,
  fakeTrainer,
  startHub,
  trainerAuth,
} from './helpers/hub';

test('a malformed job:assign ack: the run fails, the trainer is told, its events are refused with GONE and nothing is stored', async (t) => {
  const hub = await startHub();
  const ada = await connectBrowser(hub.url, 'Ada');
  const trainer = await fakeTrainer(hub.url, trainerAuth('careless'));
  t.after(async () => {
    ada.close();
    trainer.close();
    await hub.close();
  });
  let assigned = '';
  trainer.on('job:assign', (job: { runId: string }, ack: (r: unknown) => void) => {
    assigned = job.runId;
    ack({ runId: job.runId }); // not an envelope: no `ok`
  });
  const revoked = new Promise<{ runId: string; status: string; message: string }>((resolve) =>
    trainer.once('job:revoked', resolve),
  );
  const started = await ada.call('run:start', { hyperparams: { epochs: 1 } });
  assert.ok(started.ok, JSON.stringify(started));
  const runId = started.data.run.id;

  const told = await revoked;
  assert.equal(told.runId, runId);
  assert.equal(assigned, runId);
  assert.equal(told.status, 'failed');
  assert.match(told.message, /failed run .*not an ack.*stop training it/);
  const failed = await ada.waitFor(
    'runs:changed',
    (m) => m.run.id === runId && m.run.status === 'failed',
  );
  assert.match(
    failed.run.statusMessage ?? '',
    /the trainer answered with something that is not an ack/,
  );

  // The trainer trains it anyway: a run:started and 100 points. Refused, with a code to act on.
  const started0: TrainerEvent = {
    runId,
    seq: 1,
    type: 'run:started',
    hyperparams: hyperparamsSchema.parse({ epochs: 1 }),
    backend: { name: 'wasm', device: 'test', host: 'test-host' },
    trainSize: 60_000,
    testSize: 10_000,
    batchesPerEpoch: 1875,
    totalSteps: 1875,
    startStep: 0,
    parameterCount: 21_840,
    time: Date.now(),
  };
  const events = [started0, ...Array.from({ length: 100 }, (_, i) => point(runId, i + 2, i + 1))];
  const refused = await trainer.timeout(5000).emitWithAck('trainer:events', { runId, events });
  assert.equal(refused.ok, false, JSON.stringify(refused));
  assert.equal(refused.error, 'GONE');
  assert.match(refused.message, /failed on the hub and no longer this trainer's: stop training it/);

  await hub.hub.flush();
  const db = hub.db.prisma;
  assert.equal(
    await db.batchMetric.count({ where: { runId } }),
    0,
    'no point stored on the failed run',
  );
  const row = await db.run.findUniqueOrThrow({ where: { id: runId } });
  assert.equal(row.status, 'failed');
  assert.equal(row.lastSeq, 0);
  assert.equal(row.trainerId, null, "the run is no longer the trainer's");
  // Its reports change nothing either.
  trainer.emit('trainer:report', {
    kind: 'job:done',
    runId,
    status: 'completed',
    testAccuracy: 99,
    samplesPerSec: 1,
    checkpoint: null,
  });
  await trainer.timeout(5000).emitWithAck('trainer:events', null);
  assert.equal((await db.run.findUniqueOrThrow({ where: { id: runId } })).status, 'failed');
});
