/**
 * Pure series maths for the charts: debiased EMA smoothing, spike-keeping downsampling,
 * binary search of a zoomed range and a robust y extent. No DOM, no per-point allocation
 * beyond the result arrays; every function is O(n) over the range it is given.
 *
 * The batch chart smooths first, then downsamples each line with {@link minMaxBuckets}
 * (first/min/max/last per x bucket, "M4"): at ~2 points per pixel column every bucket's true
 * extremes are drawn, so a one-step loss spike always reaches its real height.
 */

/** Running state of a debiased EMA, so a series that only grew is smoothed incrementally. */
export interface EmaState {
  /** Weight in [0, 1): 0 = raw, 0.99 = heavy. */
  readonly weight: number;
  /** Biased accumulator (starts at 0, as TensorBoard's does). */
  last: number;
  /** weight^count, the debiasing term; kept as a running product. */
  factor: number;
}

/** A fresh EMA state; weights outside [0, 0.999] are clamped, non-numbers become 0. */
export function emaStart(weight: number): EmaState {
  const w = Number.isFinite(weight) ? Math.min(0.999, Math.max(0, weight)) : 0;
  return { weight: w, last: 0, factor: 1 };
}

/**
 * Smooths `values[from..to)` into `out[from..to)` and advances `state`. Non-finite inputs are
 * passed through unchanged (the line shows a gap) and do not touch the accumulator.
 */
export function emaRun(
  state: EmaState,
  values: ArrayLike<number>,
  from: number,
  to: number,
  out: Float64Array,
): void {
  const w = state.weight;
  const k = 1 - w;
  let last = state.last;
  let factor = state.factor;
  for (let i = from; i < to; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * w + k * v;
    factor *= w;
    out[i] = last / (1 - factor);
  }
  state.last = last;
  state.factor = factor;
}

/**
 * TensorBoard's debiased exponential moving average: `s_n = a_n / (1 - w^n)` with
 * `a_n = w·a_{n-1} + (1-w)·x_n`, `a_0 = 0`, n counting finite values only. Weight 0 returns
 * the input; non-finite values stay where they are and are skipped by the average.
 */
export function emaDebiased(values: ArrayLike<number>, weight: number): Float64Array {
  const out = new Float64Array(values.length);
  emaRun(emaStart(weight), values, 0, values.length, out);
  return out;
}

function iota(start: number, end: number): Uint32Array {
  const out = new Uint32Array(Math.max(0, end - start));
  for (let i = 0; i < out.length; i++) out[i] = start + i;
  return out;
}

/**
 * Min/max ("M4") downsampling over `[start, end)`: splits the x span into `buckets` equal
 * intervals and keeps, per non-empty bucket, its first, min-y, max-y and last index, in index
 * (x) order without duplicates, plus its first non-finite y if it has one, so that a gap (a
 * diverged batch, stored as null) still breaks the drawn line. At most `5 · buckets` indices
 * (`4 · buckets` without gaps); all of them when the range is already that small. `xs` must be
 * non-decreasing; non-finite y never counts as min or max.
 */
export function minMaxBuckets(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  buckets: number,
  start = 0,
  end = Math.min(xs.length, ys.length),
  /**
   * The x span the buckets divide, when they must be the chart's pixel columns (the x scale's
   * domain): then every range goes through the buckets, so raw points and a bucketed overview
   * are reduced alike. Points outside it fall in the first or last bucket.
   */
  columns?: { x0: number; x1: number },
): Uint32Array {
  const n = end - start;
  const nb = Number.isFinite(buckets) ? Math.max(1, Math.floor(buckets)) : 1;
  if (!columns && n <= 4 * nb) return iota(start, end);
  if (n <= 0) return new Uint32Array(0);
  const out = new Uint32Array(5 * (nb + 2));
  const x0 = columns ? columns.x0 : xs[start];
  const span = columns ? columns.x1 - columns.x0 : xs[end - 1] - x0;
  const scale = span > 0 && Number.isFinite(span) ? nb / span : 0;
  let k = 0;
  let bucket = -2;
  let first = -1;
  let last = -1;
  let lo = -1;
  let hi = -1;
  let gap = -1;
  const keep = new Int32Array(5);
  let m = 0;
  /** Inserts `i` into keep[0..m) in order (no allocation: this runs per bucket, per frame). */
  const insert = (i: number): void => {
    if (i < 0) return;
    let j = m++;
    for (; j > 0 && keep[j - 1] > i; j--) keep[j] = keep[j - 1];
    keep[j] = i;
  };
  const flush = (): void => {
    // "none" (-1) is skipped and repeats (min = first...) written once.
    m = 0;
    insert(first);
    insert(lo);
    insert(hi);
    insert(gap);
    insert(last);
    for (let j = 0; j < m; j++) if (j === 0 || keep[j] !== keep[j - 1]) out[k++] = keep[j];
  };
  for (let i = start; i < end; i++) {
    let bi = Math.floor((xs[i] - x0) * scale);
    // NaN or out-of-order x stays in the current bucket, so there are never more than nb; with
    // pixel columns, a neighbour outside the view gets a bucket of its own on either side.
    const lo0 = columns ? -1 : 0;
    const hi0 = columns ? nb : nb - 1;
    if (!(bi > bucket)) bi = bucket < lo0 ? lo0 : bucket;
    else if (bi > hi0) bi = hi0;
    else if (bi < lo0) bi = lo0;
    if (bi !== bucket) {
      if (bucket > -2) flush();
      bucket = bi;
      first = i;
      lo = -1;
      hi = -1;
      gap = -1;
    }
    last = i;
    const y = ys[i];
    if (Number.isFinite(y)) {
      if (lo < 0 || y < ys[lo]) lo = i;
      if (hi < 0 || y > ys[hi]) hi = i;
    } else if (gap < 0) gap = i;
  }
  flush();
  return out.subarray(0, k);
}

/** First index with `xs[i] >= x` in `[0, length)` (binary search; `xs` non-decreasing). */
export function lowerBound(xs: ArrayLike<number>, x: number, length = xs.length): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Index range `[start, end)` of the points a view of `[x0, x1]` needs: every point inside plus
 * one neighbour on each side, so lines run to the plot's edges. Empty when nothing overlaps.
 */
export function visibleRange(
  xs: ArrayLike<number>,
  x0: number,
  x1: number,
  length = xs.length,
): { start: number; end: number } {
  if (length === 0 || x1 < x0) return { start: 0, end: 0 };
  const a = lowerBound(xs, x0, length);
  let b = lowerBound(xs, x1, length);
  while (b < length && xs[b] === x1) b++;
  if (a === length && xs[length - 1] < x0) return { start: length, end: length };
  if (b === 0 && xs[0] > x1) return { start: 0, end: 0 };
  return { start: Math.max(0, a - 1), end: Math.min(length, b + 1) };
}

/** Options for {@link niceExtent}. */
export interface ExtentOptions {
  start?: number;
  end?: number;
  /** Fraction of the highest finite values to ignore (0.005 = top 0.5 %), e.g. for loss. */
  clipTop?: number;
  /** Fraction of the lowest finite values to ignore. */
  clipBottom?: number;
  /** Padding added on both sides, as a fraction of the span (default 0.04). */
  pad?: number;
}

const BINS = 512;

/** The k-th smallest finite value (0-based), to ~span/BINS² by two histogram passes. */
function kthSmallest(
  ys: ArrayLike<number>,
  start: number,
  end: number,
  k: number,
  lo: number,
  hi: number,
): number {
  const counts = new Uint32Array(BINS);
  for (let level = 0; level < 2 && hi > lo; level++) {
    counts.fill(0);
    const width = (hi - lo) / BINS;
    const inv = BINS / (hi - lo);
    let below = 0;
    for (let i = start; i < end; i++) {
      const y = ys[i];
      // NaN fails both comparisons; ±Infinity lie outside [lo, hi] (which are finite).
      if (y < lo) {
        if (y !== -Infinity) below++;
      } else if (y <= hi) {
        const b = ((y - lo) * inv) | 0;
        counts[b < BINS ? b : BINS - 1]++;
      }
    }
    let acc = below;
    let bin = BINS - 1;
    for (let j = 0; j < BINS; j++) {
      acc += counts[j];
      if (acc > k) {
        bin = j;
        break;
      }
    }
    const nextLo = lo + bin * width;
    hi = bin === BINS - 1 ? hi : nextLo + width;
    lo = nextLo;
  }
  return hi;
}

/**
 * A robust y extent `[lo, hi]` over `ys[start..end)`: non-finite values are ignored, the top
 * and bottom `clipTop`/`clipBottom` fractions optionally dropped (so one early loss spike does
 * not flatten the curve), then padded. `[0, 1]` when nothing is finite; never zero-width.
 */
export function niceExtent(ys: ArrayLike<number>, options: ExtentOptions = {}): [number, number] {
  const start = options.start ?? 0;
  const end = options.end ?? ys.length;
  let lo = Infinity;
  let hi = -Infinity;
  let count = 0;
  for (let i = start; i < end; i++) {
    const y = ys[i];
    if (!Number.isFinite(y)) continue;
    count++;
    if (y < lo) lo = y;
    if (y > hi) hi = y;
  }
  if (count === 0) return [0, 1];
  const dropTop = Math.floor(count * Math.max(0, options.clipTop ?? 0));
  const dropBottom = Math.floor(count * Math.max(0, options.clipBottom ?? 0));
  if (dropTop + dropBottom < count) {
    const [l0, h0] = [lo, hi];
    if (dropTop > 0) hi = kthSmallest(ys, start, end, count - 1 - dropTop, l0, h0);
    if (dropBottom > 0)
      lo = kthSmallest(ys, start, end, dropBottom, l0, h0) - (h0 - l0) / (BINS * BINS);
  }
  if (hi <= lo) {
    const d = Math.abs(lo) * 0.1 || 1;
    return [lo - d, hi + d];
  }
  const pad = (hi - lo) * (options.pad ?? 0.04);
  return [lo - pad, hi + pad];
}
