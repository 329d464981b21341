'use client';

/**
 * Per-batch loss or accuracy of one live run or several compared runs. React renders one
 * fixed-height container (a canvas for the dense lines between two SVG layers: axes, legend
 * and caption behind, annotation flags and the hover readout in front); {@link BatchView}
 * draws into it at most once per animation frame. The parent bumps `version` after appending
 * points in place; no per-point React work happens here.
 */
import { useEffect, useRef } from 'react';
import type { WireAnnotation } from '../../server/protocol';
import type { MetricKind, SeriesSource, XAxisKind } from './batchColumns';
import { BatchView } from './batchView';
import './charts.css';

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

/**
 * The batch chart. Wheel zooms and drag pans along x (double-click resets); while not zoomed
 * the view follows new points. Each visible line is smoothed, then downsampled to about two
 * points per pixel column with min/max buckets, and the caption says so.
 */
export function BatchChart(props: BatchChartProps) {
  const rootRef = useRef<HTMLDivElement>(null);
  const layersRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const backRef = useRef<SVGSVGElement>(null);
  const frontRef = useRef<SVGSVGElement>(null);
  const viewRef = useRef<BatchView | null>(null);
  const propsRef = useRef(props);
  propsRef.current = props;

  useEffect(() => {
    const view = new BatchView(
      {
        root: rootRef.current!,
        layers: layersRef.current!,
        canvas: canvasRef.current!,
        back: backRef.current!,
        front: frontRef.current!,
      },
      propsRef.current,
    );
    viewRef.current = view;
    return () => {
      view.destroy();
      viewRef.current = null;
    };
  }, []);

  // Every render hands over the latest props; the view coalesces them into one frame.
  useEffect(() => {
    viewRef.current?.update(props);
  });

  const height = props.height ?? 280;
  return (
    <div ref={rootRef} className="lt-chart lt-chart-stack lt-batch-chart" style={{ height }}>
      <div
        ref={layersRef}
        className="lt-chart-layers"
        role="img"
        aria-label={`${props.title ?? `Batch ${props.metric}`} chart`}
      >
        <svg ref={backRef} className="lt-chart-back" width="100%" height={height} />
        <canvas ref={canvasRef} className="lt-chart-canvas" />
      </div>
      <svg
        ref={frontRef}
        className="lt-chart-front"
        width="100%"
        height={height}
        aria-label="Annotations"
        role="group"
      />
    </div>
  );
}
