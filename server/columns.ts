/**
 * A run's batch series at several resolutions, and numbers as columns on the wire.
 *
 * **Buckets.** For each batch series ({@link SERIES}) the hub keeps summaries of fixed step
 * ranges: bucket `i` at width `w` covers steps `[i·w, (i+1)·w)`, at each width of
 * {@link BUCKET_WIDTHS} (each 4 × the one before, so 4 buckets of one width make exactly one
 * of the next). A bucket keeps, per series, its first and last value, its min and max with the
 * steps where they occur (the earliest, on a tie), the sum and count of its finite values (the
 * mean) and the step of its first non-finite value (a diverged batch: the line breaks there).
 * That is M4 (Jugel et al., VLDB 2014): drawn per pixel column, the first, last, min and max
 * points of the buckets in a column are the ones the raw points would give, so a chart whose
 * columns hold whole buckets draws exactly what the raw series draws (test/seriesStore and the
 * Chromium pixel test check it); spikes keep their height and their step at every width.
 *
 * **Columns.** Snapshots, range answers and live frames carry numbers as typed arrays, which
 * Socket.IO sends as binary attachments (little-endian, as every platform Node and browsers
 * run on): {@link PointColumns} for raw points, {@link BucketColumns} for buckets. A receiver
 * gets them back as ArrayBuffers (browsers) or Buffers (Node); {@link readColumn} turns either
 * into the typed array. A value that was null (not finite) is NaN; a missing step is -1.
 *
 * Pure: no I/O. The hub aggregates with it at ingest; the dashboard folds live points into its
 * overview with the same functions.
 */
import type { WirePoint } from './protocol';

/** The batch series a run records, per point. */
export const SERIES = ['loss', 'accuracy', 'learningRate', 'samplesPerSec'] as const;
export type SeriesName = (typeof SERIES)[number];

/** Bucket widths in steps, finest first; each is 4 × the one before. */
export const BUCKET_WIDTHS = [64, 256, 1024, 4096, 16384, 65536] as const;
/** How many buckets of one width make one of the next. */
export const BUCKET_FACTOR = 4;
/** The most buckets an overview holds (the finest width that fits is chosen). */
export const OVERVIEW_MAX_BUCKETS = 2048;
/** Raw points a snapshot's tail holds at least (up to one overview bucket more). */
export const TAIL_POINTS = 2048;
/** The most raw points a range answer holds: more than this per request is answered in buckets. */
export const RANGE_MAX_POINTS = 8192;
/** The most pixel columns a range request may ask for. */
export const RANGE_MAX_COLUMNS = 8192;

/** One series in one bucket. Values that were null are NaN; steps that are none are -1. */
export interface SeriesStats {
  min: number;
  max: number;
  minStep: number;
  maxStep: number;
  first: number;
  last: number;
  /** Sum and count of the finite values (their mean is sum / finite). */
  sum: number;
  finite: number;
  /** Step of the first non-finite value, or -1. */
  gapStep: number;
}

/** A bucket: `width` steps from `index · width`, the points it holds and each series' summary. */
export interface Bucket {
  width: number;
  index: number;
  count: number;
  firstStep: number;
  lastStep: number;
  firstSeq: number;
  lastSeq: number;
  firstTime: number;
  lastTime: number;
  series: Record<SeriesName, SeriesStats>;
}

/** A point's value of a series: NaN where it was null. */
export function pointValue(p: WirePoint, name: SeriesName): number {
  const v = p[name];
  return v === null || v === undefined ? NaN : v;
}

function statsOf(v: number, step: number): SeriesStats {
  const finite = Number.isFinite(v);
  return {
    min: finite ? v : NaN,
    max: finite ? v : NaN,
    minStep: finite ? step : -1,
    maxStep: finite ? step : -1,
    first: v,
    last: v,
    sum: finite ? v : 0,
    finite: finite ? 1 : 0,
    gapStep: finite ? -1 : step,
  };
}

/** The bucket of width `width` that holds `p`, holding only it. */
export function bucketOf(width: number, p: WirePoint): Bucket {
  const series = {} as Record<SeriesName, SeriesStats>;
  for (const name of SERIES) series[name] = statsOf(pointValue(p, name), p.step);
  return { width, index: Math.floor(p.step / width), count: 1, firstStep: p.step, lastStep: p.step, firstSeq: p.seq, lastSeq: p.seq, firstTime: p.time, lastTime: p.time, series };
}

/** `a` followed by `b` (b's points come after a's): one series' summary of both. */
function mergeStats(a: SeriesStats, b: SeriesStats): SeriesStats {
  const takeMin = b.finite > 0 && (a.finite === 0 || b.min < a.min);
  const takeMax = b.finite > 0 && (a.finite === 0 || b.max > a.max);
  return {
    min: takeMin ? b.min : a.min,
    minStep: takeMin ? b.minStep : a.minStep,
    max: takeMax ? b.max : a.max,
    maxStep: takeMax ? b.maxStep : a.maxStep,
    first: a.first,
    last: b.last,
    sum: a.sum + b.sum,
    finite: a.finite + b.finite,
    gapStep: a.gapStep >= 0 ? a.gapStep : b.gapStep,
  };
}

/**
 * `b`'s points added after `a`'s, as a new bucket of `a`'s width and index (b may be a single
 * point's bucket, or, coarsening, the next of the 4 finer buckets that make `a`).
 */
export function mergeBuckets(a: Bucket, b: Bucket): Bucket {
  const series = {} as Record<SeriesName, SeriesStats>;
  for (const name of SERIES) series[name] = mergeStats(a.series[name], b.series[name]);
  return {
    width: a.width,
    index: a.index,
    count: a.count + b.count,
    firstStep: a.firstStep,
    lastStep: b.lastStep,
    firstSeq: a.firstSeq,
    lastSeq: b.lastSeq,
    firstTime: a.firstTime,
    lastTime: b.lastTime,
    series,
  };
}

/**
 * Adds a point to its bucket (`current`, or a new one when null). A point whose seq the bucket
 * already holds (a write retried after it was stored) changes nothing: points arrive in seq
 * order, so a seq at or below the bucket's last is one it has.
 */
export function addPoint(current: Bucket | null, width: number, p: WirePoint): Bucket {
  if (!current) return bucketOf(width, p);
  if (p.seq <= current.lastSeq) return current;
  return mergeBuckets(current, bucketOf(width, p));
}

/** A copy of a bucket that {@link foldPoint} may change. */
export function cloneBucket(b: Bucket): Bucket {
  const series = {} as Record<SeriesName, SeriesStats>;
  for (const name of SERIES) series[name] = { ...b.series[name] };
  return { ...b, series };
}

/**
 * Adds a point to a bucket in place ({@link addPoint} without allocating: the ingest path folds
 * thousands of points a second into six widths). Skips a seq the bucket already holds.
 */
export function foldPoint(b: Bucket, p: WirePoint): void {
  if (p.seq <= b.lastSeq) return;
  b.count++;
  b.lastStep = p.step;
  b.lastSeq = p.seq;
  b.lastTime = p.time;
  for (const name of SERIES) {
    const s = b.series[name];
    const v = pointValue(p, name);
    s.last = v;
    if (Number.isFinite(v)) {
      if (s.finite === 0 || v < s.min) [s.min, s.minStep] = [v, p.step];
      if (s.finite === 0 || v > s.max) [s.max, s.maxStep] = [v, p.step];
      s.sum += v;
      s.finite++;
    } else if (s.gapStep < 0) s.gapStep = p.step;
  }
}

/**
 * Buckets of `width` (in index order) as buckets of `width × factor`: each coarse bucket merges
 * the fine ones inside it, so coarsening is exact.
 */
export function coarsen(buckets: readonly Bucket[], factor = BUCKET_FACTOR): Bucket[] {
  const out: Bucket[] = [];
  for (const b of buckets) {
    const index = Math.floor(b.index / factor);
    const last = out[out.length - 1];
    const lifted = { ...b, width: b.width * factor, index };
    if (last && last.index === index) out[out.length - 1] = mergeBuckets(last, lifted);
    else out.push(lifted);
  }
  return out;
}

/** Buckets the points make at `width`, in index order (points in seq order). */
export function bucketize(points: readonly WirePoint[], width: number): Bucket[] {
  const out: Bucket[] = [];
  const open = new Map<number, number>();
  for (const p of points) {
    const index = Math.floor(p.step / width);
    const at = open.get(index);
    if (at === undefined) {
      open.set(index, out.length);
      out.push(bucketOf(width, p));
    } else out[at] = addPoint(out[at], width, p);
  }
  return out.sort((a, b) => a.index - b.index);
}

/** The finest width at which `steps` steps make at most `maxBuckets` buckets (the coarsest if none). */
export function widthFor(steps: number, maxBuckets = OVERVIEW_MAX_BUCKETS): number {
  for (const w of BUCKET_WIDTHS) if (Math.ceil((steps + 1) / w) <= maxBuckets) return w;
  return BUCKET_WIDTHS[BUCKET_WIDTHS.length - 1];
}

// ---------------------------------------------------------------------------------------------
// Columns on the wire

/** Batch points as columns, one entry per point in seq order. */
export interface PointColumns {
  n: number;
  seq: Int32Array;
  step: Int32Array;
  epoch: Int32Array;
  batch: Int32Array;
  loss: Float64Array;
  accuracy: Float64Array;
  learningRate: Float64Array;
  samplesPerSec: Float64Array;
  time: Float64Array;
}

/** One series of {@link BucketColumns}. */
export interface StatColumns {
  min: Float64Array;
  max: Float64Array;
  first: Float64Array;
  last: Float64Array;
  mean: Float64Array;
  minStep: Int32Array;
  maxStep: Int32Array;
  gapStep: Int32Array;
}

/** Buckets of one width as columns, in index order; `series` holds the series asked for. */
export interface BucketColumns {
  width: number;
  n: number;
  index: Int32Array;
  count: Int32Array;
  firstStep: Int32Array;
  lastStep: Int32Array;
  firstTime: Float64Array;
  lastTime: Float64Array;
  series: Partial<Record<SeriesName, StatColumns>>;
}

const INT_POINT_COLUMNS = ['seq', 'step', 'epoch', 'batch'] as const;
const FLOAT_POINT_COLUMNS = ['loss', 'accuracy', 'learningRate', 'samplesPerSec', 'time'] as const;

/** Points as {@link PointColumns}. */
export function toPointColumns(points: readonly WirePoint[]): PointColumns {
  const n = points.length;
  const c = { n } as PointColumns;
  for (const k of INT_POINT_COLUMNS) c[k] = new Int32Array(n);
  for (const k of FLOAT_POINT_COLUMNS) c[k] = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const p = points[i];
    c.seq[i] = p.seq;
    c.step[i] = p.step;
    c.epoch[i] = p.epoch;
    c.batch[i] = p.batch;
    c.loss[i] = p.loss ?? NaN;
    c.accuracy[i] = p.accuracy ?? NaN;
    c.learningRate[i] = p.learningRate;
    c.samplesPerSec[i] = p.samplesPerSec;
    c.time[i] = p.time;
  }
  return c;
}

const orNull = (v: number) => (Number.isFinite(v) ? v : null);

/** {@link PointColumns} (as received: typed arrays, ArrayBuffers or Buffers) back as points. */
export function fromPointColumns(raw: PointColumns): WirePoint[] {
  const c = readPointColumns(raw);
  const out: WirePoint[] = new Array(c.n);
  for (let i = 0; i < c.n; i++) {
    out[i] = {
      seq: c.seq[i], step: c.step[i], epoch: c.epoch[i], batch: c.batch[i], loss: orNull(c.loss[i]), accuracy: orNull(c.accuracy[i]),
      learningRate: c.learningRate[i], samplesPerSec: c.samplesPerSec[i], time: c.time[i],
    };
  }
  return out;
}

/** Buckets as {@link BucketColumns}, with the series named (all by default). */
export function toBucketColumns(buckets: readonly Bucket[], width: number, names: readonly SeriesName[] = SERIES): BucketColumns {
  const n = buckets.length;
  const c: BucketColumns = {
    width, n, index: new Int32Array(n), count: new Int32Array(n), firstStep: new Int32Array(n), lastStep: new Int32Array(n),
    firstTime: new Float64Array(n), lastTime: new Float64Array(n), series: {},
  };
  for (const name of names) {
    c.series[name] = {
      min: new Float64Array(n), max: new Float64Array(n), first: new Float64Array(n), last: new Float64Array(n), mean: new Float64Array(n),
      minStep: new Int32Array(n), maxStep: new Int32Array(n), gapStep: new Int32Array(n),
    };
  }
  for (let i = 0; i < n; i++) {
    const b = buckets[i];
    c.index[i] = b.index;
    c.count[i] = b.count;
    c.firstStep[i] = b.firstStep;
    c.lastStep[i] = b.lastStep;
    c.firstTime[i] = b.firstTime;
    c.lastTime[i] = b.lastTime;
    for (const name of names) {
      const s = b.series[name];
      const col = c.series[name]!;
      col.min[i] = s.min;
      col.max[i] = s.max;
      col.first[i] = s.first;
      col.last[i] = s.last;
      col.mean[i] = s.finite > 0 ? s.sum / s.finite : NaN;
      col.minStep[i] = s.minStep;
      col.maxStep[i] = s.maxStep;
      col.gapStep[i] = s.gapStep;
    }
  }
  return c;
}

const EMPTY_STATS: SeriesStats = { min: NaN, max: NaN, minStep: -1, maxStep: -1, first: NaN, last: NaN, sum: 0, finite: 0, gapStep: -1 };

/**
 * {@link BucketColumns} (as received) back as buckets. Seqs are not on the wire (-1); a series
 * that was not sent is empty; `finite` is not sent either: the bucket's count stands for it
 * where the mean is finite (what smoothing weighs a bucket by).
 */
export function fromBucketColumns(raw: BucketColumns): Bucket[] {
  const c = readBucketColumns(raw);
  const out: Bucket[] = new Array(c.n);
  for (let i = 0; i < c.n; i++) {
    const series = {} as Record<SeriesName, SeriesStats>;
    for (const name of SERIES) {
      const col = c.series[name];
      if (!col) {
        series[name] = EMPTY_STATS;
        continue;
      }
      const finite = Number.isFinite(col.mean[i]) ? c.count[i] : 0;
      series[name] = {
        min: col.min[i], max: col.max[i], minStep: col.minStep[i], maxStep: col.maxStep[i], first: col.first[i], last: col.last[i],
        sum: finite ? col.mean[i] * finite : 0, finite, gapStep: col.gapStep[i],
      };
    }
    out[i] = {
      width: c.width, index: c.index[i], count: c.count[i], firstStep: c.firstStep[i], lastStep: c.lastStep[i], firstSeq: -1, lastSeq: -1,
      firstTime: c.firstTime[i], lastTime: c.lastTime[i], series,
    };
  }
  return out;
}

type Typed = Int32Array | Float64Array;

/**
 * A column as a typed array, whatever the transport made of it: the typed array itself (in the
 * same process), an ArrayBuffer (browsers), a Buffer or other byte view (Node), copied when its
 * bytes do not start at a multiple of the element size. Throws on anything else or on a length
 * that is not `n` elements, so a malformed message fails loudly rather than draws garbage.
 */
export function readColumn<T extends Typed>(raw: unknown, Type: { new (buffer: ArrayBuffer, byteOffset?: number, length?: number): T; new (length: number): T; BYTES_PER_ELEMENT: number }, n: number): T {
  if (raw instanceof Type) {
    if (raw.length !== n) throw new Error(`a column has ${raw.length} values, expected ${n}`);
    return raw;
  }
  let buffer: ArrayBuffer;
  let offset = 0;
  let bytes: number;
  if (raw instanceof ArrayBuffer) {
    buffer = raw;
    bytes = raw.byteLength;
  } else if (ArrayBuffer.isView(raw)) {
    buffer = raw.buffer as ArrayBuffer;
    offset = raw.byteOffset;
    bytes = raw.byteLength;
  } else {
    throw new Error('a column is not binary');
  }
  if (bytes !== n * Type.BYTES_PER_ELEMENT) throw new Error(`a column has ${bytes} bytes, expected ${n * Type.BYTES_PER_ELEMENT}`);
  if (offset % Type.BYTES_PER_ELEMENT === 0) return new Type(buffer, offset, n);
  const copy = new Uint8Array(bytes);
  copy.set(new Uint8Array(buffer, offset, bytes));
  return new Type(copy.buffer, 0, n);
}

const count = (n: unknown) => {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new Error('a column set has no valid length');
  return n;
};

/** {@link PointColumns} as received, with every column a typed array of length n. */
export function readPointColumns(raw: PointColumns): PointColumns {
  const n = count(raw?.n);
  const c = { n } as PointColumns;
  for (const k of INT_POINT_COLUMNS) c[k] = readColumn(raw[k], Int32Array, n);
  for (const k of FLOAT_POINT_COLUMNS) c[k] = readColumn(raw[k], Float64Array, n);
  return c;
}

/** {@link BucketColumns} as received, with every column a typed array of length n. */
export function readBucketColumns(raw: BucketColumns): BucketColumns {
  const n = count(raw?.n);
  const c: BucketColumns = {
    width: count(raw.width), n, index: readColumn(raw.index, Int32Array, n), count: readColumn(raw.count, Int32Array, n),
    firstStep: readColumn(raw.firstStep, Int32Array, n), lastStep: readColumn(raw.lastStep, Int32Array, n),
    firstTime: readColumn(raw.firstTime, Float64Array, n), lastTime: readColumn(raw.lastTime, Float64Array, n), series: {},
  };
  for (const name of SERIES) {
    const s = raw.series?.[name];
    if (!s) continue;
    c.series[name] = {
      min: readColumn(s.min, Float64Array, n), max: readColumn(s.max, Float64Array, n), first: readColumn(s.first, Float64Array, n),
      last: readColumn(s.last, Float64Array, n), mean: readColumn(s.mean, Float64Array, n), minStep: readColumn(s.minStep, Int32Array, n),
      maxStep: readColumn(s.maxStep, Int32Array, n), gapStep: readColumn(s.gapStep, Int32Array, n),
    };
  }
  return c;
}

/** Bytes of numbers in a column set (what a message carries besides its few JSON fields). */
export function columnBytes(value: unknown): number {
  if (ArrayBuffer.isView(value)) return value.byteLength;
  if (value instanceof ArrayBuffer) return value.byteLength;
  if (value && typeof value === 'object') {
    let n = 0;
    for (const v of Object.values(value)) n += columnBytes(v);
    return n;
  }
  return 0;
}
