'use client';
/**
 * Pause / resume / stop and the learning rate. Each action goes to the hub, which records it
 * as an event on the curve for everyone; the button state follows the run's status as the
 * hub reports it, so everyone's controls agree. The rate box shows its errors inline, in words,
 * as the start form does (the browser's own validation bubble is off), and clears them once the
 * input changes or a rate is set.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { HYPERPARAM_BOUNDS, HYPERPARAM_RULES, type RunSummary } from '../../server/protocol';
import { useHub } from '../lib/HubProvider';

/** The rate box's own error: what was typed is no learning rate (the hub's bounds). */
export function learningRateError(text: string, badInput = false): string | null {
  const typed = text.trim();
  const value = Number(typed);
  const { above, max } = HYPERPARAM_BOUNDS.learningRate;
  if (!badInput && typed !== '' && value > above && value <= max) return null;
  return `Learning rate: ${HYPERPARAM_RULES.learningRate}${typed ? `, got ${typed}` : badInput ? ', got something that is not a number' : ''}.`;
}

export function RunControls({
  run,
  learningRate,
}: {
  run: RunSummary;
  learningRate: number | null;
}) {
  const { call } = useHub();
  const [lr, setLr] = useState('');
  const [badInput, setBadInput] = useState(false);
  const [lrError, setLrError] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // A message about what was tried in another status (e.g. "pausing a paused run") is stale once it changes.
  useEffect(() => {
    setMessage(null);
    setLrError(null);
  }, [run.status]);
  const act = async (verb: 'run:pause' | 'run:resume' | 'run:stop') => {
    setBusy(true);
    const result = await call(verb, { runId: run.id });
    setBusy(false);
    setMessage(result.ok ? null : result.message);
  };
  const setRate = async (e: FormEvent) => {
    e.preventDefault();
    const invalid = learningRateError(lr, badInput);
    setLrError(invalid);
    if (invalid) return;
    setBusy(true);
    const result = await call('run:set-lr', { runId: run.id, learningRate: Number(lr) });
    setBusy(false);
    setLrError(result.ok ? null : result.message);
    if (result.ok) setLr('');
  };
  const s = run.status;
  const training = s === 'running' || s === 'paused';
  const canResume = s === 'paused' || s === 'stopped' || s === 'interrupted';
  const canStop = s === 'running' || s === 'paused' || s === 'queued' || s === 'interrupted';
  // A finished run has nothing to control: no empty row where the controls were.
  if (!training && !canResume && !canStop && !message) return null;
  return (
    <div className="controls" role="group" aria-label="Run controls">
      {s === 'running' ? (
        <button type="button" onClick={() => act('run:pause')} disabled={busy}>
          Pause
        </button>
      ) : null}
      {canResume ? (
        <button type="button" onClick={() => act('run:resume')} disabled={busy}>
          {s === 'paused' ? 'Resume' : 'Resume from checkpoint'}
        </button>
      ) : null}
      {canStop ? (
        <button type="button" className="danger" onClick={() => act('run:stop')} disabled={busy}>
          Stop
        </button>
      ) : null}
      {training ? (
        <form onSubmit={setRate} className="lr-form" noValidate>
          <label htmlFor="lr-input">Learning rate</label>
          <input
            id="lr-input"
            type="number"
            step="any"
            inputMode="decimal"
            placeholder={String(learningRate ?? run.hyperparams.learningRate)}
            value={lr}
            aria-invalid={lrError ? true : undefined}
            aria-describedby={lrError ? 'lr-error' : undefined}
            onChange={(e) => {
              setLr(e.target.value);
              setBadInput(e.target.validity.badInput);
              setLrError(null);
            }}
          />
          <button type="submit" disabled={busy || (!lr && !badInput)}>
            Set
          </button>
          {lrError ? (
            <span className="form-error" id="lr-error" role="alert">
              {lrError}
            </span>
          ) : null}
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
