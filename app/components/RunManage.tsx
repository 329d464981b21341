'use client';
/**
 * A run's description and tags, and what people do with the run as a whole: edit its name,
 * description and tags, start a copy with its settings, archive or restore it, delete it for
 * good (the name typed again). The description is markdown, shown as text-safe HTML:
 * react-markdown builds React elements and does not pass raw HTML through.
 */
import Link from 'next/link';
import { useEffect, useState, type FormEvent } from 'react';
import Markdown from 'react-markdown';
import {
  isFinished,
  MAX_DESCRIPTION_CHARS,
  MAX_RUN_NAME_CHARS,
  type RunSummary,
  type ServerToClientEvents,
} from '../../server/protocol';
import { useHub } from '../lib/HubProvider';
import { FormError } from './FormError';

type Mode = 'view' | 'edit' | 'delete';
/** The fields whose errors are shown beside them. */
const FIELDS = ['name', 'description', 'tags', 'confirmName'];

export function RunManage({ run }: { run: RunSummary }) {
  const { call, socket } = useHub();
  const [mode, setMode] = useState<Mode>('view');
  const [name, setName] = useState(run.name);
  const [description, setDescription] = useState(run.description);
  const [tags, setTags] = useState(run.tags.join(', '));
  const [confirm, setConfirm] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<string | null>(null);
  const [deletedBy, setDeletedBy] = useState<string | null>(null);
  const ended = isFinished(run.status);

  useEffect(() => {
    if (!socket) return;
    const onDeleted: ServerToClientEvents['runs:deleted'] = (m) =>
      m.runId === run.id && setDeletedBy(m.by);
    socket.on('runs:deleted', onDeleted);
    return () => {
      socket.off('runs:deleted', onDeleted);
    };
  }, [socket, run.id]);

  /**
   * The hub's field errors beside their fields (a tag's names the tag); its own message only
   * when no field is marked (e.g. "nothing to change"), never the envelope's "invalid … payload".
   */
  const failed = (result: { ok: false; message: string; details?: unknown }) => {
    const found: Record<string, string> = {};
    const other: string[] = [];
    for (const [path, text] of Object.entries((result.details ?? {}) as Record<string, string>)) {
      const field = path.split('.')[0];
      if (FIELDS.includes(field)) found[field] = found[field] ? `${found[field]}; ${text}` : text;
      else other.push(text);
    }
    setErrors(found);
    setMessage(Object.keys(found).length ? null : other.join('; ') || result.message);
  };
  const done = () => {
    setErrors({});
    setMessage(null);
    setMode('view');
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    const list = tags
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    const result = await call('run:edit', { runId: run.id, name, description, tags: list });
    if (result.ok) done();
    else failed(result);
  };
  const remove = async (e: FormEvent) => {
    e.preventDefault();
    const result = await call('run:delete', { runId: run.id, confirmName: confirm });
    if (result.ok) setDeletedBy('you');
    else failed(result);
  };
  const archive = async () => {
    const result = await call(run.archivedAt ? 'run:restore' : 'run:archive', { runId: run.id });
    if (result.ok) done();
    else failed(result);
  };
  const startEdit = () => {
    setName(run.name);
    setDescription(run.description);
    setTags(run.tags.join(', '));
    setMode('edit');
  };

  if (deletedBy) {
    return (
      <div className="banner banner-error" role="alert" data-testid="run-deleted">
        This run was deleted for good by {deletedBy}. <Link href="/">Back to the runs</Link>
      </div>
    );
  }
  const error = (k: string) =>
    errors[k] ? (
      <span className="field-error" id={`err-run-${k}`}>
        {errors[k]}
      </span>
    ) : null;
  return (
    <section className="card run-manage" aria-label="About this run">
      {run.archivedAt ? (
        <p className="muted small" data-testid="run-archived">
          Archived: hidden from the runs list; nothing was removed.
        </p>
      ) : null}
      {mode === 'edit' ? (
        <form onSubmit={save} className="run-edit" aria-label="Edit the run">
          <div className="field">
            <label htmlFor="run-edit-name">Name</label>
            <input
              id="run-edit-name"
              value={name}
              maxLength={MAX_RUN_NAME_CHARS}
              onChange={(e) => setName(e.target.value)}
              aria-invalid={errors.name ? true : undefined}
            />
            {error('name')}
          </div>
          <div className="field">
            <label htmlFor="run-edit-description">Description (markdown)</label>
            <textarea
              id="run-edit-description"
              value={description}
              maxLength={MAX_DESCRIPTION_CHARS}
              rows={5}
              onChange={(e) => setDescription(e.target.value)}
            />
            {error('description')}
          </div>
          <div className="field">
            <label htmlFor="run-edit-tags">Tags (comma-separated)</label>
            <input
              id="run-edit-tags"
              value={tags}
              onChange={(e) => setTags(e.target.value)}
              placeholder="baseline, lr sweep"
              aria-invalid={errors.tags ? true : undefined}
            />
            {error('tags')}
          </div>
          <div className="button-row">
            <button type="submit">Save</button>
            <button type="button" onClick={done}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <>
          {run.description ? (
            <div className="run-description" data-testid="run-description">
              <Markdown>{run.description}</Markdown>
            </div>
          ) : null}
          {run.tags.length ? (
            <ul className="tags" aria-label="Tags">
              {run.tags.map((t) => (
                <li key={t} className="tag">
                  {t}
                </li>
              ))}
            </ul>
          ) : null}
          <div className="button-row">
            <button type="button" onClick={startEdit}>
              Edit name, description, tags
            </button>
            <Link className="button" href={`/?copy=${encodeURIComponent(run.id)}`}>
              Start a copy
            </Link>
            <button
              type="button"
              onClick={archive}
              disabled={!ended && !run.archivedAt}
              title={ended ? undefined : 'stop the run before you archive it'}
            >
              {run.archivedAt ? 'Restore' : 'Archive'}
            </button>
            <button
              type="button"
              className="danger"
              onClick={() => setMode('delete')}
              disabled={!ended}
              title={ended ? undefined : 'stop the run before you delete it'}
            >
              Delete…
            </button>
          </div>
        </>
      )}
      {mode === 'delete' ? (
        <form onSubmit={remove} className="run-delete" aria-label="Delete the run">
          <p>
            Deleting removes the run, its metrics, notes and checkpoints for good. Type its name,{' '}
            <strong>{run.name}</strong>, to confirm.
          </p>
          <div className="field">
            <label htmlFor="run-delete-name">Run name</label>
            <input
              id="run-delete-name"
              value={confirm}
              onChange={(e) => setConfirm(e.target.value)}
              autoComplete="off"
              aria-invalid={errors.confirmName ? true : undefined}
            />
            {error('confirmName')}
          </div>
          <div className="button-row">
            <button type="submit" className="danger" disabled={confirm !== run.name}>
              Delete for good
            </button>
            <button type="button" onClick={done}>
              Cancel
            </button>
          </div>
        </form>
      ) : null}
      <FormError message={message} />
    </section>
  );
}
