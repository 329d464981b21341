'use client';
/** First visit: ask for the display name others will see (remembered in this browser). */
import { useState, type FormEvent } from 'react';
import { MAX_NAME_CHARS } from '../../server/protocol';
import { useHub } from '../lib/HubProvider';

export function NamePrompt() {
  const { setName } = useHub();
  const [value, setValue] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (value.trim()) setName(value);
  };
  return (
    <div className="modal-backdrop">
      <form className="modal" onSubmit={submit} aria-labelledby="name-title">
        <h2 id="name-title">Who is watching?</h2>
        <p className="muted">
          Your name is shown to the others on this hub, next to your notes and actions.
        </p>
        <label htmlFor="display-name">Display name</label>
        <input
          id="display-name"
          value={value}
          maxLength={MAX_NAME_CHARS}
          autoFocus
          required
          onChange={(e) => setValue(e.target.value)}
        />
        <button type="submit" disabled={!value.trim()}>
          Continue
        </button>
      </form>
    </div>
  );
}
