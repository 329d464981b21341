/**
 * `run:watch`: a run's snapshot from the database plus the live tail, ending exactly where the
 * live frames for the room begin. The caller joins the room in the same tick the snapshot is
 * completed, so nothing is missed and nothing repeats.
 *
 * A crowd opening a run at once costs one read of the database: builds in flight are shared,
 * and the stored part of a live run's snapshot is kept (its tail pinned) for a second. A
 * version per run, bumped by {@link Snapshots.invalidate} whenever something a snapshot holds
 * but the seq stream does not (annotations, the run's status) changes, makes a snapshot read
 * across such a change be read again.
 */
import {
  HEAD_STEPS,
  TAIL_POINTS,
  toBucketColumns,
  toPointColumns,
  widthFor,
  type BucketColumns,
  type SeriesName,
} from '../../columns';
import {
  CATCH_UP_MAX_POINTS,
  SNAPSHOT_MAX_NOTES,
  type JsonSeriesRange,
  type RunSnapshot,
  type SeriesRange,
  type WireAnnotation,
  type WireEpoch,
  type WireEvent,
  type WirePredictions,
  type WirePoint,
} from '../../protocol';
import { INT_COLUMN_MAX } from '../../trainer/eventSchema';
import { assertNever } from '../../trainer/events';
import { HubError } from '../errors';
import type { SeriesRange as StoredSeriesRange } from '../storage/series';
import type { Storage } from '../storage/storage';
import type { LiveStreams } from './stream';

/** A snapshot before its tail is encoded: the live tail is appended to `tail`. */
interface Building {
  run: RunSnapshot['run'];
  epochs: WireEpoch[];
  annotations: WireAnnotation[];
  annotationsTotal: number;
  predictions: WirePredictions | null;
  lastSeq: number;
  /** The overview, encoded once per read (everyone opening the run shares it). */
  overview: BucketColumns | null;
  overviewPoints: number;
  head: WirePoint[];
  tail: WirePoint[];
  full: boolean;
}

/** `afterSeq` that asks for a run's record without its series (the HTTP route). */
export const NO_SERIES = INT_COLUMN_MAX;

/** What the database gave, up to `bound`; the live tail completes it. */
interface StoredPart {
  base: Building;
  bound: number;
  version: number;
  afterSeq: number;
  release: () => void;
}

/** A build others may join; `promise` is set in the tick the build starts. */
interface InFlight {
  joins: Array<() => void>;
  promise?: Promise<RunSnapshot>;
}

const CACHE_MS = 1000;
const ATTEMPTS = 5;

export interface Snapshots {
  /** Something a snapshot of the run holds changed: snapshots read before are read again. */
  invalidate(runId: string): void;
  /**
   * Builds the snapshot and calls `join` synchronously once it is consistent. `presence` is
   * filled by the caller after joining.
   */
  build(runId: string, afterSeq: number, join: () => void): Promise<RunSnapshot>;
  /**
   * {@link build}, shared by everyone who asks for the same run and `afterSeq` while one is
   * being built; all of them join in the tick it completes. Callers must not mutate the result.
   */
  shared(runId: string, afterSeq: number, join: () => void): Promise<RunSnapshot>;
  /** One series over a step range at a chart's pixel width (`run:series`), as stored. */
  range(q: SeriesRangeQuery): Promise<StoredRange>;
}

export type SeriesRangeQuery = {
  runId: string;
  series: SeriesName;
  fromStep: number;
  toStep: number;
  columns: number;
};
/** A range as read: raw points or buckets, covering what was stored up to `upToSeq`. */
export type StoredRange = SeriesRangeQuery & { upToSeq: number; answer: StoredSeriesRange };

/** A range for the socket: numbers as binary columns, buckets with the one series asked for. */
export function rangeToWire(r: StoredRange): SeriesRange {
  const head = {
    runId: r.runId,
    series: r.series,
    fromStep: r.fromStep,
    toStep: r.toStep,
    upToSeq: r.upToSeq,
  };
  return r.answer.kind === 'raw'
    ? { ...head, kind: 'raw', points: toPointColumns(r.answer.points) }
    : {
        ...head,
        kind: 'buckets',
        buckets: toBucketColumns(r.answer.buckets, r.answer.width, [r.series]),
      };
}

/** A range for HTTP: plain JSON (NaN and "none" as null). */
export function rangeToJson(r: StoredRange): JsonSeriesRange {
  const head = {
    runId: r.runId,
    series: r.series,
    fromStep: r.fromStep,
    toStep: r.toStep,
    upToSeq: r.upToSeq,
  };
  if (r.answer.kind === 'raw') return { ...head, kind: 'raw', points: r.answer.points };
  const v = (x: number) => (Number.isFinite(x) ? x : null);
  const step = (x: number) => (x >= 0 ? x : null);
  return {
    ...head,
    kind: 'buckets',
    width: r.answer.width,
    buckets: r.answer.buckets.map((b) => {
      const s = b.series[r.series];
      return {
        index: b.index,
        count: b.count,
        firstStep: b.firstStep,
        lastStep: b.lastStep,
        firstTime: b.firstTime,
        lastTime: b.lastTime,
        min: v(s.min),
        max: v(s.max),
        minStep: step(s.minStep),
        maxStep: step(s.maxStep),
        first: v(s.first),
        last: v(s.last),
        mean: s.finite > 0 ? s.sum / s.finite : null,
        gapStep: step(s.gapStep),
      };
    }),
  };
}

export function createSnapshots({
  storage,
  streams,
}: {
  storage: Pick<Storage, 'runs' | 'events' | 'notes' | 'series'>;
  streams: LiveStreams;
}): Snapshots {
  const versions = new Map<string, number>();
  const cached = new Map<string, StoredPart & { timer: NodeJS.Timeout }>();
  /** Range reads in flight, by run, steps, width and stored seq (see `range`). */
  const ranges = new Map<string, Promise<StoredSeriesRange>>();
  const inFlight = new Map<string, InFlight>();
  const keyOf = (runId: string, afterSeq: number) => `${runId}\u0000${afterSeq}`;
  const versionOf = (runId: string) => versions.get(runId) ?? 0;

  /**
   * The series part up to seq `bound`: a catch-up's points after `afterSeq` when they are few;
   * else the overview (the finest width with at most OVERVIEW_MAX_BUCKETS buckets, up to the
   * bucket before the last TAIL_POINTS steps) and every point after its last bucket.
   */
  async function readSeries(
    runId: string,
    afterSeq: number,
    bound: number,
    lastStep: number,
  ): Promise<Pick<Building, 'overview' | 'overviewPoints' | 'head' | 'tail' | 'full'>> {
    if (afterSeq >= NO_SERIES)
      return { overview: null, overviewPoints: 0, head: [], tail: [], full: false };
    if (afterSeq > 0 && bound - afterSeq <= CATCH_UP_MAX_POINTS) {
      return {
        overview: null,
        overviewPoints: 0,
        head: [],
        tail: await storage.series.pointsBetween(runId, afterSeq, bound),
        full: false,
      };
    }
    await storage.series.ensure(runId);
    const width = widthFor(lastStep);
    const lastBucket = Math.floor((lastStep - TAIL_POINTS) / width) - 1;
    let buckets = lastBucket >= 0 ? await storage.series.buckets(runId, width, 0, lastBucket) : [];
    // A bucket holding a point not yet sent (steps that went back) would overlap the frames.
    while (buckets.length && buckets[buckets.length - 1].lastSeq > bound)
      buckets = buckets.slice(0, -1);
    const after = buckets.length ? buckets[buckets.length - 1].lastSeq : 0;
    const tail = await storage.series.pointsBetween(runId, after, bound);
    // The head: the first buckets' points raw (found by their seqs, the table's key).
    const headBuckets = Math.ceil(HEAD_STEPS / width);
    let head: WirePoint[] = [];
    if (buckets.length > headBuckets) {
      const firstSeq = Math.min(...buckets.slice(0, headBuckets).map((b) => b.firstSeq));
      const lastSeq = Math.max(...buckets.slice(0, headBuckets).map((b) => b.lastSeq));
      head = (await storage.series.pointsBetween(runId, firstSeq - 1, lastSeq)).filter(
        (p) => p.step < headBuckets * width,
      );
      buckets = buckets.slice(headBuckets);
    }
    return {
      overview: buckets.length ? toBucketColumns(buckets, width) : null,
      overviewPoints: buckets.reduce((n, b) => n + b.count, 0),
      head,
      tail,
      full: true,
    };
  }

  async function readStored(runId: string, afterSeq: number): Promise<StoredPart> {
    const version = versionOf(runId);
    const run = await storage.runs.summary(runId);
    if (!run) throw new HubError('NOT_FOUND', `no run ${runId}`);
    const bound = streams.bound(runId) ?? run.lastSeq;
    const release = streams.pin(runId, bound);
    try {
      const [series, epochs, notes, predictions] = await Promise.all([
        readSeries(runId, afterSeq, bound, run.lastStep),
        storage.events.epochsLatestConfusion(runId, bound),
        storage.notes.latest(runId, SNAPSHOT_MAX_NOTES),
        storage.events.latestPanel(runId, bound),
      ]);
      const base: Building = {
        run,
        epochs,
        annotations: notes.annotations,
        annotationsTotal: notes.total,
        predictions,
        lastSeq: bound,
        ...series,
      };
      return { base, bound, version, afterSeq, release };
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Completes a stored part with the live tail, synchronously; null when it went stale. */
  function completeLive(runId: string, part: StoredPart): RunSnapshot | null {
    if (part.version !== versionOf(runId)) return null;
    const live = streams.since(runId, part.bound);
    if (!live) return null;
    const snapshot: Building = {
      ...part.base,
      epochs: [...part.base.epochs],
      tail: [...part.base.tail],
    };
    mergeTail(snapshot, live.events, part.afterSeq);
    snapshot.lastSeq = live.sentSeq;
    return toWire(snapshot);
  }

  function keepCached(runId: string, part: StoredPart): boolean {
    const key = keyOf(runId, part.afterSeq);
    if (cached.has(key)) return false;
    const timer = setTimeout(() => {
      if (cached.get(key)?.timer === timer) cached.delete(key);
      part.release();
    }, CACHE_MS);
    timer.unref();
    cached.set(key, { ...part, timer });
    return true;
  }

  async function build(runId: string, afterSeq: number, join: () => void): Promise<RunSnapshot> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const part = await readStored(runId, afterSeq);
      let kept = false;
      try {
        // From here to join() nothing awaits: the live tail and the room are read in one tick.
        const live = completeLive(runId, part);
        if (live) {
          join();
          kept = keepCached(runId, part);
          return live;
        }
        if (!streams.isOpen(runId) && part.version === versionOf(runId)) {
          const now = await storage.runs.state(runId);
          // Nothing was stored or changed while we read: the snapshot is complete.
          if (
            now &&
            now.lastSeq === part.bound &&
            !streams.isOpen(runId) &&
            part.version === versionOf(runId)
          ) {
            part.base.run.status = now.status;
            join();
            return toWire(part.base);
          }
        }
      } finally {
        if (!kept) part.release();
      }
    }
    throw new HubError('UNAVAILABLE', 'the run changed too fast to take a snapshot; try again');
  }

  return {
    invalidate(runId) {
      versions.set(runId, versionOf(runId) + 1);
      for (const [key, entry] of cached) {
        if (!key.startsWith(`${runId}\u0000`)) continue;
        clearTimeout(entry.timer);
        entry.release();
        cached.delete(key);
      }
    },
    build,
    async range(q) {
      const state = await storage.runs.state(q.runId);
      if (!state) throw new HubError('NOT_FOUND', `no run ${q.runId}`);
      // An answer holds every series (raw points, or buckets of all four), so the charts of one
      // view asking for the same steps at the same width at once share one read.
      const key = [q.runId, q.fromStep, q.toStep, q.columns, state.lastSeq].join('\u0000');
      let answer = ranges.get(key);
      if (!answer) {
        answer = storage.series
          .range(q.runId, q.fromStep, q.toStep, q.columns, state.lastSeq)
          .finally(() => ranges.delete(key));
        ranges.set(key, answer);
      }
      return { ...q, upToSeq: state.lastSeq, answer: await answer };
    },
    shared(runId, afterSeq, join) {
      const key = keyOf(runId, afterSeq);
      const hit = cached.get(key);
      const fromCache = hit ? completeLive(runId, hit) : null;
      if (fromCache) {
        join();
        return Promise.resolve(fromCache);
      }
      const pending = inFlight.get(key);
      if (pending?.promise) {
        pending.joins.push(join);
        return pending.promise;
      }
      const entry: InFlight = { joins: [join] };
      inFlight.set(key, entry);
      entry.promise = build(runId, afterSeq, () => {
        inFlight.delete(key);
        for (const j of entry.joins) j();
      }).finally(() => {
        if (inFlight.get(key) === entry) inFlight.delete(key);
      });
      return entry.promise;
    },
  };
}

/** The snapshot as sent: the tail encoded as columns. */
function toWire(b: Building): RunSnapshot {
  return {
    run: b.run,
    epochs: b.epochs,
    annotations: b.annotations,
    annotationsTotal: b.annotationsTotal,
    presence: [],
    predictions: b.predictions,
    lastSeq: b.lastSeq,
    series: {
      full: b.full,
      head: b.head.length ? toPointColumns(b.head) : null,
      overview: b.overview,
      tail: toPointColumns(b.tail),
      points: b.head.length + b.overviewPoints + b.tail.length,
    },
  };
}

/** Adds the live tail's events to a snapshot read from the database. */
function mergeTail(snapshot: Building, events: WireEvent[], afterSeq: number): void {
  let predictions: WirePredictions | null = snapshot.predictions;
  const points: WirePoint[] = [];
  for (const e of events) {
    switch (e.type) {
      case 'point':
        if (e.seq > afterSeq && afterSeq < NO_SERIES) points.push(e.point);
        break;
      case 'epoch':
        snapshot.epochs.push(e.epoch);
        break;
      case 'predictions':
        predictions = e.predictions;
        break;
      // Live-only kinds: a snapshot does not hold them (misclassified lists are fetched on demand).
      case 'misclassified':
      case 'progress':
      case 'silent':
        break;
      default:
        assertNever(e);
    }
  }
  for (const p of points) snapshot.tail.push(p);
  snapshot.predictions = predictions;
}
