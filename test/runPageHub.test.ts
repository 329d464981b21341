/**
 * The run page's hub side (issue 18), through a real hub and real socket.io-client peers.
 *
 * Where a queued run waits (`GET /api/runs/:id/queue`): its place follows the runs ahead of it.
 *
 * Changing a paused run's learning rate, through a real hub, a hand-written trainer that
 * answers job:control as the trainer does (a paused trainer takes a new rate at once) and
 * two real socket.io-client browsers: the new rate is the run's rate for everyone as soon as
 * the trainer took it, not at the first batch after a resume; setting the rate in force is
 * refused in words, logs nothing and marks nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Socket } from 'socket.io-client';
import type { TrainerEvent } from '../server/trainer/events';
import {
  connectBrowser,
  eventually,
  fakeTrainerTakingAJob,
  runOnFakeTrainer,
  startHub,
} from './helpers/hub';

test("a rate set while paused is the run's rate for every watcher at once; the same rate again is refused and logs nothing", async (t) => {
  const { hub, ada, trainer, runId } = await runOnFakeTrainer(t, 'lr-trainer');
  const bob = await connectBrowser(hub.url, 'Bob');
  t.after(() => bob.close());
  assert.ok((await bob.call('run:watch', { runId })).ok);

  let seq = 0;
  let step = 0;
  const send = async (events: Array<Omit<TrainerEvent, 'runId' | 'seq'>>) => {
    const r = (await trainer.timeout(20_000).emitWithAck('trainer:events', {
      runId,
      events: events.map((e) => ({ ...e, runId, seq: ++seq })),
    })) as { ok: boolean };
    assert.ok(r.ok, JSON.stringify(r));
  };
  const batches = (n: number, learningRate: number) =>
    Array.from({ length: n }, () => ({
      type: 'metrics:batch' as const,
      point: {
        step: ++step,
        epoch: 1,
        batch: step - 1,
        loss: 1,
        accuracy: 50,
        learningRate,
        samplesPerSec: 100,
        time: Date.now(),
      },
    }));
  const hp = {
    epochs: 1,
    batchSize: 32,
    learningRate: 0.01,
    optimizer: 'sgd',
    momentum: 0.9,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
    seed: 1,
    trainLimit: null,
    testLimit: null,
  };
  await send([
    {
      type: 'run:started',
      hyperparams: hp,
      backend: { name: 'wasm', device: 'cpu', host: 'test' },
      trainSize: 60_000,
      testSize: 10_000,
      batchesPerEpoch: 1875,
      totalSteps: 1875,
      startStep: 0,
      parameterCount: 1,
      time: Date.now(),
    },
    { type: 'status', status: 'running', step: 0, time: Date.now() },
    ...batches(20, 0.01),
  ] as never);

  // The trainer's side of job:control: what the fit loop does between batches.
  const controls: Array<{ action: string; learningRate?: number }> = [];
  (trainer as Socket).on(
    'job:control',
    (c: { runId: string; action: 'pause' | 'resume' | 'set-lr'; learningRate?: number }) => {
      controls.push(c);
      const events: Array<Record<string, unknown>> = [
        {
          type: 'control',
          action: c.action,
          step,
          ...(c.learningRate ? { learningRate: c.learningRate } : {}),
        },
      ];
      if (c.action === 'pause')
        events.push({ type: 'status', status: 'paused', step, time: Date.now() });
      if (c.action === 'resume')
        events.push({ type: 'status', status: 'running', step, time: Date.now() });
      void send(events as never);
    },
  );

  assert.ok((await ada.call('run:pause', { runId })).ok);
  await bob.waitFor('run:status', (p) => p.runId === runId && p.status === 'paused');
  const beforeChange = bob.mark();
  const set = await ada.call('run:set-lr', { runId, learningRate: 0.05 });
  assert.ok(set.ok, JSON.stringify(set));
  // Still paused, no batch at the new rate yet: Bob is told the run's rate is 0.05 from the next step.
  const told = await bob.waitForAfter(
    beforeChange,
    'runs:changed',
    (p) => p.run.id === runId && p.run.learningRates.at(-1)?.value === 0.05,
  );
  assert.equal(told.run.status, 'paused');
  assert.deepEqual(told.run.learningRates, [
    { step: 1, value: 0.01 },
    { step: step + 1, value: 0.05 },
  ]);
  const note = await bob.waitFor(
    'annotation:added',
    (p) => p.annotation.runId === runId && /learning rate/.test(p.annotation.text),
  );
  assert.equal(note.annotation.text, 'Ada changed the learning rate from 0.01 to 0.05');
  // A page opened now reads it too (the run's row and a fresh snapshot).
  const carl = await connectBrowser(hub.url, 'Carl');
  t.after(() => carl.close());
  const snap = await carl.call('run:watch', { runId });
  assert.ok(snap.ok);
  assert.equal(snap.data.run.learningRates.at(-1)?.value, 0.05);

  // The same rate again: refused in words for everyone's client alike, nothing sent to the trainer, nothing logged.
  const sentBefore = controls.length;
  const same = await bob.call('run:set-lr', { runId, learningRate: 0.05 });
  assert.equal(same.ok ? 'ok' : same.error, 'CONFLICT');
  assert.equal(
    same.ok ? '' : same.message,
    'The learning rate is 0.05 already; enter a different rate to change it.',
  );
  const api = await fetch(`${hub.url}/api/runs/${runId}/set-lr`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ learningRate: 0.05 }),
  });
  assert.equal(api.status, 409, 'the HTTP API refuses it the same way');
  assert.equal(controls.length, sentBefore, 'nothing went to the trainer');

  // Resumed, the first batches at 0.05 add no second change.
  assert.ok((await ada.call('run:resume', { runId })).ok);
  await bob.waitFor('run:status', (p) => p.runId === runId && p.status === 'running');
  const changeStep = step + 1;
  await send(batches(5, 0.05) as never);
  const rates = await eventually(async () => {
    const r = await hub.db.prisma.run.findUnique({
      where: { id: runId },
      select: { learningRates: true, lastStep: true },
    });
    return r && r.lastStep === step ? r.learningRates : undefined;
  }, 'the batches after the resume stored');
  assert.deepEqual(rates, [
    { step: 1, value: 0.01 },
    { step: changeStep, value: 0.05 },
  ]);
  const notes = await hub.db.prisma.annotation.findMany({
    where: { runId, kind: 'event' },
    orderBy: { id: 'asc' },
    select: { text: true },
  });
  assert.deepEqual(
    notes.map((n) => n.text),
    [
      'Ada started the run',
      'Ada paused the run',
      'Ada changed the learning rate from 0.01 to 0.05',
      'Ada resumed the run',
    ],
  );
});

test("a queued run's place: runs ahead of it, whether any trainer is connected; it follows the queue", async (t) => {
  const hub = await startHub();
  const ada = await connectBrowser(hub.url, 'Ada');
  const sockets: Socket[] = [];
  t.after(async () => {
    ada.close();
    sockets.forEach((s) => s.close());
    await hub.close();
  });
  const start = async (name: string) => {
    const r = await ada.call('run:start', { name, hyperparams: { epochs: 1 } });
    assert.ok(r.ok, JSON.stringify(r));
    return r.data.run.id;
  };
  const place = async (runId: string) => {
    const r = await fetch(`${hub.url}/api/runs/${runId}/queue`);
    assert.equal(r.status, 200);
    return ((await r.json()) as { data: unknown }).data;
  };
  const [a, b, c] = [await start('first'), await start('second'), await start('third')];
  assert.deepEqual(await place(a), { queued: true, ahead: 0, trainers: 0 });
  assert.deepEqual(await place(b), { queued: true, ahead: 1, trainers: 0 });
  assert.deepEqual(await place(c), { queued: true, ahead: 2, trainers: 0 });
  // The second leaves the queue: the third moves up.
  assert.ok((await ada.call('run:stop', { runId: b })).ok);
  assert.deepEqual(await place(b), { queued: false, ahead: 0, trainers: 0 });
  assert.deepEqual(await place(c), { queued: true, ahead: 1, trainers: 0 });
  // A trainer takes the first: the third is next, and there is a trainer.
  const trainer = await fakeTrainerTakingAJob(hub.url, 'queue-trainer');
  sockets.push(trainer.socket);
  assert.equal(await trainer.job, a);
  assert.deepEqual(await place(a), { queued: false, ahead: 0, trainers: 1 });
  assert.deepEqual(await place(c), { queued: true, ahead: 0, trainers: 1 });
  const missing = await fetch(`${hub.url}/api/runs/rnope/queue`);
  assert.equal(missing.status, 404);
});
