'use client';
/**
 * The batch-level curves, live: loss and accuracy on canvas, with the smoothing (debiased
 * EMA, applied before downsampling) and the x axis chosen here. Clicking a curve pins a note
 * at that step for everyone.
 */
import { useRef, useState, type FormEvent, type ReactNode } from 'react';
import { MAX_ANNOTATION_CHARS, type WireAnnotation } from '../../server/protocol';
import { BatchChart } from '../charts/BatchChart';
import type { BatchSeries } from '../charts/batchChartProps';
import { X_AXES, type XAxisKind } from '../charts/batchColumns';
import { fileSlug } from '../../server/format';
import { exportPng, exportSvg } from '../lib/chartExport';
import { useHub } from '../lib/HubProvider';
import { useSeriesDetail } from '../lib/useSeriesDetail';
import type { RunView } from '../lib/runState';

export interface ChartControlsProps {
  smoothing: number;
  setSmoothing(v: number): void;
  xAxis: XAxisKind;
  setXAxis(v: XAxisKind): void;
  logY: boolean;
  setLogY(v: boolean): void;
}

export function ChartControls({
  smoothing,
  setSmoothing,
  xAxis,
  setXAxis,
  logY,
  setLogY,
}: ChartControlsProps) {
  return (
    <div className="chart-controls">
      <label htmlFor="smoothing">
        Smoothing <output htmlFor="smoothing">{smoothing.toFixed(2)}</output>
      </label>
      <input
        id="smoothing"
        type="range"
        min={0}
        max={0.99}
        step={0.01}
        value={smoothing}
        onChange={(e) => setSmoothing(Number(e.target.value))}
      />
      <label htmlFor="x-axis">x axis</label>
      <select
        id="x-axis"
        value={xAxis}
        onChange={(e) => setXAxis(X_AXES.find((a) => a === e.target.value) ?? 'step')}
      >
        <option value="step">step</option>
        <option value="epoch">epoch</option>
        <option value="time">time (elapsed)</option>
      </select>
      <label>
        <input type="checkbox" checked={logY} onChange={(e) => setLogY(e.target.checked)} /> log
        scale <span className="muted">(loss, learning rate)</span>
      </label>
    </div>
  );
}

/** A chart under its title with PNG and SVG export buttons (the export takes the chart inside). */
export function ChartBox({
  testId,
  title,
  exportName,
  children,
}: {
  testId: string;
  title: string;
  exportName: string;
  children: ReactNode;
}) {
  const ref = useRef<HTMLDivElement>(null);
  return (
    <div ref={ref} data-testid={testId}>
      <div className="chart-title">
        {title} <ExportButtons target={() => ref.current} name={exportName} />
      </div>
      {children}
    </div>
  );
}

/** A chart's download name: `livetrain-<run name>-<run id>-<what>`, slugged as the CSV export's. */
export function chartFileName(run: { name: string; id: string }, what: string): string {
  return `livetrain-${fileSlug(run.name)}-${run.id}-${what}`;
}

/** PNG and SVG download buttons; `name` is slugged (no spaces or brackets in a file name). */
export function ExportButtons({
  target,
  name,
}: {
  target: () => HTMLElement | null;
  name: string;
}) {
  const file = fileSlug(name, 200);
  return (
    <span className="export-buttons">
      <button
        type="button"
        className="small"
        onClick={() => target() && exportPng(target()!, `${file}.png`)}
      >
        PNG
      </button>
      <button
        type="button"
        className="small"
        onClick={() => target() && exportSvg(target()!, `${file}.svg`)}
      >
        SVG
      </button>
    </span>
  );
}

/**
 * The learning-rate and samples/s charts follow new points once a second, not at every frame:
 * redrawn at every frame they doubled the run page's redraw per frame (`npm run bench:chart`,
 * docs/benchmarks.md), and they change slowly (the rate by a person's command,
 * samples/s is a 5 s average). Zoom, pan and resize still redraw them at once.
 */
const SECONDARY_CHART_MS = 1000;

export function CurvesPanel({
  state,
  version,
  colourOf,
}: {
  state: RunView;
  version: number;
  colourOf: (a: WireAnnotation) => string;
}) {
  const { call, me } = useHub();
  const [smoothing, setSmoothing] = useState(0.6);
  const [xAxis, setXAxis] = useState<XAxisKind>('step');
  const [logY, setLogY] = useState(false);
  const [draftStep, setDraftStep] = useState<number | null>(null);
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const run = state.run;
  // Each chart asks for its own metric's detail when zoomed.
  const detailRuns = run ? [{ runId: run.id, source: state }] : [];
  const detail = {
    loss: useSeriesDetail(detailRuns, 'loss'),
    accuracy: useSeriesDetail(detailRuns, 'accuracy'),
    learningRate: useSeriesDetail(detailRuns, 'learningRate'),
    samplesPerSec: useSeriesDetail(detailRuns, 'samplesPerSec'),
  };
  if (!run) return null;
  const seriesFor = (metric: keyof typeof detail): BatchSeries[] => [
    {
      id: run.id,
      label: run.name,
      colour: '#0969da',
      points: state.points,
      overview: state.overview,
      head: state.head,
      detail: detail[metric].details.get(run.id) ?? null,
    },
  ];
  const forMetric = (metric: keyof typeof detail) => ({
    metric,
    series: seriesFor(metric),
    onViewChange: detail[metric].onViewChange,
  });

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (draftStep === null) return;
    const result = await call('annotation:add', { runId: run.id, step: draftStep, text });
    if (!result.ok) return setError(result.message);
    setDraftStep(null);
    setText('');
    setError(null);
  };

  const common = {
    xAxis,
    smoothing,
    logY,
    version,
    batchesPerEpoch: run.batchesPerEpoch,
    annotations: state.annotations,
    annotationColour: colourOf,
    onAddAnnotation: me ? setDraftStep : undefined,
  };
  return (
    <section className="card curves-card" aria-labelledby="curves-title">
      <div className="card-head">
        <h2 id="curves-title">Batch metrics</h2>
        <ChartControls
          smoothing={smoothing}
          setSmoothing={setSmoothing}
          xAxis={xAxis}
          setXAxis={setXAxis}
          logY={logY}
          setLogY={setLogY}
        />
      </div>
      <p className="muted small">
        Click a curve to pin a note at that step. Scroll to zoom, drag to pan, double-click to
        reset.
      </p>
      {draftStep !== null ? (
        // Over the card, not in its flow: opening it must not move the chart that was clicked.
        <form className="note-form" onSubmit={save} aria-label={`Note at step ${draftStep}`}>
          <label htmlFor="note-text">Note at step {draftStep}</label>
          <textarea
            id="note-text"
            value={text}
            maxLength={MAX_ANNOTATION_CHARS}
            autoFocus
            required
            onChange={(e) => setText(e.target.value)}
          />
          <div>
            <button type="submit" disabled={!text.trim()}>
              Add note
            </button>
            <button type="button" onClick={() => setDraftStep(null)}>
              Cancel
            </button>
          </div>
          {error ? (
            <span className="form-error" role="alert">
              {error}
            </span>
          ) : null}
        </form>
      ) : null}
      <div className="chart-pair">
        <ChartBox testId="loss-chart" title="Loss" exportName={chartFileName(run, 'loss')}>
          <BatchChart {...common} {...forMetric('loss')} />
        </ChartBox>
        <ChartBox
          testId="accuracy-chart"
          title="Accuracy"
          exportName={chartFileName(run, 'accuracy')}
        >
          <BatchChart {...common} {...forMetric('accuracy')} />
        </ChartBox>
      </div>
      <div className="chart-pair">
        <ChartBox
          testId="lr-chart"
          title="Learning rate"
          exportName={chartFileName(run, 'learning-rate')}
        >
          {/* Unsmoothed: a rate changes in steps, and each step is drawn where it happened. */}
          <BatchChart
            {...common}
            smoothing={0}
            {...forMetric('learningRate')}
            height={140}
            title="Learning rate"
            liveEveryMs={SECONDARY_CHART_MS}
          />
        </ChartBox>
        <ChartBox
          testId="speed-chart"
          title="Samples/s"
          exportName={chartFileName(run, 'samples-per-second')}
        >
          <BatchChart
            {...common}
            {...forMetric('samplesPerSec')}
            height={140}
            title="Training samples per second"
            liveEveryMs={SECONDARY_CHART_MS}
          />
        </ChartBox>
      </div>
    </section>
  );
}
