'use client';
/**
 * What the runs page does with the ticked rows at once: archive, restore, add or remove tags,
 * delete for good (the number of runs typed again). The hub changes each run as its own
 * command would (`runs:manage`) and answers run by run, so a partial failure is told in words:
 * which runs were not changed, and why.
 */
import { useState, type FormEvent } from 'react';
import type { RunManageResult, RunsManageAction, RunSummary } from '../../server/protocol';
import { useHub } from '../lib/HubProvider';
import { FormError } from './FormError';

type Kind = RunsManageAction['kind'];
const DONE: Record<Kind, string> = {
  archive: 'Archived',
  restore: 'Restored',
  tag: 'Retagged',
  delete: 'Deleted',
};
const NOT_DONE: Record<Kind, string> = {
  archive: 'Not archived',
  restore: 'Not restored',
  tag: 'Not retagged',
  delete: 'Not deleted',
};

const plural = (n: number) => `${n.toLocaleString('en-US')} run${n === 1 ? '' : 's'}`;
const splitTags = (text: string) =>
  text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);

/** What happened, in words: how many were changed, then each run that was not and why. */
function describeResults(
  kind: Kind,
  results: readonly RunManageResult[],
  nameOf: (runId: string) => string,
): string {
  const done = results.filter((r) => r.ok).length;
  const failed = results.filter((r): r is Extract<RunManageResult, { ok: false }> => !r.ok);
  const head = `${DONE[kind]} ${done === results.length ? plural(done) : `${done} of ${plural(results.length)}`}.`;
  if (failed.length === 0) return head;
  return `${head} ${NOT_DONE[kind]}: ${failed.map((f) => `“${nameOf(f.runId)}”: ${f.message}`).join('; ')}.`;
}

export interface BulkActionsProps {
  /** The ticked runs' ids (on this page or an earlier one). */
  selected: readonly string[];
  /** The runs shown, for their names. */
  runs: readonly RunSummary[];
  /** The hub answered: `results` run by run. */
  onDone: (kind: Kind, results: readonly RunManageResult[]) => void;
}

export function BulkActions({ selected, runs, onDone }: BulkActionsProps) {
  const { call, me } = useHub();
  const [mode, setMode] = useState<'tag' | 'delete' | null>(null);
  const [add, setAdd] = useState('');
  const [remove, setRemove] = useState('');
  const [confirm, setConfirm] = useState('');
  const [busy, setBusy] = useState(false);
  const [report, setReport] = useState<string | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<string | null>(null);
  const count = selected.length;
  const names = new Map(runs.map((r) => [r.id, r.name]));
  const nameOf = (id: string) => names.get(id) ?? id;

  const apply = async (action: RunsManageAction) => {
    setBusy(true);
    const result = await call('runs:manage', { runIds: [...selected], action });
    setBusy(false);
    if (!result.ok) {
      // Field errors (a tag's names the tag) beside the field; the hub's message otherwise.
      const found: Record<string, string> = {};
      const other: string[] = [];
      for (const [path, text] of Object.entries((result.details ?? {}) as Record<string, string>)) {
        const field = path.split('.')[1];
        if (field === 'add' || field === 'remove' || field === 'confirmCount')
          found[field] = found[field] ? `${found[field]}; ${text}` : text;
        else other.push(text);
      }
      setErrors(found);
      setMessage(Object.keys(found).length ? null : other.join('; ') || result.message);
      return;
    }
    setErrors({});
    setMessage(null);
    setMode(null);
    setAdd('');
    setRemove('');
    setConfirm('');
    setReport(describeResults(action.kind, result.data.results, nameOf));
    onDone(action.kind, result.data.results);
  };
  const tag = (e: FormEvent) => {
    e.preventDefault();
    void apply({ kind: 'tag', add: splitTags(add), remove: splitTags(remove) });
  };
  const del = (e: FormEvent) => {
    e.preventDefault();
    void apply({ kind: 'delete', confirmCount: Number(confirm) });
  };
  const error = (k: string) =>
    errors[k] ? (
      <span className="field-error" id={`err-bulk-${k}`}>
        {errors[k]}
      </span>
    ) : null;
  const off = busy || count === 0 || !me;
  const open = (m: 'tag' | 'delete') => {
    setErrors({});
    setMessage(null);
    setMode((now) => (now === m ? null : m));
  };
  return (
    <div className="bulk-actions" aria-label="With the ticked runs">
      <div className="button-row">
        <button
          type="button"
          className="small"
          disabled={off}
          onClick={() => void apply({ kind: 'archive' })}
        >
          Archive
        </button>
        <button
          type="button"
          className="small"
          disabled={off}
          onClick={() => void apply({ kind: 'restore' })}
        >
          Restore
        </button>
        <button
          type="button"
          className="small"
          disabled={off}
          aria-expanded={mode === 'tag'}
          onClick={() => open('tag')}
        >
          Tags…
        </button>
        <button
          type="button"
          className="small danger"
          disabled={off}
          aria-expanded={mode === 'delete'}
          onClick={() => open('delete')}
        >
          Delete…
        </button>
      </div>
      {mode === 'tag' && count > 0 ? (
        <form className="bulk-form" onSubmit={tag} aria-label={`Tags of ${plural(count)}`}>
          <div className="field">
            <label htmlFor="bulk-add">Add tags (comma-separated)</label>
            <input
              id="bulk-add"
              value={add}
              onChange={(e) => setAdd(e.target.value)}
              placeholder="baseline, lr sweep"
              aria-invalid={errors.add ? true : undefined}
            />
            {error('add')}
          </div>
          <div className="field">
            <label htmlFor="bulk-remove">Remove tags (comma-separated)</label>
            <input
              id="bulk-remove"
              value={remove}
              onChange={(e) => setRemove(e.target.value)}
              aria-invalid={errors.remove ? true : undefined}
            />
            {error('remove')}
          </div>
          <div className="button-row">
            <button
              type="submit"
              className="small"
              disabled={busy || !(add.trim() || remove.trim())}
            >
              Apply to {plural(count)}
            </button>
          </div>
        </form>
      ) : null}
      {mode === 'delete' && count > 0 ? (
        <form className="bulk-form" onSubmit={del} aria-label={`Delete ${plural(count)}`}>
          <p className="small">
            Deleting removes {count === 1 ? 'the run' : `the ${plural(count)}`}, with{' '}
            {count === 1 ? 'its' : 'their'} metrics, notes and checkpoints, for good. Type{' '}
            <strong>{count}</strong> to confirm.
          </p>
          <div className="field">
            <label htmlFor="bulk-confirm">Number of runs to delete</label>
            <input
              id="bulk-confirm"
              value={confirm}
              inputMode="numeric"
              autoComplete="off"
              onChange={(e) => setConfirm(e.target.value)}
              aria-invalid={errors.confirmCount ? true : undefined}
            />
            {error('confirmCount')}
          </div>
          <div className="button-row">
            <button
              type="submit"
              className="small danger"
              disabled={busy || confirm.trim() !== String(count)}
            >
              Delete {plural(count)} for good
            </button>
          </div>
        </form>
      ) : null}
      <FormError message={message} />
      {report ? (
        <p className="small bulk-report" role="status" data-testid="bulk-report">
          {report}
        </p>
      ) : null}
    </div>
  );
}
