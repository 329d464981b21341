'use client';
/**
 * The test digits the model got wrong: one epoch's misclassified digits, filterable by true and
 * predicted label and shown a page at a time (early epochs can have thousands), or the changes
 * between two epochs: digits learned (wrong in A, right in B) and forgotten (right in A, wrong
 * in B). "Right" means absent from that epoch's misclassified list.
 */
import { useMemo, useState } from 'react';
import type { DigitPrediction } from '../../server/protocol';
import { useDigits, useMisclassified, type Digit } from '../lib/digits';
import { DigitImage } from './DigitImage';
import { confidenceOf } from './ProbabilityBars';
import './digits.css';

/** Props of {@link MisclassifiedGallery}. */
export interface MisclassifiedGalleryProps {
  runId: string;
  /** The run's finished epochs, ascending (e.g. `epochs.map((e) => e.epoch)`). */
  epochs: readonly number[];
}

/** Props of {@link MisclassifiedGrid}. */
export interface MisclassifiedGridProps {
  items: readonly DigitPrediction[];
  /** Digits per page (default 120): only one page of canvases exists at a time. */
  pageSize?: number;
  /** Accessible name of the list. */
  label: string;
  /** `right`: these digits are now classified correctly; the caption says what they were. */
  tone?: 'wrong' | 'right';
  /** Shown when `items` is empty. */
  emptyText: string;
}

/** The hub reports at most this many misclassified digits per epoch (reporting default). */
const LIST_CAP = 10_000;
const CLASSES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

/** Digits wrong in `a` but not in `b` (learned) and wrong in `b` but not in `a` (forgotten). */
export function diffMisclassified(a: readonly DigitPrediction[], b: readonly DigitPrediction[]) {
  const inA = new Set(a.map((i) => i.index));
  const inB = new Set(b.map((i) => i.index));
  return {
    learned: a.filter((i) => !inB.has(i.index)),
    forgotten: b.filter((i) => !inA.has(i.index)),
  };
}

function Tile({
  item,
  digit,
  tone,
}: {
  item: DigitPrediction;
  digit: Digit | undefined;
  tone: 'wrong' | 'right';
}) {
  const confidence = confidenceOf(item.probabilities, item.predicted);
  const what = tone === 'right' ? `was read as ${item.predicted}` : `read as ${item.predicted}`;
  return (
    <li
      className="mis-tile"
      title={`test digit ${item.index}: a ${item.label}, ${what} at ${confidence}`}
    >
      <DigitImage
        pixels={digit?.pixels ?? null}
        size={56}
        label={`test digit ${item.index}, a ${item.label}, ${what} at ${confidence}`}
        highlight={tone}
      />
      {tone === 'right' ? (
        <span className="mis-tile__pair" aria-hidden="true">
          <strong>{item.label}</strong> <span className="muted">(was {item.predicted})</span>
        </span>
      ) : (
        <span className="mis-tile__pair" aria-hidden="true">
          {item.label} → <strong>{item.predicted}</strong>
        </span>
      )}
      <span className="mis-tile__confidence muted" aria-hidden="true">
        {confidence}
      </span>
    </li>
  );
}

/** A paged grid of misclassified digits with their true → predicted labels and confidence. */
export function MisclassifiedGrid({
  items,
  pageSize = 120,
  label,
  tone = 'wrong',
  emptyText,
}: MisclassifiedGridProps) {
  const [paging, setPaging] = useState({ items, page: 0 });
  // New items (another epoch or filter) start again at the first page.
  const pages = Math.max(1, Math.ceil(items.length / pageSize));
  const page = paging.items === items ? Math.min(paging.page, pages - 1) : 0;
  const shown = items.slice(page * pageSize, (page + 1) * pageSize);
  const { digits, error } = useDigits(shown.map((i) => i.index));
  const go = (next: number) => setPaging({ items, page: next });

  if (items.length === 0) return <p className="muted">{emptyText}</p>;
  return (
    <div className="mis-grid">
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <ul className="mis-grid__list" aria-label={label}>
        {shown.map((item) => (
          <Tile key={item.index} item={item} digit={digits.get(item.index)} tone={tone} />
        ))}
      </ul>
      {pages > 1 && (
        <nav className="mis-grid__pager" aria-label={`${label}: pages`}>
          <button type="button" onClick={() => go(page - 1)} disabled={page === 0}>
            ← Previous
          </button>
          <span aria-live="polite">
            {page * pageSize + 1}–{page * pageSize + shown.length} of {items.length} · page{' '}
            {page + 1} of {pages}
          </span>
          <button type="button" onClick={() => go(page + 1)} disabled={page >= pages - 1}>
            Next →
          </button>
        </nav>
      )}
    </div>
  );
}

function ClassSelect({
  label,
  value,
  onChange,
}: {
  label: string;
  value: number | null;
  onChange: (v: number | null) => void;
}) {
  return (
    <label className="digits-field">
      {label}
      <select
        value={value ?? ''}
        onChange={(e) => onChange(e.target.value === '' ? null : Number(e.target.value))}
      >
        <option value="">any</option>
        {CLASSES.map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
    </label>
  );
}

function EpochSelect({
  label,
  epochs,
  value,
  onChange,
}: {
  label: string;
  epochs: readonly number[];
  value: number;
  onChange: (v: number) => void;
}) {
  return (
    <label className="digits-field">
      {label}
      <select value={value} onChange={(e) => onChange(Number(e.target.value))}>
        {epochs.map((e) => (
          <option key={e} value={e}>
            {e}
          </option>
        ))}
      </select>
    </label>
  );
}

type Filter = { label: number | null; predicted: number | null };

function useFiltered(items: readonly DigitPrediction[] | null, filter: Filter): DigitPrediction[] {
  return useMemo(
    () =>
      (items ?? []).filter(
        (i) =>
          (filter.label === null || i.label === filter.label) &&
          (filter.predicted === null || i.predicted === filter.predicted),
      ),
    [items, filter.label, filter.predicted],
  );
}

function Loading({ error }: { error: string | null }) {
  return error ? (
    <p className="error" role="alert">
      {error}
    </p>
  ) : (
    <p className="muted">Loading misclassified digits…</p>
  );
}

function EpochView({ runId, epoch, filter }: { runId: string; epoch: number; filter: Filter }) {
  const { items, error } = useMisclassified(runId, epoch);
  const filtered = useFiltered(items, filter);
  if (!items) return <Loading error={error} />;
  const filtering = filter.label !== null || filter.predicted !== null;
  return (
    <>
      <p className="muted">
        {items.length.toLocaleString()} misclassified at epoch {epoch}
        {items.length >= LIST_CAP && ' (the list is capped, so there may be more)'}
        {filtering && ` · ${filtered.length.toLocaleString()} match the filters`}
      </p>
      <MisclassifiedGrid
        items={filtered}
        label={`Misclassified digits of epoch ${epoch}`}
        emptyText="No misclassified digits match."
      />
    </>
  );
}

function ChangesView({
  runId,
  a,
  b,
  filter,
}: {
  runId: string;
  a: number;
  b: number;
  filter: Filter;
}) {
  const listA = useMisclassified(runId, a);
  const listB = useMisclassified(runId, b);
  const diff = useMemo(
    () => diffMisclassified(listA.items ?? [], listB.items ?? []),
    [listA.items, listB.items],
  );
  const learned = useFiltered(diff.learned, filter);
  const forgotten = useFiltered(diff.forgotten, filter);
  if (a === b) return <p className="muted">Pick two different epochs to compare.</p>;
  if (!listA.items || !listB.items) return <Loading error={listA.error ?? listB.error} />;
  const capped = listA.items.length >= LIST_CAP || listB.items.length >= LIST_CAP;
  return (
    <>
      {capped && (
        <p className="muted">
          A list is capped at {LIST_CAP.toLocaleString()} digits, so these changes are approximate.
        </p>
      )}
      <h4>
        Learned: {learned.length.toLocaleString()}{' '}
        <span className="muted">
          (wrong at epoch {a}, right at epoch {b})
        </span>
      </h4>
      <MisclassifiedGrid
        items={learned}
        tone="right"
        label={`Learned between epochs ${a} and ${b}`}
        emptyText="None."
      />
      <h4>
        Forgotten: {forgotten.length.toLocaleString()}{' '}
        <span className="muted">
          (right at epoch {a}, wrong at epoch {b})
        </span>
      </h4>
      <MisclassifiedGrid
        items={forgotten}
        label={`Forgotten between epochs ${a} and ${b}`}
        emptyText="None."
      />
    </>
  );
}

/**
 * The misclassified test digits of an epoch (the latest unless one is picked) with label
 * filters and paging, or, in "changes" mode, what was learned and forgotten between two epochs.
 */
export function MisclassifiedGallery({ runId, epochs }: MisclassifiedGalleryProps) {
  const [mode, setMode] = useState<'epoch' | 'changes'>('epoch');
  const [picked, setPicked] = useState<number | null>(null);
  const [pair, setPair] = useState<{ a: number | null; b: number | null }>({ a: null, b: null });
  const [filter, setFilter] = useState<Filter>({ label: null, predicted: null });
  const latest = epochs.at(-1);
  if (latest === undefined)
    return <p className="muted">Misclassified digits appear after the first epoch.</p>;

  // A picked epoch stays; picking the latest again follows new epochs.
  const epoch = picked !== null && epochs.includes(picked) ? picked : latest;
  const a = pair.a !== null && epochs.includes(pair.a) ? pair.a : (epochs.at(-2) ?? latest);
  const b = pair.b !== null && epochs.includes(pair.b) ? pair.b : latest;
  const modes = [
    ['epoch', 'One epoch'],
    ['changes', 'Changes between epochs'],
  ] as const;

  return (
    <section className="mis-gallery" aria-label="Misclassified test digits">
      <div className="mis-gallery__controls">
        <div role="group" aria-label="View" className="digits-toggle">
          {modes.map(([m, text]) => (
            <button key={m} type="button" aria-pressed={mode === m} onClick={() => setMode(m)}>
              {text}
            </button>
          ))}
        </div>
        {mode === 'epoch' ? (
          <EpochSelect
            label="Epoch"
            epochs={epochs}
            value={epoch}
            onChange={(e) => setPicked(e === latest ? null : e)}
          />
        ) : (
          <>
            <EpochSelect
              label="Epoch A"
              epochs={epochs}
              value={a}
              onChange={(e) => setPair({ a: e, b: pair.b })}
            />
            <EpochSelect
              label="Epoch B"
              epochs={epochs}
              value={b}
              onChange={(e) => setPair({ a: pair.a, b: e === latest ? null : e })}
            />
          </>
        )}
        <ClassSelect
          label="True label"
          value={filter.label}
          onChange={(label) => setFilter({ ...filter, label })}
        />
        <ClassSelect
          label={mode === 'epoch' ? 'Predicted' : 'Predicted (when wrong)'}
          value={filter.predicted}
          onChange={(predicted) => setFilter({ ...filter, predicted })}
        />
      </div>
      {mode === 'epoch' ? (
        <EpochView runId={runId} epoch={epoch} filter={filter} />
      ) : (
        <ChangesView runId={runId} a={a} b={b} filter={filter} />
      )}
    </section>
  );
}
