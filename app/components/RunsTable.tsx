'use client';
/**
 * All runs, live: status, progress, a loss sparkline, final test accuracy, backend and who
 * started it; select two or more to compare them.
 */
import Link from 'next/link';
import { useEffect, useRef, useState } from 'react';
import type { HttpBodies, RunSummary, ServerToClientEvents } from '../../server/protocol';
import { Sparkline } from '../charts/Sparkline';
import { apiGet } from '../lib/api';
import { useHub } from '../lib/HubProvider';
import { fmtPct, fmtTime, learningRateText } from './format';
import { StatusBadge } from './StatusBadge';

const SPARK_POINTS = 60;

function useSparklines(runs: readonly RunSummary[]): Record<string, number[]> {
  const { socket } = useHub();
  const [lines, setLines] = useState<Record<string, number[]>>({});
  const asked = useRef(new Set<string>());
  const ids = runs.filter((r) => r.lastStep > 0 && !asked.current.has(r.id)).map((r) => r.id);
  const key = ids.join(',');
  useEffect(() => {
    if (!key) return;
    key.split(',').forEach((id) => asked.current.add(id));
    apiGet<HttpBodies['GET /api/runs/sparklines']>(`/api/runs/sparklines?ids=${key}&points=${SPARK_POINTS}`).then(
      (data) => setLines((l) => ({ ...data.sparklines, ...l })),
      () => key.split(',').forEach((id) => asked.current.delete(id)),
    );
  }, [key]);
  useEffect(() => {
    if (!socket) return;
    const onChanged: ServerToClientEvents['runs:changed'] = ({ run, loss }) => {
      if (typeof loss !== 'number') return;
      asked.current.add(run.id);
      setLines((l) => ({ ...l, [run.id]: [...(l[run.id] ?? []), loss].slice(-SPARK_POINTS * 4) }));
    };
    socket.on('runs:changed', onChanged);
    return () => {
      socket.off('runs:changed', onChanged);
    };
  }, [socket]);
  return lines;
}

export function RunsTable({ runs }: { runs: readonly RunSummary[] }) {
  const [selected, setSelected] = useState<string[]>([]);
  const lines = useSparklines(runs);
  const toggle = (id: string) => setSelected((s) => (s.includes(id) ? s.filter((x) => x !== id) : [...s, id]));
  if (runs.length === 0) return <p className="muted">No runs yet: start one with the form.</p>;
  return (
    <div className="runs-table-wrap">
      <div className="toolbar">
        <Link
          href={selected.length >= 2 ? `/compare?runs=${selected.join(',')}` : '#'}
          className={`button ${selected.length >= 2 ? '' : 'disabled'}`}
          aria-disabled={selected.length < 2}
          data-testid="compare-selected"
        >
          Compare selected ({selected.length})
        </Link>
      </div>
      {/* Every column stays: a narrow window scrolls the table in this box, not the page. */}
      <div className="table-scroll">
        <table className="runs-table">
          <thead>
            <tr>
              <th scope="col"><span className="sr-only">Select</span></th>
              <th scope="col">Run</th>
              <th scope="col">Status</th>
              <th scope="col">Progress</th>
              <th scope="col">Loss</th>
              <th scope="col">Test accuracy</th>
              <th scope="col">Learning rate</th>
              <th scope="col">Backend</th>
              <th scope="col">Started by</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => {
              const pct = r.totalSteps ? Math.min(100, (100 * r.lastStep) / r.totalSteps) : 0;
              return (
                <tr key={r.id} data-testid="run-row" data-run-id={r.id}>
                  <td>
                    <input type="checkbox" aria-label={`Select ${r.name} to compare`} checked={selected.includes(r.id)} onChange={() => toggle(r.id)} />
                  </td>
                  <td>
                    <Link href={`/runs/${r.id}`}>{r.name}</Link>
                    <div className="muted small">{fmtTime(r.createdAt)}</div>
                  </td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td>
                    <div className="progress" role="progressbar" aria-valuenow={Math.round(pct)} aria-valuemin={0} aria-valuemax={100} aria-label={`${r.name} progress`}>
                      <div style={{ width: `${pct}%` }} />
                    </div>
                    <span className="small muted">
                      {r.lastStep.toLocaleString('en-US')} / {r.totalSteps?.toLocaleString('en-US') ?? '–'} steps
                    </span>
                  </td>
                  <td>{lines[r.id]?.length ? <Sparkline values={lines[r.id]} label={`${r.name} loss`} width={120} height={28} /> : <span className="muted">–</span>}</td>
                  <td>{fmtPct(r.finalTestAccuracy)}</td>
                  <LearningRateCell run={r} />
                  <td>
                    {r.backend ?? '–'}
                    {r.trainerHost ? <div className="muted small">{r.trainerHost}</div> : null}
                  </td>
                  <td>{r.createdBy}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}

/** The current learning rate; when it changed, how (shown below, in full on hover). */
function LearningRateCell({ run }: { run: RunSummary }) {
  const lr = learningRateText(run);
  return (
    <td data-testid="run-lr" title={lr.history ?? undefined}>
      {lr.current}
      {lr.history ? <div className="muted small">{lr.history}</div> : null}
    </td>
  );
}
