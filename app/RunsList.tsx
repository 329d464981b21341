'use client';

import { useEffect, useState, type ReactNode } from 'react';
import { z } from 'zod';

/** One run as `GET /api/runs` lists it. */
const RunSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  status: z.string(),
  createdAt: z.string(),
  createdBy: z.string(),
  finalTestAccuracy: z.number().nullable(),
});

/** The hub's response envelope for `GET /api/runs`; unknown keys are stripped. */
const RunsResponseSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), data: z.object({ runs: z.array(RunSummarySchema) }) }),
  z.object({ ok: z.literal(false), error: z.string(), message: z.string() }),
]);

/** A run summary as shown in the list. */
export type RunSummary = z.infer<typeof RunSummarySchema>;

type LoadState =
  | { kind: 'loading' }
  | { kind: 'loaded'; runs: RunSummary[] }
  | { kind: 'failed'; message: string };

function assertNever(value: never): never {
  throw new Error(`unhandled state: ${JSON.stringify(value)}`);
}

/** Fetches and validates the run list; every failure becomes a readable message. */
async function loadRuns(signal: AbortSignal): Promise<LoadState> {
  let response: Response;
  try {
    response = await fetch('/api/runs', { signal, headers: { accept: 'application/json' } });
  } catch (err) {
    if (signal.aborted) throw err;
    return { kind: 'failed', message: 'Could not reach the Livetrain hub. Is it running?' };
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch (err) {
    if (signal.aborted) throw err;
    return {
      kind: 'failed',
      message: `The hub answered HTTP ${response.status} without a JSON body.`,
    };
  }
  const parsed = RunsResponseSchema.safeParse(body);
  if (!parsed.success) {
    return { kind: 'failed', message: `The hub answered HTTP ${response.status} in an unexpected shape.` };
  }
  if (!parsed.data.ok) {
    return { kind: 'failed', message: `${parsed.data.message} (${parsed.data.error})` };
  }
  return { kind: 'loaded', runs: parsed.data.data.runs };
}

function formatDate(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** Test accuracy is a percentage (100 × correct / N), as the trainer reports it. */
function formatAccuracy(accuracy: number | null): string {
  return accuracy === null ? '—' : `${accuracy.toFixed(2)} %`;
}

function RunsTable({ runs }: { runs: RunSummary[] }) {
  if (runs.length === 0) {
    return <p className="muted">No runs yet.</p>;
  }
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Status</th>
          <th scope="col">Started</th>
          <th scope="col">By</th>
          <th scope="col">Test accuracy</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((run) => (
          <tr key={run.id}>
            <td>{run.name}</td>
            <td>{run.status}</td>
            <td>{formatDate(run.createdAt)}</td>
            <td>{run.createdBy}</td>
            <td>{formatAccuracy(run.finalTestAccuracy)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * The list of training runs, fetched from the hub's `GET /api/runs` once on mount and
 * again on "Retry". A failed request shows the hub's message instead of the table.
 */
export function RunsList() {
  const [state, setState] = useState<LoadState>({ kind: 'loading' });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    loadRuns(controller.signal).then(
      (next) => {
        if (!controller.signal.aborted) setState(next);
      },
      () => {
        // Only an abort (unmount or a newer attempt) rejects; nothing to show.
      },
    );
    return () => controller.abort();
  }, [attempt]);

  const retry = () => {
    setState({ kind: 'loading' });
    setAttempt((n) => n + 1);
  };

  let body: ReactNode;
  switch (state.kind) {
    case 'loading':
      body = <p className="muted">Loading runs…</p>;
      break;
    case 'loaded':
      body = <RunsTable runs={state.runs} />;
      break;
    case 'failed':
      body = (
        <p className="error" role="alert">
          Could not load runs: {state.message}{' '}
          <button type="button" onClick={retry}>
            Retry
          </button>
        </p>
      );
      break;
    default:
      assertNever(state);
  }

  return (
    <section className="panel" aria-labelledby="runs-heading" aria-busy={state.kind === 'loading'}>
      <h2 id="runs-heading">Runs</h2>
      {body}
    </section>
  );
}
