/**
 * `run:create`, the trainer-initiated run, through a real hub with hand-written socket.io-client
 * trainers: checked like a run:start (bad input changes nothing), idempotent for its own id,
 * refused for another's id or past the trainer's concurrency; the run is the trainer's from the
 * start (its events are stored), and a trainer that takes no jobs is given no queued run.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Socket } from 'socket.io-client';
import { hyperparamsSchema } from '../server/trainer/config';
import type { TrainerEvent } from '../server/trainer/events';
import { dbState } from './helpers/dbState';
import { connectBrowser, eventually, fakeTrainer, startHub, trainerAuth } from './helpers/hub';

const create = (socket: Socket, payload: unknown) =>
  socket.timeout(5000).emitWithAck('run:create', payload);

test("run:create: validated like run:start, idempotent for its id, the trainer's own run, no queued runs for a trainer that takes no jobs", async (t) => {
  const hub = await startHub();
  const ada = await connectBrowser(hub.url, 'Ada');
  const cli = await fakeTrainer(hub.url, trainerAuth('cli-box-1', { takesJobs: false }));
  const other = await fakeTrainer(hub.url, trainerAuth('cli-box-2', { takesJobs: false }));
  let assigned = 0;
  for (const s of [cli, other]) s.on('job:assign', () => assigned++);
  t.after(async () => {
    ada.close();
    cli.close();
    other.close();
    await hub.close();
  });

  // Bad input: the field named, nothing stored.
  const before = await dbState(hub);
  const bad = await create(cli, { host: 'box-1', hyperparams: { epochs: 0 } });
  assert.equal(bad.ok, false);
  assert.equal(bad.error, 'INVALID');
  assert.ok('hyperparams.epochs' in (bad.details ?? {}), JSON.stringify(bad.details));
  const noHost = await create(cli, { hyperparams: { epochs: 1 } });
  assert.equal(noHost.error, 'INVALID');
  assert.ok('host' in (noHost.details ?? {}));
  const tooBig = await create(cli, { host: 'box-1', hyperparams: { epochs: 1000, batchSize: 1 } });
  assert.equal(tooBig.error, 'INVALID');
  await hub.hub.flush();
  assert.deepEqual(await dbState(hub), before, 'refused creates change nothing');

  const made = await create(cli, {
    runId: 'cli-run-0001',
    host: 'box-1',
    name: 'from a terminal',
    hyperparams: { epochs: 1, trainLimit: 64 },
  });
  assert.deepEqual(made, { ok: true, data: { runId: 'cli-run-0001' } });
  const listed = await ada.waitFor('runs:changed', (m) => m.run.id === 'cli-run-0001');
  assert.equal(listed.run.status, 'running');
  assert.equal(listed.run.origin, 'cli');
  assert.equal(listed.run.originHost, 'box-1');
  assert.equal(listed.run.createdBy, 'box-1 (command line)');
  // Sent again (a lost ack): the same run, no second one.
  assert.deepEqual(
    await create(cli, { runId: 'cli-run-0001', host: 'box-1', hyperparams: { epochs: 1 } }),
    { ok: true, data: { runId: 'cli-run-0001' } },
  );
  assert.equal(await hub.db.prisma.run.count({ where: { origin: 'cli' } }), 1);
  // Another trainer cannot take it by its id, and this one is at its concurrency (1).
  const taken = await create(other, {
    runId: 'cli-run-0001',
    host: 'box-2',
    hyperparams: { epochs: 1 },
  });
  assert.equal(taken.error, 'CONFLICT');
  const full = await create(cli, { host: 'box-1', hyperparams: { epochs: 1 } });
  assert.equal(full.error, 'CONFLICT');
  assert.match(full.message, /as many as its concurrency/);

  // Its events are stored, as an assigned job's.
  const started: TrainerEvent = {
    runId: 'cli-run-0001',
    seq: 1,
    type: 'run:started',
    hyperparams: hyperparamsSchema.parse({ epochs: 1, trainLimit: 64 }),
    backend: { name: 'wasm', device: 'test', host: 'box-1' },
    trainSize: 64,
    testSize: 10_000,
    batchesPerEpoch: 2,
    totalSteps: 2,
    startStep: 0,
    parameterCount: 21_840,
    time: Date.now(),
  };
  const point: TrainerEvent = {
    runId: 'cli-run-0001',
    seq: 2,
    type: 'metrics:batch',
    point: {
      step: 1,
      epoch: 1,
      batch: 0,
      loss: 2.3,
      accuracy: 10,
      learningRate: 0.01,
      samplesPerSec: 100,
      time: Date.now(),
    },
  };
  assert.deepEqual(
    await cli
      .timeout(5000)
      .emitWithAck('trainer:events', { runId: 'cli-run-0001', events: [started, point] }),
    { ok: true, data: { storedSeq: 2 } },
  );

  // A run queued in the dashboard waits: neither trainer takes jobs.
  const queued = await ada.call('run:start', { hyperparams: { epochs: 1 } });
  assert.ok(queued.ok);
  await cli.timeout(5000).emitWithAck('trainer:events', null); // a round trip: the scheduler had its turn
  await eventually(
    async () =>
      (await hub.db.prisma.run.findUnique({ where: { id: queued.data.run.id } }))?.status ===
      'queued',
    'still queued',
  );
  assert.equal(assigned, 0);
  assert.equal(
    (await hub.db.prisma.run.findUniqueOrThrow({ where: { id: queued.data.run.id } })).trainerId,
    null,
  );
});
