/**
 * A run's batch series at several resolutions (M4 bucket maths).
 *
 * **Buckets.** For each batch series ({@link SERIES}) the hub keeps summaries of fixed step
 * ranges: bucket `i` at width `w` covers steps `[i·w, (i+1)·w)`, at each width of
 * {@link BUCKET_WIDTHS} (each 4 × the one before, so 4 buckets of one width make exactly one
 * of the next). A bucket keeps, per series, its first and last value (by step), its min and max
 * with the steps where they occur (the earliest, on a tie), the sum and count of its finite values (the
 * mean) and the step of its first non-finite value (a diverged batch: the line breaks there).
 * That is M4 (Jugel et al., VLDB 2014): drawn per pixel column, the first, last, min and max
 * points of the buckets in a column are the ones the raw points would give, so a chart whose
 * columns hold whole buckets draws exactly what the raw series draws (test/seriesStore and the
 * Chromium pixel test check it); spikes keep their height and their step at every width.
 *
 * Pure: no I/O. The hub aggregates with it at ingest; the dashboard folds live points into its
 * overview with the same functions. Their binary form on the wire is codec.ts.
 */
import type { BatchPoint } from '../trainer/events';

/** A batch point with its seq in the run's stream (the protocol's SeqPoint). */
export type SeqPoint = BatchPoint & { seq: number };

/** The batch series a run records, per point. */
export const SERIES = ['loss', 'accuracy', 'learningRate', 'samplesPerSec'] as const;
export type SeriesName = (typeof SERIES)[number];

/** Bucket widths in steps, finest first; each is 4 × the one before. */
export const BUCKET_WIDTHS = [64, 256, 1024, 4096, 16384, 65536] as const;
/** How many buckets of one width make one of the next. */
export const BUCKET_FACTOR = 4;
/** The most buckets an overview holds (the finest width that fits is chosen). */
export const OVERVIEW_MAX_BUCKETS = 2048;
/**
 * Steps at the start of a run a snapshot sends raw (the head, up to the first bucket boundary
 * past it): the loss falls fastest there, too fast within a bucket for smoothing to be
 * recovered from its summary.
 */
export const HEAD_STEPS = 1024;
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
export function pointValue(p: SeqPoint, name: SeriesName): number {
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
export function bucketOf(width: number, p: SeqPoint): Bucket {
  const series = {} as Record<SeriesName, SeriesStats>;
  for (const name of SERIES) series[name] = statsOf(pointValue(p, name), p.step);
  return {
    width,
    index: Math.floor(p.step / width),
    count: 1,
    firstStep: p.step,
    lastStep: p.step,
    firstSeq: p.seq,
    lastSeq: p.seq,
    firstTime: p.time,
    lastTime: p.time,
    series,
  };
}

/**
 * Adds `b`'s summary of one series to `a`'s, in place. Order-free (points may be stored out of
 * seq order, around a hole): first and last are by step (then seq), min and max keep the
 * earliest step on a tie, the first gap is the lowest step. So M4 per pixel column picks the
 * same points from buckets as from the raw series.
 */
function mergeStatsInto(a: SeriesStats, b: SeriesStats, bFirst: boolean, bLast: boolean): void {
  if (
    b.finite > 0 &&
    (a.finite === 0 || b.min < a.min || (b.min === a.min && b.minStep < a.minStep))
  )
    [a.min, a.minStep] = [b.min, b.minStep];
  if (
    b.finite > 0 &&
    (a.finite === 0 || b.max > a.max || (b.max === a.max && b.maxStep < a.maxStep))
  )
    [a.max, a.maxStep] = [b.max, b.maxStep];
  if (bFirst) a.first = b.first;
  if (bLast) a.last = b.last;
  a.sum += b.sum;
  a.finite += b.finite;
  if (b.gapStep >= 0 && (a.gapStep < 0 || b.gapStep < a.gapStep)) a.gapStep = b.gapStep;
}

const before = (stepA: number, seqA: number, stepB: number, seqB: number) =>
  stepA < stepB || (stepA === stepB && seqA < seqB);

/** Adds `b`'s points to `a`, in place (`a` keeps its width and index). */
function mergeInto(a: Bucket, b: Bucket): void {
  const bFirst = before(b.firstStep, b.firstSeq, a.firstStep, a.firstSeq);
  const bLast = before(a.lastStep, a.lastSeq, b.lastStep, b.lastSeq);
  a.count += b.count;
  if (bFirst) [a.firstStep, a.firstSeq, a.firstTime] = [b.firstStep, b.firstSeq, b.firstTime];
  if (bLast) [a.lastStep, a.lastSeq, a.lastTime] = [b.lastStep, b.lastSeq, b.lastTime];
  for (const name of SERIES) mergeStatsInto(a.series[name], b.series[name], bFirst, bLast);
}

/** A copy of a bucket that {@link foldPoint} may change. */
export function cloneBucket(b: Bucket): Bucket {
  const series = {} as Record<SeriesName, SeriesStats>;
  for (const name of SERIES) series[name] = { ...b.series[name] };
  return { ...b, series };
}

/** The summary of both buckets' points, as a new bucket of `a`'s width and index (order-free). */
export function mergeBuckets(a: Bucket, b: Bucket): Bucket {
  const out = cloneBucket(a);
  mergeInto(out, b);
  return out;
}

/**
 * Adds a point to its bucket (`current`, or a new one when null). The caller folds each point
 * once (the hub folds only points it is storing for the first time).
 */
export function addPoint(current: Bucket | null, width: number, p: SeqPoint): Bucket {
  return current ? mergeBuckets(current, bucketOf(width, p)) : bucketOf(width, p);
}

/** Adds a point to a bucket in place (the ingest path: no copy of the bucket per point). */
export function foldPoint(b: Bucket, p: SeqPoint): void {
  mergeInto(b, bucketOf(b.width, p));
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
export function bucketize(points: readonly SeqPoint[], width: number): Bucket[] {
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
