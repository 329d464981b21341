'use client';
/**
 * Pause / resume / stop and the learning rate. Each action goes to the hub, which records it
 * as an event on the curve for everyone; the button state follows the run's status as the
 * hub reports it, so everyone's controls agree.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { HYPERPARAM_BOUNDS, HYPERPARAM_RULES, type RunSummary } from '../../server/protocol';
import { useHub } from '../lib/HubProvider';

export function RunControls({ run, learningRate }: { run: RunSummary; learningRate: number | null }) {
  const { call } = useHub();
  const [lr, setLr] = useState('');
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // A message about what was tried in another status (e.g. "pausing a paused run") is stale once it changes.
  useEffect(() => setMessage(null), [run.status]);
  const act = async (verb: 'run:pause' | 'run:resume' | 'run:stop') => {
    setBusy(true);
    const result = await call(verb, { runId: run.id });
    setBusy(false);
    setMessage(result.ok ? null : result.message);
  };
  const setRate = async (e: FormEvent) => {
    e.preventDefault();
    const value = Number(lr);
    const { above, max } = HYPERPARAM_BOUNDS.learningRate;
    if (lr.trim() === '' || !(value > above && value <= max)) return setMessage(`Learning rate: ${HYPERPARAM_RULES.learningRate}${lr.trim() ? `, got ${lr.trim()}` : ''}.`);
    setBusy(true);
    const result = await call('run:set-lr', { runId: run.id, learningRate: value });
    setBusy(false);
    setMessage(result.ok ? null : result.message);
    if (result.ok) setLr('');
  };
  const s = run.status;
  const training = s === 'running' || s === 'paused';
  return (
    <div className="controls" role="group" aria-label="Run controls">
      {s === 'running' ? (
        <button type="button" onClick={() => act('run:pause')} disabled={busy}>
          Pause
        </button>
      ) : null}
      {s === 'paused' || s === 'stopped' || s === 'interrupted' ? (
        <button type="button" onClick={() => act('run:resume')} disabled={busy}>
          {s === 'paused' ? 'Resume' : 'Resume from checkpoint'}
        </button>
      ) : null}
      {s === 'running' || s === 'paused' || s === 'queued' || s === 'interrupted' ? (
        <button type="button" className="danger" onClick={() => act('run:stop')} disabled={busy}>
          Stop
        </button>
      ) : null}
      {training ? (
        <form onSubmit={setRate} className="lr-form">
          <label htmlFor="lr-input">Learning rate</label>
          <input id="lr-input" type="number" step="any" max={HYPERPARAM_BOUNDS.learningRate.max} placeholder={learningRate !== null ? String(learningRate) : String(run.hyperparams.learningRate)} value={lr} onChange={(e) => setLr(e.target.value)} />
          <button type="submit" disabled={busy || !lr}>
            Set
          </button>
        </form>
      ) : null}
      {message ? (
        <span className="form-error" role="alert">
          {message}
        </span>
      ) : null}
    </div>
  );
}
