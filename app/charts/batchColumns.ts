/**
 * Columnar cache of one batch series for the batch chart: x (for the chosen axis), y (the
 * chosen metric), step and the smoothed y, in growable typed arrays, built from the run's
 * overview (each bucket's M4 representatives), a detail range the hub answered for a zoomed
 * view, and the raw points after them. While the raw points only grow (same arrays, same first
 * and last-seen point), {@link SeriesColumns.sync} converts and smooths just the new points, so
 * a series streaming at 1,000 points/s costs O(new) per frame; any other change (new axis,
 * metric, smoothing, overview or detail, a replaced history) rebuilds, O(entries).
 */
import type { Bucket } from '../../server/columns';
import type { WirePoint } from '../../server/protocol';
import { emaRun, emaStart, lowerBound, type EmaState } from '../lib/series';

/** A gap in a run's batch times longer than this, within an epoch, is a pause or a stop. */
export const PAUSE_MS = 3000;

/** The values x can plot, in the order the axis menus offer them. */
export const X_AXES = ['step', 'epoch', 'time'] as const;
/** Which value is plotted along x. */
export type XAxisKind = (typeof X_AXES)[number];
/** Which batch metric is plotted along y. */
export type MetricKind = 'loss' | 'accuracy' | 'learningRate' | 'samplesPerSec';

/**
 * The metrics the "log scale" setting applies to: losses and the learning rate span decades and
 * are never ≤ 0; accuracy (0–100 %) and samples/s keep a linear axis whatever the setting.
 */
export const LOG_SCALE_METRICS: ReadonlySet<MetricKind> = new Set<MetricKind>([
  'loss',
  'learningRate',
]);

/** Each metric as people call it (chart descriptions, tooltips). */
export const METRIC_NAMES: Record<MetricKind, string> = {
  loss: 'loss',
  accuracy: 'accuracy',
  learningRate: 'learning rate',
  samplesPerSec: 'samples/s',
};

/** A point's value of `metric`; a diverged batch's null is NaN (the line breaks there). */
export function valueOf(p: WirePoint, metric: MetricKind): number {
  switch (metric) {
    case 'loss':
      return p.loss ?? NaN;
    case 'accuracy':
      return p.accuracy ?? NaN;
    case 'learningRate':
      return p.learningRate;
    case 'samplesPerSec':
      return p.samplesPerSec;
  }
}

/** `a` with room for `need` entries (capacity doubles), its first `length` kept. */
function grow<T extends Float64Array<ArrayBuffer> | Uint32Array<ArrayBuffer>>(
  a: T,
  length: number,
  need: number,
): T {
  if (need <= a.length) return a;
  const next = new (a.constructor as new (n: number) => T)(Math.max(need, a.length * 2, 1024));
  next.set(a.subarray(0, length));
  return next;
}

/**
 * A range of one series the hub answered for a zoomed view (`run:series`): raw points, or
 * buckets of one width. It stands in for the overview over [fromStep, toStep].
 */
export type SeriesDetail = { fromStep: number; toStep: number } & (
  | { kind: 'raw'; points: readonly WirePoint[] }
  | { kind: 'buckets'; width: number; buckets: readonly Bucket[] }
);

/** What a line is drawn from: the overview's buckets, a detail range, then the raw points. */
export interface SeriesSource {
  /** Raw points in seq order, after every bucket of the overview (may be appended to in place). */
  points: readonly WirePoint[];
  /** Buckets (one width) before the first raw point; null when the points are the whole series. */
  overview?: readonly Bucket[] | null;
  /** Raw points before the overview (the run's start). */
  head?: readonly WirePoint[];
  detail?: SeriesDetail | null;
}

/** One entry of a series' columns before it is converted: a raw point or a bucket's representative. */
interface Entry {
  step: number;
  value: number;
  time: number;
  epoch: number;
  batch: number;
  /** Points it stands for (a bucket's count on its first representative, 0 on the others; 1 for a raw point). */
  weight: number;
  /** The bucket width it comes from; 0 for a raw point. */
  width: number;
  /** For smoothing a bucket: its finite count and mean (the first representative carries them). */
  finite: number;
  mean: number;
}

/**
 * A bucket's M4 representatives for a metric, in step order: its first, min, max and last
 * points at their own steps, and its first gap (NaN) if any. Drawn per pixel column they give
 * the column the same first, last, min and max points as the raw series (server/columns/buckets.ts).
 */
function representatives(b: Bucket, metric: MetricKind, perEpoch: number, out: Entry[]): void {
  const s = b.series[metric];
  const span = b.lastStep - b.firstStep;
  const timeAt = (step: number) =>
    span > 0
      ? b.firstTime + ((b.lastTime - b.firstTime) * (step - b.firstStep)) / span
      : b.firstTime;
  const cands: Array<[number, number]> = [
    [b.firstStep, s.first],
    [s.minStep, s.min],
    [s.maxStep, s.max],
    [s.gapStep, NaN],
    [b.lastStep, s.last],
  ];
  cands.sort((x, y) => x[0] - y[0]);
  const start = out.length;
  let prev = -1;
  for (const [step, value] of cands) {
    if (step < 0 || step === prev) continue;
    prev = step;
    const first = out.length === start;
    out.push({
      step,
      value,
      time: step === b.firstStep ? b.firstTime : step === b.lastStep ? b.lastTime : timeAt(step),
      epoch: Math.floor((step - 1) / perEpoch) + 1,
      batch: (step - 1) % perEpoch,
      weight: first ? b.count : 0,
      width: b.width,
      finite: first ? s.finite : 0,
      mean: first && s.finite > 0 ? s.sum / s.finite : NaN,
    });
  }
}

const rawEntry = (p: WirePoint, metric: MetricKind): Entry => ({
  step: p.step,
  value: valueOf(p, metric),
  time: p.time,
  epoch: p.epoch,
  batch: p.batch,
  weight: 1,
  width: 0,
  finite: 1,
  mean: NaN,
});

/**
 * Advances an EMA over `k` points lying on a line: `a + d·i` for i = 1…k (k may be fractional
 * when a bucket's count and its steps disagree), in closed form. Non-finite inputs do nothing.
 */
function emaRamp(ema: EmaState, a: number, d: number, k: number): void {
  if (!(k > 0) || !Number.isFinite(a) || !Number.isFinite(d)) return;
  const w = ema.weight;
  const wk = Math.pow(w, k);
  // Σ_{i=1..k} w^(k-i) = (1 - w^k) / (1 - w);  Σ_{i=1..k} w^(k-i)·i = (k - w·(1 - w^k)/(1 - w)) / (1 - w).
  const s0 = (1 - wk) / (1 - w);
  const s1 = (k - (w * (1 - wk)) / (1 - w)) / (1 - w);
  ema.last = wk * ema.last + (1 - w) * (a * s0 + d * s1);
  ema.factor *= wk;
}

/** One series' columns; arrays are longer than {@link length} (capacity doubles). */
export class SeriesColumns {
  xs = new Float64Array(0);
  ys = new Float64Array(0);
  steps = new Float64Array(0);
  /** Smoothed ys; the same array as `ys` when smoothing is 0. */
  smooth = new Float64Array(0);
  /**
   * On the time axis, how many pauses or stops lie before each point (a gap in the trainer's
   * clock of more than {@link PAUSE_MS} within an epoch): the line is not drawn across them.
   */
  breaks = new Uint32Array(0);
  /** Points each entry stands for (1 for a raw point, a bucket's count on its first representative). */
  weights = new Uint32Array(0);
  /** The bucket width each entry comes from (0: raw). */
  widths = new Uint32Array(0);
  length = 0;
  /** Points all the entries stand for (the sum of {@link weights}). */
  total = 0;
  /** Entries before the raw points (from the overview and the detail). */
  head = 0;
  private key = '';
  private firstSeq = NaN;
  private lastSeq = NaN;
  private overview: readonly Bucket[] | null | undefined = undefined;
  private detail: SeriesDetail | null | undefined = undefined;
  private points: readonly WirePoint[] | null = null;
  private ema: EmaState = emaStart(0);
  private t0 = 0;
  private lastEpoch = NaN;
  private lastTime = NaN;
  /** Batches per epoch in use (given, or the largest batch index seen + 1). */
  private perEpoch = 1;

  /**
   * Brings the columns up to date with `source`. Returns how many entries were converted
   * (0 when nothing changed; the whole length after a rebuild). While only the raw points grow
   * (same arrays, same first and last-seen point) only the new ones are converted.
   */
  sync(
    source: SeriesSource,
    xAxis: XAxisKind,
    metric: MetricKind,
    batchesPerEpoch: number | null | undefined,
    smoothing: number,
  ): number {
    const points = source.points;
    const n = points.length;
    let perEpoch = this.perEpoch;
    if (batchesPerEpoch && batchesPerEpoch > 0) perEpoch = batchesPerEpoch;
    else if (xAxis === 'epoch')
      for (let i = this.length - this.head; i < n; i++)
        if (i >= 0) perEpoch = Math.max(perEpoch, points[i].batch + 1);
    const key = `${xAxis}|${metric}|${perEpoch}|${smoothing}`;
    const tailLength = this.length - this.head;
    const grewOnly =
      key === this.key &&
      this.points === points &&
      this.overview === (source.overview ?? null) &&
      this.detail === (source.detail ?? null) &&
      n >= tailLength &&
      (tailLength === 0 ||
        (points[0].seq === this.firstSeq && points[tailLength - 1].seq === this.lastSeq));
    let from: number;
    if (!grewOnly) {
      if (!(batchesPerEpoch && batchesPerEpoch > 0) && xAxis === 'epoch') {
        perEpoch = 1;
        for (let i = 0; i < n; i++) perEpoch = Math.max(perEpoch, points[i].batch + 1);
      }
      this.key = `${xAxis}|${metric}|${perEpoch}|${smoothing}`;
      this.perEpoch = perEpoch;
      this.ema = emaStart(smoothing);
      this.overview = source.overview ?? null;
      this.detail = source.detail ?? null;
      this.points = points;
      this.length = 0;
      this.total = 0;
      this.head = 0;
      const head = this.headEntries(source, metric, perEpoch);
      this.t0 = head.length ? head[0].time : n ? points[0].time : 0;
      this.lastEpoch = NaN;
      this.lastTime = NaN;
      this.append(head, xAxis);
      this.head = head.length;
      from = 0;
    } else {
      from = tailLength;
    }
    if (n === from) {
      if (!grewOnly) this.finish(points);
      return grewOnly ? 0 : this.length;
    }
    const fresh: Entry[] = new Array(n - from);
    for (let i = from; i < n; i++) fresh[i - from] = rawEntry(points[i], metric);
    this.append(fresh, xAxis);
    this.finish(points);
    return grewOnly ? n - from : this.length;
  }

  private finish(points: readonly WirePoint[]): void {
    const n = points.length;
    this.firstSeq = n ? points[0].seq : NaN;
    this.lastSeq = n ? points[n - 1].seq : NaN;
  }

  /**
   * The head's, the overview's and the detail's entries, in step order, all before the raw
   * points: the detail replaces whatever else covers its steps.
   */
  private headEntries(source: SeriesSource, metric: MetricKind, perEpoch: number): Entry[] {
    const tailStart = source.points.length ? source.points[0].step : Infinity;
    const d = source.detail ?? null;
    const outside = (from: number, to: number) => !d || to < d.fromStep || from > d.toStep;
    const groups: Array<{ start: number; entries: Entry[] }> = [];
    for (const p of source.head ?? [])
      if (p.step < tailStart && outside(p.step, p.step))
        groups.push({ start: p.step, entries: [rawEntry(p, metric)] });
    for (const b of source.overview ?? []) {
      if (b.lastStep >= tailStart || !outside(b.firstStep, b.lastStep)) continue;
      const entries: Entry[] = [];
      representatives(b, metric, perEpoch, entries);
      groups.push({ start: b.firstStep, entries });
    }
    if (d) {
      if (d.kind === 'raw') {
        for (const p of d.points)
          if (p.step >= d.fromStep && p.step <= d.toStep && p.step < tailStart)
            groups.push({ start: p.step, entries: [rawEntry(p, metric)] });
      } else {
        for (const b of d.buckets) {
          if (b.lastStep >= tailStart) continue;
          const entries: Entry[] = [];
          representatives(b, metric, perEpoch, entries);
          groups.push({ start: b.firstStep, entries });
        }
      }
    }
    groups.sort((a, b) => a.start - b.start);
    return groups.flatMap((g) => g.entries);
  }

  /** Converts entries (in step order, after what is held) into the columns and smooths them. */
  private append(entries: Entry[], xAxis: XAxisKind): void {
    const from = this.length;
    const n = from + entries.length;
    this.xs = grow(this.xs, from, n);
    this.ys = grow(this.ys, from, n);
    this.steps = grow(this.steps, from, n);
    this.breaks = grow(this.breaks, from, n);
    this.weights = grow(this.weights, from, n);
    this.widths = grow(this.widths, from, n);
    const smoothing = this.ema.weight > 0;
    if (smoothing) {
      if (this.smooth === this.ys || this.smooth.length < n) {
        const next = new Float64Array(this.ys.length);
        if (from > 0 && this.smooth !== this.ys) next.set(this.smooth.subarray(0, from));
        this.smooth = next;
      }
    }
    const { xs, ys, steps, breaks, weights, widths } = this;
    const perEpoch = this.perEpoch;
    const ema = this.ema;
    for (let j = 0; j < entries.length; j++) {
      const i = from + j;
      const e = entries[j];
      // Between epochs the trainer evaluates for a while: that is not a pause. Nor is the time
      // between a bucket's representatives (its first, min, max, last): they stand for every
      // step between them, and their times are interpolated, so only the gap before a bucket's
      // first one is a gap between two real points. A constant series (the learning rate) has
      // just a first and a last per bucket, far apart in a long bucket: breaking there left the
      // line as isolated points, i.e. undrawn. A pause inside one bucket cannot be placed; the
      // line runs through it until zooming in brings finer buckets or the raw points.
      const inBucket = e.width > 0 && e.weight === 0;
      const paused =
        xAxis === 'time' &&
        !inBucket &&
        e.epoch === this.lastEpoch &&
        e.time - this.lastTime > PAUSE_MS;
      breaks[i] = (i > 0 ? breaks[i - 1] : 0) + (paused ? 1 : 0);
      this.lastEpoch = e.epoch;
      this.lastTime = e.time;
      steps[i] = e.step;
      ys[i] = e.value;
      weights[i] = e.weight;
      this.total += e.weight;
      widths[i] = e.width;
      xs[i] =
        xAxis === 'step'
          ? e.step
          : xAxis === 'epoch'
            ? e.epoch - 1 + e.batch / perEpoch
            : (e.time - this.t0) / 1000;
      if (!smoothing) continue;
      if (e.width === 0) {
        // A raw point: one step of the EMA (non-finite values pass through as gaps).
        emaRun(ema, ys, i, i + 1, this.smooth);
      } else if (e.weight > 0) {
        // A bucket: its representatives (first, min, max, last: the points that matter most,
        // spikes among them) are EMA steps of their own; the points between them, unknown, are
        // taken at the mean of the rest, w^k at once. So a spike moves the smoothed line as it
        // does when smoothed point by point, and the stretch around it follows the mean.
        let end = j + 1;
        while (end < entries.length && entries[end].width > 0 && entries[end].weight === 0) end++;
        let repSum = 0;
        let reps = 0;
        for (let k = j; k < end; k++)
          if (Number.isFinite(entries[k].value))
            [repSum, reps] = [repSum + entries[k].value, reps + 1];
        const others = Math.max(0, e.finite - reps);
        const restMean = others > 0 ? (e.mean * e.finite - repSum) / others : NaN;
        let gaps = 0;
        for (let k = j + 1; k < end; k++)
          gaps += Math.max(0, entries[k].step - entries[k - 1].step - 1);
        const scale = gaps > 0 ? others / gaps : 0;
        for (let k = j; k < end; k++) {
          const between =
            k === j ? 0 : Math.max(0, entries[k].step - entries[k - 1].step - 1) * scale;
          if (between > 0) emaRamp(ema, restMean, 0, between);
          const v = entries[k].value;
          if (Number.isFinite(v)) {
            ema.last = ema.last * ema.weight + (1 - ema.weight) * v;
            ema.factor *= ema.weight;
            this.pendingSmooth[k - j] = ema.last / (1 - ema.factor);
          } else this.pendingSmooth[k - j] = v;
        }
        this.smooth[i] = this.pendingSmooth[0];
        this.pendingAt = 1;
      } else {
        this.smooth[i] = this.pendingSmooth[this.pendingAt++];
      }
    }
    if (!smoothing) this.smooth = ys;
    this.length = n;
  }

  /** Smoothed values of the bucket being converted, one per representative (at most 5). */
  private readonly pendingSmooth = new Float64Array(5);
  private pendingAt = 0;

  /** Points the entries in [start, end) stand for, and the widest bucket among them (0: all raw). */
  represented(start: number, end: number): { points: number; width: number } {
    let points = 0;
    let width = 0;
    for (let i = start; i < end; i++) {
      points += this.weights[i];
      if (this.widths[i] > width) width = this.widths[i];
    }
    return { points, width };
  }

  /** Index of the point nearest to `x` (-1 when empty). */
  nearest(x: number): number {
    const n = this.length;
    if (n === 0) return -1;
    const i = lowerBound(this.xs, x, n);
    if (i <= 0) return 0;
    if (i >= n) return n - 1;
    return x - this.xs[i - 1] <= this.xs[i] - x ? i - 1 : i;
  }

  /** The x of wall-clock time `ms` on the time axis (seconds since the series' first point). */
  xOfTime(ms: number): number {
    return this.length === 0 || !Number.isFinite(ms) ? NaN : (ms - this.t0) / 1000;
  }

  /** The x of the first point at or after `step`; NaN when `step` lies outside the series. */
  xOfStep(step: number): number {
    const n = this.length;
    if (n === 0 || step < this.steps[0] || step > this.steps[n - 1]) return NaN;
    return this.xs[lowerBound(this.steps, step, n)];
  }

  /** The step at x (the nearest entry's), NaN when empty. */
  stepOfX(x: number): number {
    const i = this.nearest(x);
    return i < 0 ? NaN : this.steps[i];
  }
}
