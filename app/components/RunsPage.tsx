'use client';
/** The runs page: the live list of runs, the start form and who is online. */
import { usePageTitle } from '../lib/usePageTitle';
import { useRuns } from '../lib/useRuns';
import { RunsTable } from './RunsTable';
import { StartRunForm } from './StartRunForm';

export function RunsPage() {
  const { runs, error, loading } = useRuns();
  usePageTitle('Runs');
  return (
    <div className="runs-layout">
      <section aria-labelledby="runs-title" className="runs-main">
        <h2 id="runs-title">Runs</h2>
        {error ? (
          <p className="form-error" role="alert">
            Could not load the runs: {error}
          </p>
        ) : loading ? (
          <p className="muted">Loading…</p>
        ) : (
          <RunsTable runs={runs} />
        )}
      </section>
      <aside className="runs-side">
        <StartRunForm />
      </aside>
    </div>
  );
}
