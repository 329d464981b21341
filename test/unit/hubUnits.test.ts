/**
 * The hub's pure parts: the run state machine, the live stream's framing (contiguous seq
 * ranges, throttling, the tail kept for snapshots) and the annotation rate limiter.
 */
import { fromPointColumns, type PointColumns } from '../../server/columns';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLiveStreams } from '../../server/hub/live/stream';
import { createRateLimiter } from '../../server/hub/rateLimit';
import { canTransition, describeControl, planControl } from '../../server/hub/runs/lifecycle';
import { SeqSet } from '../../server/hub/runs/seqSet';
import { storageFailure } from '../../server/hub/runs/database';
import { isFinished, RUN_STATUSES, type WireEvent } from '../../server/protocol';

test('run lifecycle: allowed transitions and what each control command does', () => {
  assert.ok(canTransition('queued', 'running'));
  assert.ok(canTransition('running', 'paused') && canTransition('paused', 'running'));
  assert.ok(canTransition('running', 'interrupted') && canTransition('interrupted', 'queued'));
  assert.ok(!canTransition('completed', 'running'), 'completed is final');
  assert.ok(!canTransition('failed', 'queued'));
  assert.ok(
    !canTransition('stopped', 'running'),
    'a stopped run comes back only through the queue',
  );
  for (const s of RUN_STATUSES)
    assert.equal(isFinished(s), ['completed', 'stopped', 'failed', 'interrupted'].includes(s));

  const plan = (s: (typeof RUN_STATUSES)[number], v: Parameters<typeof planControl>[1]) =>
    planControl(s, v).kind;
  assert.equal(plan('running', 'pause'), 'forward');
  assert.equal(plan('paused', 'pause'), 'reject');
  assert.equal(plan('paused', 'resume'), 'forward');
  assert.equal(plan('interrupted', 'resume'), 'requeue');
  assert.equal(plan('stopped', 'resume'), 'requeue');
  assert.equal(plan('completed', 'resume'), 'reject');
  assert.equal(plan('queued', 'stop'), 'stop-now');
  assert.equal(plan('interrupted', 'stop'), 'stop-now');
  assert.equal(plan('running', 'stop'), 'forward');
  assert.equal(plan('completed', 'stop'), 'reject');
  assert.equal(plan('queued', 'set-lr'), 'reject');
  assert.equal(plan('paused', 'set-lr'), 'forward');
  assert.equal(
    describeControl('Ada', 'set-lr', { learningRate: 0.05, from: 0.01 }),
    'Ada changed the learning rate from 0.01 to 0.05',
  );
});

const point = (seq: number, step: number): WireEvent => ({
  seq,
  type: 'point',
  point: {
    seq,
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
const silent = (seq: number): WireEvent => ({ seq, type: 'silent' });
const epoch = (seq: number): WireEvent => ({
  seq,
  type: 'epoch',
  epoch: {
    seq,
    epoch: 1,
    step: 3,
    trainLoss: 1,
    trainAccuracy: 1,
    testLoss: 1,
    testAccuracy: 1,
    confusion: [],
    samplesPerSec: 1,
    trainMs: 1,
    evalMs: 1,
    time: 0,
  },
});

test('live stream: messages cover contiguous seq ranges, points coalesce, other events keep their place', async () => {
  const sent: Array<{
    room: string;
    event: string;
    msg: { fromSeq: number; toSeq: number; points?: PointColumns };
  }> = [];
  const streams = createLiveStreams(
    (room, event, msg) => sent.push({ room, event, msg: msg as never }),
    20,
  );
  streams.open('r', 0);
  streams.publish('r', [silent(1), point(2, 1), point(3, 2)]);
  streams.publish('r', [epoch(4), silent(5), point(6, 3), silent(7)]);
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(
    sent.map((s) => [s.room, s.event, s.msg.fromSeq, s.msg.toSeq, s.msg.points?.n ?? null]),
    [
      ['run:r', 'metrics:batch', 1, 3, 2],
      ['run:r', 'metrics:epoch', 4, 4, null],
      ['run:r', 'metrics:batch', 5, 7, 1],
    ],
  );
  // Only silent events pending still advance the range, in an empty frame.
  streams.publish('r', [silent(8)]);
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(
    [sent[3].msg.fromSeq, sent[3].msg.toSeq, fromPointColumns(sent[3].msg.points!)],
    [8, 8, []],
  );
  // Throttled: a burst within one interval is one frame.
  for (let s = 9; s < 100; s++) streams.publish('r', [point(s, s)]);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(sent.length, 5);
  assert.deepEqual(
    [
      sent[4].msg.fromSeq,
      sent[4].msg.toSeq,
      fromPointColumns(sent[4].msg.points!).map((p) => p.seq),
    ],
    [9, 99, Array.from({ length: 91 }, (_, i) => i + 9)],
  );
  streams.closeAll();
});

test('live stream: the tail keeps what snapshots need until it is stored and no snapshot pins it', async () => {
  const streams = createLiveStreams(() => {}, 1);
  streams.open('r', 10);
  streams.publish('r', [point(11, 1), point(12, 2), point(13, 3)]);
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(
    streams.since('r', 10)!.events.map((e) => e.seq),
    [11, 12, 13],
  );
  const release = streams.pin('r', 11);
  streams.stored('r', 13);
  assert.deepEqual(
    streams.since('r', 11)!.events.map((e) => e.seq),
    [12, 13],
    'pinned: kept although stored',
  );
  release();
  assert.deepEqual(streams.since('r', 0)!.events, [], 'released: dropped');
  assert.equal(streams.since('r', 0)!.sentSeq, 13);
  // Received but not yet sent events are not part of a snapshot: the next frame carries them.
  streams.publish('r', [point(14, 4)]);
  assert.equal(streams.since('r', 0)!.sentSeq, 13);
  assert.equal(streams.since('nope', 0), null);
  streams.closeAll();
});

test('live stream: events from two sources, in any order and twice, go out once each and in order; a hole holds later ones back', async () => {
  const sent: Array<[number, number]> = [];
  const holes: Array<[number, number]> = [];
  const streams = createLiveStreams((_room, _event, ...args) => {
    const m = args[0] as { fromSeq: number; toSeq: number };
    sent.push([m.fromSeq, m.toSeq]);
  }, 1);
  streams.onHole((_runId, from, to) => holes.push([from, to]));
  streams.open('r', 10);
  streams.publish('r', [point(11, 1), point(12, 2)]);
  streams.publish('r', [point(12, 2), point(15, 5), point(16, 6)]); // a relay with a stretch missing
  assert.deepEqual(streams.hole('r'), { from: 13, to: 14 });
  assert.deepEqual(holes, [[13, 14]], 'the hole is reported once');
  assert.equal(streams.publishedSeq('r'), 12, 'nothing past the hole is published');
  streams.publish('r', [point(16, 6)]);
  assert.equal(holes.length, 1, 'a duplicate beyond the hole does not report it again');
  streams.publish('r', [point(13, 3), point(14, 4)]); // filled (from the database, say)
  assert.equal(streams.hole('r'), null);
  assert.equal(streams.publishedSeq('r'), 16);
  await new Promise((r) => setTimeout(r, 20));
  streams.flush('r');
  // Frames chain from the open point to the last seq with no gap and no repeat.
  let last = 10;
  for (const [from, to] of sent) {
    assert.equal(from, last + 1);
    last = to;
  }
  assert.equal(last, 16);
  assert.deepEqual(
    streams.since('r', 10)!.events.map((e) => e.seq),
    [11, 12, 13, 14, 15, 16],
  );
  assert.equal(streams.bound('r'), 10, 'a snapshot reads the database only up to what is stored');
  streams.stored('r', 14);
  assert.equal(streams.bound('r'), 14);
  streams.closeAll();
});

test('seq set: gapless up to the first missing seq, in any order; raised by what is stored elsewhere; dropped from a failed seq', () => {
  const seqs = new SeqSet(3);
  for (const s of [6, 5, 8]) seqs.add(s);
  assert.deepEqual(
    [seqs.gapless, seqs.highest, seqs.has(2), seqs.has(4), seqs.has(5)],
    [3, 8, true, false, true],
  );
  seqs.add(4);
  assert.equal(seqs.gapless, 6, 'the hole filled: up to the next missing seq');
  const copy = seqs.copy();
  seqs.raise(7);
  assert.deepEqual(
    [seqs.gapless, copy.gapless],
    [8, 6],
    'raised past 7 joins 8; the copy is its own',
  );
  seqs.dropFrom(5);
  assert.deepEqual([seqs.gapless, seqs.highest, seqs.has(5)], [4, 4, false]);
});

test('rate limiter: the keys it holds are bounded (stale ones first, then the oldest)', () => {
  let now = 0;
  const limiter = createRateLimiter(2, 1000, () => now, 3);
  for (const k of ['a', 'b', 'c']) limiter.take(k);
  assert.equal(limiter.size(), 3);
  now = 2000;
  limiter.take('d');
  assert.equal(
    limiter.size(),
    1,
    'past the bound, a, b and c (nothing left in their window) were dropped',
  );
  for (const k of ['e', 'f', 'g']) limiter.take(k);
  assert.equal(limiter.size(), 3, 'still past it with every key live: the oldest (d) went');
  limiter.take('e');
  assert.equal(limiter.allows('e'), false, 'a kept key keeps its count');
});

test('rate limiter: a sliding window per key', () => {
  let now = 0;
  const limiter = createRateLimiter(3, 1000, () => now);
  assert.deepEqual(
    [1, 2, 3, 4].map(() => limiter.take('a')),
    [true, true, true, false],
  );
  assert.equal(limiter.take('b'), true, 'keys are independent');
  now = 999;
  assert.equal(limiter.take('a'), false);
  now = 1001;
  assert.equal(limiter.take('a'), true, 'the window slid');
});

test('a storage failure is found in the error Prisma wraps, extended SQLite codes included; other errors are not one', () => {
  const wrapped = (originalCode: string) => ({
    code: 'P2010',
    meta: { driverAdapterError: { cause: { originalCode } } },
  });
  assert.equal(storageFailure(wrapped('SQLITE_FULL')), 'the disk holding the database is full');
  assert.equal(
    storageFailure(wrapped('SQLITE_IOERR_WRITE')),
    'the disk holding the database fails to read or write',
  );
  assert.equal(
    storageFailure(wrapped('SQLITE_READONLY_DBMOVED')),
    'the database is read-only (its file or its file system)',
  );
  assert.equal(storageFailure({ cause: { code: '53100' } }), "the database server's disk is full");
  assert.equal(
    storageFailure(wrapped('SQLITE_CONSTRAINT_PRIMARYKEY')),
    null,
    'a bad row is not an outage',
  );
  assert.equal(storageFailure(new Error('boom')), null);
});
