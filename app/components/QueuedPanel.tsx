'use client';
/**
 * A queued run's page: no charts yet (there is nothing to draw), but where it waits: "waiting
 * for a trainer, 2 runs ahead in the queue", or that no trainer is connected. The hub answers
 * the place (`GET /api/runs/:id/queue`); it is asked again whenever any run changes (a run
 * ahead starting or leaving the queue announces itself to everyone), and every few seconds
 * in case a trainer connected meanwhile.
 */
import { useEffect, useState } from 'react';
import type { RunQueuePlace } from '../../server/protocol';
import { apiGet, isAbortError } from '../lib/api';
import { useHub } from '../lib/HubProvider';
import { fmtInt } from './format';

const REFRESH_MS = 5000;

/** What the panel says about a place in the queue. */
export function queueText(place: RunQueuePlace | null): string {
  if (!place) return 'Waiting for a trainer…';
  if (!place.queued) return 'Starting…';
  const ahead =
    place.ahead === 0
      ? 'next in the queue'
      : `${fmtInt(place.ahead)} run${place.ahead === 1 ? '' : 's'} ahead in the queue`;
  if (place.trainers === 0)
    return `Waiting for a trainer (${ahead}): no trainer is connected to the hub; start one with npm run trainer.`;
  return `Waiting for a trainer (${ahead}).`;
}

export function QueuedPanel({ runId }: { runId: string }) {
  const { socket } = useHub();
  const [place, setPlace] = useState<RunQueuePlace | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let abort = new AbortController();
    let soon: ReturnType<typeof setTimeout> | undefined;
    const load = () => {
      abort.abort();
      abort = new AbortController();
      apiGet<RunQueuePlace>(`/api/runs/${encodeURIComponent(runId)}/queue`, abort.signal).then(
        (p) => (setPlace(p), setError(null)),
        (e: unknown) => {
          if (!isAbortError(e)) setError(e instanceof Error ? e.message : String(e));
        },
      );
    };
    // Several runs changing at once make one request.
    const onChange = () => {
      clearTimeout(soon);
      soon = setTimeout(load, 200);
    };
    load();
    const every = setInterval(load, REFRESH_MS);
    socket?.on('runs:changed', onChange);
    return () => {
      abort.abort();
      clearTimeout(soon);
      clearInterval(every);
      socket?.off('runs:changed', onChange);
    };
  }, [runId, socket]);
  return (
    <section className="card queued-panel" aria-labelledby="queued-title">
      <h2 id="queued-title">Queued</h2>
      <p data-testid="queue-place" role="status">
        {queueText(place)}
      </p>
      {error ? <p className="form-error">The queue could not be read: {error}</p> : null}
      <p className="muted small">The charts appear once a trainer takes the run.</p>
    </section>
  );
}
