'use client';

/**
 * The tutorial's two per-epoch plots (loss or accuracy): train dashed, test solid, one colour
 * per run, point markers with tooltips and a legend. Few points, so SVG only: React owns the
 * fixed-height container, {@link drawEpochChart} draws into its SVG on the next animation
 * frame after a change or a resize.
 */
import { useEffect, useRef } from 'react';
import * as d3 from 'd3';
import type { WireEpoch } from '../../server/protocol';
import { niceExtent } from '../lib/series';
import {
  drawTitle,
  epochDomain,
  layer,
  layoutLegend,
  LEGEND_ROW,
  type LegendPlace,
} from './batchDraw';
import './charts.css';

/** One run's epoch summaries. */
export interface EpochSeries {
  id: string;
  label: string;
  colour: string;
  epochs: readonly WireEpoch[];
}

/** Props of {@link EpochChart}. */
export interface EpochChartProps {
  series: readonly EpochSeries[];
  metric: 'loss' | 'accuracy';
  /** Total height in CSS pixels, default 240; the width follows the container. */
  height?: number;
  title?: string;
}

type Svg = d3.Selection<SVGSVGElement, unknown, null, undefined>;
interface Mark {
  id: string;
  label: string;
  colour: string;
  split: 'train' | 'test';
  points: { epoch: number; value: number }[];
}

const fmt = (metric: EpochChartProps['metric'], v: number): string =>
  metric === 'accuracy' ? `${v.toFixed(2)}%` : d3.format('.4~g')(v);

/** The train and test lines of every series, null/non-finite values dropped. */
function marksOf(series: readonly EpochSeries[], metric: EpochChartProps['metric']): Mark[] {
  return series.flatMap((s) =>
    (['train', 'test'] as const).map((split) => ({
      id: s.id,
      label: s.label,
      colour: s.colour,
      split,
      points: s.epochs
        .map((e) => ({
          epoch: e.epoch,
          value:
            (metric === 'loss'
              ? split === 'train'
                ? e.trainLoss
                : e.testLoss
              : split === 'train'
                ? e.trainAccuracy
                : e.testAccuracy) ?? NaN,
        }))
        .filter((p) => Number.isFinite(p.value)),
    })),
  );
}

/** Draws the whole chart into `svg` (pure apart from the DOM it is given). */
export function drawEpochChart(
  svg: Svg,
  width: number,
  height: number,
  props: EpochChartProps,
): void {
  const { metric } = props;
  const marks = marksOf(props.series, metric);
  // Title, then the train/test key, then one swatch per run, wrapping onto more rows.
  const head = layer(svg, 'lt-head');
  // Titled always, so that an exported image says what it shows (its legend names the runs).
  const titleEnd = drawTitle(head, props.title ?? `Per epoch: ${props.metric}, train and test`);
  const legend = layoutLegend(
    [
      { label: 'train', colour: '' },
      { label: 'test', colour: '' },
      ...props.series.map((s) => ({ label: s.label, colour: s.colour })),
    ],
    Math.max(52, titleEnd),
    4,
    width - 20,
  );
  const m = { left: 52, top: 30 + LEGEND_ROW * (legend.rows - 1), right: 20, bottom: 34 };
  const values = marks.flatMap((k) => k.points.map((p) => p.value));
  const lastEpoch = Math.max(1, ...marks.flatMap((k) => k.points.map((p) => p.epoch)));
  const single = lastEpoch === 1;
  const x = d3
    .scaleLinear()
    .domain(epochDomain(lastEpoch))
    .range([m.left + 8, Math.max(m.left + 20, width - m.right - 8)]);
  let [lo, hi] = values.length
    ? niceExtent(values, { pad: 0.08 })
    : metric === 'accuracy'
      ? [90, 100]
      : [0, 1];
  if (metric === 'accuracy') hi = Math.min(100, hi);
  else lo = Math.max(0, lo);
  const y = d3
    .scaleLinear()
    .domain([lo, hi])
    .range([height - m.bottom, m.top])
    .nice();

  layer(svg, 'lt-grid')
    .selectAll('line')
    .data(y.ticks(5))
    .join('line')
    .attr('x1', m.left)
    .attr('x2', width - m.right)
    .attr('y1', (d) => Math.round(y(d)) + 0.5)
    .attr('y2', (d) => Math.round(y(d)) + 0.5);
  const epochTicks = single
    ? [1]
    : x.ticks(Math.min(lastEpoch, Math.floor(width / 50))).filter(Number.isInteger);
  layer(svg, 'lt-axis lt-axis-x')
    .attr('transform', `translate(0,${height - m.bottom})`)
    .call(d3.axisBottom(x).tickValues(epochTicks).tickFormat(d3.format('d')).tickSizeOuter(0));
  layer(svg, 'lt-axis lt-axis-y')
    .attr('transform', `translate(${m.left},0)`)
    .call(
      d3
        .axisLeft(y)
        .ticks(5)
        .tickFormat((d) => (metric === 'accuracy' ? `${+d}%` : d3.format('~g')(+d)))
        .tickSizeOuter(0),
    );
  layer(svg, 'lt-foot')
    .selectAll('text.lt-xlabel')
    .data(['epoch'])
    .join('text')
    .attr('class', 'lt-xlabel')
    .attr('x', width - m.right)
    .attr('y', height - 4)
    .text((d) => d);

  const line = d3
    .line<{ epoch: number; value: number }>()
    .x((p) => x(p.epoch))
    .y((p) => y(p.value));
  const groups = layer(svg, 'lt-epoch-marks')
    .selectAll<SVGGElement, Mark>('g.lt-epoch-mark')
    .data(marks, (k) => `${k.id}/${k.split}`)
    .join((enter) => {
      const g = enter.append('g').attr('class', (k) => `lt-epoch-mark lt-epoch-${k.split}`);
      g.append('path').attr('class', 'lt-epoch-line');
      return g;
    });
  groups
    .select('path')
    .attr('d', (k) => line(k.points))
    .style('stroke', (k) => k.colour);
  groups
    .selectAll('circle')
    .data((k) => k.points.map((p) => ({ ...p, k })))
    .join((enter) => enter.append('circle').call((c) => c.append('title')))
    .attr('r', 3.5)
    .attr('cx', (d) => x(d.epoch))
    .attr('cy', (d) => y(d.value))
    .style('stroke', (d) => d.k.colour)
    .style('fill', (d) => (d.k.split === 'test' ? d.k.colour : null))
    .select('title')
    .text(
      (d) => `${d.k.label} · epoch ${d.epoch} · ${d.k.split} ${metric} ${fmt(metric, d.value)}`,
    );
  // One epoch has no line to read: each point says its value beside it.
  groups
    .selectAll('text.lt-epoch-value')
    .data((k) => (single && props.series.length === 1 ? k.points.map((p) => ({ ...p, k })) : []))
    .join('text')
    .attr('class', 'lt-epoch-value')
    .attr('x', (d) => x(d.epoch) + 8)
    .attr('y', (d) => y(d.value) + 4)
    .text((d) => `${d.k.split} ${fmt(metric, d.value)}`);

  const items = head
    .selectAll<SVGGElement, LegendPlace>('g.lt-legend-item')
    .data(legend.placed, (d) => `${d.row}/${d.x}/${d.label}`)
    .join((enter) => {
      const g = enter.append('g').attr('class', 'lt-legend-item');
      g.append('line').attr('x1', 0).attr('x2', 18).attr('y1', -4).attr('y2', -4);
      g.append('text').attr('x', 22);
      return g;
    })
    .attr('transform', (d) => `translate(${d.x},${16 + LEGEND_ROW * d.row})`);
  // The first two entries are the train (dashed) / test (solid) key, drawn in the text colour.
  items
    .select('line')
    .style('stroke', (d) => d.colour || null)
    .attr('stroke-dasharray', (d) => (d.colour === '' && d.label === 'train' ? '5 4' : null))
    .classed('lt-key', (d) => !d.colour);
  items.select('text').text((d) => d.label);
  head
    .selectAll('text.lt-legend-more')
    .data(legend.more > 0 ? [legend.more] : [])
    .join('text')
    .attr('class', 'lt-legend-more')
    .attr('x', legend.moreAt.x)
    .attr('y', 16 + LEGEND_ROW * legend.moreAt.row)
    .text((d) => `+${d}`);
}

/** Per-epoch train (dashed) vs test (solid) loss or accuracy for one or more runs. */
export function EpochChart(props: EpochChartProps) {
  const rootRef = useRef<HTMLDivElement>(null);
  const svgRef = useRef<SVGSVGElement>(null);
  const propsRef = useRef(props);
  const redraw = useRef<() => void>(() => {});
  const height = props.height ?? 240;
  propsRef.current = props;

  useEffect(() => {
    const root = rootRef.current!;
    const svg = d3.select(svgRef.current!);
    let frame = 0;
    const schedule = (): void => {
      if (frame) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        drawEpochChart(svg, root.clientWidth, propsRef.current.height ?? 240, propsRef.current);
      });
    };
    const ro = new ResizeObserver(schedule);
    ro.observe(root);
    redraw.current = schedule;
    return () => {
      cancelAnimationFrame(frame);
      ro.disconnect();
      redraw.current = () => {};
    };
  }, []);
  useEffect(() => redraw.current());

  const latest = props.series
    .map((s) => {
      const e = s.epochs[s.epochs.length - 1];
      if (!e) return `${s.label}: no epochs yet`;
      const train = props.metric === 'loss' ? e.trainLoss : e.trainAccuracy;
      const test = props.metric === 'loss' ? e.testLoss : e.testAccuracy;
      return `${s.label}: epoch ${e.epoch} test ${test === null ? 'not a number' : fmt(props.metric, test)}${train === null ? '' : `, train ${fmt(props.metric, train)}`}`;
    })
    .join('; ');
  return (
    <div ref={rootRef} className="lt-chart lt-chart-stack lt-epoch-chart" style={{ height }}>
      <svg
        ref={svgRef}
        className="lt-chart-back"
        width="100%"
        height={height}
        role="img"
        aria-label={`${props.title ?? `Epoch ${props.metric}`}. ${latest || 'No data yet'}.`}
      />
    </div>
  );
}
