/**
 * Numbers as columns on the wire.
 *
 * **Columns.** Snapshots, range answers and live frames carry numbers as typed arrays, which
 * Socket.IO sends as binary attachments (little-endian, as every platform Node and browsers
 * run on): {@link PointColumns} for raw points, {@link BucketColumns} for buckets. A receiver
 * gets them back as ArrayBuffers (browsers) or Buffers (Node); {@link readColumn} turns either
 * into the typed array. A value that was null (not finite) is NaN; a missing step is -1.
 *
 * Pure: no I/O.
 */
import { SERIES, type Bucket, type SeqPoint, type SeriesName, type SeriesStats } from './buckets';

/**
 * Numbers as columns in one binary attachment (Socket.IO's decoder takes at most 10 per
 * message, and one is cheapest): `data` holds the `f64` columns, then the `i32` columns, each
 * `n` little-endian values, in the order named (so every float column starts at a multiple of
 * 8 bytes). A receiver gets `data` as an ArrayBuffer (browsers), a Buffer (Node) or `bytes`
 * (python-socketio); {@link unpack} reads any of them.
 */
export interface PackedColumns {
  n: number;
  f64: string[];
  i32: string[];
  /** The bytes, or the same bytes as base64 text (live frames: see {@link toPointColumns}). */
  data: Uint8Array | ArrayBuffer | string;
}

/** Bytes as base64 (Node's Buffer where there is one, else btoa). */
function toBase64(bytes: Uint8Array): string {
  const B = (globalThis as { Buffer?: { from(b: Uint8Array): { toString(enc: string): string } } })
    .Buffer;
  if (B) return B.from(bytes).toString('base64');
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000)
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Base64 text back as bytes (8-byte aligned: a fresh buffer). */
function fromBase64(text: string): Uint8Array {
  const B = (globalThis as { Buffer?: { from(s: string, enc: string): Uint8Array } }).Buffer;
  if (B) return new Uint8Array(B.from(text, 'base64'));
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Packs named columns of `n` values into one {@link PackedColumns}. */
export function pack(
  n: number,
  f64: Record<string, ArrayLike<number>>,
  i32: Record<string, ArrayLike<number>>,
): PackedColumns {
  const fNames = Object.keys(f64);
  const iNames = Object.keys(i32);
  const buffer = new ArrayBuffer(n * (8 * fNames.length + 4 * iNames.length));
  fNames.forEach((name, k) => new Float64Array(buffer, k * 8 * n, n).set(f64[name]));
  iNames.forEach((name, k) =>
    new Int32Array(buffer, fNames.length * 8 * n + k * 4 * n, n).set(i32[name]),
  );
  return { n, f64: fNames, i32: iNames, data: new Uint8Array(buffer) };
}

/**
 * The columns of a {@link PackedColumns} as received, by name. Throws (in words) on anything
 * malformed: a length that does not match, data that is not binary. Copies when the bytes do
 * not start at a multiple of 8 (a Buffer cut from a larger one).
 */
export function unpack(raw: PackedColumns): {
  f64: Record<string, Float64Array>;
  i32: Record<string, Int32Array>;
} {
  const n = raw?.n;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
    throw new Error('a column set has no valid length');
  const fNames = Array.isArray(raw.f64) ? raw.f64 : [];
  const iNames = Array.isArray(raw.i32) ? raw.i32 : [];
  let bytes: Uint8Array;
  const data: unknown = raw.data;
  if (typeof data === 'string') bytes = fromBase64(data);
  else if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
  else if (ArrayBuffer.isView(data))
    bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  else throw new Error("a column set's data is not binary");
  const need = n * (8 * fNames.length + 4 * iNames.length);
  if (bytes.byteLength !== need)
    throw new Error(`a column set has ${bytes.byteLength} bytes, expected ${need}`);
  if (bytes.byteOffset % 8 !== 0) bytes = bytes.slice();
  const f64: Record<string, Float64Array> = {};
  const i32: Record<string, Int32Array> = {};
  fNames.forEach(
    (name, k) =>
      (f64[String(name)] = new Float64Array(
        bytes.buffer as ArrayBuffer,
        bytes.byteOffset + k * 8 * n,
        n,
      )),
  );
  iNames.forEach(
    (name, k) =>
      (i32[String(name)] = new Int32Array(
        bytes.buffer as ArrayBuffer,
        bytes.byteOffset + fNames.length * 8 * n + k * 4 * n,
        n,
      )),
  );
  return { f64, i32 };
}

/** Batch points on the wire: columns `loss accuracy learningRate samplesPerSec time` (f64), `seq step epoch batch` (i32). */
export type PointColumns = PackedColumns;

/** Batch points as typed arrays, one entry per point in seq order. */
export interface PointArrays {
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

const INT_POINT_COLUMNS = ['seq', 'step', 'epoch', 'batch'] as const;
const FLOAT_POINT_COLUMNS = ['loss', 'accuracy', 'learningRate', 'samplesPerSec', 'time'] as const;

/**
 * Points as {@link PointColumns}; `as: 'text'` puts the bytes in base64 instead (what live
 * frames use: see stream.ts).
 */
export function toPointColumns(
  points: readonly SeqPoint[],
  as: 'binary' | 'text' = 'binary',
): PointColumns {
  const n = points.length;
  const f: Record<string, Float64Array> = {};
  const i: Record<string, Int32Array> = {};
  for (const k of FLOAT_POINT_COLUMNS) f[k] = new Float64Array(n);
  for (const k of INT_POINT_COLUMNS) i[k] = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    const p = points[j];
    i.seq[j] = p.seq;
    i.step[j] = p.step;
    i.epoch[j] = p.epoch;
    i.batch[j] = p.batch;
    f.loss[j] = p.loss ?? NaN;
    f.accuracy[j] = p.accuracy ?? NaN;
    f.learningRate[j] = p.learningRate;
    f.samplesPerSec[j] = p.samplesPerSec;
    f.time[j] = p.time;
  }
  const packed = pack(n, f, i);
  return as === 'text' ? { ...packed, data: toBase64(packed.data as Uint8Array) } : packed;
}

/** {@link PointColumns} as received, as typed arrays (throws when a column is missing). */
export function readPointColumns(raw: PointColumns): PointArrays {
  const { f64, i32 } = unpack(raw);
  const out = { n: raw.n } as PointArrays;
  for (const k of FLOAT_POINT_COLUMNS) {
    if (!f64[k]) throw new Error(`points without a ${k} column`);
    out[k] = f64[k];
  }
  for (const k of INT_POINT_COLUMNS) {
    if (!i32[k]) throw new Error(`points without a ${k} column`);
    out[k] = i32[k];
  }
  return out;
}

const orNull = (v: number) => (Number.isFinite(v) ? v : null);

/** {@link PointColumns} as received, back as points. */
export function fromPointColumns(raw: PointColumns): SeqPoint[] {
  const c = readPointColumns(raw);
  const out: SeqPoint[] = new Array(c.n);
  for (let i = 0; i < c.n; i++) {
    out[i] = {
      seq: c.seq[i],
      step: c.step[i],
      epoch: c.epoch[i],
      batch: c.batch[i],
      loss: orNull(c.loss[i]),
      accuracy: orNull(c.accuracy[i]),
      learningRate: c.learningRate[i],
      samplesPerSec: c.samplesPerSec[i],
      time: c.time[i],
    };
  }
  return out;
}

/**
 * Buckets of one width on the wire, in index order: columns `firstTime lastTime` and, per
 * series sent, `<series>.min .max .first .last .mean` (f64); `index count firstStep lastStep`
 * and `<series>.minStep .maxStep .gapStep` (i32, -1 for none).
 */
export type BucketColumns = PackedColumns & { width: number };

const BUCKET_F64 = ['min', 'max', 'first', 'last', 'mean'] as const;
const BUCKET_I32 = ['minStep', 'maxStep', 'gapStep'] as const;

/** Buckets as {@link BucketColumns}, with the series named (all by default). */
export function toBucketColumns(
  buckets: readonly Bucket[],
  width: number,
  names: readonly SeriesName[] = SERIES,
): BucketColumns {
  const n = buckets.length;
  const f: Record<string, Float64Array> = {
    firstTime: new Float64Array(n),
    lastTime: new Float64Array(n),
  };
  const i: Record<string, Int32Array> = {
    index: new Int32Array(n),
    count: new Int32Array(n),
    firstStep: new Int32Array(n),
    lastStep: new Int32Array(n),
  };
  for (const name of names) {
    for (const k of BUCKET_F64) f[`${name}.${k}`] = new Float64Array(n);
    for (const k of BUCKET_I32) i[`${name}.${k}`] = new Int32Array(n);
  }
  for (let j = 0; j < n; j++) {
    const b = buckets[j];
    i.index[j] = b.index;
    i.count[j] = b.count;
    i.firstStep[j] = b.firstStep;
    i.lastStep[j] = b.lastStep;
    f.firstTime[j] = b.firstTime;
    f.lastTime[j] = b.lastTime;
    for (const name of names) {
      const s = b.series[name];
      f[`${name}.min`][j] = s.min;
      f[`${name}.max`][j] = s.max;
      f[`${name}.first`][j] = s.first;
      f[`${name}.last`][j] = s.last;
      f[`${name}.mean`][j] = s.finite > 0 ? s.sum / s.finite : NaN;
      i[`${name}.minStep`][j] = s.minStep;
      i[`${name}.maxStep`][j] = s.maxStep;
      i[`${name}.gapStep`][j] = s.gapStep;
    }
  }
  return { width, ...pack(n, f, i) };
}

const EMPTY_STATS: SeriesStats = {
  min: NaN,
  max: NaN,
  minStep: -1,
  maxStep: -1,
  first: NaN,
  last: NaN,
  sum: 0,
  finite: 0,
  gapStep: -1,
};

/** The series a {@link BucketColumns} carries. */
export function seriesIn(raw: BucketColumns): SeriesName[] {
  return SERIES.filter((name) => raw.f64?.includes(`${name}.min`));
}

/**
 * {@link BucketColumns} (as received) back as buckets. Seqs are not on the wire (-1); a series
 * that was not sent is empty; `finite` is not sent either: the bucket's count stands for it
 * where the mean is finite (what smoothing weighs a bucket by).
 */
export function fromBucketColumns(raw: BucketColumns): Bucket[] {
  const { f64, i32 } = unpack(raw);
  const n = raw.n;
  const width = raw.width;
  if (typeof width !== 'number' || !(width > 0)) throw new Error('buckets without a width');
  for (const k of ['index', 'count', 'firstStep', 'lastStep'])
    if (!i32[k]) throw new Error(`buckets without a ${k} column`);
  for (const k of ['firstTime', 'lastTime'])
    if (!f64[k]) throw new Error(`buckets without a ${k} column`);
  const present = SERIES.filter(
    (name) => f64[`${name}.min`] && f64[`${name}.mean`] && i32[`${name}.minStep`],
  );
  const out: Bucket[] = new Array(n);
  for (let j = 0; j < n; j++) {
    const series = {} as Record<SeriesName, SeriesStats>;
    for (const name of SERIES) series[name] = EMPTY_STATS;
    for (const name of present) {
      const mean = f64[`${name}.mean`][j];
      const finite = Number.isFinite(mean) ? i32.count[j] : 0;
      series[name] = {
        min: f64[`${name}.min`][j],
        max: f64[`${name}.max`][j],
        minStep: i32[`${name}.minStep`][j],
        maxStep: i32[`${name}.maxStep`][j],
        first: f64[`${name}.first`][j],
        last: f64[`${name}.last`][j],
        sum: finite ? mean * finite : 0,
        finite,
        gapStep: i32[`${name}.gapStep`][j],
      };
    }
    out[j] = {
      width,
      index: i32.index[j],
      count: i32.count[j],
      firstStep: i32.firstStep[j],
      lastStep: i32.lastStep[j],
      firstSeq: -1,
      lastSeq: -1,
      firstTime: f64.firstTime[j],
      lastTime: f64.lastTime[j],
      series,
    };
  }
  return out;
}

/** Bytes of numbers in a message (its binary attachments). */
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
