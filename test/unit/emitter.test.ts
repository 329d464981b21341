/**
 * The event emitter: stamping, batching, and a slow consumer that must not block emit().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEmitter } from '../../server/trainer/emitter';
import type { TrainerEvent } from '../../server/trainer/events';

const point = (step: number) => ({
  type: 'metrics:batch' as const,
  point: {
    step,
    epoch: 1,
    batch: step - 1,
    loss: 1,
    accuracy: 50,
    learningRate: 0.01,
    samplesPerSec: 1,
    time: 0,
  },
});

test('events are stamped with the run id and a gap-free seq, delivered in order in batches', async () => {
  const writes: TrainerEvent[][] = [];
  const emitter = createEmitter(
    'run-a',
    { write: (evs) => void writes.push([...evs]) },
    { flushMs: 5 },
  );
  for (let i = 1; i <= 1000; i++) emitter.emit(point(i));
  await emitter.flush();
  const all = writes.flat();
  assert.deepEqual(
    all.map((e) => e.seq),
    Array.from({ length: 1000 }, (_, i) => i + 1),
  );
  assert.ok(all.every((e) => e.runId === 'run-a'));
  assert.ok(writes.length < 20, `${writes.length} writes for 1000 events`);
  assert.equal(emitter.lastSeq, 1000);
});

test('a slow consumer never blocks emit(): events queue up and arrive complete and in order', async () => {
  const received: number[] = [];
  let writesInFlight = 0;
  let maxInFlight = 0;
  const sink = {
    async write(evs: readonly TrainerEvent[]) {
      writesInFlight++;
      maxInFlight = Math.max(maxInFlight, writesInFlight);
      await new Promise((r) => setTimeout(r, 30));
      received.push(...evs.map((e) => e.seq));
      writesInFlight--;
    },
  };
  const emitter = createEmitter('slow', sink, { flushMs: 1, maxBatch: 10 });
  for (let i = 1; i <= 300; i++) {
    emitter.emit(point(i));
    // Every emit returns at once even though the sink has a write outstanding.
    if (i % 50 === 0) await new Promise((r) => setImmediate(r));
  }
  assert.ok(received.length < 300, 'the sink is still behind when emitting ends');
  await emitter.flush();
  assert.deepEqual(
    received,
    Array.from({ length: 300 }, (_, i) => i + 1),
  );
  assert.equal(maxInFlight, 1, 'one write in flight at a time keeps order');
});

test('a sink that throws loses only that batch, reports it, and later events still flow', async () => {
  const errors: unknown[] = [];
  const got: number[] = [];
  let calls = 0;
  const emitter = createEmitter(
    'err',
    {
      write(evs) {
        if (++calls === 1) throw new Error('consumer down');
        got.push(...evs.map((e) => e.seq));
      },
    },
    { flushMs: 1, onError: (e) => errors.push(e) },
  );
  emitter.emit(point(1));
  await emitter.flush();
  emitter.emit(point(2));
  await emitter.flush();
  assert.equal(errors.length, 1);
  assert.deepEqual(got, [2]);
});

test('seq continues from lastSeq after a resume', async () => {
  const got: number[] = [];
  const emitter = createEmitter(
    'r',
    { write: (evs) => void got.push(...evs.map((e) => e.seq)) },
    { lastSeq: 41 },
  );
  emitter.emit(point(1));
  await emitter.flush();
  assert.deepEqual(got, [42]);
});

test('an event after a pause is written at the next turn; those close behind it wait for the interval', async () => {
  const writes: number[][] = [];
  const emitter = createEmitter(
    'lead',
    { write: (evs) => void writes.push(evs.map((e) => e.seq)) },
    { flushMs: 200 },
  );
  const nextTurn = () => new Promise((r) => setImmediate(r));
  emitter.emit(point(1));
  assert.deepEqual(writes, [], 'emit itself never writes');
  await nextTurn();
  assert.deepEqual(writes, [[1]], 'the first event goes at the next turn, not after 200 ms');
  emitter.emit(point(2));
  emitter.emit(point(3));
  await nextTurn();
  assert.deepEqual(writes, [[1]], 'events right behind a write wait for the interval');
  await new Promise((r) => setTimeout(r, 250));
  assert.deepEqual(writes, [[1], [2, 3]], 'and then go as one write');
  await emitter.flush();
});
