'use client';
/**
 * A page of runs, live, in the order the hub sorted them: status, progress, a loss sparkline,
 * final test accuracy, backend and who started it; a header click asks for another order;
 * tick rows to compare them, or to archive, restore, tag or delete them at once. Archived runs
 * (shown on request) are marked. In a narrow window the secondary columns give way, so the
 * name, status, loss and accuracy stay in view; what still overflows scrolls, and says so.
 */
import Link from 'next/link';
import { Fragment, useEffect, useRef, useState } from 'react';
import type {
  HttpBodies,
  RunManageResult,
  RunSortKey,
  RunSummary,
  ServerToClientEvents,
} from '../../server/protocol';
import { Sparkline } from '../charts/Sparkline';
import { apiGet } from '../lib/api';
import { useHub } from '../lib/HubProvider';
import { fmtDateTime, fmtPct, learningRateText } from './format';
import { HP_COLUMNS, type HpColumn } from '../lib/runsList';
import { BulkActions } from './BulkActions';
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
    apiGet<HttpBodies['GET /api/runs/sparklines']>(
      `/api/runs/sparklines?ids=${key}&points=${SPARK_POINTS}`,
    ).then(
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
  /** Ticked runs were changed at once (the page reads the list again). */
  onChanged?: () => void;
}

/** Whether the box scrolls sideways, measured when it or its table changes size. */
function useOverflows() {
  const ref = useRef<HTMLDivElement>(null);
  const [overflows, setOverflows] = useState(false);
  useEffect(() => {
    const box = ref.current;
    if (!box) return;
    const measure = () => setOverflows(box.scrollWidth > box.clientWidth + 1);
    const observer = new ResizeObserver(measure);
    observer.observe(box);
    if (box.firstElementChild) observer.observe(box.firstElementChild);
    measure();
    return () => observer.disconnect();
  }, []);
  return { ref, overflows };
}

export function RunsTable({ runs, sort, order, onSort, onChanged }: RunsTableProps) {
  const [selected, setSelected] = useState<string[]>([]);
  const scroll = useOverflows();
  const changed = (kind: string, results: readonly RunManageResult[]) => {
    // Archived, restored or deleted runs are done with; a failed one stays ticked to try again.
    if (kind !== 'tag')
      setSelected((s) => s.filter((id) => !results.some((r) => r.ok && r.runId === id)));
    onChanged?.();
  };
  const [columns, setColumns] = useState<HpColumn[]>([]);
  const [sharedScale, setSharedScale] = useState(false);
  /** A narrow window shows the name, status, loss and accuracy unless every column is asked for. */
  const [allColumns, setAllColumns] = useState(false);
  const lines = useSparklines(runs);
  const toggle = (id: string) =>
    setSelected((s) => (s.includes(id) ? s.filter((x) => x !== id) : [...s, id]));
  if (runs.length === 0) return <p className="muted">No runs on this page.</p>;
  const secondary = (key: RunSortKey, label: string) => header(key, label, 'col-secondary');
  // One loss scale for every sparkline shown, so their heights compare (only when asked for;
  // a loop, not Math.min(...all): 200 runs × 240 values would be one call's arguments).
  let extent: readonly [number, number] | undefined;
  if (sharedScale) {
    let [lo, hi] = [Infinity, -Infinity];
    for (const r of runs)
      for (const v of lines[r.id] ?? [])
        if (Number.isFinite(v)) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    extent = lo <= hi ? [lo, hi] : undefined;
  }
  const header = (key: RunSortKey, label: string, className?: string) => (
    <th
      scope="col"
      className={className}
      aria-sort={sort === key ? (order === 'asc' ? 'ascending' : 'descending') : undefined}
    >
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
        <BulkActions selected={selected} runs={runs} onDone={changed} />
        <fieldset className="column-picker">
          <legend className="small muted">Columns</legend>
          {HP_COLUMNS.map(([key, label]) => (
            <label key={key} className="small">
              <input
                type="checkbox"
                checked={columns.includes(key)}
                onChange={() =>
                  setColumns((c) => (c.includes(key) ? c.filter((x) => x !== key) : [...c, key]))
                }
              />{' '}
              {label}
            </label>
          ))}
          <label className="small">
            <input
              type="checkbox"
              checked={sharedScale}
              onChange={(e) => setSharedScale(e.target.checked)}
            />{' '}
            same loss scale
          </label>
        </fieldset>
        <button
          type="button"
          className="small compact-toggle"
          aria-pressed={allColumns}
          onClick={() => setAllColumns((a) => !a)}
          data-testid="all-columns"
        >
          {allColumns ? 'Fewer columns' : 'All columns'}
        </button>
      </div>
      {/* A narrow window scrolls the table in this box, not the page; a shadow and a hint say so. */}
      {scroll.overflows ? (
        <p className="small muted scroll-hint" data-testid="scroll-hint">
          Scroll the table sideways for more columns →
        </p>
      ) : null}
      <div
        className={`table-scroll runs-scroll${scroll.overflows ? ' overflows' : ''}`}
        ref={scroll.ref}
      >
        <table className={`runs-table${allColumns ? ' all-columns' : ''}`}>
          <thead>
            <tr>
              <th scope="col">
                <span className="sr-only">Select</span>
              </th>
              {header('name', 'Run', 'col-name')}
              {secondary('created', 'Created')}
              {header('status', 'Status')}
              {secondary('progress', 'Progress')}
              {header('loss', 'Loss')}
              {header('accuracy', 'Test accuracy')}
              {secondary('lr', 'Learning rate')}
              {HP_COLUMNS.filter(([k]) => columns.includes(k)).map(([k, label]) => (
                <Fragment key={k}>{secondary(k, label)}</Fragment>
              ))}
              {secondary('backend', 'Backend')}
              {secondary('creator', 'Started by')}
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => {
              const pct = r.totalSteps ? Math.min(100, (100 * r.lastStep) / r.totalSteps) : 0;
              return (
                <tr
                  key={r.id}
                  data-testid="run-row"
                  data-run-id={r.id}
                  className={r.archivedAt ? 'archived' : undefined}
                >
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`Select ${r.name}`}
                      checked={selected.includes(r.id)}
                      onChange={() => toggle(r.id)}
                    />
                  </td>
                  <td className="col-name">
                    <Link href={`/runs/${r.id}`}>{r.name}</Link>
                    {r.archivedAt ? (
                      <span
                        className="badge badge-archived"
                        data-testid="run-archived-mark"
                        title={`archived ${fmtDateTime(r.archivedAt)}: hidden from the list unless “show archived” is on`}
                      >
                        archived
                      </span>
                    ) : null}
                    {r.tags.length ? <div className="muted small">{r.tags.join(' · ')}</div> : null}
                  </td>
                  <td className="small col-secondary" data-testid="run-created">
                    {fmtDateTime(r.createdAt)}
                  </td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td className="col-secondary">
                    <div
                      className="progress"
                      role="progressbar"
                      aria-valuenow={Math.round(pct)}
                      aria-valuemin={0}
                      aria-valuemax={100}
                      aria-label={`${r.name} progress`}
                    >
                      <div style={{ width: `${pct}%` }} />
                    </div>
                    <span className="small muted">
                      {r.lastStep.toLocaleString('en-US')} /{' '}
                      {r.totalSteps?.toLocaleString('en-US') ?? '–'} steps
                    </span>
                  </td>
                  <td>
                    {lines[r.id]?.length ? (
                      <Sparkline
                        values={lines[r.id]}
                        extent={extent}
                        label={`${r.name} loss`}
                        width={96}
                        height={28}
                      />
                    ) : (
                      <span className="muted">–</span>
                    )}
                  </td>
                  <td>{fmtPct(r.finalTestAccuracy)}</td>
                  <LearningRateCell run={r} />
                  {HP_COLUMNS.filter(([k]) => columns.includes(k)).map(([k]) => (
                    <td key={k} className="col-secondary" data-testid={`run-${k}`}>
                      {String(r.hyperparams[k])}
                    </td>
                  ))}
                  <td className="col-secondary">
                    {r.backend ?? '–'}
                    {r.trainerHost ? (
                      <div className="muted small trainer-host" title={r.trainerHost}>
                        {r.trainerHost}
                      </div>
                    ) : null}
                  </td>
                  <td className="col-secondary">{r.createdBy}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}

/**
 * The current learning rate; when it changed, how: on one line cut to the column's width (so
 * it does not take the run names' room), in full on hover.
 */
function LearningRateCell({ run }: { run: RunSummary }) {
  const lr = learningRateText(run);
  return (
    <td
      className="col-secondary col-lr"
      data-testid="run-lr"
      title={lr.history ? `${lr.current} now; ${lr.history}` : undefined}
    >
      {lr.current}
      {lr.history ? <div className="muted small lr-history">{lr.history}</div> : null}
    </td>
  );
}
