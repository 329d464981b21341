'use client';
/**
 * Compare runs (`/compare?runs=a,b,c`): their batch and epoch curves overlaid, aligned by step
 * or by epoch, each chart with its PNG/SVG export, a table of the hyperparameters that differ,
 * and final metrics. Live: runs still training keep drawing. Ids the hub does not know are
 * named, and not counted.
 */
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useCallback, useMemo, useRef, useState } from 'react';
import { BatchChart } from '../charts/BatchChart';
import type { BatchSeries } from '../charts/batchChartProps';
import type { SeriesDetail, XAxisKind } from '../charts/batchColumns';
import { useSeriesDetail } from '../lib/useSeriesDetail';
import { EpochChart } from '../charts/EpochChart';
import { optimizerReads, type RunSummary } from '../../server/protocol';
import { samplesPerSecond, type RunView } from '../lib/runState';
import { PageTitle } from '../lib/PageTitle';
import { useRun } from '../lib/useRun';
import { DEFAULT_VIEW } from '../lib/runsList';
import { useRuns } from '../lib/useRuns';
import { ChartBox, ChartControls } from './CurvesPanel';
import { fmtDateTime, fmtInt, fmtNum, fmtPct, learningRateText } from './format';
import { StatusBadge } from './StatusBadge';

/** One colour per run: as many as the page overlays, so no two runs share one. */
export const PALETTE = [
  '#0969da',
  '#cf222e',
  '#1a7f37',
  '#8250df',
  '#bc4c00',
  '#0598bc',
  '#bf3989',
  '#6e7781',
  '#9a6700',
  '#1b1f24',
  '#54aeff',
  '#4ac26b',
];
/** Runs the page overlays at most (each is watched live and asked for its detail on zoom). */
export const MAX_COMPARE_RUNS = PALETTE.length;
const HP_KEYS = [
  'epochs',
  'batchSize',
  'learningRate',
  'optimizer',
  'momentum',
  'beta1',
  'beta2',
  'epsilon',
  'seed',
  'trainLimit',
  'testLimit',
] as const;

/** Watches one run and hands its state (or why it cannot be watched) up; renders nothing. */
function Source({
  id,
  onChange,
}: {
  id: string;
  onChange: (id: string, state: RunView, version: number, error: string | null) => void;
}) {
  const { state, version, error } = useRun(id);
  onChange(id, state, version, error);
  return null;
}

/** The newest runs the picker offers. */
const PICKER_RUNS = 200;

function Picker() {
  const runs = useRuns(DEFAULT_VIEW, PICKER_RUNS).held?.runs ?? [];
  const router = useRouter();
  const [picked, setPicked] = useState<string[]>([]);
  return (
    <div className="card">
      <h2>Choose runs to compare</h2>
      <ul className="picker">
        {runs.map((r) => (
          <li key={r.id} data-testid="picker-run">
            <label>
              <input
                type="checkbox"
                checked={picked.includes(r.id)}
                onChange={() =>
                  setPicked((p) => (p.includes(r.id) ? p.filter((x) => x !== r.id) : [...p, r.id]))
                }
              />{' '}
              {r.name} <StatusBadge status={r.status} />
            </label>
            <span className="muted small picker-facts">
              {' '}
              <span data-testid="picker-date">{fmtDateTime(r.createdAt)}</span>
              {' · test accuracy '}
              <span data-testid="picker-accuracy">{fmtPct(r.finalTestAccuracy)}</span>
              {r.tags.length ? (
                <>
                  {' · '}
                  <span data-testid="picker-tags">{r.tags.join(', ')}</span>
                </>
              ) : null}
            </span>
          </li>
        ))}
      </ul>
      <button
        type="button"
        disabled={picked.length < 2}
        onClick={() => router.push(`/compare?runs=${picked.join(',')}`)}
      >
        Compare {picked.length} runs
      </button>
    </div>
  );
}

export function ComparePage({ ids: asked }: { ids: string[] }) {
  const ids = asked.slice(0, MAX_COMPARE_RUNS);
  const states = useRef(
    new Map<string, { state: RunView; version: number; error: string | null }>(),
  );
  const [, setTick] = useState(0);
  const [smoothing, setSmoothing] = useState(0.6);
  const [xAxis, setXAxis] = useState<XAxisKind>('step');
  const [logY, setLogY] = useState(false);
  const onChange = useCallback(
    (id: string, state: RunView, version: number, error: string | null) => {
      const known = states.current.get(id);
      if (known?.version === version && known.state === state && known.error === error) return;
      states.current.set(id, { state, version, error });
      queueMicrotask(() => setTick((t) => t + 1));
    },
    [],
  );
  const names = ids.map((id) => states.current.get(id)?.state.run?.name).filter(Boolean);
  const title =
    ids.length < 2 ? 'Compare runs' : `Compare ${names.join(', ') || `${ids.length} runs`}`;
  // The loss and accuracy charts each ask for their detail when zoomed, for every run shown.
  const detailRuns = ids.flatMap((id) => {
    const held = states.current.get(id)?.state;
    return held?.run ? [{ runId: id, source: held }] : [];
  });
  const lossDetail = useSeriesDetail(detailRuns, 'loss');
  const accuracyDetail = useSeriesDetail(detailRuns, 'accuracy');
  const entries = ids.map((id, i) => ({
    id,
    colour: PALETTE[i % PALETTE.length],
    ...(states.current.get(id) ?? { state: null, version: 0, error: null }),
  }));
  // Ids the hub could not show (no such run, or not readable), with its reason.
  const missing = entries.filter((e) => e.error !== null && !e.state?.run);
  const runs = entries
    .filter((e) => e.state?.run)
    .map((e) => ({ ...e, run: e.state!.run as RunSummary, state: e.state! }));
  const version = entries.reduce((a, e) => a + e.version, 0);
  const batchSeries = (details: ReadonlyMap<string, SeriesDetail>): BatchSeries[] =>
    runs.map((r) => ({
      id: r.id,
      label: r.run.name,
      colour: r.colour,
      points: r.state.points,
      overview: r.state.overview,
      head: r.state.head,
      detail: details.get(r.id) ?? null,
    }));
  // The same series while neither the runs nor a chart's detail changed: a detail answer for
  // the loss chart redraws that chart alone (ten runs' answers: ten redraws of both, before).
  const shownRuns = runs.map((r) => r.id).join(',');
  const lossSeries = useMemo(
    () => batchSeries(lossDetail.details),
    [lossDetail.details, version, shownRuns],
  );
  const accuracySeries = useMemo(
    () => batchSeries(accuracyDetail.details),
    [accuracyDetail.details, version, shownRuns],
  );
  if (ids.length < 2) {
    return (
      <>
        <PageTitle what={title} />
        <Picker />
      </>
    );
  }
  const epochSeries = runs.map((r) => ({
    id: r.id,
    label: r.run.name,
    colour: r.colour,
    epochs: r.state.epochs,
  }));
  /** What the table shows for a hyperparameter: the learning rate as it is now, with its changes. */
  const shown = (run: RunSummary, k: (typeof HP_KEYS)[number]): string => {
    // Another optimizer's setting.
    if (!optimizerReads(run.hyperparams.optimizer, k)) return 'not used';
    if (k !== 'learningRate') return String(run.hyperparams[k] ?? 'all');
    const lr = learningRateText(run);
    return lr.history ? `${lr.current} (${lr.history})` : lr.current;
  };
  const differs = (k: (typeof HP_KEYS)[number]) =>
    new Set(runs.map((r) => shown(r.run, k))).size > 1;
  return (
    <div className="compare-page">
      <PageTitle what={title} />
      {ids.map((id) => (
        <Source key={id} id={id} onChange={onChange} />
      ))}
      <h1>
        Compare {runs.length} run{runs.length === 1 ? '' : 's'}
        {runs.length + missing.length < ids.length ? (
          <span className="muted small">
            {' '}
            (loading {ids.length - runs.length - missing.length} more…)
          </span>
        ) : null}
      </h1>
      {missing.length ? (
        <p className="banner banner-warning" role="status" data-testid="compare-missing">
          {missing.length === 1
            ? 'One run of the link was not found'
            : `${missing.length} runs of the link were not found`}
          : {missing.map((m) => `“${m.id}” (${m.error})`).join(', ')}.
          {runs.length < 2 ? ' Pick runs to compare on the runs page.' : ''}
        </p>
      ) : null}
      {asked.length > ids.length && (
        <p className="banner banner-warning" role="status" data-testid="compare-capped">
          The link names {asked.length} runs; this page overlays at most {MAX_COMPARE_RUNS}, so it
          shows the first {MAX_COMPARE_RUNS}.
        </p>
      )}
      <section className="card">
        <div className="card-head">
          <h2>Batch metrics</h2>
          <ChartControls
            smoothing={smoothing}
            setSmoothing={setSmoothing}
            xAxis={xAxis}
            setXAxis={setXAxis}
            logY={logY}
            setLogY={setLogY}
          />
        </div>
        <div className="chart-pair" data-testid="compare-batch">
          <ChartBox testId="compare-loss-chart" title="Loss" exportName="compare-loss">
            <BatchChart
              series={lossSeries}
              onViewChange={lossDetail.onViewChange}
              metric="loss"
              xAxis={xAxis}
              smoothing={smoothing}
              logY={logY}
              version={version}
              batchesPerEpoch={runs[0]?.run.batchesPerEpoch ?? null}
              title="Loss"
            />
          </ChartBox>
          <ChartBox testId="compare-accuracy-chart" title="Accuracy" exportName="compare-accuracy">
            <BatchChart
              series={accuracySeries}
              onViewChange={accuracyDetail.onViewChange}
              metric="accuracy"
              xAxis={xAxis}
              smoothing={smoothing}
              logY={logY}
              version={version}
              batchesPerEpoch={runs[0]?.run.batchesPerEpoch ?? null}
              title="Accuracy"
            />
          </ChartBox>
        </div>
      </section>
      <section className="card">
        <h2>Per epoch: train vs test</h2>
        <div className="chart-pair" data-testid="compare-epoch">
          <ChartBox testId="compare-epoch-loss-chart" title="Loss" exportName="compare-epoch-loss">
            <EpochChart series={epochSeries} metric="loss" title="Loss" />
          </ChartBox>
          <ChartBox
            testId="compare-epoch-accuracy-chart"
            title="Accuracy"
            exportName="compare-epoch-accuracy"
          >
            <EpochChart series={epochSeries} metric="accuracy" title="Accuracy" />
          </ChartBox>
        </div>
      </section>
      <section className="card">
        <h2>Hyperparameters and results</h2>
        <div className="table-scroll">
          <table className="compare-table" data-testid="compare-table">
            <thead>
              <tr>
                <th scope="col" />
                {runs.map((r) => (
                  <th scope="col" key={r.id}>
                    <span className="swatch" style={{ background: r.colour }} />{' '}
                    <Link href={`/runs/${r.id}`}>{r.run.name}</Link>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {HP_KEYS.map((k) => (
                <tr key={k} className={differs(k) ? 'differs' : undefined}>
                  <th scope="row">{k}</th>
                  {runs.map((r) => (
                    <td key={r.id} data-testid={`compare-${k}`}>
                      {shown(r.run, k)}
                    </td>
                  ))}
                </tr>
              ))}
              <tr>
                <th scope="row">status</th>
                {runs.map((r) => (
                  <td key={r.id}>
                    <StatusBadge status={r.run.status} />
                  </td>
                ))}
              </tr>
              {(
                [
                  ['test accuracy', (r: RunSummary) => fmtPct(r.finalTestAccuracy)],
                  ['test loss', (r: RunSummary) => fmtNum(r.finalTestLoss)],
                  ['train accuracy', (r: RunSummary) => fmtPct(r.finalTrainAccuracy)],
                  ['train loss', (r: RunSummary) => fmtNum(r.finalTrainLoss)],
                  [
                    'backend',
                    (r: RunSummary) =>
                      `${r.backend ?? '–'}${r.trainerHost ? ` (${r.trainerHost})` : ''}`,
                  ],
                ] as const
              ).map(([label, f]) => (
                <tr key={label}>
                  <th scope="row">{label}</th>
                  {runs.map((r) => (
                    <td key={r.id}>{f(r.run)}</td>
                  ))}
                </tr>
              ))}
              <tr>
                <th
                  scope="row"
                  title="training samples per second of training time (pauses and evaluation excluded): over the last seconds while a run trains, over all of it once finished"
                >
                  samples/s
                </th>
                {runs.map((r) => {
                  const speed = samplesPerSecond(r.state);
                  return (
                    <td key={r.id} data-testid="compare-speed">
                      {speed === 'paused' ? 'paused' : fmtInt(speed)}
                    </td>
                  );
                })}
              </tr>
            </tbody>
          </table>
        </div>
        <p className="muted small">Highlighted rows differ between the runs.</p>
      </section>
    </div>
  );
}
