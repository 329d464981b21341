'use client';

/**
 * Per-batch loss or accuracy of one live run or several compared runs. React renders one
 * fixed-height container (a canvas for the dense lines between two SVG layers: axes, legend
 * and caption behind, annotation flags and the hover readout in front); {@link BatchView}
 * draws into it at most once per animation frame. The parent bumps `version` after appending
 * points in place; no per-point React work happens here.
 */
import { useEffect, useRef } from 'react';
import type { BatchChartProps } from './batchChartProps';
import { BatchView } from './batchView';
import './charts.css';

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
