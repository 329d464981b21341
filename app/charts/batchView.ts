/**
 * The batch chart's imperative half: owns the canvas and the two SVG layers inside the React
 * container, the per-series column caches, d3-zoom (x only), hover and click handling, and
 * schedules at most one redraw per animation frame. BatchChart.tsx creates one per mount and
 * hands it every render's props; nothing here re-renders React.
 */
import * as d3 from 'd3';
import type { WireAnnotation } from '../../server/protocol';
import { minMaxBuckets, niceExtent, visibleRange } from '../lib/series';
import { LOG_SCALE_METRICS, METRIC_NAMES, SeriesColumns } from './batchColumns';
import type { BatchChartProps, BatchViewRange } from './batchChartProps';
import {
  drawAnnotations,
  drawBack,
  drawHover,
  drawLine,
  drawTitle,
  formatX,
  formatY,
  layer,
  layoutLegend,
  plotLayout,
  type Hover,
  type PlacedAnnotation,
  type Plot,
  type YScale,
} from './batchDraw';

/** Share of the highest visible loss values left out of the y extent. */
const LOSS_CLIP = 0.005;
/** Delay that tells a single click (add a note) from the first half of a double-click (reset). */
const CLICK_MS = 250;
/** How far (CSS px) a series' nearest point may be from the cursor to count as under it. */
const HOVER_PX = 6;
/** How long a zoom or pan rests before the view is announced (detail is asked for it). */
const VIEW_SETTLE_MS = 60;

/** Whether two props objects hold the very same values (=== per key). */
function sameProps(a: BatchChartProps, b: BatchChartProps): boolean {
  const keys = Object.keys(a) as Array<keyof BatchChartProps>;
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** DOM nodes the view draws into; React renders and owns them. */
export interface BatchNodes {
  root: HTMLElement;
  layers: HTMLElement;
  canvas: HTMLCanvasElement;
  back: SVGSVGElement;
  front: SVGSVGElement;
}

/** Imperative renderer behind {@link BatchChart}. */
export class BatchView {
  private readonly cols = new Map<string, SeriesColumns>();
  private readonly back;
  private readonly front;
  private readonly zoom = d3.zoom<SVGSVGElement, unknown>();
  private readonly ro: ResizeObserver;
  private width = 0;
  private plot: Plot = plotLayout(0, 0);
  private frame = 0;
  /** When the last redraw began (performance.now()), and the timer of a throttled one. */
  private lastDrawAt = -Infinity;
  private liveTimer: ReturnType<typeof setTimeout> | undefined;
  private overlayFrame = 0;
  private clickTimer: ReturnType<typeof setTimeout> | undefined;
  private base = d3.scaleLinear();
  private x = d3.scaleLinear();
  private y: YScale = d3.scaleLinear();
  /** Zoomed x domain, or null when showing (and following) everything. */
  private view: [number, number] | null = null;
  private viewAxis = '';
  private syncing = false;
  private hoverPx: number | null = null;
  private viewTimer: ReturnType<typeof setTimeout> | undefined;
  private announced = '';

  constructor(
    private readonly nodes: BatchNodes,
    private props: BatchChartProps,
  ) {
    this.back = d3.select(nodes.back);
    this.front = d3.select(nodes.front);
    this.zoom
      .clickDistance(4)
      .filter(
        (e: Event & { button?: number; ctrlKey?: boolean }) =>
          (!e.ctrlKey || e.type === 'wheel') &&
          !e.button &&
          !(e.target as Element).closest?.('.lt-flag'),
      )
      .on('zoom', (e: d3.D3ZoomEvent<SVGSVGElement, unknown>) => {
        if (this.syncing) return;
        const t = e.transform;
        this.view = t.k <= 1.0001 ? null : (t.rescaleX(this.base).domain() as [number, number]);
        this.schedule();
        this.viewChanged();
      });
    this.front
      .call(this.zoom)
      .on('dblclick.zoom', null)
      .on('dblclick.lt', () => {
        clearTimeout(this.clickTimer);
        this.front.call(this.zoom.transform, d3.zoomIdentity);
      })
      .on('click.lt', (e: MouseEvent) => this.click(e))
      .on('pointermove.lt', (e: PointerEvent) => {
        this.hoverPx = d3.pointer(e, nodes.front)[0];
        if (!this.overlayFrame)
          this.overlayFrame = requestAnimationFrame(
            () => ((this.overlayFrame = 0), this.drawOverlay()),
          );
      })
      .on('pointerleave.lt', () => ((this.hoverPx = null), this.drawOverlay()));
    this.ro = new ResizeObserver((entries) => {
      this.width = Math.floor(entries[0].contentRect.width);
      this.schedule();
    });
    this.ro.observe(nodes.root);
    this.width = nodes.root.clientWidth;
  }

  /**
   * New props (any render); the redraw happens on the next animation frame, or, for a chart
   * with `liveEveryMs`, no sooner than that after its last one (zoom and resize stay at once).
   */
  update(props: BatchChartProps): void {
    // A parent's render that changed nothing of this chart's (the same series, version and
    // settings) needs no redraw: the compare page renders once per run's detail answer.
    const before = this.props;
    this.props = props;
    if (sameProps(before, props)) return;
    const every = props.liveEveryMs ?? 0;
    const wait = this.lastDrawAt + every - performance.now();
    if (every <= 0 || wait <= 0) return this.schedule();
    this.liveTimer ??= setTimeout(() => {
      this.liveTimer = undefined;
      this.schedule();
    }, wait);
  }

  /** Cancels pending frames and timers and detaches every listener. */
  destroy(): void {
    cancelAnimationFrame(this.frame);
    cancelAnimationFrame(this.overlayFrame);
    clearTimeout(this.clickTimer);
    clearTimeout(this.liveTimer);
    clearTimeout(this.viewTimer);
    this.ro.disconnect();
    this.front.on('.zoom', null).on('.lt', null);
  }

  /**
   * Tells the parent where the view settled (VIEW_SETTLE_MS after the last wheel or drag), in
   * steps, so it can ask the hub for that range at this chart's width.
   */
  private viewChanged(): void {
    if (!this.props.onViewChange) return;
    clearTimeout(this.viewTimer);
    this.viewTimer = setTimeout(() => {
      const first = this.props.series[0] ? this.cols.get(this.props.series[0].id) : undefined;
      let range: BatchViewRange = null;
      if (this.view && first && first.length) {
        const [a, b] = this.view;
        const steps = this.props.xAxis === 'step' ? [a, b] : [first.stepOfX(a), first.stepOfX(b)];
        if (steps.every(Number.isFinite))
          range = {
            fromStep: Math.max(0, Math.floor(steps[0])),
            toStep: Math.max(0, Math.ceil(steps[1])),
            columns: Math.max(1, Math.round(this.plot.width)),
          };
      }
      const key = JSON.stringify(range);
      if (key === this.announced) return;
      this.announced = key;
      this.props.onViewChange?.(range);
    }, VIEW_SETTLE_MS);
  }

  private schedule(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => ((this.frame = 0), this.draw()));
  }

  private click(e: MouseEvent): void {
    const { onAddAnnotation } = this.props;
    const [clickPx] = d3.pointer(e, this.nodes.front);
    // A click's coordinates are whole pixels, a pointer move's are not: at a few steps per
    // pixel the click's own position named a step a few before the one the readout showed.
    // The readout (drawn from the last move) is what the person aimed at.
    const px =
      this.hoverPx !== null && Math.abs(this.hoverPx - clickPx) < 2 ? this.hoverPx : clickPx;
    if (!onAddAnnotation || e.detail > 1 || px < this.plot.left || px > this.plot.right) return;
    clearTimeout(this.clickTimer);
    const step = this.stepAt(px);
    if (Number.isFinite(step)) this.clickTimer = setTimeout(() => onAddAnnotation(step), CLICK_MS);
  }

  /**
   * The step under pixel column `px`: the nearest point of any series. The tooltip shows it
   * and a click pins a note to it, so the two always agree. NaN when nothing is drawn.
   */
  private stepAt(px: number): number {
    const xv = this.x.invert(px);
    let best = Infinity;
    let step = NaN;
    for (const s of this.props.series) {
      const c = this.cols.get(s.id);
      const i = c ? c.nearest(xv) : -1;
      if (c && i >= 0 && Math.abs(c.xs[i] - xv) < best)
        [best, step] = [Math.abs(c.xs[i] - xv), c.steps[i]];
    }
    return step;
  }

  private draw(): void {
    this.lastDrawAt = performance.now();
    const t0 = performance.now();
    const p = this.props;
    const height = p.height ?? 280;
    const { canvas } = this.nodes;
    // The legend first: the rows it wraps onto push the plot down, so every run stays named.
    const title = p.title ?? `Batch ${METRIC_NAMES[p.metric]}`;
    const right = plotLayout(this.width, height).right;
    const legend = layoutLegend(
      p.series,
      Math.max(plotLayout(0, 0).left, drawTitle(layer(this.back, 'lt-head'), title)),
      4,
      right,
    );
    const plot = (this.plot = plotLayout(this.width, height, legend.rows));
    const dpr = window.devicePixelRatio || 1;
    if (
      canvas.width !== Math.round(this.width * dpr) ||
      canvas.height !== Math.round(height * dpr)
    ) {
      canvas.width = Math.round(this.width * dpr);
      canvas.height = Math.round(height * dpr);
    }
    // Bring the caches up to date (O(new points) while series only grow).
    const live = new Set(p.series.map((s) => s.id));
    for (const id of this.cols.keys()) if (!live.has(id)) this.cols.delete(id);
    let bx0 = Infinity;
    let bx1 = -Infinity;
    let total = 0;
    for (const s of p.series) {
      let c = this.cols.get(s.id);
      if (!c) this.cols.set(s.id, (c = new SeriesColumns()));
      c.sync(s, p.xAxis, p.metric, p.batchesPerEpoch, p.smoothing);
      if (c.length === 0) continue;
      bx0 = Math.min(bx0, c.xs[0]);
      bx1 = Math.max(bx1, c.xs[c.length - 1]);
      total = Math.max(total, c.total);
    }
    if (!(bx1 > bx0)) [bx0, bx1] = Number.isFinite(bx0) ? [bx0, bx0 + 1] : [0, 1];
    this.base = d3.scaleLinear().domain([bx0, bx1]).range([plot.left, plot.right]);
    const extent: [[number, number], [number, number]] = [
      [plot.left, plot.top],
      [plot.right, plot.bottom],
    ];
    this.zoom
      .extent(extent)
      .translateExtent(extent)
      .scaleExtent([1, Math.max(1, total / 10)]);
    if (this.viewAxis !== p.xAxis || (this.view && (this.view[0] >= bx1 || this.view[1] <= bx0)))
      this.view = null;
    this.viewAxis = p.xAxis;
    this.syncZoom();
    this.x = this.view
      ? d3.scaleLinear().domain(this.view).range([plot.left, plot.right])
      : this.base;
    const [x0, x1] = this.x.domain();

    // Downsample each visible range (after smoothing) to the first, min, max and last point of
    // each pixel column (M4), and find the y extent. Columns are the x scale's, so a line drawn
    // from the hub's buckets and one drawn from raw points pick the same points.
    const smoothing = p.smoothing > 0;
    const buckets = Math.max(1, Math.round(plot.width));
    const columns = { x0, x1 };
    let widest = 0;
    let lo = Infinity;
    let hi = -Infinity;
    let rawHi = -Infinity;
    let minPositive = Infinity;
    let points = 0;
    let drawn = 0;
    const plans = p.series.map((s) => {
      const c = this.cols.get(s.id)!;
      const { start, end } = visibleRange(c.xs, x0, x1, c.length);
      const raw = minMaxBuckets(c.xs, c.ys, buckets, start, end, columns);
      const smooth = smoothing ? minMaxBuckets(c.xs, c.smooth, buckets, start, end, columns) : raw;
      const shown = c.represented(start, end);
      widest = Math.max(widest, shown.width);
      if (end > start) {
        // Zoomed in, the smoothed line can lie outside the visible raw range (it remembers
        // earlier points); showing everything, it stays within the raw values' range.
        for (const ys of smoothing && this.view ? [c.ys, c.smooth] : [c.ys]) {
          const [a, b] = niceExtent(ys, {
            start,
            end,
            pad: 0,
            clipTop: p.metric === 'loss' ? LOSS_CLIP : 0,
          });
          [lo, hi] = [Math.min(lo, a), Math.max(hi, b)];
        }
        for (const i of raw) {
          const v = c.ys[i];
          if (v > rawHi) rawHi = v;
          if (v > 0 && v < minPositive) minPositive = v;
        }
      }
      points += shown.points;
      drawn += smooth.length;
      return { s, c, raw, smooth };
    });
    if (!(hi >= lo)) [lo, hi] = p.metric === 'accuracy' ? [0, 100] : [0, 1];
    const pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.1 || 1;
    let domain = [lo - pad, hi + pad];
    if (p.metric === 'accuracy') domain = [Math.max(0, domain[0]), Math.min(100, domain[1])];
    if (p.metric !== 'accuracy') domain[0] = Math.max(0, domain[0]);
    this.y =
      p.logY && LOG_SCALE_METRICS.has(p.metric) && minPositive < Infinity
        ? d3
            .scaleLog()
            .domain([
              Math.max(minPositive, domain[0]) / 1.1,
              Math.max(domain[1], minPositive * 1.1) * 1.1,
            ])
            .range([plot.bottom, plot.top])
            .nice()
        : d3.scaleLinear().domain(domain).range([plot.bottom, plot.top]).nice();

    const ctx = canvas.getContext('2d')!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.width, height);
    ctx.save();
    ctx.beginPath();
    ctx.rect(plot.left, plot.top, plot.width, plot.height);
    ctx.clip();
    ctx.lineJoin = 'round';
    // Every faint raw line first, so no run's raw noise covers another run's smoothed line.
    if (smoothing)
      for (const { s, c, raw } of plans)
        drawLine(
          ctx,
          c.xs,
          c.ys,
          raw,
          this.x,
          this.y,
          { colour: s.colour, width: 1, alpha: 0.2 },
          c.breaks,
        );
    for (const { s, c, smooth } of plans)
      drawLine(
        ctx,
        c.xs,
        c.smooth,
        smooth,
        this.x,
        this.y,
        { colour: s.colour, width: smoothing ? 1.75 : 1.25, alpha: 1 },
        c.breaks,
      );
    ctx.restore();

    const n = d3.format(',d');
    const clipped =
      rawHi > this.y.domain()[1] ? ` · top ${LOSS_CLIP * 100} % of loss off-scale` : '';
    drawBack(this.back, plot, this.x, this.y, p.xAxis, p.metric, {
      // Titled always, so that an exported image says what it shows (its legend names the runs).
      title,
      legend: p.series,
      legendLayout: legend,
      caption: `${smoothing ? `smoothing ${p.smoothing}` : 'no smoothing'} · ${n(points)} point${points === 1 ? '' : 's'}${widest ? ` (${n(widest)}-step buckets)` : ' (raw)'} → ${n(drawn)} drawn${clipped}${this.view ? ' · zoomed, double-click resets' : ''}`,
      captionTitle:
        'Every point is kept. Far from the live edge the hub sends each stretch of steps as a bucket (its first, last, min and max point, and the mean for smoothing); zoomed in, it sends the steps in view in finer buckets or raw. Each line is drawn through the first, min, max and last point of every pixel column (M4), so spikes keep their height. Debiased EMA smoothing as TensorBoard. Wheel zooms, drag pans, click adds a note.',
      xLabel: p.xAxis === 'time' ? 'elapsed time' : p.xAxis,
    });
    this.drawMarkers(p.annotations ?? []);
    this.drawOverlay();
    this.describe();
    const ms = performance.now() - t0;
    // Each redraw's time in ms goes to `globalThis.__livetrainDrawProbe` when a page installs one
    // before it loads (bench/chart.ts does, with an init script); absent, one property read.
    const hook = (globalThis as { __livetrainDrawProbe?: unknown }).__livetrainDrawProbe;
    if (typeof hook === 'function') hook(ms);
  }

  /** Keeps d3-zoom's transform equal to the pinned view while the full x span grows. */
  private syncZoom(): void {
    if (!this.view) return;
    const [L, R] = this.base.range();
    const a = this.base(this.view[0]);
    const k = (R - L) / (this.base(this.view[1]) - a);
    this.syncing = true;
    this.front.call(this.zoom.transform, d3.zoomIdentity.translate(L - k * a, 0).scale(k));
    this.syncing = false;
  }

  private drawMarkers(annotations: readonly WireAnnotation[]): void {
    const first = this.props.series[0] ? this.cols.get(this.props.series[0].id) : undefined;
    const placed: PlacedAnnotation[] = [];
    for (const a of annotations) {
      const c = this.cols.get(a.runId) ?? first;
      // On the time axis a note sits at the time it was made (a resume after a pause is not
      // at the pause's step's time); on the others, at its step.
      const px =
        this.props.xAxis === 'step'
          ? this.x(a.step)
          : !c
            ? NaN
            : this.props.xAxis === 'time'
              ? this.x(c.xOfTime(Date.parse(a.createdAt)))
              : this.x(c.xOfStep(a.step));
      if (!(px >= this.plot.left && px <= this.plot.right)) continue;
      placed.push({
        a,
        px,
        colour: a.kind === 'note' ? (this.props.annotationColour?.(a) ?? '') : '',
      });
    }
    drawAnnotations(
      layer(this.front, 'lt-flags'),
      this.plot,
      placed,
      this.props.onSelectAnnotation,
    );
  }

  private drawOverlay(): void {
    const g = layer(this.front, 'lt-hover').attr('aria-hidden', 'true').attr('data-export', 'skip');
    const px = this.hoverPx;
    const p = this.props;
    if (px === null || px < this.plot.left || px > this.plot.right || p.series.length === 0)
      return drawHover(g, this.plot, null);
    const xv = this.x.invert(px);
    let hover: Hover | null = null;
    const rows: Hover['rows'][number][] = [];
    for (const s of p.series) {
      const c = this.cols.get(s.id);
      const i = c ? c.nearest(xv) : -1;
      if (!c || i < 0) continue;
      // A run with no point under the cursor (it ended sooner) says so, rather than show its
      // nearest value as if it were this one's.
      const here = Math.abs(this.x(c.xs[i]) - px) <= HOVER_PX;
      const value = !here
        ? 'no point here'
        : formatY(p.metric, c.ys[i]) +
          (p.smoothing > 0 ? ` · smoothed ${formatY(p.metric, c.smooth[i])}` : '');
      rows.push({
        colour: s.colour,
        label: p.series.length > 1 ? s.label : '',
        value,
        px: this.x(c.xs[i]),
        py: here ? this.y(c.smooth[i]) : NaN,
      });
      if (!hover) {
        const step = `step ${d3.format(',d')(this.stepAt(px))}`;
        hover = {
          px: this.x(c.xs[i]),
          header: p.xAxis === 'step' ? step : `${p.xAxis} ${formatX(p.xAxis, c.xs[i])} · ${step}`,
          rows,
        };
      }
    }
    drawHover(g, this.plot, hover);
  }

  /** The accessible summary: each series' latest value. */
  private describe(): void {
    const p = this.props;
    const parts = p.series.slice(0, 4).map((s) => {
      const c = this.cols.get(s.id);
      if (!c || c.length === 0) return `${s.label}: no data yet`;
      const i = c.length - 1;
      const sm = p.smoothing > 0 ? ` (smoothed ${formatY(p.metric, c.smooth[i])})` : '';
      return `${s.label}: ${METRIC_NAMES[p.metric]} ${formatY(p.metric, c.ys[i])}${sm} at step ${c.steps[i]}`;
    });
    const label = `${p.title ?? `Batch ${p.metric}`} chart. ${parts.join('; ') || 'No data yet'}.`;
    if (this.nodes.layers.getAttribute('aria-label') !== label)
      this.nodes.layers.setAttribute('aria-label', label);
  }
}
