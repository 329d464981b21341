'use client';
/**
 * The runs page: one page of the live list of runs (sorted by any column, filtered by status,
 * tag and text, archived runs only on request; the hub does all of it), the view kept in the
 * page's URL, the start form and who is online.
 */
import { useEffect, useState } from 'react';
import { RUN_STATUSES, type RunSortKey } from '../../server/protocol';
import { PageTitle } from '../lib/PageTitle';
import {
  PAGE_SIZE,
  rangeText,
  searchFromView,
  sortBy,
  viewFromSearch,
  type Filter,
  type ListView,
} from '../lib/runsList';
import { useRuns } from '../lib/useRuns';
import { RunsTable } from './RunsTable';
import { StartRunForm } from './StartRunForm';

/** How long typing pauses before the search is sent. */
const SEARCH_DEBOUNCE_MS = 300;

export function RunsPage() {
  // Read from the URL once mounted (the server render has no URL query): null until then.
  const [view, setView] = useState<ListView | null>(null);
  const [text, setText] = useState('');
  const [copyOf, setCopyOf] = useState<string | null>(null);
  const { held, tags, error, loading, reload } = useRuns(view);
  useEffect(() => {
    const initial = viewFromSearch(window.location.search);
    setView(initial);
    setText(initial.text);
    // "Start a copy" on a run's page comes here with ?copy=<id>; the form is filled from it.
    setCopyOf(new URLSearchParams(window.location.search).get('copy'));
  }, []);
  // The search is sent once typing pauses.
  useEffect(() => {
    if (!view || text === view.text) return;
    const timer = setTimeout(
      () => setView((v) => v && { ...v, text, page: 1 }),
      SEARCH_DEBOUNCE_MS,
    );
    return () => clearTimeout(timer);
  }, [text, view]);
  // The URL says what is shown, so a reload or a shared link shows the same page.
  useEffect(() => {
    if (!view) return;
    const search = searchFromView(view, window.location.search);
    if (search !== window.location.search)
      window.history.replaceState(
        null,
        '',
        `${window.location.pathname}${search}${window.location.hash}`,
      );
  }, [view]);

  const change = (patch: Partial<ListView>) =>
    setView((v) => v && { ...v, ...patch, page: patch.page ?? 1 });
  const set = (k: keyof Omit<Filter, 'text'>) => (e: { target: { value: string } }) =>
    change({ [k]: e.target.value });
  const filtered = !!view && !!(view.text.trim() || view.status || view.tag);
  const shownTags = view?.tag && !tags.includes(view.tag) ? [...tags, view.tag].sort() : tags;
  const newRuns = held?.newRuns.length ?? 0;
  return (
    <div className="runs-layout">
      <PageTitle what="Runs" />
      <section aria-labelledby="runs-title" className="runs-main">
        <h2 id="runs-title">Runs</h2>
        <div className="runs-filter" role="search">
          <label>
            Search{' '}
            <input
              type="search"
              className="runs-search"
              value={text}
              onChange={(e) => setText(e.target.value)}
              placeholder="name, tag, description, who"
              title="Searches run names, tags, descriptions, who started them and ids"
            />
          </label>
          <label>
            Status{' '}
            <select value={view?.status ?? ''} onChange={set('status')}>
              <option value="">any</option>
              {RUN_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label>
            Tag{' '}
            <select value={view?.tag ?? ''} onChange={set('tag')}>
              <option value="">any</option>
              {shownTags.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </label>
          <label>
            <input
              type="checkbox"
              checked={view?.archived ?? false}
              onChange={(e) => change({ archived: e.target.checked })}
            />{' '}
            show archived
          </label>
        </div>
        {newRuns > 0 ? (
          <p className="runs-notice" role="status">
            <button type="button" className="small" onClick={reload} data-testid="new-runs">
              {newRuns} new run{newRuns === 1 ? '' : 's'} — show
            </button>
          </p>
        ) : null}
        {error ? (
          <p className="form-error" role="alert">
            Could not load the runs: {error}
          </p>
        ) : !held || !view ? (
          <p className="muted">Loading…</p>
        ) : held.total === 0 && held.runs.length === 0 ? (
          filtered ? (
            <p className="muted" data-testid="no-match">
              No run matches the filter.
            </p>
          ) : (
            <p className="muted">No runs yet: start one with the form.</p>
          )
        ) : (
          <>
            <RunsTable
              runs={held.runs}
              sort={view.sort}
              order={view.order}
              onSort={(key: RunSortKey) => setView((v) => v && sortBy(v, key))}
              onChanged={reload}
            />
            <nav className="pager" aria-label="Pages of runs" aria-busy={loading}>
              <button
                type="button"
                className="small"
                disabled={view.page <= 1}
                onClick={() => change({ page: view.page - 1 })}
              >
                Previous
              </button>
              <span data-testid="runs-range">
                {rangeText(held.offset, held.runs.length, held.total)}
              </span>
              <button
                type="button"
                className="small"
                disabled={view.page * PAGE_SIZE >= held.total}
                onClick={() => change({ page: view.page + 1 })}
              >
                Next
              </button>
            </nav>
          </>
        )}
      </section>
      <aside className="runs-side">
        <StartRunForm copyOf={copyOf} />
      </aside>
    </div>
  );
}
