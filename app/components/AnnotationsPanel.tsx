'use client';
/** Notes and control events on this run, newest step last; edit or delete your own notes. */
import { useState } from 'react';
import { MAX_ANNOTATION_CHARS, type WireAnnotation } from '../../server/protocol';
import { useHub } from '../lib/HubProvider';
import { fmtTime } from './format';

function Note({ a, mine, colour }: { a: WireAnnotation; mine: boolean; colour: string }) {
  const { call } = useHub();
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(a.text);
  const [error, setError] = useState<string | null>(null);
  const save = async () => {
    const result = await call('annotation:edit', { id: a.id, text });
    if (!result.ok) return setError(result.message);
    setEditing(false);
    setError(null);
  };
  const remove = async () => {
    const result = await call('annotation:delete', { id: a.id });
    if (!result.ok) setError(result.message);
  };
  return (
    <li
      className={`annotation annotation-${a.kind}`}
      data-testid="annotation"
      style={{ borderLeftColor: colour }}
    >
      <div className="annotation-meta">
        <strong>{a.authorName}</strong> · step {a.step.toLocaleString('en-US')} ·{' '}
        {fmtTime(a.createdAt)}
        {a.edits > 0 ? <span className="muted"> · edited</span> : null}
      </div>
      {editing ? (
        <div className="note-form">
          <label htmlFor={`edit-${a.id}`} className="sr-only">
            Edit note
          </label>
          <textarea
            id={`edit-${a.id}`}
            value={text}
            maxLength={MAX_ANNOTATION_CHARS}
            onChange={(e) => setText(e.target.value)}
          />
          <div>
            <button type="button" onClick={save} disabled={!text.trim()}>
              Save
            </button>
            <button type="button" onClick={() => (setEditing(false), setText(a.text))}>
              Cancel
            </button>
          </div>
        </div>
      ) : (
        <p className="annotation-text">{a.text}</p>
      )}
      {mine && a.kind === 'note' && !editing ? (
        <div className="annotation-actions">
          <button type="button" className="small" onClick={() => setEditing(true)}>
            Edit
          </button>
          <button type="button" className="small danger" onClick={remove}>
            Delete
          </button>
        </div>
      ) : null}
      {error ? (
        <span className="form-error" role="alert">
          {error}
        </span>
      ) : null}
    </li>
  );
}

export function AnnotationsPanel({
  annotations,
  colourOf,
}: {
  annotations: readonly WireAnnotation[];
  colourOf: (a: WireAnnotation) => string;
}) {
  const { me } = useHub();
  const sorted = [...annotations].sort((a, b) => a.step - b.step || a.id - b.id);
  return (
    <section className="card" aria-labelledby="notes-title">
      <h2 id="notes-title">Notes and events</h2>
      {sorted.length === 0 ? (
        <p className="muted">No notes yet. Click a curve to add one.</p>
      ) : null}
      <ul className="annotations">
        {sorted.map((a) => (
          <Note key={a.id} a={a} mine={!!me && a.authorId === me.id} colour={colourOf(a)} />
        ))}
      </ul>
    </section>
  );
}
