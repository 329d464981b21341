/**
 * Columnar cache of one batch series for the batch chart: x (for the chosen axis), y (the
 * chosen metric), step and the smoothed y, in growable typed arrays. While the points array
 * only grows (same first and last-seen point), {@link SeriesColumns.sync} converts and smooths
 * just the new points, so a 100k-point series streaming at 1,000 points/s costs O(new) per
 * frame; any other change (new axis, metric, smoothing, a replaced history) rebuilds.
 */
import type { WirePoint } from '../../server/protocol';
import { emaRun, emaStart, lowerBound, type EmaState } from '../lib/series';

/** A gap in a run's batch times longer than this, within an epoch, is a pause or a stop. */
export const PAUSE_MS = 3000;

/** Which value is plotted along x. */
export type XAxisKind = 'step' | 'epoch' | 'time';
/** Which batch metric is plotted along y. */
export type MetricKind = 'loss' | 'accuracy' | 'learningRate' | 'samplesPerSec';

/** Each metric as people call it (chart descriptions, tooltips). */
export const METRIC_NAMES: Record<MetricKind, string> = { loss: 'loss', accuracy: 'accuracy', learningRate: 'learning rate', samplesPerSec: 'samples/s' };

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

function grow(a: Float64Array<ArrayBuffer>, length: number, need: number): Float64Array<ArrayBuffer> {
  if (need <= a.length) return a;
  const next = new Float64Array(Math.max(need, a.length * 2, 1024));
  next.set(a.subarray(0, length));
  return next;
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
  length = 0;
  private key = '';
  private firstSeq = NaN;
  private lastSeq = NaN;
  private ema: EmaState = emaStart(0);
  private t0 = 0;
  /** Batches per epoch in use (given, or the largest batch index seen + 1). */
  private perEpoch = 1;

  /**
   * Brings the columns up to date with `points`. Returns how many points were converted
   * (0 when nothing changed; the whole length after a rebuild).
   */
  sync(
    points: readonly WirePoint[],
    xAxis: XAxisKind,
    metric: MetricKind,
    batchesPerEpoch: number | null | undefined,
    smoothing: number,
  ): number {
    const n = points.length;
    let perEpoch = this.perEpoch;
    if (xAxis === 'epoch') {
      if (batchesPerEpoch && batchesPerEpoch > 0) perEpoch = batchesPerEpoch;
      else for (let i = this.length; i < n; i++) perEpoch = Math.max(perEpoch, points[i].batch + 1);
    }
    const key = `${xAxis}|${metric}|${perEpoch}|${smoothing}`;
    const grewOnly =
      key === this.key &&
      n >= this.length &&
      (this.length === 0 || (points[0].seq === this.firstSeq && points[this.length - 1].seq === this.lastSeq));
    if (!grewOnly) {
      this.length = 0;
      this.key = key;
      this.ema = emaStart(smoothing);
      if (xAxis === 'epoch' && !(batchesPerEpoch && batchesPerEpoch > 0)) {
        perEpoch = 1;
        for (let i = 0; i < n; i++) perEpoch = Math.max(perEpoch, points[i].batch + 1);
        this.key = `${xAxis}|${metric}|${perEpoch}|${smoothing}`;
      }
    }
    this.perEpoch = perEpoch;
    const from = this.length;
    if (n === from) return 0;
    if (this.breaks.length < n) {
      const next = new Uint32Array(Math.max(n, this.breaks.length * 2, 1024));
      next.set(this.breaks.subarray(0, from));
      this.breaks = next;
    }
    this.xs = grow(this.xs, from, n);
    this.ys = grow(this.ys, from, n);
    this.steps = grow(this.steps, from, n);
    if (from === 0) this.t0 = points[0].time;
    const { xs, ys, steps } = this;
    const breaks = this.breaks;
    for (let i = from; i < n; i++) {
      const p = points[i];
      const before = i > 0 ? points[i - 1] : null;
      // Between epochs the trainer evaluates for a while: that is not a pause.
      breaks[i] = (i > 0 ? breaks[i - 1] : 0) + (xAxis === 'time' && before && p.epoch === before.epoch && p.time - before.time > PAUSE_MS ? 1 : 0);
      steps[i] = p.step;
      ys[i] = valueOf(p, metric);
      xs[i] = xAxis === 'step' ? p.step : xAxis === 'epoch' ? p.epoch - 1 + p.batch / perEpoch : (p.time - this.t0) / 1000;
    }
    if (this.ema.weight > 0) {
      if (this.smooth === ys || this.smooth.length < n) {
        const next = new Float64Array(ys.length);
        if (from > 0 && this.smooth !== ys) next.set(this.smooth.subarray(0, from));
        this.smooth = next;
      }
      emaRun(this.ema, ys, from, n, this.smooth);
    } else {
      this.smooth = ys;
    }
    this.length = n;
    this.firstSeq = points[0].seq;
    this.lastSeq = points[n - 1].seq;
    return n - from;
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
}
