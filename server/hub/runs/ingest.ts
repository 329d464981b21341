/**
 * Batched persistence of trainer events. Events of all runs are queued and written in one
 * transaction every `flushMs` or as soon as `maxRows` rows wait, whichever comes first, so
 * that the database never paces training. A `store()` promise resolves only after its events
 * are committed: the hub acknowledges a trainer's events with it, and that is what makes an
 * acknowledged event survive a hub crash.
 */
import type { RunUpdate } from '../../db/rows';
import type { TrainerEvent } from '../../trainer/events';
import { rowCount, type EventQueries } from '../storage/events';
import { SeqSet } from './seqSet';

interface Pending {
  runId: string;
  events: TrainerEvent[];
  patch: RunUpdate;
  /** Every event of the run up to this seq was in the database before these. */
  baseSeq: number;
  receivedAt: number;
  resolve: (storedSeq: number) => void;
  reject: (error: Error) => void;
}

export interface IngestOptions {
  events: Pick<EventQueries, 'write'>;
  flushMs?: number;
  maxRows?: number;
  log?: (line: string) => void;
  /** Called with each failed write's error (the database may be away). */
  onWriteFailed?: (error: unknown) => void;
}

export interface Ingest {
  /**
   * Queues de-duplicated events of one run, in seq order, above `baseSeq` (up to which the
   * database holds every event of the run). Resolves once they are committed with the run's
   * stored seq: the highest seq with every seq up to it stored, so an acknowledgement never
   * passes a hole (a skipped seq, a write that failed).
   */
  store(runId: string, events: TrainerEvent[], patch: RunUpdate, baseSeq?: number): Promise<number>;
  /** Writes what is queued now. */
  flush(): Promise<void>;
  /** Flushes and stops accepting. */
  close(): Promise<void>;
  /** Events this hub has committed since it started (with several hubs: the ones it stored). */
  eventsStored(): number;
  /** Calls `listener` after each commit with the runs it touched and their stored seq. */
  onCommitted(listener: (runs: Map<string, number>) => void): void;
}

const RETRY_DELAYS_MS = [200, 1000, 3000];

export function createIngest(opts: IngestOptions): Ingest {
  const flushMs = opts.flushMs ?? 200;
  const maxRows = opts.maxRows ?? 300;
  let queue: Pending[] = [];
  let queuedRows = 0;
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<void> = Promise.resolve();
  let closed = false;
  /** Per run, the seqs committed. */
  const commits = new Map<string, SeqSet>();
  const listeners: Array<(runs: Map<string, number>) => void> = [];
  let eventsStored = 0;

  function schedule(): void {
    if (queuedRows >= maxRows) void flush();
    else timer ??= setTimeout(() => void flush(), flushMs);
  }

  function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = null;
    const batch = queue;
    queue = [];
    queuedRows = 0;
    if (batch.length === 0) return writing;
    // One transaction at a time keeps each run's rows in seq order.
    writing = writing.then(() => writeWithRetry(batch));
    return writing;
  }

  /**
   * Writes a batch in one transaction. If that fails and the batch holds several runs, each
   * run is written on its own, so that one run's bad rows fail only that run's events.
   */
  async function writeWithRetry(batch: Pending[]): Promise<void> {
    const runs = new Map<string, Pending[]>();
    for (const p of batch) {
      const group = runs.get(p.runId);
      if (group) group.push(p);
      else runs.set(p.runId, [p]);
    }
    if (runs.size === 1) return writeRun(batch, 0);
    const after = committedAfter(batch);
    try {
      await opts.events.write(batch, gaplessOf(after));
    } catch (error) {
      opts.onWriteFailed?.(error);
      opts.log?.(
        `ingest: a write of ${runs.size} runs failed (${error instanceof Error ? error.message : error}); writing each run on its own`,
      );
      // Each run once, so the healthy ones commit now; then the failing ones with retries.
      const failing: Pending[][] = [];
      for (const group of runs.values()) {
        const alone = committedAfter(group);
        try {
          await opts.events.write(group, gaplessOf(alone));
          stored(group, alone);
        } catch {
          failing.push(group);
        }
      }
      for (const group of failing) await writeRun(group, 1);
      return;
    }
    stored(batch, after);
  }

  /** What each run's commits would be once `batch` is committed too (nothing is changed). */
  function committedAfter(batch: Pending[]): Map<string, SeqSet> {
    const out = new Map<string, SeqSet>();
    for (const p of batch) {
      let seqs = out.get(p.runId);
      if (!seqs) out.set(p.runId, (seqs = commits.get(p.runId)?.copy() ?? new SeqSet()));
      seqs.raise(p.baseSeq);
      for (const e of p.events) seqs.add(e.seq);
    }
    return out;
  }
  const gaplessOf = (after: Map<string, SeqSet>) =>
    new Map([...after].map(([runId, seqs]) => [runId, seqs.gapless]));

  /** Writes one run's queued events, retrying; rejects them all when it keeps failing. */
  async function writeRun(group: Pending[], firstAttempt: number): Promise<void> {
    const after = committedAfter(group);
    for (let attempt = firstAttempt; ; attempt++) {
      try {
        await opts.events.write(group, gaplessOf(after));
        break;
      } catch (error) {
        opts.onWriteFailed?.(error);
        if (attempt >= RETRY_DELAYS_MS.length) {
          const err = error instanceof Error ? error : new Error(String(error));
          opts.log?.(
            `ingest: giving up on ${group.length} writes of run ${group[0].runId}: ${err.message}`,
          );
          group.forEach((p) => p.reject(err));
          return;
        }
        opts.log?.(
          `ingest: write of run ${group[0].runId} failed (${error instanceof Error ? error.message : error}); retrying`,
        );
        await new Promise((r) => setTimeout(r, RETRY_DELAYS_MS[attempt]));
      }
    }
    stored(group, after);
  }

  /** After a commit: each run's stored seq, the waiting acknowledgements, the listeners. */
  function stored(batch: Pending[], after: Map<string, SeqSet>): void {
    for (const [runId, c] of after) commits.set(runId, c);
    const seqs = gaplessOf(after);
    for (const p of batch) {
      eventsStored += p.events.length;
      p.resolve(seqs.get(p.runId)!);
    }
    for (const l of listeners) l(seqs);
  }

  return {
    store(runId, events, patch, baseSeq = 0) {
      if (closed) return Promise.reject(new Error('ingest is closed'));
      if (events.length === 0) return Promise.reject(new Error('nothing to store'));
      return new Promise((resolve, reject) => {
        queue.push({ runId, events, patch, baseSeq, receivedAt: Date.now(), resolve, reject });
        queuedRows += rowCount(events);
        schedule();
      });
    },
    flush,
    async close() {
      closed = true;
      await flush();
    },
    eventsStored: () => eventsStored,
    onCommitted(listener) {
      listeners.push(listener);
    },
  };
}
