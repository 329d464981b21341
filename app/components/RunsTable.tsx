'use client';
/**
 * A page of runs, live, in the order the hub sorted them: status, progress, a loss sparkline,
 * final test accuracy, backend and who started it; a header click asks for another order;
 * select two or more to compare them.
 */
import Link from 'next/link';
import { Fragment, useEffect, useRef, useState } from 'react';
import type { HttpBodies, RunSortKey, RunSummary, ServerToClientEvents } from '../../server/protocol';
import { Sparkline } from '../charts/Sparkline';
import { apiGet } from '../lib/api';
import { useHub } from '../lib/HubProvider';
import { fmtDateTime, fmtPct, learningRateText } from './format';
import { HP_COLUMNS, type HpColumn } from '../lib/runsList';
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

export interface RunsTableProps {
  /** The page's runs, in the hub's order. */
  runs: readonly RunSummary[];
  /** The column and order they are sorted by (as the page's URL says). */
  sort: string;
  order: string;
  /** A header was clicked. */
  onSort: (key: RunSortKey) => void;
}

export function RunsTable({ runs, sort, order, onSort }: RunsTableProps) {
  const [selected, setSelected] = useState<string[]>([]);
  const [columns, setColumns] = useState<HpColumn[]>([]);
  const [sharedScale, setSharedScale] = useState(false);
  const lines = useSparklines(runs);
  const toggle = (id: string) => setSelected((s) => (s.includes(id) ? s.filter((x) => x !== id) : [...s, id]));
  if (runs.length === 0) return <p className="muted">No runs on this page.</p>;
  // One loss scale for every sparkline shown, so their heights compare (only when asked for;
  // a loop, not Math.min(...all): 200 runs × 240 values would be one call's arguments).
  let extent: readonly [number, number] | undefined;
  if (sharedScale) {
    let [lo, hi] = [Infinity, -Infinity];
    for (const r of runs) for (const v of lines[r.id] ?? []) if (Number.isFinite(v)) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    extent = lo <= hi ? [lo, hi] : undefined;
  }
  const header = (key: RunSortKey, label: string) => (
    <th scope="col" aria-sort={sort === key ? (order === 'asc' ? 'ascending' : 'descending') : undefined}>
      <button type="button" className="sort" onClick={() => onSort(key)}>
        {label}
        <span aria-hidden="true">{sort === key ? (order === 'asc' ? ' ▲' : ' ▼') : ''}</span>
      </button>
    </th>
  );
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
        <fieldset className="column-picker">
          <legend className="small muted">Columns</legend>
          {HP_COLUMNS.map(([key, label]) => (
            <label key={key} className="small">
              <input type="checkbox" checked={columns.includes(key)} onChange={() => setColumns((c) => (c.includes(key) ? c.filter((x) => x !== key) : [...c, key]))} /> {label}
            </label>
          ))}
          <label className="small">
            <input type="checkbox" checked={sharedScale} onChange={(e) => setSharedScale(e.target.checked)} /> same loss scale
          </label>
        </fieldset>
      </div>
      {/* Every column stays: a narrow window scrolls the table in this box, not the page. */}
      <div className="table-scroll">
        <table className="runs-table">
          <thead>
            <tr>
              <th scope="col"><span className="sr-only">Select</span></th>
              {header('name', 'Run')}
              {header('created', 'Created')}
              {header('status', 'Status')}
              {header('progress', 'Progress')}
              {header('loss', 'Loss')}
              {header('accuracy', 'Test accuracy')}
              {header('lr', 'Learning rate')}
              {HP_COLUMNS.filter(([k]) => columns.includes(k)).map(([k, label]) => (
                <Fragment key={k}>{header(k, label)}</Fragment>
              ))}
              {header('backend', 'Backend')}
              {header('creator', 'Started by')}
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
                    {r.tags.length ? <div className="muted small">{r.tags.join(' · ')}</div> : null}
                  </td>
                  <td className="small" data-testid="run-created">
                    {fmtDateTime(r.createdAt)}
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
                  <td>{lines[r.id]?.length ? <Sparkline values={lines[r.id]} extent={extent} label={`${r.name} loss`} width={120} height={28} /> : <span className="muted">–</span>}</td>
                  <td>{fmtPct(r.finalTestAccuracy)}</td>
                  <LearningRateCell run={r} />
                  {HP_COLUMNS.filter(([k]) => columns.includes(k)).map(([k]) => (
                    <td key={k} data-testid={`run-${k}`}>
                      {String(r.hyperparams[k])}
                    </td>
                  ))}
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
