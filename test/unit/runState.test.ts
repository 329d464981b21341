/**
 * The dashboard's catch-up rules (app/lib/runState.ts): snapshot then live messages in seq
 * order, a gap asks for a re-watch, what was seen is ignored, a re-watch with afterSeq
 * continues the points held without duplicates.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { learningRateText } from '../../app/components/format';
import { createThroughputMeter } from '../../server/trainer/throughput';
import {
  applyAnnotation,
  applyMessage,
  applySnapshot,
  emptyRunView,
  etaSeconds,
  samplesPerSecond,
  TAIL_LIMIT,
} from '../../app/lib/runState';
import type { RunSnapshot, RunSummary, WireAnnotation, WirePoint } from '../../server/protocol';
import {
  bucketize,
  OVERVIEW_MAX_BUCKETS,
  toBucketColumns,
  toPointColumns,
  widthFor,
} from '../../server/columns';

const point = (seq: number, step = seq): WirePoint => ({
  seq,
  step,
  epoch: 1,
  batch: step - 1,
  loss: 1 / step,
  accuracy: 50,
  learningRate: 0.01,
  samplesPerSec: 320,
  time: seq,
});
const run = {
  id: 'r',
  status: 'running',
  totalSteps: 100,
  batchesPerEpoch: 100,
  hyperparams: { batchSize: 32, epochs: 1 },
} as unknown as RunSummary;
/** A snapshot of a short run (every point in the tail); `full` false for a catch-up (afterSeq). */
const snapshot = (points: WirePoint[], lastSeq: number, full = true): RunSnapshot => ({
  run,
  epochs: [],
  annotations: [],
  annotationsTotal: 0,
  presence: [],
  predictions: null,
  lastSeq,
  series: { full, head: null, overview: null, tail: toPointColumns(points), points: points.length },
});
const batch = (fromSeq: number, toSeq: number, points: WirePoint[]) => ({
  event: 'metrics:batch' as const,
  msg: { runId: 'r', fromSeq, toSeq, points: toPointColumns(points) },
});

test('snapshot then live frames chain; a gap asks for a re-watch; seen frames are ignored', () => {
  const s = emptyRunView();
  applySnapshot(s, snapshot([point(1), point(2)], 3), 0);
  assert.equal(s.lastSeq, 3);
  assert.equal(applyMessage(s, batch(4, 5, [point(4), point(5)])), 'ok');
  assert.equal(
    applyMessage(s, batch(4, 5, [point(4), point(5)])),
    'seen',
    'a repeat changes nothing',
  );
  assert.equal(applyMessage(s, batch(8, 9, [point(8), point(9)])), 'gap', 'seqs 6–7 are missing');
  assert.deepEqual(
    s.points.map((p) => p.seq),
    [1, 2, 4, 5],
  );
  // The re-watch with afterSeq = 5 brings 6..9 and the chain continues after it.
  applySnapshot(s, snapshot([point(6), point(7), point(8), point(9)], 9, false), 5);
  assert.deepEqual(
    s.points.map((p) => p.seq),
    [1, 2, 4, 5, 6, 7, 8, 9],
  );
  assert.equal(applyMessage(s, batch(10, 10, [point(10)])), 'ok');
  assert.equal(s.lastSeq, 10);
});

test('a frame overlapping what is held adds only the new points; other stream messages advance the seq', () => {
  const s = emptyRunView();
  applySnapshot(s, snapshot([point(1), point(2), point(3)], 3), 0);
  assert.equal(applyMessage(s, batch(2, 5, [point(2), point(3), point(4), point(5)])), 'ok');
  assert.deepEqual(
    s.points.map((p) => p.seq),
    [1, 2, 3, 4, 5],
  );
  const epoch = {
    seq: 6,
    epoch: 1,
    step: 5,
    trainLoss: 1,
    trainAccuracy: 50,
    testLoss: 1,
    testAccuracy: 50,
    confusion: [],
    samplesPerSec: 1,
    trainMs: 1,
    evalMs: 1000,
    time: 0,
  };
  assert.equal(
    applyMessage(s, { event: 'metrics:epoch', msg: { runId: 'r', fromSeq: 6, toSeq: 6, epoch } }),
    'ok',
  );
  assert.equal(
    applyMessage(s, {
      event: 'run:progress',
      msg: { runId: 'r', fromSeq: 7, toSeq: 8, phase: 'eval-test', epoch: 1, done: 5, total: 10 },
    }),
    'ok',
  );
  assert.deepEqual([s.epochs.length, s.progress?.phase, s.lastSeq], [1, 'eval-test', 8]);
  const v = s.version;
  applySnapshot(s, snapshot([], 8), 0);
  assert.ok(s.version > v);
  assert.deepEqual(s.points, [], 'a fresh watch (afterSeq 0) replaces the points');
});

test('annotations are added once, edited and deleted in place; ETA from recent throughput', () => {
  const s = emptyRunView();
  applySnapshot(s, snapshot([point(1, 1), point(2, 2)], 2), 0);
  const a = {
    id: 1,
    runId: 'r',
    step: 1,
    kind: 'note',
    text: 'x',
    authorId: 'p',
    authorName: 'Ada',
    createdAt: '',
    updatedAt: '',
    edits: 0,
  } satisfies WireAnnotation;
  applyAnnotation(s, { added: a });
  applyAnnotation(s, { added: a });
  assert.equal(s.annotations.length, 1);
  applyAnnotation(s, { edited: { ...a, text: 'y', edits: 1 } });
  assert.equal(s.annotations[0].text, 'y');
  applyAnnotation(s, { deleted: 1 });
  assert.equal(s.annotations.length, 0);
  // 98 steps left × 32 samples at 320 samples/s = 9.8 s.
  assert.ok(Math.abs((etaSeconds(s) as number) - 9.8) < 1e-9);
});

test('the evaluation progress goes once the run trains again or the epoch results arrive', () => {
  const s = emptyRunView();
  applySnapshot(s, snapshot([point(1)], 1), 0);
  applyMessage(s, {
    event: 'run:progress',
    msg: { runId: 'r', fromSeq: 2, toSeq: 2, phase: 'eval-test', epoch: 1, done: 10, total: 10 },
  });
  assert.equal(s.progress?.done, 10);
  applyMessage(s, batch(3, 3, [point(3)]));
  assert.equal(s.progress, null, 'the next epoch trains: "evaluating 100 %" is over');
  applyMessage(s, {
    event: 'run:progress',
    msg: { runId: 'r', fromSeq: 4, toSeq: 4, phase: 'eval-train', epoch: 2, done: 5, total: 10 },
  });
  const epoch = {
    seq: 5,
    epoch: 2,
    step: 3,
    trainLoss: 1,
    trainAccuracy: 50,
    testLoss: 1,
    testAccuracy: 50,
    confusion: [],
    samplesPerSec: 1,
    trainMs: 1,
    evalMs: 1,
    time: 0,
  };
  applyMessage(s, { event: 'metrics:epoch', msg: { runId: 'r', fromSeq: 5, toSeq: 5, epoch } });
  assert.equal(s.progress, null, 'the epoch results are in');
});

test('ETA: evaluation counted before the first epoch end measures it, what is left of one under way, "paused" while paused', () => {
  const big = {
    ...run,
    trainSize: 60_000,
    testSize: 10_000,
    totalSteps: 100,
    hyperparams: { batchSize: 32, epochs: 2 },
  } as unknown as RunSummary;
  const s = emptyRunView();
  applySnapshot(s, { ...snapshot([point(1), point(2)], 2), run: big }, 0);
  // 98 steps × 32 / 320 = 9.8 s of training, and two epoch ends of 70,000 digits at 8 × 320/s.
  const perEval = 70_000 / (320 * 8);
  assert.ok(Math.abs((etaSeconds(s) as number) - (9.8 + 2 * perEval)) < 1e-9);
  // Half-way through epoch 1's test-set evaluation (after its training-set one).
  applyMessage(s, {
    event: 'run:progress',
    msg: { runId: 'r', fromSeq: 3, toSeq: 3, phase: 'eval-test', epoch: 1, done: 5, total: 10 },
  });
  const left = 1 - (6 / 7 + (1 / 7) * 0.5);
  assert.ok(Math.abs((etaSeconds(s) as number) - (9.8 + (1 + left) * perEval)) < 1e-9);
  // Once an epoch end is measured (12 s), that is what the ETA counts.
  const epoch = {
    seq: 4,
    epoch: 1,
    step: 2,
    trainLoss: 1,
    trainAccuracy: 50,
    testLoss: 1,
    testAccuracy: 50,
    confusion: [],
    samplesPerSec: 320,
    trainMs: 200,
    evalMs: 12_000,
    time: 0,
  };
  applyMessage(s, { event: 'metrics:epoch', msg: { runId: 'r', fromSeq: 4, toSeq: 4, epoch } });
  assert.ok(Math.abs((etaSeconds(s) as number) - (9.8 + 12)) < 1e-9);
  s.run = { ...big, status: 'paused' };
  assert.equal(etaSeconds(s), 'paused');
  assert.equal(samplesPerSecond(s), 'paused');
});

test('samples/s: the moving average while training, over all the training once finished', () => {
  const s = emptyRunView();
  applySnapshot(s, snapshot([point(1), { ...point(2), samplesPerSec: 400 }], 2), 0);
  assert.equal(samplesPerSecond(s), 400);
  const e = (epoch: number, sps: number, trainMs: number) => ({
    seq: epoch,
    epoch,
    step: 1,
    trainLoss: 1,
    trainAccuracy: 1,
    testLoss: 1,
    testAccuracy: 1,
    confusion: [],
    samplesPerSec: sps,
    trainMs,
    evalMs: 1,
    time: 0,
  });
  s.epochs = [e(1, 300, 1000), e(2, 600, 3000)];
  s.run = { ...run, status: 'completed' };
  assert.equal(samplesPerSecond(s), (300 * 1000 + 600 * 3000) / 4000);
});

test('the learning rate for people: the current value, and its changes with their steps', () => {
  const hp = { learningRate: 0.01 } as RunSummary['hyperparams'];
  assert.deepEqual(learningRateText({ hyperparams: hp, learningRates: [] }), {
    current: '0.01',
    value: 0.01,
    history: null,
    pending: null,
  });
  assert.deepEqual(
    learningRateText({
      hyperparams: hp,
      learningRates: [
        { step: 1, value: 0.01 },
        { step: 279, value: 0.05 },
      ],
    }),
    { current: '0.05', value: 0.05, history: '0.01 → 0.05 at step 279', pending: null },
  );
  assert.equal(
    learningRateText(
      { hyperparams: hp, learningRates: [{ step: 1, value: 0.01 }] },
      { step: 9, learningRate: 0.02 },
    ).current,
    '0.02',
    'the live value first',
  );
  // Set while paused: the hub has the change from step 279, the last batch (278) ran at 0.01.
  const paused = {
    hyperparams: hp,
    status: 'paused' as const,
    learningRates: [
      { step: 1, value: 0.01 },
      { step: 279, value: 0.05 },
    ],
  };
  assert.deepEqual(learningRateText(paused, { step: 278, learningRate: 0.01 }), {
    current: '0.05',
    value: 0.05,
    history: '0.01 → 0.05 at step 279',
    pending: 'takes effect on resume',
  });
  assert.equal(
    learningRateText({ ...paused, status: 'running' }, { step: 278, learningRate: 0.01 }).pending,
    'from step 279',
  );
  assert.equal(
    learningRateText(paused, { step: 279, learningRate: 0.05 }).pending,
    null,
    'a batch at the new rate: in effect',
  );
  const many = Array.from({ length: 10 }, (_, i) => ({ step: 1 + i * 100, value: 0.01 * (i + 1) }));
  assert.equal(
    learningRateText({ hyperparams: hp, learningRates: many }).history,
    '0.01 → … → 0.06 at step 501 → 0.07 at step 601 → 0.08 at step 701 → 0.09 at step 801 → 0.1 at step 901',
  );
});

test("the trainer's samples/s: an average over its last 5 s of training time, following a change within them", () => {
  const meter = createThroughputMeter(5000);
  // 32 samples per 10 ms (3,200/s) for 20 s, then 32 per 20 ms (1,600/s).
  let rate = 0;
  for (let i = 0; i < 2000; i++) rate = meter.record(32, 10);
  assert.equal(rate, 3200);
  for (let i = 0; i < 125; i++) rate = meter.record(32, 20); // 2.5 s of the slower rate
  assert.ok(rate < 3200 && rate > 1600, `half-way through the window: ${rate}`);
  for (let i = 0; i < 250; i++) rate = meter.record(32, 20); // 5 s more
  assert.equal(rate, 1600, 'the window holds only the new rate');
  // One batch longer than the window is its own average.
  assert.equal(createThroughputMeter(5000).record(64, 8000), 8);
});

test('a long run: the overview and the tail make the whole series; watched for long, the tail stays bounded and the overview is what the hub would send', () => {
  const total = 300_000;
  const all = Array.from({ length: total }, (_, i) => point(i + 1));
  const width = widthFor(200_000);
  // The hub's snapshot at step 200,000: buckets up to the one before the last ~2,048 steps, then raw points.
  const cut = Math.floor((200_000 - 2048) / width) * width;
  const overview = bucketize(
    all.filter((p) => p.step < cut),
    width,
  );
  const tail = all.filter((p) => p.step >= cut && p.step <= 200_000);
  const s = emptyRunView();
  applySnapshot(
    s,
    {
      ...snapshot([], 200_000),
      series: {
        full: true,
        head: null,
        overview: toBucketColumns(overview, width),
        tail: toPointColumns(tail),
        points: 200_000,
      },
    },
    0,
  );
  assert.equal(s.pointCount, 200_000);
  assert.equal(s.overview!.length, overview.length);
  assert.equal(s.points[0].step, cut);
  // 100,000 more points live, 50 a frame.
  for (let from = 200_001; from <= total; from += 50) {
    const frame = all.slice(from - 1, from + 49);
    assert.equal(applyMessage(s, batch(from, from + frame.length - 1, frame)), 'ok');
    assert.ok(s.points.length <= TAIL_LIMIT + 50, 'the raw tail stays bounded');
  }
  assert.equal(s.pointCount, total);
  assert.equal(
    s.overview!.reduce((n, b) => n + b.count, 0) + s.points.length,
    total,
    'every point is in the overview or the tail, once',
  );
  assert.ok(s.overview!.length <= 2 * OVERVIEW_MAX_BUCKETS);
  // Folded on the client or summarised by the hub: the same buckets.
  const hub = bucketize(
    all.filter((p) => p.step < s.points[0].step),
    s.overview![0].width,
  );
  assert.equal(s.overview!.length, hub.length);
  for (const [i, b] of hub.entries()) {
    const c = s.overview![i];
    assert.deepEqual(
      [
        c.index,
        c.count,
        c.firstStep,
        c.lastStep,
        c.series.loss.min,
        c.series.loss.max,
        c.series.loss.first,
        c.series.loss.last,
      ],
      [
        b.index,
        b.count,
        b.firstStep,
        b.lastStep,
        b.series.loss.min,
        b.series.loss.max,
        b.series.loss.first,
        b.series.loss.last,
      ],
      `bucket ${b.index}`,
    );
    assert.ok(
      Math.abs(
        c.series.loss.sum / c.series.loss.finite - b.series.loss.sum / b.series.loss.finite,
      ) < 1e-12,
    );
  }
});
