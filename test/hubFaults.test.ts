/**
 * Faults with real processes: a trainer killed mid-run (kill -9) leaves its run `interrupted`
 * with every stored point intact, and another trainer resumes it from the uploaded checkpoint;
 * a hub restarted on the same database file serves everything it stored.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  connectBrowser,
  eventually,
  pointsSeen,
  SMALL,
  startHub,
  startTrainer,
  snapshotPoints,
  framePoints,
} from './helpers/hub';
import { TRAINER_NAMESPACE } from '../server/protocol';

test('a killed trainer leaves its run interrupted with its data; another trainer resumes it', async (t) => {
  const hub = await startHub({ graceMs: 1500 });
  const first = await startTrainer(hub.url, { id: 'doomed' });
  const ada = await connectBrowser(hub.url, 'Ada');
  t.after(async () => {
    ada.close();
    await first.stop();
    await second?.stop();
    await hub.close();
  });
  let second: Awaited<ReturnType<typeof startTrainer>> | undefined;

  const started = await ada.call('run:start', { hyperparams: { ...SMALL, epochs: 100 } });
  assert.ok(started.ok);
  const runId = started.data.run.id;
  const watch = await ada.call('run:watch', { runId });
  assert.ok(watch.ok);
  await ada.waitFor('metrics:epoch', (p) => p.runId === runId && p.epoch.epoch === 2, 60_000);
  // The epoch checkpoint reaches the hub after its event is stored.
  await eventually(
    async () =>
      (await hub.db.prisma.checkpoint.findFirst({ where: { runId, data: { not: null } } })) ??
      undefined,
    'checkpoint uploaded',
  );
  second = await startTrainer(hub.url, { id: 'spare' });
  await eventually(
    async () => (await hub.db.prisma.trainer.findUnique({ where: { id: 'spare' } })) ?? undefined,
    'spare trainer registered',
  );

  first.child.kill('SIGKILL');
  assert.equal(await first.exited, 'SIGKILL');
  const interrupted = await ada.waitFor(
    'run:status',
    (p) => p.runId === runId && p.status === 'interrupted',
    15_000,
  );
  assert.match(interrupted.message ?? '', /doomed disconnected/);

  // Everything stored is intact and gap-free.
  const run = await hub.db.prisma.run.findUniqueOrThrow({ where: { id: runId } });
  const stored = await hub.db.prisma.batchMetric.findMany({
    where: { runId },
    orderBy: { seq: 'asc' },
  });
  assert.ok(stored.length > 0);
  stored.forEach((p, i) => assert.equal(p.step, i + 1, 'steps 1..n stored without a gap'));
  assert.ok(run.lastSeq >= stored[stored.length - 1].seq);
  assert.equal((await hub.db.prisma.epochMetric.count({ where: { runId } })) >= 2, true);

  const ckpt = await hub.db.prisma.checkpoint.findFirstOrThrow({
    where: { runId, data: { not: null } },
    orderBy: { seq: 'desc' },
  });
  // Resume: the spare trainer takes it, from the uploaded checkpoint (it never had the file).
  const mark = ada.received.length;
  const resumed = await ada.call('run:resume', { runId });
  assert.ok(resumed.ok, JSON.stringify(resumed));
  assert.equal(resumed.data.run.status, 'queued');
  await eventually(
    () =>
      ada.received
        .slice(mark)
        .find((r) => r.event === 'run:status' && r.payload.status === 'running'),
    'running again',
    30_000,
  );
  const moved = await hub.db.prisma.run.findUniqueOrThrow({ where: { id: runId } });
  assert.equal(moved.trainerId, 'spare');
  await ada.waitFor(
    'metrics:batch',
    (p) => p.runId === runId && framePoints(p).some((pt) => pt.seq > run.lastSeq),
    30_000,
  );
  const stop = await ada.call('run:stop', { runId });
  assert.ok(stop.ok);
  await ada.waitFor('run:status', (p) => p.runId === runId && p.status === 'stopped', 30_000);

  // The live view chained across the interruption, and the resumed curve continues the
  // checkpoint's steps with seqs after everything stored before.
  const seen = pointsSeen(ada, runId, watch.data);
  const after = seen.filter((p) => p.seq > run.lastSeq);
  assert.ok(after.length > 0);
  // Picked by arrival, not by seq (the seqs are what is checked): the points sent after the
  // resume are exactly the ones above the stored seqs, so nothing stored was sent again.
  const resumedPoints = ada
    .receivedAfter(mark)
    .flatMap((r) =>
      r.event === 'metrics:batch' && r.payload.runId === runId ? framePoints(r.payload) : [],
    );
  assert.ok(
    resumedPoints.length > 0 && resumedPoints[0].seq > run.lastSeq,
    'the first point sent after the resume comes after everything stored',
  );
  assert.deepEqual(
    after,
    resumedPoints,
    'the points after the stored ones are the ones sent after the resume',
  );
  // The hub hands the new trainer the run's last stored seq: its seqs continue without a jump.
  assert.deepEqual(
    hub.logs.filter((l) => l.includes(runId) && /jump/.test(l)),
    [],
    'seqs after the resume continue right after everything stored before',
  );
  assert.equal(after[0].step, ckpt.step + 1, 'the resumed run starts right after its checkpoint');
  assert.deepEqual(
    seen.filter((p) => p.seq <= run.lastSeq).map((p) => [p.seq, p.step, p.loss]),
    stored.map((p) => [p.seq, p.step, p.loss]),
    'before the interruption the watcher saw exactly what was stored',
  );
  const all = await hub.db.prisma.batchMetric.findMany({
    where: { runId },
    orderBy: { seq: 'asc' },
  });
  assert.deepEqual(
    seen.map((p) => p.seq),
    all.map((p) => p.seq),
    'the watcher saw exactly what is stored',
  );
});

test('a trainer whose connection drops mid-run reconnects within the grace period and replays what it buffered', async (t) => {
  const hub = await startHub({ graceMs: 10_000 });
  const trainer = await startTrainer(hub.url, { id: 'flaky' });
  const ada = await connectBrowser(hub.url, 'Ada');
  t.after(async () => {
    ada.close();
    await trainer.stop();
    await hub.close();
  });
  const started = await ada.call('run:start', { hyperparams: { ...SMALL, epochs: 4 } });
  assert.ok(started.ok);
  const runId = started.data.run.id;
  const watch = await ada.call('run:watch', { runId });
  assert.ok(watch.ok);
  await ada.waitFor('metrics:batch', (p) => p.runId === runId && p.points.n > 0, 60_000);
  // Cut the trainer's transport (as a network blip would); it keeps training and buffering.
  const sockets = [...hub.hub.io.of(TRAINER_NAMESPACE).sockets.values()];
  assert.equal(sockets.length, 1);
  sockets[0].conn.close();
  await eventually(
    () => /disconnected from the hub/.test(trainer.output()),
    'trainer noticed the disconnect',
  );
  await ada.waitFor('run:status', (p) => p.runId === runId && p.status === 'completed', 60_000);
  assert.match(trainer.output(), /connected to .* as flaky[\s\S]*disconnected[\s\S]*connected to/);
  assert.ok(
    !ada.received.some((r) => r.event === 'run:status' && r.payload.status === 'interrupted'),
    'never interrupted',
  );
  const stored = await hub.db.prisma.batchMetric.findMany({
    where: { runId },
    orderBy: { seq: 'asc' },
  });
  const run = await hub.db.prisma.run.findUniqueOrThrow({ where: { id: runId } });
  assert.equal(stored.length, run.totalSteps);
  stored.forEach((p, i) => assert.equal(p.step, i + 1));
  assert.deepEqual(
    pointsSeen(ada, runId, watch.data).map((p) => p.seq),
    stored.map((p) => p.seq),
    'watchers saw every point once, in order',
  );
});

test('a hub restarted on the same SQLite file serves the runs, metrics and annotations it stored', async (t) => {
  const first = await startHub();
  const dbUrl = first.db.url;
  const trainer = await startTrainer(first.url, { id: 'restart' });
  const ada = await connectBrowser(first.url, 'Ada');
  const { participant: adaIs, credential } = ada.hello!;
  const started = await ada.call('run:start', { hyperparams: { ...SMALL, epochs: 1 } });
  assert.ok(started.ok);
  const runId = started.data.run.id;
  assert.ok((await ada.call('run:watch', { runId })).ok);
  await ada.waitFor('run:status', (p) => p.runId === runId && p.status === 'completed', 60_000);
  const note = await ada.call('annotation:add', { runId, step: 3, text: 'keep me' });
  assert.ok(note.ok);
  const before = await ada.call('run:watch', { runId });
  assert.ok(before.ok);
  ada.close();
  await trainer.stop();
  await first.hub.close();
  await first.db.close();

  const second = await startHub({ databaseUrl: dbUrl });
  const stored = await second.db.prisma.participant.findUnique({ where: { id: adaIs.id } });
  assert.equal(stored?.name, 'Ada', 'participants are written (in batches, flushed on close)');
  t.after(() => second.close());
  // Her id and credential, kept by her browser, are still hers on the restarted hub.
  const again = await connectBrowser(second.url, 'Ada', { participantId: adaIs.id, credential });
  assert.equal(again.hello!.participant.id, adaIs.id);
  const after = await again.call('run:watch', { runId });
  assert.ok(
    note.ok &&
      (
        await again.call('annotation:edit', {
          id: note.data.annotation.id,
          text: 'kept, and still mine',
        })
      ).ok,
    'she can still edit her note',
  );
  again.close();
  assert.ok(after.ok);
  assert.deepEqual(snapshotPoints(after.data), snapshotPoints(before.data));
  assert.deepEqual(after.data.epochs, before.data.epochs);
  assert.deepEqual(after.data.annotations, before.data.annotations);
  assert.equal(after.data.run.status, 'completed');
});
