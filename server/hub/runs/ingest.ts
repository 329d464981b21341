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

interface Pending {
  runId: string;
  events: TrainerEvent[];
  patch: RunUpdate;
  receivedAt: number;
  resolve: (storedSeq: number) => void;
  reject: (error: Error) => void;
}

export interface IngestOptions {
  events: Pick<EventQueries, 'write'>;
  flushMs?: number;
  maxRows?: number;
  log?: (line: string) => void;
}

export interface Ingest {
  /** Queues contiguous, de-duplicated events of one run; resolves with the run's stored seq once committed. */
  store(runId: string, events: TrainerEvent[], patch: RunUpdate): Promise<number>;
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
  /** Highest seq committed per run by this process. */
  const committed = new Map<string, number>();
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

  async function writeWithRetry(batch: Pending[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await opts.events.write(batch, committed);
        break;
      } catch (error) {
        if (attempt >= RETRY_DELAYS_MS.length) {
          const err = error instanceof Error ? error : new Error(String(error));
          opts.log?.(`ingest: giving up on ${batch.length} writes: ${err.message}`);
          batch.forEach((p) => p.reject(err));
          return;
        }
        opts.log?.(`ingest: write failed (${error instanceof Error ? error.message : error}); retrying`);
        await new Promise((r) => setTimeout(r, RETRY_DELAYS_MS[attempt]));
      }
    }
    const stored = new Map<string, number>();
    for (const p of batch) stored.set(p.runId, Math.max(stored.get(p.runId) ?? 0, p.events[p.events.length - 1].seq));
    for (const [runId, seq] of stored) committed.set(runId, Math.max(committed.get(runId) ?? 0, seq));
    for (const p of batch) {
      eventsStored += p.events.length;
      p.resolve(stored.get(p.runId)!);
    }
    for (const l of listeners) l(stored);
  }

  return {
    store(runId, events, patch) {
      if (closed) return Promise.reject(new Error('ingest is closed'));
      if (events.length === 0) return Promise.reject(new Error('nothing to store'));
      return new Promise((resolve, reject) => {
        queue.push({ runId, events, patch, receivedAt: Date.now(), resolve, reject });
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
