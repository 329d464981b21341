/**
 * Small drawing functions for the batch chart: each takes its data and scales and draws one
 * layer (axes and legend on the back SVG, lines on the canvas, annotation flags and the hover
 * readout on the front SVG). No state lives here; batchView.ts decides what and when.
 */
import * as d3 from 'd3';
import type { WireAnnotation } from '../../server/protocol';
import type { MetricKind, XAxisKind } from './batchColumns';
import { formatClock } from '../../server/format';

/** Plot rectangle inside the chart, in CSS pixels. */
export interface Plot {
  left: number;
  top: number;
  right: number;
  bottom: number;
  width: number;
  height: number;
}

type Svg = d3.Selection<SVGSVGElement, unknown, null, undefined>;
type G = d3.Selection<SVGGElement, unknown, null, undefined>;
type Linear = d3.ScaleLinear<number, number>;
/** The y scale: linear, or logarithmic (the log-scale toggle). */
export type YScale = d3.ScaleLinear<number, number> | d3.ScaleLogarithmic<number, number>;

/** Height of one legend row; a legend that wraps pushes the plot down by this per extra row. */
export const LEGEND_ROW = 15;

/** Margins leave room for the title/legend rows, the axes and the caption row. */
export function plotLayout(width: number, height: number, legendRows = 1): Plot {
  const left = 52;
  const top = 30 + LEGEND_ROW * Math.max(0, legendRows - 1);
  const right = Math.max(left + 10, width - 24);
  const bottom = Math.max(top + 10, height - 40);
  return { left, top, right, bottom, width: right - left, height: bottom - top };
}

/** The one `<g class=…>` child of `parent` (`cls` may hold several classes), created on first use. */
export function layer<P extends SVGElement>(
  parent: d3.Selection<P, unknown, null, undefined>,
  cls: string,
): G {
  const found = parent.select<SVGGElement>(`:scope > g.${cls.trim().split(/\s+/).join('.')}`);
  return (found.empty() ? parent.append('g').attr('class', cls) : found) as unknown as G;
}

/** Draws the chart title at the top left; returns the x where a legend may start. */
export function drawTitle(head: G, title: string): number {
  const text = head
    .selectAll<SVGTextElement, string>('text.lt-title')
    .data([title])
    .join('text')
    .attr('class', 'lt-title')
    .attr('x', 4)
    .attr('y', 16)
    .text((d) => d);
  if (!title) return 4;
  // Measured once per title (a layout read), not every frame.
  const node = text.node() as SVGTextElement & { ltWidth?: [string, number] };
  if (node.ltWidth?.[0] !== title)
    node.ltWidth = [title, node.getComputedTextLength() || title.length * 8];
  return 4 + node.ltWidth[1] + 16;
}

/** Estimated width of a legend label's character (11 px sans-serif), and of its swatch and gap. */
const CHAR_PX = 6.5;
const SWATCH_PX = 18;
const GAP_PX = 10;

/** A legend entry placed: its row (0: beside the title) and x. */
export interface LegendPlace {
  label: string;
  colour: string;
  x: number;
  row: number;
}

/**
 * Lays legend entries out after the title (`start`), wrapping onto rows that start at `left`,
 * up to `maxRows`; whatever does not fit then is counted in `more` ("+N"). A label is cut
 * ("…") only when it is wider than a whole row, so an exported image names every run it can.
 */
export function layoutLegend(
  items: readonly { label: string; colour: string }[],
  start: number,
  left: number,
  right: number,
  maxRows = 3,
): { placed: LegendPlace[]; rows: number; more: number; moreAt: { x: number; row: number } } {
  const placed: LegendPlace[] = [];
  let row = 0;
  let x = start;
  const widest = Math.max(1, Math.floor((right - left - SWATCH_PX) / CHAR_PX));
  for (const [i, item] of items.entries()) {
    const label = item.label.length > widest ? `${item.label.slice(0, widest - 1)}…` : item.label;
    const w = SWATCH_PX + label.length * CHAR_PX;
    // Room for "+N" after the last entry a row can take when others follow.
    const reserve = i < items.length - 1 && row === maxRows - 1 ? 26 : 0;
    if (x + w > right - reserve && x > left) {
      if (row + 1 >= maxRows) break;
      row++;
      x = left;
    }
    placed.push({ label, colour: item.colour, x, row });
    x += w + GAP_PX;
  }
  return { placed, rows: row + 1, more: items.length - placed.length, moreAt: { x, row } };
}

/**
 * The per-epoch charts' x domain: from epoch 1 to the last; a single epoch sits in the middle
 * of [0.5, 1.5] (not as a lone dot at the left end of a 1–2 axis).
 */
export function epochDomain(lastEpoch: number): [number, number] {
  return lastEpoch <= 1 ? [0.5, 1.5] : [1, lastEpoch];
}

const TIME_STEPS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
];

/** Ticks for an elapsed-seconds axis at clock-friendly intervals (1 s … 1 day). */
function timeTicks(x: Linear, count: number): number[] {
  const [a, b] = x.domain();
  const raw = (b - a) / count;
  const step = TIME_STEPS.find((s) => s >= raw) ?? Math.ceil(raw / 86400) * 86400;
  const out: number[] = [];
  for (let t = Math.ceil(a / step) * step; t <= b; t += step) out.push(t);
  return out;
}

/** Tick/readout format for an x value. */
export function formatX(kind: XAxisKind, v: number): string {
  if (kind === 'time') return formatClock(v);
  if (kind === 'epoch') return d3.format('.2~f')(v);
  return d3.format(',d')(v);
}

/** Readout format for a y value (accuracy is a percentage). */
export function formatY(metric: MetricKind, v: number): string {
  // A diverged batch's value is stored as null (drawn as a gap).
  if (!Number.isFinite(v)) return 'not finite';
  if (metric === 'accuracy') return `${d3.format('.2f')(v)}%`;
  if (metric === 'samplesPerSec') return `${d3.format(',.0f')(v)}/s`;
  return d3.format('.4~g')(v);
}

/**
 * A y tick's label. Samples/s are counts a second, grouped ("12,000"), never SI ("500m" read
 * as 500 million, "12k"); the others as short as they can be.
 */
export function formatYTick(metric: MetricKind, v: number): string {
  if (metric === 'accuracy') return `${v}%`;
  if (metric === 'samplesPerSec')
    return Math.abs(v) >= 1 ? d3.format(',~f')(v) : d3.format('~g')(v);
  return d3.format('~g')(v);
}

/** What the back layer shows besides the axes. */
export interface BackText {
  title: string;
  legend: readonly { label: string; colour: string }[];
  caption: string;
  captionTitle: string;
  xLabel: string;
  /** The legend as laid out already (the plot's top depends on its rows); else laid out here. */
  legendLayout?: ReturnType<typeof layoutLegend>;
}

/** Gridlines, axes, title, legend and caption (the back SVG, under the canvas). */
export function drawBack(
  svg: Svg,
  plot: Plot,
  x: Linear,
  y: YScale,
  xAxis: XAxisKind,
  metric: MetricKind,
  text: BackText,
): void {
  const xTicks = Math.max(2, Math.floor(plot.width / 90));
  const yTicks = Math.max(2, Math.floor(plot.height / 40));
  layer(svg, 'lt-grid')
    .selectAll('line')
    .data(y.ticks(yTicks))
    .join('line')
    .attr('x1', plot.left)
    .attr('x2', plot.right)
    .attr('y1', (d) => Math.round(y(d)) + 0.5)
    .attr('y2', (d) => Math.round(y(d)) + 0.5);
  const xa = d3
    .axisBottom(x)
    .tickFormat((d) => formatX(xAxis, +d))
    .tickSizeOuter(0);
  xa.tickValues(
    xAxis === 'time'
      ? timeTicks(x, xTicks)
      : x.ticks(xTicks).filter((v) => xAxis !== 'step' || Number.isInteger(v)),
  );
  layer(svg, 'lt-axis lt-axis-x').attr('transform', `translate(0,${plot.bottom})`).call(xa);
  const yTickFormat = (d: d3.NumberValue) => formatYTick(metric, +d);
  // A log axis has ticks at every 1–9 of each decade: label only those the scale keeps.
  const keep = 'base' in y ? y.tickFormat(yTicks) : null;
  const ya = (d3.axisLeft(y as Linear) as d3.Axis<d3.NumberValue>)
    .ticks(yTicks)
    .tickFormat((d) => (keep && keep(d) === '' ? '' : yTickFormat(d)));
  layer(svg, 'lt-axis lt-axis-y')
    .attr('transform', `translate(${plot.left},0)`)
    .call(ya.tickSizeOuter(0));

  const head = layer(svg, 'lt-head');
  const legend =
    text.legendLayout ??
    layoutLegend(text.legend, Math.max(plot.left, drawTitle(head, text.title)), 4, plot.right);
  if (text.legendLayout) drawTitle(head, text.title);
  const items = head
    .selectAll<SVGGElement, LegendPlace>('g.lt-legend-item')
    .data(legend.placed)
    .join((enter) => {
      const g = enter.append('g').attr('class', 'lt-legend-item');
      g.append('rect').attr('width', 12).attr('height', 3).attr('y', -4);
      g.append('text').attr('x', 16);
      return g;
    })
    .attr('transform', (d) => `translate(${d.x},${16 + LEGEND_ROW * d.row})`);
  items.select('rect').attr('fill', (d) => d.colour);
  items.select('text').text((d) => d.label);
  head
    .selectAll('text.lt-legend-more')
    .data(legend.more > 0 ? [legend.more] : [])
    .join('text')
    .attr('class', 'lt-legend-more')
    .attr('x', legend.moreAt.x)
    .attr('y', 16 + LEGEND_ROW * legend.moreAt.row)
    .text((d) => `+${d}`);

  const foot = layer(svg, 'lt-foot');
  const caption = foot
    .selectAll('text.lt-caption')
    .data([text.caption])
    .join('text')
    .attr('class', 'lt-caption')
    .attr('x', 4)
    .attr('y', plot.bottom + 34)
    .text((d) => d);
  caption
    .selectAll('title')
    .data([text.captionTitle])
    .join('title')
    .text((d) => d);
  foot
    .selectAll('text.lt-xlabel')
    .data([text.xLabel])
    .join('text')
    .attr('class', 'lt-xlabel')
    .attr('x', plot.right)
    .attr('y', plot.bottom + 34)
    .text((d) => d);
}

/**
 * Strokes one line through `idx` (downsampled indices) on a canvas already scaled to CSS
 * pixels and clipped to the plot; non-finite values break the line.
 */
export function drawLine(
  ctx: CanvasRenderingContext2D,
  xs: Float64Array,
  ys: Float64Array,
  idx: Uint32Array,
  x: Linear,
  y: YScale,
  style: { colour: string; width: number; alpha: number },
  /** Cumulative count of breaks (a pause, a stop) before each index: no segment crosses one. */
  breaks?: Uint32Array,
): void {
  ctx.beginPath();
  if (idx.length === 1 && Number.isFinite(ys[idx[0]])) {
    // A lone point has no segment to stroke: draw it as a dot.
    ctx.arc(x(xs[idx[0]]), y(ys[idx[0]]), style.width + 1, 0, 2 * Math.PI);
    ctx.fillStyle = style.colour;
    ctx.fill();
    return;
  }
  let pen = false;
  let prev = -1;
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k];
    const v = ys[i];
    if (breaks && prev >= 0 && breaks[i] !== breaks[prev]) pen = false;
    prev = i;
    if (!Number.isFinite(v)) {
      pen = false;
      continue;
    }
    const px = x(xs[i]);
    const py = y(v);
    // Off a log scale (a value ≤ 0): a gap, like a value that is not finite.
    if (!Number.isFinite(py)) {
      pen = false;
      continue;
    }
    if (pen) ctx.lineTo(px, py);
    else ctx.moveTo(px, py);
    pen = true;
  }
  ctx.globalAlpha = style.alpha;
  ctx.strokeStyle = style.colour;
  ctx.lineWidth = style.width;
  ctx.stroke();
  ctx.globalAlpha = 1;
}

/** An annotation placed at a pixel x. */
export interface PlacedAnnotation {
  a: WireAnnotation;
  px: number;
  colour: string;
}

/**
 * A marker's short label: a person's command without its author ("lr 0.01 → 0.05", "paused"),
 * a note's text cut at 28 characters. The flag's tooltip and the notes list have it all.
 */
export function markerLabel(a: Pick<WireAnnotation, 'kind' | 'text' | 'authorName'>): string {
  let text = a.text;
  if (a.kind === 'event') {
    if (text.startsWith(`${a.authorName} `)) text = text.slice(a.authorName.length + 1);
    text = text
      .replace(/^changed the learning rate from (\S+) to (\S+)/, 'lr $1 → $2')
      .replace(/^set the learning rate to (\S+)/, 'lr $1')
      .replace(/^(started|paused|resumed|stopped) the run/, '$1');
  }
  return text.length > 28 ? `${text.slice(0, 27)}…` : text;
}

/** Vertical line plus a small flag per annotation; notes solid and filled, events dashed. */
export function drawAnnotations(
  g: G,
  plot: Plot,
  placed: readonly PlacedAnnotation[],
  onSelect: ((a: WireAnnotation) => void) | undefined,
): void {
  const when = (iso: string): string => {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
  };
  const flags = g
    .selectAll<SVGGElement, PlacedAnnotation>('g.lt-flag')
    .data(placed, (d) => String(d.a.id))
    .join((enter) => {
      const f = enter.append('g').attr('role', 'button').attr('tabindex', 0);
      f.append('line').attr('class', 'lt-flag-pole');
      f.append('path').attr('class', 'lt-flag-mark');
      f.append('text').attr('class', 'lt-flag-label').attr('data-export', 'show');
      f.append('title');
      return f;
    })
    .attr('class', (d) => `lt-flag lt-flag-${d.a.kind}`)
    .attr('transform', (d) => `translate(${Math.round(d.px) + 0.5},0)`)
    .attr('aria-label', (d) => `${d.a.kind} at step ${d.a.step} by ${d.a.authorName}: ${d.a.text}`)
    .on('click', (event: MouseEvent, d) => {
      event.stopPropagation();
      onSelect?.(d.a);
    })
    .on('keydown', (event: KeyboardEvent, d) => {
      if (event.key !== 'Enter' && event.key !== ' ') return;
      event.preventDefault();
      onSelect?.(d.a);
    });
  // Styles, not attributes: the theme's CSS rules would override presentation attributes.
  flags
    .select('line')
    .attr('y1', plot.top)
    .attr('y2', plot.bottom)
    .style('stroke', (d) => d.colour || null);
  flags
    .select('path')
    .attr('d', (d) =>
      d.a.kind === 'note' ? `M0,${plot.top}h9l-3,4l3,4h-9z` : `M0,${plot.top - 1}l5,5l-5,5l-5,-5z`,
    )
    .style('fill', (d) => (d.colour && d.a.kind === 'note' ? d.colour : null))
    .style('stroke', (d) => d.colour || null);
  flags.select('title').text((d) => `${d.a.authorName} · ${when(d.a.createdAt)} · ${d.a.text}`);
  // Labels in three staggered rows (by position), so neighbours' labels in an export overlap less;
  // near the right edge a label reads leftwards.
  const row = new Map([...placed].sort((p, q) => p.px - q.px).map((p, i) => [p.a.id, i % 3]));
  flags
    .select('text.lt-flag-label')
    .attr('x', (d) => (d.px > plot.right - 120 ? -7 : 7))
    .attr('y', (d) => plot.top + 20 + 12 * (row.get(d.a.id) ?? 0))
    .attr('text-anchor', (d) => (d.px > plot.right - 120 ? 'end' : 'start'))
    .text((d) => markerLabel(d.a));
}

/** The hover state: a crosshair at `px` and one readout row per series. */
export interface Hover {
  px: number;
  header: string;
  /** One row per series, with that series' nearest point (it may sit off the crosshair). */
  rows: readonly { colour: string; label: string; value: string; px: number; py: number }[];
}

/** Crosshair, dots and a readout box; hidden when `hover` is null. */
export function drawHover(g: G, plot: Plot, hover: Hover | null): void {
  g.style('display', () => (hover ? null : 'none'));
  if (!hover) return;
  g.selectAll('line.lt-crosshair')
    .data([hover.px])
    .join('line')
    .attr('class', 'lt-crosshair')
    .attr('x1', (d) => d)
    .attr('x2', (d) => d)
    .attr('y1', plot.top)
    .attr('y2', plot.bottom);
  g.selectAll('circle.lt-dot')
    .data(hover.rows.filter((r) => Number.isFinite(r.py)))
    .join('circle')
    .attr('class', 'lt-dot')
    .attr('r', 3)
    .attr('cx', (d) => d.px)
    .attr('cy', (d) => d.py)
    .style('fill', (d) => d.colour);
  const lines = [
    { swatch: '', text: hover.header },
    ...hover.rows.map((r) => ({
      swatch: r.colour,
      text: `${r.label ? `${r.label}  ` : ''}${r.value}`,
    })),
  ];
  const box = layer(g, 'lt-readout');
  const width = 24 + 6.4 * Math.max(...lines.map((l) => l.text.length));
  const left = hover.px + 12 + width > plot.right ? hover.px - 12 - width : hover.px + 12;
  box.attr('transform', `translate(${Math.max(plot.left, left)},${plot.top + 6})`);
  box
    .selectAll('rect')
    .data([0])
    .join('rect')
    .attr('width', width)
    .attr('height', 8 + 15 * lines.length)
    .attr('rx', 4);
  box
    .selectAll('text')
    .data(lines)
    .join('text')
    .attr('x', 6)
    .attr('y', (_, i) => 16 + 15 * i)
    .selectAll('tspan')
    .data((d) =>
      d.swatch
        ? [
            { fill: d.swatch, text: '\u25cf ' },
            { fill: null, text: d.text },
          ]
        : [{ fill: null, text: d.text }],
    )
    .join('tspan')
    .style('fill', (d) => d.fill)
    .text((d) => d.text);
}
