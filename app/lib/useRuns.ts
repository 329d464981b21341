'use client';
/**
 * One page of the runs list, live: the hub sorts, filters and pages it (`GET /api/runs`, read
 * again when the view changes and after each (re)connect); `runs:changed` and `runs:deleted`
 * change the rows shown in place, and new runs go on top of the newest-first first page or
 * into the "new runs" notice (runsList.ts runChanged).
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { tagKey, type HttpBodies, type ServerToClientEvents } from '../../server/protocol';
import { apiGet } from './api';
import { useHub } from './HubProvider';
import {
  apiQuery,
  heldPage,
  PAGE_SIZE,
  runChanged,
  runDeleted,
  type HeldPage,
  type ListView,
} from './runsList';

export interface RunsList {
  /** The page held, null before the first answer. */
  held: HeldPage | null;
  /** Every tag in use (the tag filter's choices). */
  tags: string[];
  error: string | null;
  /** A request is in flight (the rows shown are the previous answer's until it lands). */
  loading: boolean;
  /** Reads the page again (the "new runs — show" notice). */
  reload: () => void;
}

/** The page `view` describes, of `pageSize` runs; nothing is asked for while `view` is null (not read from the URL yet). */
export function useRuns(view: ListView | null, pageSize = PAGE_SIZE): RunsList {
  const { socket, session } = useHub();
  const [held, setHeld] = useState<HeldPage | null>(null);
  const [tags, setTags] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [reloads, setReloads] = useState(0);
  const viewRef = useRef(view);
  viewRef.current = view;
  const query = view ? apiQuery(view, pageSize) : null;

  useEffect(() => {
    if (query === null) return;
    const controller = new AbortController();
    setLoading(true);
    apiGet<HttpBodies['GET /api/runs']>(`/api/runs?${query}`, controller.signal).then(
      (data) => {
        setHeld(heldPage(data));
        setTags(data.tags);
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
    // Read again after each (re)connect so nothing missed while away stays missing.
  }, [session, query, reloads]);

  useEffect(() => {
    if (!socket) return;
    const onChanged: ServerToClientEvents['runs:changed'] = ({ run }) => {
      const v = viewRef.current;
      if (v) setHeld((h) => h && runChanged(h, run, v, pageSize));
      // The menu holds tags' lower-case keys, as the hub lists them.
      const keys = run.tags.map(tagKey);
      if (keys.length)
        setTags((t) =>
          keys.every((tag) => t.includes(tag)) ? t : [...new Set([...t, ...keys])].sort(),
        );
    };
    const onDeleted: ServerToClientEvents['runs:deleted'] = ({ runId }) =>
      setHeld((h) => h && runDeleted(h, runId));
    socket.on('runs:changed', onChanged);
    socket.on('runs:deleted', onDeleted);
    return () => {
      socket.off('runs:changed', onChanged);
      socket.off('runs:deleted', onDeleted);
    };
  }, [socket, pageSize]);

  const reload = useCallback(() => setReloads((n) => n + 1), []);
  return { held, tags, error, loading, reload };
}
