'use client';
/**
 * The runs list, live: loaded over HTTP, then kept current by `runs:changed` and
 * `runs:deleted`. Archived runs are left out unless `withArchived`.
 */
import { useEffect, useState } from 'react';
import type { HttpBodies, RunSummary, ServerToClientEvents } from '../../server/protocol';
import { apiGet } from './api';
import { useHub } from './HubProvider';

export function useRuns(withArchived = false): { runs: RunSummary[]; error: string | null; loading: boolean } {
  const { socket, session } = useHub();
  const [runs, setRuns] = useState<RunSummary[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);

  useEffect(() => {
    const controller = new AbortController();
    apiGet<HttpBodies['GET /api/runs']>(`/api/runs?archived=${withArchived ? 'include' : 'exclude'}`, controller.signal).then(
      (data) => {
        setRuns(data.runs);
        setError(null);
        setLoading(false);
      },
      (e: Error) => {
        if (controller.signal.aborted) return;
        setError(e.message);
        setLoading(false);
      },
    );
    return () => controller.abort();
    // Reload after each (re)connect so nothing missed while away stays missing.
  }, [session, withArchived]);

  useEffect(() => {
    if (!socket) return;
    const onChanged: ServerToClientEvents['runs:changed'] = ({ run }) =>
      setRuns((list) => {
        const at = list.findIndex((r) => r.id === run.id);
        // Archived while the list hides them: it leaves the list.
        if (run.archivedAt && !withArchived) return at < 0 ? list : list.filter((r) => r.id !== run.id);
        if (at < 0) return [run, ...list];
        const next = list.slice();
        next[at] = run;
        return next;
      });
    const onDeleted: ServerToClientEvents['runs:deleted'] = ({ runId }) => setRuns((list) => list.filter((r) => r.id !== runId));
    socket.on('runs:changed', onChanged);
    socket.on('runs:deleted', onDeleted);
    return () => {
      socket.off('runs:changed', onChanged);
      socket.off('runs:deleted', onDeleted);
    };
  }, [socket, withArchived]);

  return { runs, error, loading };
}
