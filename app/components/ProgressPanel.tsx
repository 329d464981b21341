/** Where the run is: epoch, batch, samples/s, ETA, what it is doing; backend and device. */
import type { RunView } from '../lib/runState';
import { etaSeconds, samplesPerSecond } from '../lib/runState';
import { formatDuration } from '../../server/format';
import { fmtInt } from './format';

const PHASES = {
  train: 'training',
  'eval-train': 'evaluating the training set',
  'eval-test': 'evaluating the test set',
} as const;

export function ProgressPanel({ state }: { state: RunView }) {
  const run = state.run;
  if (!run) return null;
  const last = state.points[state.points.length - 1];
  const pct = run.totalSteps
    ? Math.min(100, (100 * (last?.step ?? run.lastStep)) / run.totalSteps)
    : 0;
  const active = run.status === 'running' || run.status === 'paused';
  const speed = samplesPerSecond(state);
  const eta = active ? etaSeconds(state) : null;
  const phase =
    state.progress && active && state.progress.phase !== 'train'
      ? `${PHASES[state.progress.phase]} ${Math.round((100 * state.progress.done) / Math.max(1, state.progress.total))} %`
      : null;
  return (
    <section className="card progress-panel" aria-label="Progress">
      <div
        className="progress big"
        role="progressbar"
        aria-valuenow={Math.round(pct)}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-label="Training progress"
      >
        <div style={{ width: `${pct}%` }} />
      </div>
      <dl className="stats">
        <div>
          <dt>Epoch</dt>
          <dd data-testid="progress-epoch">
            {last?.epoch ?? (run.lastStep ? '…' : '–')} / {run.hyperparams.epochs}
          </dd>
        </div>
        <div>
          <dt>Batch</dt>
          <dd>
            {last ? fmtInt(last.batch + 1) : '–'} / {fmtInt(run.batchesPerEpoch)}
          </dd>
        </div>
        <div>
          <dt>Step</dt>
          <dd data-testid="progress-step">
            {fmtInt(last?.step ?? run.lastStep)} / {fmtInt(run.totalSteps)}
          </dd>
        </div>
        <div>
          <dt title="training samples per second of training time, over the last seconds (pauses and evaluation excluded); for a finished run, over all of it">
            Samples/s
          </dt>
          <dd data-testid="progress-speed">{speed === 'paused' ? 'paused' : fmtInt(speed)}</dd>
        </div>
        <div>
          <dt>ETA</dt>
          <dd data-testid="progress-eta">
            {eta === 'paused'
              ? 'paused'
              : active
                ? formatDuration(eta)
                : run.status === 'completed'
                  ? 'done'
                  : '–'}
          </dd>
        </div>
        <div>
          <dt>Backend</dt>
          <dd title={run.device ?? undefined}>
            {run.backend ?? '–'}
            {run.device ? <span className="muted small"> · {run.device}</span> : null}
            {run.trainerHost ? <span className="muted small"> · {run.trainerHost}</span> : null}
          </dd>
        </div>
      </dl>
      {/* One line always present, so the page below never jumps as phases come and go. */}
      <p className="muted small status-line" aria-live="polite">
        {phase ? `Now ${phase}` : (run.statusMessage ?? '\u00a0')}
      </p>
    </section>
  );
}
