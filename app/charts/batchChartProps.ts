/**
 * What the batch chart is given: its props, one line's data and the zoomed view it reports. A
 * file of its own so that the chart component and the view that draws it (batchView.ts) both
 * import it without importing each other.
 */
import type { WireAnnotation } from '../../server/protocol';
import type { MetricKind, SeriesSource, XAxisKind } from './batchColumns';

/**
 * One line on the chart: a run's raw batch points (may be appended to in place), the overview's
 * buckets before them and, zoomed, the detail range the hub answered.
 */
export interface BatchSeries extends SeriesSource {
  id: string;
  label: string;
  colour: string;
}

/** A zoomed view in steps, at the chart's width in pixel columns; null when showing everything. */
export type BatchViewRange = { fromStep: number; toStep: number; columns: number } | null;

/** Props of {@link BatchChart}; the controls (metric, axis, smoothing) live in the parent. */
export interface BatchChartProps {
  /** One run live, or several (compare page). */
  series: readonly BatchSeries[];
  metric: MetricKind;
  /**
   * `epoch` is fractional: `epoch - 1 + batch / batchesPerEpoch`; `time` is the elapsed time
   * since each series' first point (so compared runs line up).
   */
  xAxis: XAxisKind;
  /** Used for the epoch axis; inferred from the largest batch index seen when absent. */
  batchesPerEpoch?: number | null;
  /** 0..0.99, debiased EMA weight; applied before downsampling. */
  smoothing: number;
  /** A logarithmic y axis (values ≤ 0 are not drawn on it). */
  logY?: boolean;
  /** Redraw for new points at most this often (a secondary chart); zoom and resize at once. */
  liveEveryMs?: number;
  /** Bumped by the parent whenever points were appended (arrays may be mutated in place). */
  version: number;
  /** Markers at their step (on the series whose id is the annotation's runId, else the first). */
  annotations?: readonly WireAnnotation[];
  /** Colour of a note's marker (e.g. its author's); events use the muted theme colour. */
  annotationColour?: (a: WireAnnotation) => string;
  /** A click (not a drag) on the plot area, with the nearest step. */
  onAddAnnotation?: (step: number) => void;
  /**
   * The zoomed view changed (settled for a moment), in steps and pixel columns; null when reset.
   * The parent asks the hub for detail there ({@link BatchSeries.detail}).
   */
  onViewChange?: (view: BatchViewRange) => void;
  /** A click or Enter/Space on an annotation's flag. */
  onSelectAnnotation?: (a: WireAnnotation) => void;
  /** Total height in CSS pixels, default 280; the width follows the container. */
  height?: number;
  title?: string;
}
