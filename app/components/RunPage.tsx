'use client';
/**
 * One run, live and after the fact: header and controls, progress, batch curves with notes,
 * the tutorial's epoch plots, the live prediction panel, the confusion matrix, misclassified
 * digits, notes, and drawing a digit for the model to read.
 */
import Link from 'next/link';
import { useCallback } from 'react';
import type { WireAnnotation } from '../../server/protocol';
import { EpochChart } from '../charts/EpochChart';
import { useHub } from '../lib/HubProvider';
import { PageTitle } from '../lib/PageTitle';
import { useRun } from '../lib/useRun';
import { AnnotationsPanel } from './AnnotationsPanel';
import { ConfusionSection } from './ConfusionSection';
import { ChartBox, CurvesPanel } from './CurvesPanel';
import { DrawDigit } from './DrawDigit';
import { fmtNum, fmtPct, fmtTime, learningRateText, optimizerSettings } from './format';
import { MisclassifiedGallery } from './MisclassifiedGallery';
import { PredictionPanel } from './PredictionPanel';
import { PresenceList } from './PresenceList';
import { ProgressPanel } from './ProgressPanel';
import { RunControls } from './RunControls';
import { RunManage } from './RunManage';
import { StatusBadge } from './StatusBadge';

/** A stable colour per author name; control events are grey. */
export function authorColour(a: Pick<WireAnnotation, 'kind' | 'authorName'>): string {
  if (a.kind === 'event') return '#8c959f';
  let h = 0;
  for (const ch of a.authorName) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return `hsl(${h % 360} 65% 45%)`;
}

export function RunPage({ runId }: { runId: string }) {
  const { me } = useHub();
  const { state, version, error, loaded } = useRun(runId);
  const colourOf = useCallback((a: WireAnnotation) => authorColour(a), []);
  const run = state.run;
  if (error && !loaded) {
    return (
      <div className="card" role="alert">
        <PageTitle what="Run not available" />
        <h1>Run not available</h1>
        <p>{error}</p>
        <Link href="/">Back to the runs</Link>
      </div>
    );
  }
  if (!run) {
    return (
      <p className="muted">
        <PageTitle what={null} />
        Loading the run…
      </p>
    );
  }
  const last = state.points[state.points.length - 1];
  const epochSeries = [{ id: run.id, label: run.name, colour: '#0969da', epochs: state.epochs }];
  const hasCheckpoint = state.epochs.length > 0 || run.status === 'stopped';
  const lr = learningRateText(run, last?.learningRate);
  return (
    <div className="run-page" data-version={version}>
      <PageTitle what={run.name} />
      <header className="run-header">
        <div>
          <h1 data-testid="run-name">{run.name}</h1>
          <p className="muted small">
            {run.origin === 'cli' ? <span data-testid="run-origin">started from the command line on {run.originHost ?? 'an unknown host'}</span> : `started by ${run.createdBy}`} · {fmtTime(run.createdAt)} · {run.hyperparams.optimizer}{' '}
            <span data-testid="run-lr">
              lr {lr.current}
              {lr.history ? ` (${lr.history})` : ''}
            </span>{' '}
            <span data-testid="run-optimizer">{optimizerSettings(run.hyperparams)}</span> · batch {run.hyperparams.batchSize} · seed {run.hyperparams.seed}
          </p>
        </div>
        <div className="run-header-right">
          <StatusBadge status={run.status} />
          <PresenceList users={state.presence} label="Watching" meId={me?.id ?? null} />
        </div>
      </header>
      {error ? (
        <div className="banner banner-error" role="alert">
          {error}
        </div>
      ) : null}
      <RunManage run={run} />
      <RunControls run={run} learningRate={last?.learningRate ?? null} />
      <ProgressPanel state={state} />
      <CurvesPanel state={state} version={version} colourOf={colourOf} />
      <section className="card" aria-labelledby="epochs-title">
        <h2 id="epochs-title">Per epoch: train vs test</h2>
        {state.epochs.length === 0 ? <p className="muted">The first epoch's results appear when it ends.</p> : null}
        <div className="chart-pair">
          <ChartBox testId="epoch-loss-chart" title="Loss" exportName={`${run.name}-epoch-loss`}>
            <EpochChart series={epochSeries} metric="loss" />
          </ChartBox>
          <ChartBox testId="epoch-accuracy-chart" title="Accuracy" exportName={`${run.name}-epoch-accuracy`}>
            <EpochChart series={epochSeries} metric="accuracy" />
          </ChartBox>
        </div>
        {state.epochs.length ? (
          <div className="table-scroll">
            <table className="epoch-table">
              <thead>
                <tr>
                  <th scope="col">Epoch</th>
                  <th scope="col">Train loss</th>
                  <th scope="col">Train accuracy</th>
                  <th scope="col">Test loss</th>
                  <th scope="col">Test accuracy</th>
                </tr>
              </thead>
              <tbody>
                {state.epochs.map((e) => (
                  <tr key={e.epoch}>
                    <td>{e.epoch}</td>
                    <td>{fmtNum(e.trainLoss)}</td>
                    <td>{fmtPct(e.trainAccuracy)}</td>
                    <td>{fmtNum(e.testLoss)}</td>
                    <td>{fmtPct(e.testAccuracy)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>
      <section className="card" aria-labelledby="panel-title">
        <h2 id="panel-title">Live predictions</h2>
        <PredictionPanel panel={state.predictions} />
      </section>
      <div className="two-col">
        <section className="card" aria-labelledby="confusion-title">
          <h2 id="confusion-title">Confusion matrix</h2>
          <ConfusionSection runId={run.id} epochs={state.epochs} />
        </section>
        <section className="card" aria-labelledby="draw-title">
          <h2 id="draw-title">Draw a digit</h2>
          <DrawDigit runId={run.id} disabledReason={hasCheckpoint ? null : 'The model is saved at the end of each epoch; draw once the first epoch is done.'} />
        </section>
      </div>
      <section className="card" aria-labelledby="wrong-title">
        <h2 id="wrong-title">Misclassified test digits</h2>
        <MisclassifiedGallery runId={run.id} epochs={state.epochs.map((e) => e.epoch)} />
      </section>
      <AnnotationsPanel annotations={state.annotations} colourOf={colourOf} />
      <section className="card export-row" aria-label="Export">
        <a className="button" href={`/api/runs/${run.id}/export?format=csv&table=batches`} download>
          CSV: every batch
        </a>
        <a className="button" href={`/api/runs/${run.id}/export?format=csv&table=epochs`} download>
          CSV: per epoch
        </a>
        <a className="button" href={`/api/runs/${run.id}/export?format=json`} download>
          Export JSON
        </a>
      </section>
    </div>
  );
}
