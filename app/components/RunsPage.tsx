'use client';
/**
 * The runs page: the live list of runs (filtered by status, tag and text; archived runs only
 * on request), the start form and who is online.
 */
import { useEffect, useMemo, useState } from 'react';
import { RUN_STATUSES } from '../../server/protocol';
import { usePageTitle } from '../lib/usePageTitle';
import { matches, type Filter } from '../lib/runsList';
import { useRuns } from '../lib/useRuns';
import { RunsTable } from './RunsTable';
import { StartRunForm } from './StartRunForm';

export function RunsPage() {
  const [withArchived, setWithArchived] = useState(false);
  const { runs, error, loading } = useRuns(withArchived);
  const [filter, setFilter] = useState<Filter>({ text: '', status: '', tag: '' });
  const [copyOf, setCopyOf] = useState<string | null>(null);
  usePageTitle('Runs');
  // "Start a copy" on a run's page comes here with ?copy=<id>; the form is filled from it.
  useEffect(() => setCopyOf(new URLSearchParams(window.location.search).get('copy')), []);
  const tags = useMemo(() => [...new Set(runs.flatMap((r) => r.tags))].sort(), [runs]);
  const shown = runs.filter((r) => matches(r, filter));
  const set = (k: keyof Filter) => (e: { target: { value: string } }) => setFilter((f) => ({ ...f, [k]: e.target.value }));
  return (
    <div className="runs-layout">
      <section aria-labelledby="runs-title" className="runs-main">
        <h2 id="runs-title">Runs</h2>
        <div className="runs-filter" role="search">
          <label>
            Search <input type="search" value={filter.text} onChange={set('text')} placeholder="name, tag, description, who" />
          </label>
          <label>
            Status{' '}
            <select value={filter.status} onChange={set('status')}>
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
            <select value={filter.tag} onChange={set('tag')}>
              <option value="">any</option>
              {tags.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </label>
          <label>
            <input type="checkbox" checked={withArchived} onChange={(e) => setWithArchived(e.target.checked)} /> show archived
          </label>
        </div>
        {error ? (
          <p className="form-error" role="alert">
            Could not load the runs: {error}
          </p>
        ) : loading ? (
          <p className="muted">Loading…</p>
        ) : runs.length > 0 && shown.length === 0 ? (
          <p className="muted" data-testid="no-match">
            No run matches the filter ({runs.length} hidden by it).
          </p>
        ) : (
          <RunsTable runs={shown} />
        )}
      </section>
      <aside className="runs-side">
        <StartRunForm copyOf={copyOf} />
      </aside>
    </div>
  );
}
