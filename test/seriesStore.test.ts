/**
 * The series store (server/columns, server/hub/storage/series.ts): buckets kept at ingest
 * equal the buckets computed from the raw points at every width, on SQLite and PostgreSQL,
 * whatever order the points were stored in (a hole filled later) and however often a write is
 * repeated; a run stored before buckets existed gets them on first open; range answers are the
 * raw points when few, else the finest buckets that fit. Then a real hub: a long run's
 * snapshot is an overview plus a raw tail, bounded, covering every point once; live frames and
 * range answers come as binary columns; the HTTP route answers the same in JSON; a restart
 * serves the same snapshot without rebuilding.
 */
import assert from 'node:assert/strict';
import { after, test, type TestContext } from 'node:test';
import {
  BUCKET_WIDTHS,
  bucketize,
  columnBytes,
  fromBucketColumns,
  fromPointColumns,
  HEAD_STEPS,
  seriesIn,
  OVERVIEW_MAX_BUCKETS,
  TAIL_POINTS,
  type Bucket,
} from '../server/columns';
import { openDatabase, type LivetrainDatabase } from '../server/db/client';
import { createStorage } from '../server/hub/storage/storage';
import { PROTOCOL_VERSION, type SeriesRange, type WirePoint } from '../server/protocol';
import { hyperparamsSchema } from '../server/trainer/config';
import type { TrainerEvent } from '../server/trainer/events';
import { postgresDatabases, tempSqlite } from './helpers/db';
import {
  connectBrowser,
  eventually,
  framePoints,
  handshakeOutcome,
  runOnFakeTrainer,
  startHub,
} from './helpers/hub';

const pgdb = postgresDatabases();
after(() => pgdb.dropAll());

/** A loss curve with a planted spike at step 12,345 and a diverged stretch (null) at 15,000–15,009. */
function makePoints(n: number): WirePoint[] {
  return Array.from({ length: n }, (_, i) => {
    const step = i + 1;
    const diverged = step >= 15_000 && step < 15_010;
    return {
      seq: step,
      step,
      epoch: Math.ceil(step / 1875),
      batch: (step - 1) % 1875,
      loss: diverged
        ? null
        : step === 12_345
          ? 50
          : 2.3 / Math.sqrt(step) + ((step * 7919) % 101) / 1000,
      accuracy: diverged ? null : 50 + ((step * 31) % 50),
      learningRate: step < 10_000 ? 0.01 : 0.005,
      samplesPerSec: 2000 + (step % 97),
      time: 1_700_000_000_000 + step * 12,
    };
  });
}
const eventOf = (runId: string, p: WirePoint): TrainerEvent => {
  const { seq, ...point } = p;
  return { runId, seq, type: 'metrics:batch', point };
};

/** What a bucket holds, for comparing stored buckets (sums rounded: points folded in another order add up in another order). */
const summary = (b: Bucket) => ({
  ...b,
  series: Object.fromEntries(
    Object.entries(b.series).map(([k, v]) => [k, { ...v, sum: Number(v.sum.toPrecision(12)) }]),
  ),
});
/** What the wire carries of a bucket (no seqs; the mean instead of sum and count), rounded. */
const onWire = (b: Bucket) => ({
  index: b.index,
  count: b.count,
  firstStep: b.firstStep,
  lastStep: b.lastStep,
  firstTime: b.firstTime,
  lastTime: b.lastTime,
  loss: [
    b.series.loss.min,
    b.series.loss.max,
    b.series.loss.minStep,
    b.series.loss.maxStep,
    b.series.loss.first,
    b.series.loss.last,
    b.series.loss.gapStep,
    b.series.loss.finite ? (b.series.loss.sum / b.series.loss.finite).toPrecision(12) : null,
  ],
});

async function storeInOrder(
  db: LivetrainDatabase,
  runId: string,
  points: WirePoint[],
  order: Array<[number, number]>,
): Promise<void> {
  const storage = createStorage(db.prisma, db.provider);
  for (const [from, to] of order) {
    const events = points.slice(from, to).map((p) => eventOf(runId, p));
    await storage.events.write(
      [{ runId, events, patch: {}, receivedAt: Date.now() }],
      new Map([[runId, 0]]),
    );
  }
}

async function checkStore(t: TestContext, url: string): Promise<void> {
  const db = await openDatabase({ url });
  t.after(() => db.close());
  const runId = 'series-run';
  await db.prisma.run.create({
    data: {
      id: runId,
      name: 'long',
      hyperparams: hyperparamsSchema.parse({}),
      status: 'running',
      createdBy: 'test',
    },
  });
  const points = makePoints(20_000);
  // Stored in pieces, one out of order (a hole filled later), one piece written twice, and a
  // resend overlapping rows already stored: each point is summarised once.
  await storeInOrder(db, runId, points, [
    [0, 5000],
    [7000, 12_000],
    [5000, 7000],
    [7000, 9000],
    [12_000, 20_000],
    [12_000, 20_000],
  ]);
  const storage = createStorage(db.prisma, db.provider);
  for (const w of BUCKET_WIDTHS) {
    const stored = await storage.series.buckets(runId, w, 0, 1e9);
    const expected = bucketize(points, w);
    assert.equal(stored.length, expected.length, `width ${w}: bucket count`);
    assert.deepEqual(
      stored.map(summary),
      expected.map(summary),
      `width ${w}: stored buckets equal the ones the raw points make`,
    );
  }
  const fine = await storage.series.buckets(runId, 64, 192, 192);
  assert.equal(fine[0].series.loss.max, 50, "the spike is its bucket's max");
  assert.equal(fine[0].series.loss.maxStep, 12_345, 'at its step');
  const gap = await storage.series.buckets(runId, 64, 234, 234);
  assert.equal(
    gap[0].series.loss.gapStep,
    15_000,
    'the diverged stretch is a gap from its first step',
  );

  // Range answers: raw when few enough, else the finest buckets at most 4 per column.
  const raw = await storage.series.range(runId, 1000, 1999, 1000, 20_000);
  assert.equal(raw.kind, 'raw');
  assert.deepEqual(
    raw.kind === 'raw' && raw.points,
    points.slice(999, 1999),
    'a 1,000-step window: its raw points',
  );
  const wide = await storage.series.range(runId, 0, 19_999, 500, 20_000);
  assert.ok(wide.kind === 'buckets');
  assert.equal(wide.width, 64, '20,000 steps at 500 columns: 313 buckets of 64 (≤ 4 per column)');
  assert.deepEqual(wide.buckets.map(summary), bucketize(points, 64).map(summary));
  const narrow = await storage.series.range(runId, 0, 19_999, 20, 20_000);
  assert.ok(
    narrow.kind === 'buckets' && narrow.width === 256,
    `20 columns: buckets of 256 (${narrow.kind === 'buckets' ? narrow.width : narrow.kind})`,
  );

  // A run stored before the series store: its buckets are made on first open, the same.
  await db.prisma.$executeRawUnsafe(`DELETE FROM "SeriesBucket" WHERE "runId" = '${runId}'`);
  const fresh = createStorage(db.prisma, db.provider);
  await fresh.series.ensure(runId);
  for (const w of BUCKET_WIDTHS)
    assert.deepEqual(
      (await fresh.series.buckets(runId, w, 0, 1e9)).map(summary),
      bucketize(points, w).map(summary),
      `width ${w}: rebuilt`,
    );
}

test("the series store on SQLite: buckets at every width equal the raw points' (out of order, repeated writes, rebuilt)", async (t) => {
  const file = await tempSqlite();
  t.after(() => file.cleanup());
  await checkStore(t, file.url);
});

test('the series store on PostgreSQL: the same', async (t) => {
  const url = await pgdb.create(t);
  if (!url) return;
  await checkStore(t, url);
});

test('a long run through a real hub: a bounded snapshot of overview + tail with every point once, columns in frames and ranges, the same after a restart', async (t) => {
  const file = await tempSqlite();
  t.after(() => file.cleanup());
  const { hub, ada, trainer, runId } = await runOnFakeTrainer(t, 'long-trainer', {
    databaseUrl: file.url,
  });
  const points = makePoints(30_000);
  for (let i = 0; i < points.length; i += 5000) {
    const r = await trainer.timeout(60_000).emitWithAck('trainer:events', {
      runId,
      events: points.slice(i, i + 5000).map((p) => eventOf(runId, p)),
    });
    assert.ok(r.ok, JSON.stringify(r));
  }
  const watched = await ada.call('run:watch', { runId });
  assert.ok(watched.ok, JSON.stringify(watched));
  const snap = watched.data;
  assert.ok(snap.series.full && snap.series.overview, 'a long run: an overview of buckets');
  const overview = fromBucketColumns(snap.series.overview);
  const head = fromPointColumns(snap.series.head!);
  const tail = fromPointColumns(snap.series.tail);
  assert.ok(overview.length <= OVERVIEW_MAX_BUCKETS);
  assert.ok(
    tail.length >= TAIL_POINTS && tail.length <= TAIL_POINTS + overview[0].width,
    `the tail: ${tail.length} points`,
  );
  assert.deepEqual(
    head,
    points.filter((p) => p.step < HEAD_STEPS),
    'the head: the first 1,024 steps raw (1,023 points: steps start at 1)',
  );
  assert.equal(
    head.length + overview.reduce((n, b) => n + b.count, 0) + tail.length,
    30_000,
    'head, overview and tail hold every point',
  );
  assert.equal(snap.series.points, 30_000);
  assert.equal(
    overview[0].firstStep,
    head.at(-1)!.step + 1,
    'the overview starts right after the head',
  );
  assert.equal(
    tail[0].step,
    overview.at(-1)!.lastStep + 1,
    'the tail starts right after the overview',
  );
  assert.deepEqual(tail, points.slice(tail[0].seq - 1), 'the tail is the raw points');
  const expected = bucketize(
    points.filter((p) => p.step >= HEAD_STEPS && p.step < tail[0].step),
    overview[0].width,
  );
  assert.deepEqual(
    overview.map(onWire),
    expected.map(onWire),
    'the overview: the buckets the raw points make',
  );
  const bytes = columnBytes(snap.series);
  assert.ok(bytes < 1_000_000, `snapshot series: ${bytes} bytes`);

  // Live frames: binary columns, chained after the snapshot.
  const more = makePoints(30_100).slice(30_000);
  assert.ok(
    (
      await trainer
        .timeout(30_000)
        .emitWithAck('trainer:events', { runId, events: more.map((p) => eventOf(runId, p)) })
    ).ok,
  );
  const frame = await ada.waitFor('metrics:batch', (p) => p.runId === runId);
  // Live frames carry the columns' bytes as base64 text (one pre-encoded frame per room); the snapshot as binary.
  assert.equal(typeof frame.points.data, 'string', 'a live frame: columns in base64');
  assert.ok(
    Buffer.isBuffer(snap.series.tail.data) || snap.series.tail.data instanceof ArrayBuffer,
    'the snapshot: a binary attachment',
  );
  assert.equal(frame.fromSeq, snap.lastSeq + 1);
  await eventually(
    () =>
      ada.received.filter((r) => r.event === 'metrics:batch').flatMap((r) => framePoints(r.payload))
        .length === 100,
    'the 100 live points arrive',
  );

  // A range: raw points over the socket, the same in JSON over HTTP.
  const range = (await ada.call('run:series', {
    runId,
    series: 'loss',
    fromStep: 12_000,
    toStep: 12_999,
    columns: 800,
  })) as { ok: true; data: SeriesRange };
  assert.ok(range.ok && range.data.kind === 'raw');
  const rawRange = fromPointColumns(
    range.data.kind === 'raw' ? range.data.points : (null as never),
  );
  assert.deepEqual(rawRange, points.slice(11_999, 12_999));
  const http = await (
    await fetch(`${hub.url}/api/runs/${runId}/series?series=loss&from=12000&to=12999&columns=800`)
  ).json();
  assert.deepEqual(http.data.points, rawRange, 'HTTP answers the same points in JSON');
  const wide = (await ada.call('run:series', {
    runId,
    series: 'loss',
    fromStep: 0,
    toStep: 30_099,
    columns: 100,
  })) as { ok: true; data: SeriesRange };
  assert.ok(wide.ok && wide.data.kind === 'buckets');
  const buckets = fromBucketColumns(
    wide.data.kind === 'buckets' ? wide.data.buckets : (null as never),
  );
  assert.equal(buckets[0].width, 256, '30,100 steps at 100 columns: 118 buckets of 256');
  assert.equal(
    Math.max(...buckets.map((b) => b.series.loss.max)),
    50,
    'the spike survives at its full height',
  );
  assert.deepEqual(
    seriesIn(wide.data.kind === 'buckets' ? wide.data.buckets : (null as never)),
    ['loss'],
    'only the series asked for',
  );
  const httpWide = await (
    await fetch(`${hub.url}/api/runs/${runId}/series?series=loss&from=0&to=30099&columns=100`)
  ).json();
  assert.equal(httpWide.data.kind, 'buckets');
  assert.deepEqual(
    httpWide.data.buckets.map((b: { max: number | null }) => b.max),
    buckets.map((b) => b.series.loss.max),
  );
  // The runs list's sparkline of a long run comes from the buckets (a hundred rows, not 30,000
  // points): the mean loss in 40 stretches, falling, with the spike's stretch above its neighbours.
  const spark = (
    await (await fetch(`${hub.url}/api/runs/sparklines?ids=${runId}&points=40`)).json()
  ).data.sparklines[runId] as number[];
  assert.equal(spark.length, 40);
  const rawMean = (k: number) => {
    const inStretch = [...points, ...more].filter(
      (p) => Math.floor(((p.step - 1) * 40) / 30_100) === k && p.loss !== null,
    );
    return inStretch.reduce((a, p) => a + p.loss!, 0) / inStretch.length;
  };
  for (const k of [0, 10, 39])
    assert.ok(
      Math.abs(spark[k] - rawMean(k)) / rawMean(k) < 0.1,
      `stretch ${k}: ${spark[k]} against ${rawMean(k)} from the raw points`,
    );
  const spikeStretch = Math.floor(((12_345 - 1) * 40) / 30_100);
  assert.ok(
    spark[spikeStretch] > spark[spikeStretch - 1] && spark[spikeStretch] > spark[spikeStretch + 1],
    'the spike lifts its stretch',
  );
  // Bad ranges are refused in words; so is an old client.
  const bad = await fetch(`${hub.url}/api/runs/${runId}/series?series=los&from=10&to=5&columns=0`);
  assert.equal(bad.status, 400);
  assert.equal(
    await handshakeOutcome(hub.url, '/', { protocolVersion: PROTOCOL_VERSION - 1 }),
    'UNSUPPORTED_VERSION',
  );

  // Another hub on the same database (as after a restart) serves the same snapshot from the
  // stored buckets: nothing is rebuilt, nothing differs.
  const rows = await hub.db.prisma.$queryRawUnsafe<Array<{ n: number | bigint }>>(
    'SELECT COUNT(*) AS n FROM "SeriesBucket"',
  );
  const again = await ada.call('run:watch', { runId });
  assert.ok(again.ok);
  const hub2 = await startHub({ databaseUrl: file.url });
  const bob = await connectBrowser(hub2.url, 'Bob');
  t.after(async () => {
    bob.close();
    await hub2.close();
  });
  const there = await bob.call('run:watch', { runId });
  assert.ok(there.ok, JSON.stringify(there));
  // (Each hub splits overview and tail where the run stood when it read it.)
  const all = [...points, ...more];
  for (const s of [again.data, there.data]) {
    const o = fromBucketColumns(s.series.overview!);
    const tl = fromPointColumns(s.series.tail);
    assert.deepEqual(
      fromPointColumns(s.series.head!),
      all.filter((p) => p.step < HEAD_STEPS),
    );
    assert.deepEqual(tl, all.slice(tl[0].seq - 1), 'the tail: the raw points after the overview');
    assert.deepEqual(
      o.map(onWire),
      bucketize(
        all.filter((p) => p.step >= HEAD_STEPS && p.step < tl[0].step),
        o[0].width,
      ).map(onWire),
      'the overview: every point between head and tail',
    );
  }
  const rowsAfter = await hub.db.prisma.$queryRawUnsafe<Array<{ n: number | bigint }>>(
    'SELECT COUNT(*) AS n FROM "SeriesBucket"',
  );
  assert.equal(Number(rowsAfter[0].n), Number(rows[0].n), 'no bucket written by opening');
});
