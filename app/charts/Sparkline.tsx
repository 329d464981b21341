/**
 * A tiny inline SVG line for the runs list (e.g. a run's loss history). Long inputs are
 * reduced with min/max buckets to about two points per pixel so spikes survive. No hooks and
 * no DOM access, so it renders in server and client components alike.
 */
import { minMaxBuckets, niceExtent } from '../lib/series';
import './charts.css';

/** Props of {@link Sparkline}. */
export interface SparklineProps {
  values: readonly number[];
  /** CSS pixels; default 96 × 24. */
  width?: number;
  height?: number;
  /** Line colour; defaults to the theme's accent. */
  colour?: string;
  /** What the line shows, for assistive technology (e.g. "loss, latest 0.041"). */
  label: string;
  /** The y range to draw in (a scale shared by several sparklines); default the values' own. */
  extent?: readonly [number, number];
}

/** SVG path data for `values` within a width × height box (1 px inset); '' when < 1 point. */
export function sparklinePath(
  values: readonly number[],
  width: number,
  height: number,
  extent?: readonly [number, number],
): string {
  const n = values.length;
  if (n === 0) return '';
  const xs = new Float64Array(n);
  for (let i = 0; i < n; i++) xs[i] = i;
  // Min/max buckets emit up to 4 points per bucket: width/2 buckets ≈ 2 points per pixel.
  const idx = minMaxBuckets(xs, values, Math.max(1, Math.floor(width / 2)));
  const [lo, hi] = extent && extent[1] > extent[0] ? extent : niceExtent(values, { pad: 0 });
  const sx = n > 1 ? (width - 2) / (n - 1) : 0;
  const sy = (height - 2) / (hi - lo);
  let d = '';
  let pen = false;
  for (const i of idx) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      pen = false;
      continue;
    }
    const px = (1 + i * sx).toFixed(1);
    const py = (height - 1 - (v - lo) * sy).toFixed(1);
    d += `${pen ? 'L' : 'M'}${px},${py}`;
    pen = true;
  }
  // A single point draws as a short flat tick so it is visible.
  return n === 1 && d ? `${d}h${Math.min(4, width - 2)}` : d;
}

/** A small, decorative-size line chart with an accessible label. */
export function Sparkline({
  values,
  width = 96,
  height = 24,
  colour,
  label,
  extent,
}: SparklineProps) {
  const d = sparklinePath(values, width, height, extent);
  return (
    <svg
      className="lt-sparkline"
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={label}
    >
      <title>{label}</title>
      {d ? <path d={d} style={colour ? { stroke: colour } : undefined} /> : null}
    </svg>
  );
}
