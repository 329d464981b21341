/**
 * Batched persistence of trainer events. Events of all runs are queued and written in one
 * transaction every `flushMs` or as soon as `maxRows` rows wait, whichever comes first, so
 * that the database never paces training. A `store()` promise resolves only after its events
 * are committed: the hub acknowledges a trainer's events with it, and that is what makes an
 * acknowledged event survive a hub crash.
 */
import type { Prisma } from '../db/generated/sqlite/client';
import { bulkInsert } from '../db/bulk';
import type { Db } from '../db/client';
import type { TrainerEvent } from '../trainer/events';

/** Fields of Run that events update. */
export type RunPatch = Prisma.RunUpdateInput;

interface Pending {
  runId: string;
  events: TrainerEvent[];
  patch: RunPatch;
  receivedAt: number;
  resolve: (storedSeq: number) => void;
  reject: (error: Error) => void;
}

export interface IngestOptions {
  db: Db;
  provider: 'sqlite' | 'postgresql';
  flushMs?: number;
  maxRows?: number;
  /** Called after each commit with the runs it touched and their stored seq. */
  onCommitted?: (runs: Map<string, number>) => void;
  log?: (line: string) => void;
}

export interface Ingest {
  /** Queues contiguous, de-duplicated events of one run; resolves with the run's stored seq once committed. */
  store(runId: string, events: TrainerEvent[], patch: RunPatch): Promise<number>;
  /** Writes what is queued now. */
  flush(): Promise<void>;
  /** Flushes and stops accepting. */
  close(): Promise<void>;
  /** Events this hub has committed since it started (with several hubs: the ones it stored). */
  eventsStored(): number;
}

const RETRY_DELAYS_MS = [200, 1000, 3000];

function rowCount(events: TrainerEvent[]): number {
  let n = 0;
  for (const e of events) n += e.type === 'misclassified' ? Math.max(1, e.items.length) : 1;
  return n;
}

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
        await write(opts.db, opts.provider, batch, committed);
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
    opts.onCommitted?.(stored);
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
  };
}

/**
 * A double as its shortest round-trip decimal text: Prisma's raw path rounds number arguments
 * to 15–16 digits, the database parses this text back to the very same double.
 */
const exact = (x: number | null) => (x === null ? null : String(x));

const BATCH_COLUMNS = ['runId', 'seq', 'epoch', 'batch', 'step', 'loss', 'accuracy', 'learningRate', 'samplesPerSec', 'time'] as const;
const MISCLASSIFIED_COLUMNS = ['runId', 'seq', 'epoch', 'index', 'label', 'predicted', 'probabilities'] as const;
const EPOCH_COLUMNS = ['runId', 'seq', 'epoch', 'step', 'trainLoss', 'trainAccuracy', 'testLoss', 'testAccuracy', 'samplesPerSec', 'trainMs', 'evalMs', 'time'] as const;
const CONFUSION_COLUMNS = ['runId', 'seq', 'epoch', 'matrix'] as const;
const PANEL_COLUMNS = ['runId', 'seq', 'step', 'epoch', 'items', 'time'] as const;

/**
 * Builds every row of a batch and writes them, with each run's patch, in one transaction.
 * Writing a batch twice stores each row once (a resend after a failed write), and a run's
 * lastSeq never moves back (`committed`: the highest seq committed per run in this process).
 */
async function write(db: Db, provider: 'sqlite' | 'postgresql', batch: Pending[], committed: Map<string, number>): Promise<void> {
  const batches: unknown[][] = [];
  const epochs: unknown[][] = [];
  const confusions: unknown[][] = [];
  const misclassified: unknown[][] = [];
  const panels: unknown[][] = [];
  const checkpoints: Prisma.CheckpointCreateManyInput[] = [];
  const patches = new Map<string, RunPatch>();
  for (const p of batch) {
    for (const e of p.events) {
      const { runId, seq } = e;
      switch (e.type) {
        case 'metrics:batch':
          batches.push([runId, seq, e.point.epoch, e.point.batch, e.point.step, exact(e.point.loss), exact(e.point.accuracy), exact(e.point.learningRate), exact(e.point.samplesPerSec), exact(e.point.time)]);
          break;
        case 'metrics:epoch': {
          const m = e.summary;
          epochs.push([runId, seq, m.epoch, m.step, exact(m.trainLoss), exact(m.trainAccuracy), exact(m.testLoss), exact(m.testAccuracy), exact(m.samplesPerSec), exact(m.trainMs), exact(m.evalMs), exact(p.receivedAt)]);
          confusions.push([runId, seq, m.epoch, JSON.stringify(m.confusion)]);
          break;
        }
        case 'misclassified':
          for (const d of e.items) misclassified.push([runId, seq, e.epoch, d.index, d.label, d.predicted, JSON.stringify(d.probabilities)]);
          break;
        case 'predictions':
          panels.push([runId, seq, e.step, e.epoch, JSON.stringify(e.items), exact(p.receivedAt)]);
          break;
        case 'checkpoint':
          checkpoints.push({ runId, seq, epoch: e.epoch, step: e.step, reason: e.reason, path: e.path });
          break;
        case 'run:started':
        case 'phase':
        case 'status':
        case 'control':
          break;
      }
    }
    const lastSeq = Math.max(committed.get(p.runId) ?? 0, (patches.get(p.runId)?.lastSeq as number | undefined) ?? 0, p.events[p.events.length - 1].seq);
    patches.set(p.runId, { ...patches.get(p.runId), ...p.patch, lastSeq });
  }
  // Checkpoint rows have a generated id: skip the ones a previous write of this batch stored.
  const stored = checkpoints.length ? await db.checkpoint.findMany({ where: { OR: checkpoints.map((c) => ({ runId: c.runId, seq: c.seq })) }, select: { runId: true, seq: true } }) : [];
  const freshCheckpoints = checkpoints.filter((c) => !stored.some((s) => s.runId === c.runId && s.seq === c.seq));
  const ops: Prisma.PrismaPromise<unknown>[] = [];
  // Event rows bypass the query compiler (server/db/bulk.ts) and skip rows already stored.
  ops.push(...bulkInsert(db, provider, 'BatchMetric', BATCH_COLUMNS, batches));
  ops.push(...bulkInsert(db, provider, 'EpochMetric', EPOCH_COLUMNS, epochs));
  ops.push(...bulkInsert(db, provider, 'ConfusionMatrix', CONFUSION_COLUMNS, confusions));
  ops.push(...bulkInsert(db, provider, 'Misclassified', MISCLASSIFIED_COLUMNS, misclassified));
  ops.push(...bulkInsert(db, provider, 'PredictionPanel', PANEL_COLUMNS, panels));
  if (freshCheckpoints.length) ops.push(db.checkpoint.createMany({ data: freshCheckpoints }));
  for (const [id, data] of patches) ops.push(db.run.update({ where: { id }, data }));
  await db.$transaction(ops);
}
