'use client';
/**
 * Detail on demand for the batch charts: when a chart's view settles on a step range, each run
 * shown whose overview covers part of it is asked for that range (`run:series`) at the chart's
 * width, with half a view of margin either side so a small pan needs nothing new. The answer
 * (raw points, or buckets finer than the overview's) replaces the overview there; the raw tail
 * after it is already at full resolution and never asked for. Resetting the zoom drops it.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { fromBucketColumns, fromPointColumns, type SeriesName } from '../../server/columns';
import type { BatchViewRange } from '../charts/batchChartProps';
import type { SeriesDetail, SeriesSource } from '../charts/batchColumns';
import { useHub } from './HubProvider';

/**
 * `run:series` calls this page has in flight at once, all charts together: the hub answers at
 * most 16 per connection and refuses more (RATE_LIMITED); the compare page's two charts ask
 * for 12 runs each on one zoom. The rest wait their turn, in order.
 */
const RANGES_IN_FLIGHT = 8;
let rangesInFlight = 0;
const waitingRanges: Array<() => void> = [];

async function whenASlotIsFree<T>(ask: () => Promise<T>): Promise<T> {
  if (rangesInFlight >= RANGES_IN_FLIGHT)
    await new Promise<void>((resolve) => waitingRanges.push(resolve));
  else rangesInFlight++;
  try {
    return await ask();
  } finally {
    // The slot passes straight to the next in line, so nobody overtakes it meanwhile.
    const next = waitingRanges.shift();
    if (next) next();
    else rangesInFlight--;
  }
}

/** Runs whose series a chart shows, by id. */
export type DetailRuns = ReadonlyArray<{ runId: string; source: SeriesSource }>;

/** Whether `d` already shows [from, to] finely enough for `columns` pixel columns. */
function covers(d: SeriesDetail, from: number, to: number, columns: number): boolean {
  if (d.fromStep > from || d.toStep < to) return false;
  return d.kind === 'raw' || d.width <= Math.max(1, (to - from + 1) / columns);
}

export function useSeriesDetail(
  runs: DetailRuns,
  series: SeriesName,
): { details: ReadonlyMap<string, SeriesDetail>; onViewChange: (view: BatchViewRange) => void } {
  const { call } = useHub();
  const [details, setDetails] = useState<ReadonlyMap<string, SeriesDetail>>(new Map());
  const latest = useRef(new Map<string, number>());
  const runsRef = useRef(runs);
  runsRef.current = runs;
  const detailsRef = useRef(details);
  detailsRef.current = details;
  /**
   * Answers not yet handed to React. The last one outstanding goes at once with those held;
   * while others are still awaited they are held until the next frame, so ten runs' answers
   * are a few state changes (renders of the page, redraws), not ten.
   */
  const arrived = useRef(new Map<string, SeriesDetail>());
  const frame = useRef<number | null>(null);
  const awaited = useRef(0);
  const flush = useCallback(() => {
    if (frame.current !== null) cancelAnimationFrame(frame.current);
    frame.current = null;
    const batch = arrived.current;
    arrived.current = new Map();
    if (batch.size) setDetails((now) => new Map([...now, ...batch]));
  }, []);
  const deliver = useCallback(
    (runId: string, detail: SeriesDetail | null) => {
      if (detail) arrived.current.set(runId, detail);
      if (awaited.current === 0) flush();
      else frame.current ??= requestAnimationFrame(flush);
    },
    [flush],
  );
  useEffect(
    () => () => {
      if (frame.current !== null) cancelAnimationFrame(frame.current);
    },
    [],
  );

  const onViewChange = useCallback(
    (view: BatchViewRange) => {
      if (!view) {
        latest.current.clear();
        arrived.current.clear();
        if (detailsRef.current.size) setDetails(new Map());
        return;
      }
      for (const { runId, source } of runsRef.current) {
        const tailStart = source.points.length ? source.points[0].step : Infinity;
        // Only what the overview summarises needs asking for (the head and the tail are raw).
        const overview = source.overview;
        if (!overview?.length || view.fromStep >= tailStart || view.toStep < overview[0].firstStep)
          continue;
        const held = detailsRef.current.get(runId);
        if (held && covers(held, view.fromStep, Math.min(view.toStep, tailStart - 1), view.columns))
          continue;
        const span = view.toStep - view.fromStep;
        const fromStep = Math.max(0, Math.floor(view.fromStep - span / 2));
        const toStep = Math.max(
          fromStep,
          Math.min(tailStart - 1, Math.ceil(view.toStep + span / 2)),
        );
        const columns = Math.min(
          8192,
          Math.ceil((view.columns * (toStep - fromStep + 1)) / Math.max(1, span + 1)),
        );
        const ticket = (latest.current.get(runId) ?? 0) + 1;
        latest.current.set(runId, ticket);
        const current = () => latest.current.get(runId) === ticket;
        awaited.current++;
        // A request still waiting when the view moves on is not sent at all.
        void whenASlotIsFree(() =>
          current()
            ? call('run:series', { runId, series, fromStep, toStep, columns })
            : Promise.resolve(null),
        ).then((result) => {
          awaited.current--;
          // An answer to a view since left, or after the zoom was reset, is dropped; a refusal
          // leaves the overview drawn there, and the caption says so (its buckets).
          if (!result?.ok || !current()) return deliver(runId, null);
          const r = result.data;
          const detail: SeriesDetail =
            r.kind === 'raw'
              ? {
                  fromStep: r.fromStep,
                  toStep: r.toStep,
                  kind: 'raw',
                  points: fromPointColumns(r.points),
                }
              : {
                  fromStep: r.fromStep,
                  toStep: r.toStep,
                  kind: 'buckets',
                  width: r.buckets.width,
                  buckets: fromBucketColumns(r.buckets),
                };
          deliver(runId, detail);
        });
      }
    },
    [call, series, deliver],
  );

  return { details, onViewChange };
}
