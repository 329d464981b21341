/**
 * The series store: each run's batch series summarised in buckets at every width of
 * server/columns/buckets.ts, in the `SeriesBucket` table. The event write folds a batch's points in
 * ({@link SeriesQueries.plan}) with statements that run in the same transaction as the points,
 * so the buckets never disagree with the stored points and a restart rebuilds nothing. A run
 * stored before the table existed gets its buckets on first open ({@link SeriesQueries.ensure}).
 *
 * Reads: a run's overview (the finest width with at most a few thousand buckets), a step range
 * at a given number of pixel columns (raw points when few enough, else the finest width that
 * fits), and raw points by seq (the snapshot's tail).
 */
import {
  inBatch,
  placeholder,
  type Column,
  type MissingColumns,
  type RawStatement,
} from '../../db/bulk';
import type { Db } from '../../db/client';
import {
  BUCKET_WIDTHS,
  RANGE_MAX_POINTS,
  SERIES,
  bucketOf,
  bucketize,
  cloneBucket,
  foldPoint,
  mergeBuckets,
  type Bucket,
  type SeriesName,
  type SeriesStats,
} from '../../columns';
import type { WirePoint } from '../../protocol';
import { toWirePoint } from './toWire';

const STAT_SUFFIXES = [
  'Min',
  'Max',
  'MinStep',
  'MaxStep',
  'First',
  'Last',
  'Sum',
  'Finite',
  'GapStep',
] as const;
const SHARED_COLUMNS = [
  'runId',
  'width',
  'bucket',
  'count',
  'firstStep',
  'lastStep',
  'firstSeq',
  'lastSeq',
  'firstTime',
  'lastTime',
] as const;
type StatColumn = `${SeriesName}${(typeof STAT_SUFFIXES)[number]}`;
const COLUMNS: readonly Column<'SeriesBucket'>[] = [
  ...SHARED_COLUMNS,
  ...SERIES.flatMap((s) => STAT_SUFFIXES.map((k): StatColumn => `${s}${k}`)),
];
/** Compiles only while the columns above name every field of SeriesBucket (the names missing otherwise). */
type EveryBucketColumn = [
  MissingColumns<'SeriesBucket', (typeof SHARED_COLUMNS)[number] | StatColumn>,
] extends [never]
  ? true
  : MissingColumns<'SeriesBucket', (typeof SHARED_COLUMNS)[number] | StatColumn>;
const everyBucketColumn: EveryBucketColumn = true;
void everyBucketColumn;
const KEY: readonly string[] = ['runId', 'width', 'bucket'];
/** Rows per statement: a bucket row has 46 columns; both databases bind well over 30,000 values. */
const ROWS_PER_STATEMENT = Math.floor(30_000 / COLUMNS.length);

type Row = Record<string, number | string | null>;

/** A double as text the database reads back exactly (Prisma's raw path rounds numbers); null for none. */
const exact = (x: number) => (Number.isFinite(x) ? String(x) : null);

function toRow(runId: string, b: Bucket): unknown[] {
  const out: unknown[] = [
    runId,
    b.width,
    b.index,
    b.count,
    b.firstStep,
    b.lastStep,
    b.firstSeq,
    b.lastSeq,
    exact(b.firstTime),
    exact(b.lastTime),
  ];
  for (const name of SERIES) {
    const s = b.series[name];
    out.push(
      exact(s.min),
      exact(s.max),
      s.minStep,
      s.maxStep,
      exact(s.first),
      exact(s.last),
      exact(s.sum) ?? '0',
      s.finite,
      s.gapStep,
    );
  }
  return out;
}

const num = (v: unknown) => (v === null || v === undefined ? NaN : Number(v));

function fromRow(r: Row): Bucket {
  const series = {} as Record<SeriesName, SeriesStats>;
  for (const name of SERIES) {
    series[name] = {
      min: num(r[`${name}Min`]),
      max: num(r[`${name}Max`]),
      minStep: Number(r[`${name}MinStep`]),
      maxStep: Number(r[`${name}MaxStep`]),
      first: num(r[`${name}First`]),
      last: num(r[`${name}Last`]),
      sum: Number(r[`${name}Sum`]),
      finite: Number(r[`${name}Finite`]),
      gapStep: Number(r[`${name}GapStep`]),
    };
  }
  return {
    width: Number(r.width),
    index: Number(r.bucket),
    count: Number(r.count),
    firstStep: Number(r.firstStep),
    lastStep: Number(r.lastStep),
    firstSeq: Number(r.firstSeq),
    lastSeq: Number(r.lastSeq),
    firstTime: Number(r.firstTime),
    lastTime: Number(r.lastTime),
    series,
  };
}

/** Upserts (or, `replace: false`, inserts where absent) bucket rows, as statements for the caller's transaction. */
function writeRows(
  provider: 'sqlite' | 'postgresql',
  runId: string,
  buckets: readonly Bucket[],
  replace: boolean,
): RawStatement[] {
  const ops: RawStatement[] = [];
  const head = `INSERT INTO "SeriesBucket" (${COLUMNS.map((c) => `"${c}"`).join(', ')}) VALUES `;
  const update = COLUMNS.filter((c) => !KEY.includes(c))
    .map((c) => `"${c}" = excluded."${c}"`)
    .join(', ');
  const tail = replace
    ? ` ON CONFLICT ("runId", "width", "bucket") DO UPDATE SET ${update}`
    : ' ON CONFLICT DO NOTHING';
  // PostgreSQL types an untyped text parameter by its column; a double column takes '0.1'.
  const cast = (c: string, n: number) =>
    placeholder(provider, n) +
    (provider === 'postgresql' && /Min$|Max$|First$|Last$|Sum$|Time$/.test(c)
      ? '::double precision'
      : '');
  for (let start = 0; start < buckets.length; start += ROWS_PER_STATEMENT) {
    const chunk = buckets.slice(start, start + ROWS_PER_STATEMENT);
    let n = 0;
    const values = chunk.map(() => `(${COLUMNS.map((c) => cast(c, ++n)).join(', ')})`).join(', ');
    ops.push({ sql: head + values + tail, values: chunk.flatMap((b) => toRow(runId, b)) });
  }
  return ops;
}

/** Buckets of the most recently written runs kept in memory: the newest bucket at each width. */
const CACHED_RUNS = 512;

/** A range of one series as the chart will draw it: raw points, or buckets of one width. */
export type SeriesRange =
  { kind: 'raw'; points: WirePoint[] } | { kind: 'buckets'; width: number; buckets: Bucket[] };

export function createSeriesQueries(db: Db, provider: 'sqlite' | 'postgresql') {
  /** runId → width → the newest stored bucket of that width. */
  const newest = new Map<string, Map<number, Bucket>>();
  /** Runs known to have their buckets (stored with their points, or rebuilt). */
  const ready = new Set<string>();
  const rebuilding = new Map<string, Promise<void>>();
  const p = (n: number) => placeholder(provider, n);

  function remember(runId: string, buckets: Iterable<Bucket>): void {
    const byWidth = newest.get(runId) ?? new Map<number, Bucket>();
    newest.delete(runId);
    for (const b of buckets) {
      const known = byWidth.get(b.width);
      if (!known || b.index >= known.index) byWidth.set(b.width, b);
    }
    newest.set(runId, byWidth);
    if (newest.size > CACHED_RUNS) newest.delete(newest.keys().next().value!);
  }

  async function read(runId: string, where: string, ...params: unknown[]): Promise<Bucket[]> {
    const sql = `SELECT * FROM "SeriesBucket" WHERE "runId" = ${p(1)} AND ${where.replace(/\$(\d+)/g, (_, d: string) => p(Number(d) + 1))} ORDER BY "width", "bucket"`;
    return (await db.$queryRawUnsafe<Row[]>(sql, runId, ...params)).map(fromRow);
  }

  /** Every stored point of a run, in seq order, read in pages (a rebuild). */
  async function* allPoints(runId: string): AsyncGenerator<WirePoint[]> {
    let after = 0;
    for (;;) {
      const rows = await db.batchMetric.findMany({
        where: { runId, seq: { gt: after } },
        orderBy: { seq: 'asc' },
        take: 50_000,
      });
      if (rows.length === 0) return;
      yield rows.map(toWirePoint);
      after = rows[rows.length - 1].seq;
    }
  }

  async function rebuild(runId: string): Promise<void> {
    const has = await db.$queryRawUnsafe<Row[]>(
      `SELECT "width" FROM "SeriesBucket" WHERE "runId" = ${p(1)} LIMIT 1`,
      runId,
    );
    if (has.length === 0) {
      const open = new Map<number, Map<number, Bucket>>(BUCKET_WIDTHS.map((w) => [w, new Map()]));
      for await (const page of allPoints(runId)) {
        for (const w of BUCKET_WIDTHS) {
          const at = open.get(w)!;
          for (const b of bucketize(page, w)) {
            const known = at.get(b.index);
            at.set(b.index, known ? mergeBuckets(known, b) : b);
          }
        }
      }
      const all = [...open.values()].flatMap((m) => [...m.values()]);
      // Another hub may be rebuilding the same run: the same rows, so the first ones stay.
      await inBatch(db, writeRows(provider, runId, all, false));
    }
    ready.add(runId);
  }

  return {
    /**
     * Makes sure the run's buckets exist (a run stored before them gets them now, from its
     * points); concurrent callers share one rebuild.
     */
    async ensure(runId: string): Promise<void> {
      if (ready.has(runId)) return;
      let pending = rebuilding.get(runId);
      if (!pending) {
        pending = rebuild(runId).finally(() => rebuilding.delete(runId));
        rebuilding.set(runId, pending);
      }
      await pending;
    },

    /**
     * The statements that fold `points` (one run's, in seq order, following what is stored)
     * into its buckets, for the caller's transaction, and `commit` to call once it committed
     * (the in-memory newest buckets move on only then: a failed write leaves them as stored).
     */
    async plan(
      runId: string,
      given: readonly WirePoint[],
    ): Promise<{ ops: RawStatement[]; commit: () => void }> {
      if (given.length === 0) return { ops: [], commit: () => {} };
      await this.ensure(runId);
      // Fold each point once: a resend may repeat points stored above a hole (their rows are
      // skipped by the insert), and the hub writes one transaction at a time, so what is
      // stored now is what this write will not insert.
      let lo = Infinity;
      let hi = -Infinity;
      for (const p of given) [lo, hi] = [Math.min(lo, p.seq), Math.max(hi, p.seq)];
      const stored = await db.batchMetric.findMany({
        where: { runId, seq: { gte: lo, lte: hi } },
        select: { seq: true },
      });
      const have = new Set(stored.map((r) => r.seq));
      // (A point queued twice before one write is folded once too.)
      const points = given.filter((p) => !have.has(p.seq) && (have.add(p.seq), true));
      if (points.length === 0) return { ops: [], commit: () => {} };
      // Each touched bucket: the one held in memory, none yet (past the newest this hub wrote),
      // or unknown (after a restart, or a step that went back): those are read.
      const touched = new Map<string, Bucket | null | 'unknown'>();
      const key = (w: number, i: number) => `${w}:${i}`;
      const cached = newest.get(runId);
      for (const w of BUCKET_WIDTHS) {
        const c = cached?.get(w);
        for (const p of points) {
          const index = Math.floor(p.step / w);
          const k = key(w, index);
          if (!touched.has(k))
            touched.set(
              k,
              !c ? 'unknown' : c.index === index ? c : index > c.index ? null : 'unknown',
            );
        }
      }
      const missing = [...touched]
        .filter(([, b]) => b === 'unknown')
        .map(([k]) => {
          touched.set(k, null);
          return k.split(':').map(Number);
        });
      if (missing.length) {
        const byWidth = new Map<number, number[]>();
        for (const [w, i] of missing) byWidth.set(w, [...(byWidth.get(w) ?? []), i]);
        const clauses = [...byWidth]
          .map(
            ([w, ids]) =>
              `("width" = ${Number(w)} AND "bucket" IN (${ids.map(Number).join(', ')}))`,
          )
          .join(' OR ');
        for (const b of await read(runId, `(${clauses})`)) touched.set(key(b.width, b.index), b);
      }
      // Fold into copies: the held buckets stay as stored until the transaction commits.
      const copies = new Set<Bucket>();
      for (const w of BUCKET_WIDTHS) {
        for (const p of points) {
          const k = key(w, Math.floor(p.step / w));
          const b = touched.get(k);
          if (!b || b === 'unknown') {
            const fresh = bucketOf(w, p);
            copies.add(fresh);
            touched.set(k, fresh);
          } else if (copies.has(b)) foldPoint(b, p);
          else {
            const copy = cloneBucket(b);
            foldPoint(copy, p);
            copies.add(copy);
            touched.set(k, copy);
          }
        }
      }
      const changed = [...touched.values()].filter(
        (b): b is Bucket => b !== null && b !== 'unknown',
      );
      return {
        ops: writeRows(provider, runId, changed, true),
        commit: () => remember(runId, changed),
      };
    },

    /** Buckets of `width` with index in [from, to], in order. */
    buckets: (runId: string, width: number, from: number, to: number) =>
      read(runId, `"width" = $1 AND "bucket" >= $2 AND "bucket" <= $3`, width, from, to),

    /** Points with seq in (afterSeq, upTo], in seq order. */
    async pointsBetween(runId: string, afterSeq: number, upTo: number): Promise<WirePoint[]> {
      const rows = await db.batchMetric.findMany({
        where: { runId, seq: { gt: afterSeq, lte: upTo } },
        orderBy: { seq: 'asc' },
      });
      return rows.map(toWirePoint);
    },

    /**
     * Steps [fromStep, toStep] drawn `columns` pixel columns wide: the raw points when there
     * are at most max(4 · columns, 1,000) of them (capped at {@link RANGE_MAX_POINTS}), else
     * the buckets of the finest width that gives at most 4 per column. Raw points are found
     * through the finest buckets' seqs, so the read uses the (runId, seq) key, not a scan.
     */
    async range(
      runId: string,
      fromStep: number,
      toStep: number,
      columns: number,
      upToSeq: number,
    ): Promise<SeriesRange> {
      await this.ensure(runId);
      const span = toStep - fromStep + 1;
      const width =
        BUCKET_WIDTHS.find((w) => Math.ceil(span / w) <= 4 * columns) ??
        BUCKET_WIDTHS[BUCKET_WIDTHS.length - 1];
      const rawLimit = Math.min(RANGE_MAX_POINTS, Math.max(4 * columns, 1000));
      const at = (w: number) =>
        read(
          runId,
          `"width" = $1 AND "bucket" >= $2 AND "bucket" <= $3`,
          w,
          Math.floor(fromStep / w),
          Math.floor(toStep / w),
        );
      const count = (buckets: Bucket[]) => buckets.reduce((n, b) => n + b.count, 0);
      // The answer's own buckets first: those wholly inside the range hold more points than a
      // raw answer may (the usual wide range), which settles it without reading the finest
      // buckets of the whole range. Otherwise the points are counted at the finest width.
      const coarse = await at(width);
      const edges = new Set([Math.floor(fromStep / width), Math.floor(toStep / width)]);
      if (count(coarse.filter((b) => !edges.has(b.index))) > rawLimit)
        return { kind: 'buckets', width, buckets: coarse };
      const finest = width === BUCKET_WIDTHS[0] ? coarse : await at(BUCKET_WIDTHS[0]);
      if (count(finest) > rawLimit) return { kind: 'buckets', width, buckets: coarse };
      if (finest.length === 0) return { kind: 'raw', points: [] };
      const firstSeq = Math.min(...finest.map((b) => b.firstSeq));
      const lastSeq = Math.min(upToSeq, Math.max(...finest.map((b) => b.lastSeq)));
      // Raw SQL, not findMany: Prisma's result mapping is most of a range read's time, and the
      // compare page asks for ten runs at once (docs/benchmarks.md). The rows are the wire points: every column a
      // JS number (or null) on both drivers (test/seriesStore compares them with deepEqual).
      const points = await db.$queryRawUnsafe<WirePoint[]>(
        `SELECT "seq", "step", "epoch", "batch", "loss", "accuracy", "learningRate", "samplesPerSec", "time" FROM "BatchMetric" ` +
          `WHERE "runId" = ${p(1)} AND "seq" >= ${p(2)} AND "seq" <= ${p(3)} AND "step" >= ${p(4)} AND "step" <= ${p(5)} ORDER BY "seq"`,
        runId,
        firstSeq,
        lastSeq,
        fromStep,
        toStep,
      );
      return { kind: 'raw', points };
    },
  };
}
export type SeriesQueries = ReturnType<typeof createSeriesQueries>;
