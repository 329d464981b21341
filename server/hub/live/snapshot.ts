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
import type { RunSnapshot, WireEvent, WirePanel, WirePoint } from '../../protocol';
import { assertNever } from '../../trainer/events';
import { HubError } from '../errors';
import type { Storage } from '../storage/storage';
import type { LiveStreams } from './stream';

/** What the database gave, up to `bound`; the live tail completes it. */
interface StoredPart {
  base: RunSnapshot;
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
}

export function createSnapshots({ storage, streams }: { storage: Pick<Storage, 'runs' | 'events' | 'notes'>; streams: LiveStreams }): Snapshots {
  const versions = new Map<string, number>();
  const cached = new Map<string, StoredPart & { timer: NodeJS.Timeout }>();
  const inFlight = new Map<string, InFlight>();
  const keyOf = (runId: string, afterSeq: number) => `${runId}\u0000${afterSeq}`;
  const versionOf = (runId: string) => versions.get(runId) ?? 0;

  async function readStored(runId: string, afterSeq: number): Promise<StoredPart> {
    const version = versionOf(runId);
    const run = await storage.runs.summary(runId);
    if (!run) throw new HubError('NOT_FOUND', `no run ${runId}`);
    const bound = streams.bound(runId) ?? run.lastSeq;
    const release = streams.pin(runId, bound);
    try {
      const [points, epochs, annotations, predictions] = await Promise.all([
        storage.events.points(runId, afterSeq, { upTo: bound }),
        storage.events.epochsWithConfusion(runId, bound),
        storage.notes.list(runId),
        storage.events.latestPanel(runId, bound),
      ]);
      return { base: { run, epochs, annotations, presence: [], points, predictions, lastSeq: bound }, bound, version, afterSeq, release };
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
    const snapshot: RunSnapshot = { ...part.base, epochs: [...part.base.epochs], points: [...part.base.points] };
    mergeTail(snapshot, live.events, part.afterSeq);
    snapshot.lastSeq = live.sentSeq;
    return snapshot;
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
          if (now && now.lastSeq === part.bound && !streams.isOpen(runId) && part.version === versionOf(runId)) {
            part.base.run.status = now.status;
            join();
            return part.base;
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

/** Adds the live tail's events to a snapshot read from the database. */
function mergeTail(snapshot: RunSnapshot, events: WireEvent[], afterSeq: number): void {
  let panel: WirePanel | null = snapshot.predictions;
  const points: WirePoint[] = [];
  for (const e of events) {
    switch (e.kind) {
      case 'point':
        if (e.seq > afterSeq) points.push(e.point);
        break;
      case 'epoch':
        snapshot.epochs.push(e.epoch);
        break;
      case 'panel':
        panel = e.panel;
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
  snapshot.points.push(...points);
  snapshot.predictions = panel;
}
