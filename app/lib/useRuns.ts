'use client';
/**
 * The runs list, live: loaded over HTTP, then kept current by `runs:changed`. Also keeps a
 * loss sparkline per run (from /api/runs/sparklines, then the latest losses as they come).
 */
import { useEffect, useState } from 'react';
import type { HttpBodies, RunSummary, ServerToClientEvents } from '../../server/protocol';
import { apiGet } from './api';
import { useHub } from './HubProvider';

export function useRuns(): { runs: RunSummary[]; error: string | null; loading: boolean } {
  const { socket, session } = useHub();
  const [runs, setRuns] = useState<RunSummary[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);

  useEffect(() => {
    const controller = new AbortController();
    apiGet<HttpBodies['GET /api/runs']>('/api/runs', controller.signal).then(
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
  }, [session]);

  useEffect(() => {
    if (!socket) return;
    const onChanged: ServerToClientEvents['runs:changed'] = ({ run }) =>
      setRuns((list) => {
        const at = list.findIndex((r) => r.id === run.id);
        if (at < 0) return [run, ...list];
        const next = list.slice();
        next[at] = run;
        return next;
      });
    socket.on('runs:changed', onChanged);
    return () => {
      socket.off('runs:changed', onChanged);
    };
  }, [socket]);

  return { runs, error, loading };
}
