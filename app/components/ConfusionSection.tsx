'use client';
/**
 * The confusion matrix of a run at one epoch, with an epoch slider, and the test digits behind
 * a clicked cell: for an off-diagonal cell the digits of that true label that were predicted as
 * that class (from the epoch's misclassified list), for a diagonal cell how many were right.
 */
import { useEffect, useId, useMemo, useState } from 'react';
import type { HttpBodies, WireEpoch } from '../../server/protocol';
import { apiGet, isAbortError } from '../lib/api';
import { ConfusionMatrix } from '../charts/ConfusionMatrix';
import { useMisclassified } from '../lib/digits';
import { MisclassifiedGrid } from './MisclassifiedGallery';
import './digits.css';

/** Props of {@link ConfusionSection}. */
export interface ConfusionSectionProps {
  runId: string;
  /** The run's epoch results so far, in epoch order (`RunSnapshot.epochs` plus `metrics:epoch`). */
  epochs: readonly WireEpoch[];
}

/** A confusion-matrix cell: `confusion[label][predicted]`. */
interface Cell {
  label: number;
  predicted: number;
}

const MATRIX_SIZE = 360;

function CellDigits({ runId, epoch, cell }: { runId: string; epoch: WireEpoch; cell: Cell }) {
  const count = epoch.confusion[cell.label]?.[cell.predicted] ?? 0;
  const diagonal = cell.label === cell.predicted;
  const { items, error } = useMisclassified(runId, diagonal || count === 0 ? null : epoch.epoch);
  const matching = useMemo(
    () => (items ?? []).filter((i) => i.label === cell.label && i.predicted === cell.predicted),
    [items, cell.label, cell.predicted],
  );

  if (diagonal) {
    const ofClass = (epoch.confusion[cell.label] ?? []).reduce((sum, n) => sum + n, 0);
    return (
      <p>
        {count.toLocaleString()} of {ofClass.toLocaleString()} test digits labelled {cell.label}{' '}
        were classified correctly at epoch {epoch.epoch}.{' '}
        <span className="muted">
          Only misclassified digits are listed: pick a cell off the diagonal.
        </span>
      </p>
    );
  }
  const heading = (
    <p>
      {count.toLocaleString()} test {count === 1 ? 'digit' : 'digits'} labelled {cell.label}{' '}
      predicted as {cell.predicted} at epoch {epoch.epoch}
      {items && matching.length < count && (
        <span className="muted">
          {' '}
          (the trainer reported {matching.length.toLocaleString()} of them)
        </span>
      )}
    </p>
  );
  if (count === 0) return heading;
  if (!items) {
    return (
      <>
        {heading}
        {error ? (
          <p className="error" role="alert">
            {error}
          </p>
        ) : (
          <p className="muted">Loading digits…</p>
        )}
      </>
    );
  }
  return (
    <>
      {heading}
      <MisclassifiedGrid
        items={matching}
        label={`Digits labelled ${cell.label} predicted as ${cell.predicted} at epoch ${epoch.epoch}`}
        emptyText="The trainer did not report these digits."
      />
    </>
  );
}

/**
 * The confusion matrix at a chosen epoch (the latest by default, following new epochs until the
 * slider is moved elsewhere), and the test digits behind the selected cell.
 */
/**
 * An epoch's confusion matrix: the snapshot carries only the latest one (a 1,000-epoch run's
 * would be large), so an earlier epoch's is fetched when the slider shows it, and kept.
 */
function useConfusion(
  runId: string,
  epoch: WireEpoch | undefined,
): { matrix: number[][] | null; error: string | null } {
  const [fetched, setFetched] = useState(new Map<string, number[][]>());
  const [error, setError] = useState<string | null>(null);
  const key = epoch ? `${runId}:${epoch.epoch}` : '';
  const needed = Boolean(epoch && epoch.confusion.length === 0 && !fetched.has(key));
  useEffect(() => {
    if (!needed || !epoch) return;
    const controller = new AbortController();
    setError(null);
    apiGet<HttpBodies['GET /api/runs/:id/confusion']>(
      `/api/runs/${encodeURIComponent(runId)}/confusion?epoch=${epoch.epoch}`,
      controller.signal,
    ).then(
      (data) => setFetched((m) => new Map(m).set(key, data.confusion)),
      (e: Error) =>
        !isAbortError(e) &&
        setError(`The confusion matrix of epoch ${epoch.epoch} could not be loaded: ${e.message}`),
    );
    return () => controller.abort();
  }, [needed, key, runId, epoch]);
  if (!epoch) return { matrix: null, error: null };
  return { matrix: epoch.confusion.length ? epoch.confusion : (fetched.get(key) ?? null), error };
}

export function ConfusionSection({ runId, epochs }: ConfusionSectionProps) {
  const sliderId = useId();
  /** The epoch number the person chose; null follows the latest. */
  const [picked, setPicked] = useState<number | null>(null);
  const [cell, setCell] = useState<Cell | null>(null);
  const pickedIndex = picked === null ? -1 : epochs.findIndex((e) => e.epoch === picked);
  const shownEpoch = epochs.length
    ? epochs[pickedIndex >= 0 ? pickedIndex : epochs.length - 1]
    : undefined;
  const confusion = useConfusion(runId, shownEpoch);

  if (epochs.length === 0) {
    return (
      <section className="confusion-section" aria-label="Confusion matrix">
        <p className="muted">The confusion matrix appears when the first epoch ends.</p>
      </section>
    );
  }

  const pickedAt = picked === null ? -1 : epochs.findIndex((e) => e.epoch === picked);
  const at = pickedAt >= 0 ? pickedAt : epochs.length - 1;
  const epoch = epochs[at];
  const select = (next: Cell) =>
    setCell(cell && cell.label === next.label && cell.predicted === next.predicted ? null : next);

  return (
    <section className="confusion-section" aria-label="Confusion matrix">
      <div className="confusion-section__controls">
        <label htmlFor={sliderId}>Epoch</label>
        <input
          id={sliderId}
          type="range"
          min={0}
          max={epochs.length - 1}
          step={1}
          value={at}
          disabled={epochs.length < 2}
          aria-valuetext={`epoch ${epoch.epoch}`}
          onChange={(e) => {
            const next = Number(e.target.value);
            // Back on the latest epoch: follow new ones again.
            setPicked(next === epochs.length - 1 ? null : epochs[next].epoch);
          }}
        />
        <output htmlFor={sliderId}>
          epoch {epoch.epoch} of {epochs[epochs.length - 1].epoch}
          {picked === null && epochs.length > 1 && <span className="muted"> (latest)</span>}
        </output>
        <span className="muted">test accuracy {epoch.testAccuracy.toFixed(2)} %</span>
      </div>
      <p className="muted confusion-section__hint">
        Rows: true label · columns: predicted. Click a cell to see its digits.
      </p>
      {confusion.error ? (
        <p className="error" role="alert">
          {confusion.error}
        </p>
      ) : null}
      {confusion.matrix ? (
        <ConfusionMatrix
          matrix={confusion.matrix}
          selected={cell}
          onSelect={select}
          size={MATRIX_SIZE}
        />
      ) : (
        <p className="muted">Loading epoch {epoch.epoch}'s matrix…</p>
      )}
      <div className="confusion-section__detail">
        {cell ? (
          <CellDigits
            runId={runId}
            epoch={confusion.matrix ? { ...epoch, confusion: confusion.matrix } : epoch}
            cell={cell}
          />
        ) : (
          <p className="muted">No cell selected.</p>
        )}
      </div>
    </section>
  );
}
