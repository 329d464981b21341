/** Number and time formatting shared by the pages. */
import { OPTIMIZER_PARAMS, type RunSummary } from '../../server/protocol';

export const fmtInt = (n: number | null | undefined) =>
  n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US');
export const fmtPct = (n: number | null | undefined, digits = 2) =>
  n === null || n === undefined ? '–' : `${n.toFixed(digits)} %`;
export const fmtNum = (n: number | null | undefined, digits = 4) =>
  n === null || n === undefined || !Number.isFinite(n)
    ? '–'
    : Number(n.toPrecision(digits)).toString();

/** "14:05:09" today, else "28 Nov 14:05". */
export function fmtTime(iso: string | number): string {
  const d = new Date(iso);
  const today = new Date().toDateString() === d.toDateString();
  return today
    ? d.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : d.toLocaleString('en-GB', {
        day: 'numeric',
        month: 'short',
        hour: '2-digit',
        minute: '2-digit',
      });
}

/**
 * A run's learning rate for people: the current value, and when it changed, its history, e.g.
 * "0.01 → 0.05 at step 279" (the last few changes when there are many). With the run's last
 * batch point, a change no batch has used yet (set while paused) is the current value and is
 * `pending` ("takes effect on resume" while paused); without it, the last batch's rate.
 */
export function learningRateText(
  run: Pick<RunSummary, 'hyperparams' | 'learningRates'> & Partial<Pick<RunSummary, 'status'>>,
  last?: { step: number; learningRate: number } | null,
): { current: string; value: number; history: string | null; pending: string | null } {
  const rates = run.learningRates;
  const newest = rates.at(-1);
  const isPending =
    !!newest && !!last && newest.step > last.step && newest.value !== last.learningRate;
  const value = isPending
    ? newest.value
    : (last?.learningRate ?? newest?.value ?? run.hyperparams.learningRate);
  const pending = !isPending
    ? null
    : run.status === 'paused'
      ? 'takes effect on resume'
      : `from step ${fmtInt(newest.step)}`;
  if (rates.length < 2) return { current: fmtNum(value), value, history: null, pending };
  const shown = rates.length > 6 ? [rates[0], ...rates.slice(-5)] : rates;
  const parts = shown.map((r, i) =>
    i === 0 ? fmtNum(r.value) : `${fmtNum(r.value)} at step ${fmtInt(r.step)}`,
  );
  if (shown !== rates) parts.splice(1, 0, '…');
  return { current: fmtNum(value), value, history: parts.join(' → '), pending };
}

/** How each optimizer setting is written for people. */
export const OPTIMIZER_PARAM_LABELS = {
  momentum: 'momentum',
  beta1: 'β₁',
  beta2: 'β₂',
  epsilon: 'ε',
} as const;

/** The settings the run's optimizer uses, e.g. "momentum 0.5" or "β₁ 0.9 · β₂ 0.999 · ε 1e-8". */
export function optimizerSettings(hp: RunSummary['hyperparams']): string {
  return OPTIMIZER_PARAMS[hp.optimizer]
    .map((k) => `${OPTIMIZER_PARAM_LABELS[k]} ${hp[k]}`)
    .join(' · ');
}

/** A date with its time, always: "1 Dec 2026, 14:05". */
export function fmtDateTime(iso: string | number): string {
  return new Date(iso).toLocaleString('en-GB', {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });
}
