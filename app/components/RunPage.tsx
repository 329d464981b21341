'use client';
/**
 * One run, live and after the fact: header and controls, progress, batch curves with notes,
 * the tutorial's epoch plots, the live prediction panel, the confusion matrix, misclassified
 * digits, notes, and drawing a digit for the model to read.
 */
import Link from 'next/link';
import { Fragment, useCallback } from 'react';
import type { RunSummary, WireAnnotation } from '../../server/protocol';
import { useHub } from '../lib/HubProvider';
import { PageTitle } from '../lib/PageTitle';
import { useRun } from '../lib/useRun';
import { AnnotationsPanel } from './AnnotationsPanel';
import { ConfusionSection } from './ConfusionSection';
import { CurvesPanel } from './CurvesPanel';
import { DrawDigit } from './DrawDigit';
import { EpochSection } from './EpochSection';
import { fmtInt, fmtTime, learningRateText, optimizerSettings } from './format';
import { MisclassifiedGallery } from './MisclassifiedGallery';
import { PredictionPanel } from './PredictionPanel';
import { PresenceList } from './PresenceList';
import { QueuedPanel } from './QueuedPanel';
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

/**
 * The run header's facts, in order, each with its test id; one separator between any two.
 * The digit counts are the ones the trainer used, else the limits asked for.
 */
function headerFacts(
  run: RunSummary,
  lr: ReturnType<typeof learningRateText>,
): Array<[string, string]> {
  const hp = run.hyperparams;
  const digits = (used: number | null, limit: number | null) =>
    used !== null ? fmtInt(used) : limit !== null ? `at most ${fmtInt(limit)}` : 'all';
  const facts: Array<[string, string]> = [
    run.origin === 'cli'
      ? ['origin', `started from the command line on ${run.originHost ?? 'an unknown host'}`]
      : ['created-by', `started by ${run.createdBy}`],
    ['created-at', fmtTime(run.createdAt)],
    ['optimizer-name', hp.optimizer],
    [
      'lr',
      `lr ${lr.current}${lr.pending ? `, ${lr.pending}` : ''}${lr.history ? ` (${lr.history})` : ''}`,
    ],
    ['optimizer', optimizerSettings(hp)],
    ['batch', `batch ${hp.batchSize}`],
    ['seed', `seed ${hp.seed}`],
    [
      'digits',
      `${digits(run.trainSize, hp.trainLimit)} training / ${digits(run.testSize, hp.testLimit)} test digits`,
    ],
  ];
  return facts.filter(([, text]) => text !== '');
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
  const hasCheckpoint = state.epochs.length > 0 || run.status === 'stopped';
  const lr = learningRateText(run, last);
  // Queued and never trained (a run resumed from its checkpoint has points to show): where it waits, no empty charts.
  const waiting = run.status === 'queued' && state.pointCount === 0 && state.epochs.length === 0;
  return (
    <div className="run-page" data-version={version}>
      <PageTitle what={run.name} />
      <header className="run-header">
        <div>
          <h1 data-testid="run-name">{run.name}</h1>
          <p className="muted small run-facts">
            {headerFacts(run, lr).map(([key, text], i) => (
              <Fragment key={key}>
                {i > 0 ? ' · ' : null}
                <span data-testid={`run-${key}`}>{text}</span>
              </Fragment>
            ))}
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
      <RunControls run={run} learningRate={lr.value} />
      {waiting ? <QueuedPanel runId={run.id} /> : null}
      {waiting ? null : <ProgressPanel state={state} />}
      {waiting ? null : <CurvesPanel state={state} version={version} colourOf={colourOf} />}
      {waiting ? null : <EpochSection run={run} epochs={state.epochs} />}
      {waiting ? null : (
        <section className="card" aria-labelledby="panel-title">
          <h2 id="panel-title">Live predictions</h2>
          <PredictionPanel panel={state.predictions} />
        </section>
      )}
      <div className="two-col">
        <section className="card" aria-labelledby="confusion-title">
          <h2 id="confusion-title">Confusion matrix</h2>
          <ConfusionSection runId={run.id} epochs={state.epochs} />
        </section>
        <section className="card" aria-labelledby="draw-title">
          <h2 id="draw-title">Draw a digit</h2>
          <DrawDigit
            runId={run.id}
            disabledReason={
              hasCheckpoint
                ? null
                : 'The model is saved at the end of each epoch; draw once the first epoch is done.'
            }
          />
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
