/**
 * The hub with real parts: a hub on a free port over a SQLite file, trainer daemons as real
 * processes (wasm) and socket.io-client browsers. Watchers, late joiners, control, annotations.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { WirePoint } from '../server/protocol';
import {
  connectBrowser,
  eventually,
  pointsSeen,
  SMALL,
  startHub,
  startTrainer,
  type TestBrowser,
  type TestHub,
  type TrainerProcess,
  snapshotPoints,
  framePoints,
} from './helpers/hub';

function assertGapFree(points: WirePoint[]): void {
  for (let i = 1; i < points.length; i++) {
    assert.ok(points[i].seq > points[i - 1].seq, 'points in seq order, no duplicates');
    assert.equal(points[i].step, points[i - 1].step + 1, 'consecutive steps');
  }
}

describe('hub with a real trainer', () => {
  let hub: TestHub;
  let trainer: TrainerProcess;
  let ada: TestBrowser;
  let bob: TestBrowser;

  before(async () => {
    hub = await startHub({ annotationsPerMinute: 1000 });
    trainer = await startTrainer(hub.url, { id: 'live-1' });
    ada = await connectBrowser(hub.url, 'Ada');
    bob = await connectBrowser(hub.url, 'Bob');
  });
  after(async () => {
    ada?.close();
    bob?.close();
    await trainer?.stop();
    await hub?.close();
  });

  test('two watchers see the same points in order; a late watcher catches up exactly', async () => {
    const started = await ada.call('run:start', {
      name: 'watchers',
      hyperparams: { ...SMALL, epochs: 3 },
    });
    assert.ok(started.ok, JSON.stringify(started));
    const runId = started.data.run.id;
    assert.equal(started.data.run.status, 'queued');
    // Bob sees the new run in the runs list.
    await bob.waitFor('runs:changed', (p) => p.run.id === runId);
    const [wa, wb] = await Promise.all([
      ada.call('run:watch', { runId }),
      bob.call('run:watch', { runId }),
    ]);
    assert.ok(wa.ok && wb.ok);
    // A third person joins once the first epoch is done, and a fourth "reconnects" with afterSeq.
    await ada.waitFor('metrics:epoch', (p) => p.runId === runId);
    const cy = await connectBrowser(hub.url, 'Cy');
    const wc = await cy.call('run:watch', { runId });
    assert.ok(wc.ok);
    assert.ok(snapshotPoints(wc.data).length > 0, 'the late watcher gets the points so far');
    assert.equal(wc.data.epochs.length >= 1, true);
    const wcPoints = snapshotPoints(wc.data);
    const afterSeq = wcPoints[Math.floor(wcPoints.length / 2)].seq;
    const dee = await connectBrowser(hub.url, 'Dee');
    const wd = await dee.call('run:watch', { runId, afterSeq });
    assert.ok(wd.ok);
    assert.ok(
      snapshotPoints(wd.data).every((p) => p.seq > afterSeq),
      'afterSeq: only later points',
    );
    assert.deepEqual(
      wd.data.presence.map((u) => u.name),
      ['Ada', 'Bob', 'Cy', 'Dee'],
    );

    for (const b of [ada, bob, cy, dee])
      await b.waitFor('run:status', (p) => p.runId === runId && p.status === 'completed', 60_000);
    const stored = await hub.db.prisma.batchMetric.findMany({
      where: { runId },
      orderBy: { seq: 'asc' },
    });
    const run = await hub.db.prisma.run.findUniqueOrThrow({ where: { id: runId } });
    assert.equal(stored.length, run.totalSteps, 'every step stored');
    const all = stored.map((p) => p.seq);

    const seenA = pointsSeen(ada, runId, wa.data);
    const seenB = pointsSeen(bob, runId, wb.data);
    const seenC = pointsSeen(cy, runId, wc.data);
    const seenD = pointsSeen(dee, runId, wd.data);
    assertGapFree(seenA);
    assert.deepEqual(
      seenA.map((p) => p.seq),
      all,
    );
    assert.deepEqual(seenB, seenA, 'both watchers saw identical points');
    assert.deepEqual(seenC, seenA, 'the late watcher has exactly every point');
    assert.deepEqual(
      seenD.map((p) => p.seq),
      all.filter((s) => s > afterSeq),
    );
    assert.equal(seenA[seenA.length - 1].loss, stored[stored.length - 1].loss);
    // Each live frame covers a seq range and carries every point stored in it, in order, so a
    // frame holds as many points as arrived together (how many that is depends on the trainer's
    // speed; hubUnits checks that a burst within one interval is one frame).
    const frames = ada.received.flatMap((r) =>
      r.event === 'metrics:batch' && (r.payload as { runId: string }).runId === runId
        ? [r.payload as { fromSeq: number; toSeq: number }]
        : [],
    );
    assert.ok(frames.length > 0, 'live frames came');
    for (const f of frames) {
      const inRange = all.filter((seq) => seq >= f.fromSeq && seq <= f.toSeq);
      assert.deepEqual(
        framePoints(f).map((p) => p.seq),
        inRange,
        `frame ${f.fromSeq}–${f.toSeq} carries every point in its range`,
      );
    }
    const epochs = await hub.db.prisma.epochMetric.count({ where: { runId } });
    assert.equal(epochs, 3);
    assert.ok((await hub.db.prisma.misclassified.count({ where: { runId } })) > 0);
    // Each epoch's misclassified frame says how many digits are listed, not which: they are read over HTTP.
    const frames3 = ada.received.flatMap((r) =>
      r.event === 'run:misclassified' ? [r.payload] : [],
    );
    assert.equal(frames3.length, 3);
    for (const f of frames3) {
      assert.equal('items' in f, false, 'no digits in the live frame');
      const listed = await hub.db.prisma.misclassified.count({ where: { runId, epoch: f.epoch } });
      assert.equal(f.listed, listed, `epoch ${f.epoch}: listed = stored rows`);
      assert.ok(f.total >= listed);
    }
    assert.ok((await hub.db.prisma.confusionMatrix.count({ where: { runId } })) === 3);
    assert.ok(run.finalTestAccuracy !== null && run.backend === 'wasm' && run.trainerHost);
    // Only presence sent after Cy and Dee left counts: Bob saw Ada and Bob alone before they came.
    const beforeLeaving = bob.mark();
    cy.close();
    dee.close();
    const left = await bob.waitForAfter(
      beforeLeaving,
      'presence',
      (p) => p.runId === runId && p.users.length === 2,
    );
    assert.deepEqual(
      left.users.map((u) => u.name),
      ['Ada', 'Bob'],
    );
    assert.equal(left.total, 2);
  });

  test('pause, learning rate, resume and stop from one person are seen by the other', async () => {
    const started = await ada.call('run:start', { hyperparams: { ...SMALL, epochs: 200 } });
    assert.ok(started.ok);
    const runId = started.data.run.id;
    const wb = await bob.call('run:watch', { runId });
    assert.ok(wb.ok);
    await bob.waitFor('run:status', (p) => p.runId === runId && p.status === 'running');
    await bob.waitFor('metrics:batch', (p) => p.runId === runId && p.points.n > 0);

    const paused = await ada.call('run:pause', { runId });
    assert.ok(paused.ok, JSON.stringify(paused));
    await bob.waitFor('run:status', (p) => p.runId === runId && p.status === 'paused');
    await bob.waitFor(
      'annotation:added',
      (p) =>
        p.annotation.runId === runId &&
        p.annotation.text === 'Ada paused the run' &&
        p.annotation.kind === 'event',
    );

    const twice = await ada.call('run:pause', { runId });
    assert.equal(twice.ok ? 'ok' : twice.error, 'CONFLICT', 'pausing a paused run is refused');
    const badLr = await ada.call('run:set-lr', { runId, learningRate: -1 });
    assert.equal(badLr.ok ? 'ok' : badLr.error, 'INVALID');

    const lr = await ada.call('run:set-lr', { runId, learningRate: 0.05 });
    assert.ok(lr.ok);
    await bob.waitFor(
      'annotation:added',
      (p) => p.annotation.runId === runId && /learning rate .*0\.05/.test(p.annotation.text),
    );
    // Bob saw `running` before the pause too: only what arrives after the resume counts.
    const beforeResume = bob.mark();
    const resumed = await ada.call('run:resume', { runId });
    assert.ok(resumed.ok);
    await bob.waitForAfter(
      beforeResume,
      'run:status',
      (p) => p.runId === runId && p.status === 'running',
    );
    await bob.waitForAfter(
      beforeResume,
      'metrics:batch',
      (p) => p.runId === runId && framePoints(p).some((pt) => pt.learningRate === 0.05),
    );

    const stopped = await ada.call('run:stop', { runId });
    assert.ok(stopped.ok);
    const final = await bob.waitFor(
      'run:status',
      (p) => p.runId === runId && p.status === 'stopped',
    );
    assert.ok(final.run.endedAt);
    // Each note is written once the trainer says at which step the command took effect.
    const events = await eventually(async () => {
      const rows = await hub.db.prisma.annotation.findMany({
        where: { runId, kind: 'event' },
        orderBy: { id: 'asc' },
      });
      return rows.length >= 5 ? rows : undefined;
    }, 'the five control notes');
    assert.equal(
      events.at(-1)!.step,
      final.run.lastStep,
      'the stop is logged at the step the run stopped at',
    );
    const control = await hub.db.prisma.batchMetric.findMany({
      where: { runId },
      orderBy: { seq: 'asc' },
      select: { step: true, learningRate: true },
    });
    assert.equal(
      events[2].step,
      control.filter((p) => p.learningRate === 0.01).at(-1)!.step,
      'the rate change at the last step trained with the old rate',
    );
    assert.deepEqual(
      events.map((e) => e.text),
      [
        'Ada started the run',
        'Ada paused the run',
        'Ada changed the learning rate from 0.01 to 0.05',
        'Ada resumed the run',
        'Ada stopped the run',
      ],
    );
    // A stopped run checkpointed; its checkpoint file reached the hub.
    await eventually(
      async () =>
        (await hub.db.prisma.checkpoint.findFirst({
          where: { runId, reason: 'stop', data: { not: null } },
        })) ?? undefined,
      'stop checkpoint uploaded',
    );
    const again = await ada.call('run:stop', { runId });
    assert.equal(again.ok ? 'ok' : again.error, 'CONFLICT');
  });

  test('annotations round-trip, only their author edits or deletes them, and they persist', async () => {
    const started = await ada.call('run:start', { hyperparams: { ...SMALL, epochs: 1 } });
    assert.ok(started.ok);
    const runId = started.data.run.id;
    assert.ok((await ada.call('run:watch', { runId })).ok);
    assert.ok((await bob.call('run:watch', { runId })).ok);
    const added = await bob.call('annotation:add', {
      runId,
      step: 5,
      text: 'loss <b>spikes</b> here',
    });
    assert.ok(added.ok);
    const seen = await ada.waitFor(
      'annotation:added',
      (p) => p.annotation.id === added.data.annotation.id,
    );
    assert.equal(seen.annotation.authorName, 'Bob');
    assert.equal(
      seen.annotation.text,
      'loss <b>spikes</b> here',
      'text is stored as given, never interpreted',
    );

    const notYours = await ada.call('annotation:edit', {
      id: added.data.annotation.id,
      text: 'mine now',
    });
    assert.equal(notYours.ok ? 'ok' : notYours.error, 'FORBIDDEN');
    const edited = await bob.call('annotation:edit', {
      id: added.data.annotation.id,
      text: 'loss spikes at step 5',
    });
    assert.ok(edited.ok);
    const seenEdit = await ada.waitFor(
      'annotation:edited',
      (p) => p.annotation.id === added.data.annotation.id,
    );
    assert.equal(seenEdit.annotation.text, 'loss spikes at step 5');
    assert.equal(seenEdit.annotation.edits, 1);
    const history = await hub.db.prisma.annotationEdit.findMany({
      where: { annotationId: added.data.annotation.id },
    });
    assert.deepEqual(
      history.map((h) => h.previousText),
      ['loss <b>spikes</b> here'],
    );

    const second = await bob.call('annotation:add', { runId, step: 9, text: 'to delete' });
    assert.ok(second.ok);
    const deleted = await bob.call('annotation:delete', { id: second.data.annotation.id });
    assert.ok(deleted.ok);
    await ada.waitFor('annotation:deleted', (p) => p.id === second.data.annotation.id);
    const events = await ada.call('annotation:delete', {
      id: (await hub.db.prisma.annotation.findFirstOrThrow({ where: { runId, kind: 'event' } })).id,
    });
    assert.equal(events.ok ? 'ok' : events.error, 'FORBIDDEN', 'control events cannot be deleted');

    // Bob may not delete Ada's note: FORBIDDEN, and it is still there with its text, for everyone.
    const adas = await ada.call('annotation:add', { runId, step: 7, text: 'Ada keeps this' });
    assert.ok(adas.ok);
    await bob.waitFor('annotation:added', (p) => p.annotation.id === adas.data.annotation.id);
    const beforeDelete = bob.mark();
    const notBobs = await bob.call('annotation:delete', { id: adas.data.annotation.id });
    assert.equal(notBobs.ok ? 'ok' : notBobs.error, 'FORBIDDEN', 'only its author deletes a note');
    const kept = await hub.db.prisma.annotation.findUnique({
      where: { id: adas.data.annotation.id },
    });
    assert.deepEqual(kept && [kept.text, kept.authorName, kept.kind, kept.step], [
      'Ada keeps this',
      'Ada',
      'note',
      7,
    ]);
    // A round trip after the refusal: no annotation:deleted was broadcast before it.
    assert.ok((await ada.call('run:watch', { runId })).ok);
    assert.ok(
      !bob.receivedAfter(beforeDelete).some((r) => r.event === 'annotation:deleted'),
      'nobody is told it was deleted',
    );
    const adaDeletes = await ada.call('annotation:delete', { id: adas.data.annotation.id });
    assert.ok(adaDeletes.ok, 'its author can');
    await bob.waitForAfter(
      beforeDelete,
      'annotation:deleted',
      (p) => p.id === adas.data.annotation.id,
    );

    const snapshot = await connectBrowser(hub.url, 'Eve').then((eve) =>
      eve.call('run:watch', { runId }).finally(() => eve.close()),
    );
    assert.ok(snapshot.ok);
    const notes = snapshot.data.annotations.filter((a) => a.kind === 'note');
    assert.deepEqual(
      notes.map((n) => [n.step, n.text, n.authorName]),
      [[5, 'loss spikes at step 5', 'Bob']],
    );
  });
});
