/**
 * Several hubs on one PostgreSQL database and one Redis: a watcher on hub B follows a run
 * whose trainer is connected to hub A (live, in order, with annotations and presence), only
 * hub A stores it, and runs started on both hubs at once each go to exactly one trainer.
 */
import assert from 'node:assert/strict';
import { after, test, type TestContext } from 'node:test';
import fc from 'fast-check';
import {
  connectBrowser,
  eventually,
  fakeTrainer,
  SMALL,
  startTrainer,
  trainerAuth,
  type TestBrowser,
  type TestHub,
  snapshotPoints,
} from './helpers/hub';
import { assertSawStored, startTwoHubs, trainerOnAWatchersOnBoth } from './helpers/cluster';
import { postgresDatabases } from './helpers/db';
import { hyperparamsSchema } from '../server/trainer/config';

const pgdb = postgresDatabases();
after(() => pgdb.dropAll());
const twoHubs = (t: TestContext) => startTwoHubs(t, pgdb);

test('a watcher on hub B follows a run trained through hub A: live, in order, with notes and presence; only A stores it', async (t) => {
  const hubs = await twoHubs(t);
  if (!hubs) return;
  const [a, b] = hubs;
  const { ada, bob } = await trainerOnAWatchersOnBoth(t, a, b, 'gpu-on-a');

  // Started on B, scheduled onto the trainer connected to A.
  const started = await bob.call('run:start', {
    hyperparams: { ...SMALL, epochs: 3, trainLimit: 960 },
  });
  assert.ok(started.ok, JSON.stringify(started));
  const runId = started.data.run.id;
  const onB = await bob.call('run:watch', { runId });
  const onA = await ada.call('run:watch', { runId });
  assert.ok(onB.ok && onA.ok);

  const presence = await bob.waitFor('presence', (p) => p.runId === runId && p.users.length === 2);
  assert.deepEqual(
    presence.users.map((u) => u.name),
    ['Ada', 'Bob'],
  );

  await bob.waitFor('metrics:batch', (m) => m.runId === runId);
  const note = await ada.call('annotation:add', { runId, step: 3, text: 'noted on A' });
  assert.ok(note.ok);
  const seenOnB = await bob.waitFor('annotation:added', (m) => m.annotation.text === 'noted on A');
  assert.equal(seenOnB.annotation.authorName, 'Ada');

  // A late watcher on B: a snapshot from the database plus B's relayed tail, then frames.
  await eventually(
    async () => ((await b.db.prisma.run.findUnique({ where: { id: runId } }))?.lastStep ?? 0) >= 12,
    'a few steps stored',
  );
  const late = await connectBrowser(b.url, 'Cy');
  t.after(() => late.close());
  const lateSnap = await late.call('run:watch', { runId });
  assert.ok(lateSnap.ok);
  assert.ok(snapshotPoints(lateSnap.data).length > 0, 'the late snapshot holds stored points');
  assert.ok(lateSnap.data.annotations.some((n) => n.text === 'noted on A'));

  await bob.waitFor('run:status', (m) => m.runId === runId && m.status === 'completed', 120_000);
  await assertSawStored(b, bob, runId, onB.data, 'Bob on B');
  await assertSawStored(a, ada, runId, onA.data, 'Ada on A');
  await assertSawStored(b, late, runId, lateSnap.data, 'Cy (late) on B');
  const epochsOnB = bob.received.filter((r) => r.event === 'metrics:epoch').length;
  assert.equal(epochsOnB, 3, 'each epoch summary reached B once');

  const stored = await a.db.prisma.batchMetric.count({ where: { runId } });
  assert.ok(a.hub.parts.ingest.eventsStored() > stored, 'hub A stored the run');
  assert.equal(b.hub.parts.ingest.eventsStored(), 0, 'hub B stored nothing');
  const health = (await (await fetch(`${b.url}/api/health`)).json()) as {
    data: { trainers: number; hub: { shared: boolean } };
  };
  assert.equal(health.data.trainers, 1, 'B counts the trainer connected to A');
  assert.equal(health.data.hub.shared, true);
});

test('runs started on both hubs at once each go to exactly one trainer; control from B reaches a trainer on A', async (t) => {
  const hubs = await twoHubs(t);
  if (!hubs) return;
  const [a, b] = hubs;
  // Trainers that accept jobs and keep them (no training): what is assigned stays assigned.
  const assigned = new Map<string, string[]>();
  const trainers = await Promise.all(
    [
      [a, 't-a1'],
      [a, 't-a2'],
      [b, 't-b1'],
    ].map(async ([hub, id]) => {
      const socket = await fakeTrainer(
        (hub as TestHub).url,
        trainerAuth(id as string, { concurrency: 2 }),
      );
      socket.on('job:assign', (job: { runId: string }, ack: (r: unknown) => void) => {
        assigned.set(job.runId, [...(assigned.get(job.runId) ?? []), id as string]);
        ack({ ok: true, data: { runId: job.runId } });
      });
      return socket;
    }),
  );
  const controls: unknown[] = [];
  trainers[0].on('job:control', (c: unknown) => controls.push(c));
  t.after(() => trainers.forEach((s) => s.close()));
  await eventually(
    async () =>
      ((await (await fetch(`${a.url}/api/health`)).json()) as { data: { trainers: number } }).data
        .trainers === 3,
    'both hubs see three trainers',
  );

  const start = (hub: TestHub, i: number) =>
    fetch(`${hub.url}/api/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: `race ${i}`, hyperparams: SMALL }),
    }).then(async (r) => ((await r.json()) as { data: { run: { id: string } } }).data.run.id);
  const ids = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => start(i % 2 ? b : a, i)));
  await eventually(() => ids.every((id) => assigned.has(id)), 'all six runs assigned', 20_000);
  // Settled: every run is held in the database by the trainer whose job arrived, and every
  // trainer holds its capacity (2), so no scheduler has a queued run or a free trainer left.
  const held = await eventually(async () => {
    const rows = await a.db.prisma.run.findMany({ where: { id: { in: ids } } });
    const byTrainer = new Map<string, number>();
    for (const r of rows)
      if (r.trainerId) byTrainer.set(r.trainerId, (byTrainer.get(r.trainerId) ?? 0) + 1);
    const settled =
      rows.length === 6 &&
      rows.every(
        (r) =>
          r.status === 'queued' &&
          r.trainerId !== null &&
          assigned.get(r.id)?.at(-1) === r.trainerId,
      ) &&
      ['t-a1', 't-a2', 't-b1'].every((tid) => byTrainer.get(tid) === 2);
    return settled ? byTrainer : undefined;
  }, 'each trainer holds two runs in the database, the ones it was sent');
  assert.deepEqual([...held.values()], [2, 2, 2]);
  const jobsSent = [...assigned.values()].reduce((n, list) => n + list.length, 0);
  assert.equal(jobsSent, 6, `six jobs sent for six runs: ${JSON.stringify([...assigned])}`);
  for (const id of ids)
    assert.equal(
      assigned.get(id)!.length,
      1,
      `run ${id} went to one trainer (${assigned.get(id)})`,
    );
  const perTrainer = new Map<string, number>();
  for (const [, [tid]] of assigned) perTrainer.set(tid, (perTrainer.get(tid) ?? 0) + 1);
  assert.deepEqual([...perTrainer.values()].sort(), [2, 2, 2], 'each trainer got its capacity');
  const rows = await a.db.prisma.run.findMany({ where: { id: { in: ids } } });
  for (const row of rows) assert.equal(row.trainerId, assigned.get(row.id)![0]);

  // Pause a run trained through A from a browser on B: the trainer on A gets the command.
  const onA = ids.find((id) => assigned.get(id)![0] === 't-a1')!;
  const startedEvent = {
    runId: onA,
    seq: 1,
    type: 'run:started',
    time: Date.now(),
    startStep: 0,
    parameterCount: 21840,
    hyperparams: hyperparamsSchema.parse(SMALL),
    backend: { name: 'wasm', device: 'test', host: 'test-host' },
    trainSize: 320,
    testSize: 100,
    batchesPerEpoch: 10,
    totalSteps: 20,
  };
  const ack = (await trainers[0]
    .timeout(10_000)
    .emitWithAck('trainer:events', { runId: onA, events: [startedEvent] })) as { ok: boolean };
  assert.ok(
    ack.ok,
    `hub A stores the events of a run hub B's scheduler may have assigned: ${JSON.stringify(ack)}`,
  );
  await eventually(
    async () => (await b.db.prisma.run.findUnique({ where: { id: onA } }))?.status === 'running',
    'running',
  );
  const bob = await connectBrowser(b.url, 'Bob');
  t.after(() => bob.close());
  const paused = await bob.call('run:pause', { runId: onA });
  assert.ok(paused.ok, JSON.stringify(paused));
  await eventually(() => controls.length > 0, 'the trainer on A got the pause');
  assert.deepEqual(controls[0], { runId: onA, action: 'pause' });
});

test('three real trainers on two hubs train queued runs at once; one started later joins without a restart', async (t) => {
  const hubs = await twoHubs(t);
  if (!hubs) return;
  const [a, b] = hubs;
  const first = await startTrainer(a.url, { id: 'first' });
  const second = await startTrainer(b.url, { id: 'second' });
  t.after(async () => {
    await first.stop();
    await second.stop();
  });
  const ids: string[] = [];
  for (const hub of [a, b, a]) {
    const r = await fetch(`${hub.url}/api/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ hyperparams: { ...SMALL, epochs: 2, trainLimit: 4000 } }),
    });
    ids.push(((await r.json()) as { data: { run: { id: string } } }).data.run.id);
  }
  // Two trainers, three runs: one waits in the queue until a third daemon joins.
  const waiting = await eventually(async () => {
    const rows = await a.db.prisma.run.findMany({ where: { id: { in: ids } } });
    const queued = rows.filter((r) => r.status === 'queued' && r.trainerId === null);
    return rows.filter((r) => r.status === 'running').length === 2 && queued.length === 1
      ? queued[0]
      : undefined;
  }, 'two runs training, one queued').catch(async (e) => {
    const rows = await a.db.prisma.run.findMany({ where: { id: { in: ids } } });
    throw new Error(
      `${e.message}: ${JSON.stringify(rows.map((r) => [r.status, r.trainerId, r.statusMessage]))}\nA: ${a.logs.join('\n')}\nB: ${b.logs.join('\n')}\nsecond: ${second.output()}`,
    );
  });
  const third = await startTrainer(b.url, { id: 'third' });
  t.after(() => third.stop());
  const done = await eventually(
    async () => {
      const rows = await a.db.prisma.run.findMany({ where: { id: { in: ids } } });
      return rows.every((r) => r.status === 'completed') ? rows : undefined;
    },
    'all three runs completed',
    180_000,
  );
  assert.equal(
    done.find((r) => r.id === waiting.id)!.trainerId,
    'third',
    'the daemon that joined took the queued run',
  );
  assert.deepEqual(new Set(done.map((r) => r.trainerId)), new Set(['first', 'second', 'third']));
  for (const run of done) {
    const points = await a.db.prisma.batchMetric.findMany({
      where: { runId: run.id },
      orderBy: { seq: 'asc' },
    });
    assert.equal(points.length, run.totalSteps, 'every step stored once');
  }
  const total = a.hub.parts.ingest.eventsStored() + b.hub.parts.ingest.eventsStored();
  const events = done.reduce((n, r) => n + r.lastSeq, 0);
  assert.equal(total, events, 'each event was stored by one hub, once');
});

test('a run started from hub B and trained through hub A, first watched on B late: the snapshot comes from the database, the frames follow it', async (t) => {
  const hubs = await twoHubs(t);
  if (!hubs) return;
  const [a, b] = hubs;
  const trainer = await startTrainer(a.url, { id: 'on-a' });
  t.after(() => trainer.stop());
  // Started on B (which then knows the run) with nobody watching it anywhere.
  const res = await fetch(`${b.url}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hyperparams: { ...SMALL, epochs: 4, trainLimit: 960 } }),
  });
  const runId = ((await res.json()) as { data: { run: { id: string } } }).data.run.id;
  await eventually(
    async () => ((await b.db.prisma.run.findUnique({ where: { id: runId } }))?.lastStep ?? 0) >= 30,
    'training through A',
  );

  const dee = await connectBrowser(b.url, 'Dee');
  t.after(() => dee.close());
  const watched = await dee.call('run:watch', { runId });
  assert.ok(watched.ok);
  assert.ok(
    snapshotPoints(watched.data).length >= 30 &&
      watched.data.lastSeq >= snapshotPoints(watched.data).at(-1)!.seq,
    'the snapshot holds what was stored',
  );
  await dee.waitFor('run:status', (m) => m.runId === runId && m.status === 'completed', 120_000);
  await assertSawStored(b, dee, runId, watched.data, 'Dee, late on B');
  // B started the run but did not train it: once it finished, B forgets it.
  await eventually(
    () => !b.hub.parts.registry.has(runId),
    'hub B let go of the finished run',
    5000,
  );
  dee.close();
  await eventually(
    () => !b.hub.parts.streams.isOpen(runId),
    'and of its stream once nobody watches there',
    5000,
  );
});

test('watch, unwatch and disconnect in any order, on both hubs: every relay a hub starts for its watchers stops when they are gone', async (t) => {
  const hubs = await twoHubs(t);
  if (!hubs) return;
  const health = async (hub: TestHub) =>
    (
      (await (await fetch(`${hub.url}/api/health`)).json()) as {
        data: { hub: { relaying: number; browsers: number } };
      }
    ).data.hub;
  const runs: string[] = [];
  for (const hub of [hubs[0], hubs[1], hubs[0]]) {
    const r = await fetch(`${hub.url}/api/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ hyperparams: SMALL }),
    });
    runs.push(((await r.json()) as { data: { run: { id: string } } }).data.run.id);
  }
  const step = fc.oneof(
    fc.record({ kind: fc.constant('watch' as const), who: fc.nat(3), run: fc.nat(2) }),
    fc.record({ kind: fc.constant('unwatch' as const), who: fc.nat(3), run: fc.nat(2) }),
    fc.record({ kind: fc.constant('leave' as const), who: fc.nat(3) }),
  );
  let relaysSeen = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 25 }), async (steps) => {
      // Four people: two on each hub.
      const people: Array<TestBrowser | null> = [null, null, null, null];
      const person = async (who: number) =>
        (people[who] ??= await connectBrowser(hubs[who % 2].url, `p${who}`));
      // The model: which runs each person watches. A hub relays each run its people watch, once.
      const watching = [0, 1, 2, 3].map(() => new Set<number>());
      const relayed = (hub: number) =>
        new Set([0, 1, 2, 3].filter((who) => who % 2 === hub).flatMap((who) => [...watching[who]]))
          .size;
      for (const s of steps) {
        if (s.kind === 'leave') {
          people[s.who]?.close();
          people[s.who] = null;
          watching[s.who].clear();
          continue;
        }
        const p = await person(s.who);
        const r = await p.call(s.kind === 'watch' ? 'run:watch' : 'run:unwatch', {
          runId: runs[s.run],
        });
        assert.ok(r.ok, JSON.stringify(r));
        if (s.kind === 'watch') {
          watching[s.who].add(s.run);
          // Acked after the relay is open: the hub counts it now.
          assert.ok(
            (await health(hubs[s.who % 2])).relaying >= 1,
            'a watch starts (or joins) a relay on its hub',
          );
        } else watching[s.who].delete(s.run);
      }
      // Before anyone goes: each hub relays exactly the runs its people still watch (a leave
      // above is seen by the hub a moment after the socket closed).
      for (const [i, hub] of hubs.entries()) {
        const want = relayed(i);
        if (want > 0) relaysSeen++;
        await eventually(
          async () => (await health(hub)).relaying === want || undefined,
          `hub ${i} relays the ${want} runs its people watch`,
          5000,
        ).catch(async (e: Error) => {
          throw new Error(`${e.message}, not ${(await health(hub)).relaying}`);
        });
      }
      for (const p of people) p?.close();
      for (const hub of hubs) {
        await eventually(
          async () => {
            const h = await health(hub);
            return h.browsers === 0 && h.relaying === 0;
          },
          'no relay left once everyone is gone',
          5000,
        );
      }
    }),
    { numRuns: 15 },
  );
  assert.ok(relaysSeen > 0, 'some sequences left runs watched, and their relays were counted');
});
