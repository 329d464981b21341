/**
 * A run's stored events: the batched write of trainer events (one transaction for all the
 * runs in a batch) and the reads that give them back as wire shapes (snapshots, exports, the
 * live stream's read-back of a hole).
 */
import { bulkInsert, everyColumn, runStatements, type RawStatement } from '../../db/bulk';
import type { Db, DbClient } from '../../db/client';
import type { CheckpointInsert, RunUpdate } from '../../db/rows';
import type {
  DigitPrediction,
  WireEpoch,
  WireEvent,
  WireEventType,
  WirePredictions,
  WirePoint,
} from '../../protocol';
import { describeNonFinite } from '../../trainer/divergence';
import { assertNever, type TrainerEvent } from '../../trainer/events';
import type { SeriesQueries } from './series';
import { storedProbabilities, toWireEpoch, toWirePredictions, toWirePoint } from './toWire';

/** One run's contiguous, de-duplicated events and the Run row's changes they imply. */
export interface EventWrite {
  runId: string;
  events: TrainerEvent[];
  patch: RunUpdate;
  receivedAt: number;
}

/** Rows one event becomes (the ingest queue counts them to decide when to write). */
export function rowCount(events: TrainerEvent[]): number {
  let n = 0;
  for (const e of events) n += e.type === 'misclassified' ? Math.max(1, e.items.length) : 1;
  return n;
}

/**
 * A double as its shortest round-trip decimal text: Prisma's raw path rounds number arguments
 * to 15–16 digits, the database parses this text back to the very same double.
 */
const exact = (x: number | null) => (x === null ? null : String(x));

// Each list names every field of its model (everyColumn): a field added to the schema fails
// to compile here until its value is written.
const BATCH_COLUMNS = everyColumn<'BatchMetric'>()([
  'runId',
  'seq',
  'epoch',
  'batch',
  'step',
  'loss',
  'accuracy',
  'learningRate',
  'samplesPerSec',
  'time',
]);
const MISCLASSIFIED_COLUMNS = everyColumn<'Misclassified'>()([
  'runId',
  'seq',
  'epoch',
  'index',
  'label',
  'predicted',
  'probabilities',
]);
const EPOCH_COLUMNS = everyColumn<'EpochMetric'>()([
  'runId',
  'seq',
  'epoch',
  'step',
  'trainLoss',
  'trainAccuracy',
  'testLoss',
  'testAccuracy',
  'samplesPerSec',
  'trainMs',
  'evalMs',
  'time',
]);
const CONFUSION_COLUMNS = everyColumn<'ConfusionMatrix'>()(['runId', 'seq', 'epoch', 'matrix']);
const PANEL_COLUMNS = everyColumn<'PredictionPanel'>()([
  'runId',
  'seq',
  'step',
  'epoch',
  'items',
  'time',
]);

/**
 * Limits of one write's transaction: waiting for another transaction (SQLite has one writer)
 * and running. Far above what a write takes (milliseconds); a write that fails is retried.
 */
const WRITE_TRANSACTION = { maxWait: 10_000, timeout: 60_000 };

/** Wire kinds that are not stored: a read-back fills their seqs with `silent`. */
type UnstoredType = 'progress' | 'silent';
type SeqRange = { gte: number; lte: number };

/** The note a run's end gets: "the run completed at step 1,875", "the run failed at step 12: …". */
export function describeEnd(
  status: 'completed' | 'failed',
  step: number,
  message?: string,
): string {
  return `the run ${status} at step ${step.toLocaleString('en-US')}${message ? `: ${message}` : ''}`;
}

/**
 * The note a trainer event becomes on its run (stored with the events, once per seq), or
 * null: a metric that stopped being finite, and how a run ended, beside people's commands
 * ("Ada stopped the run").
 */
export function trainerNote(e: TrainerEvent): { step: number; text: string } | null {
  if (e.type === 'metrics:nonfinite') return { step: e.step, text: describeNonFinite(e) };
  if (e.type === 'status' && (e.status === 'completed' || e.status === 'failed'))
    return { step: e.step, text: describeEnd(e.status, e.step, e.message) };
  return null;
}

/** The seqs of the events that become notes ({@link trainerNote}). */
export function notesIn(events: readonly TrainerEvent[]): number[] {
  return events.filter((e) => trainerNote(e) !== null).map((e) => e.seq);
}

export function createEventQueries(
  db: Db,
  provider: 'sqlite' | 'postgresql',
  series: SeriesQueries,
) {
  /** A note by the trainer, written with its events: keyed by seq, a resend keeps one. */
  const noteOf = (runId: string, seq: number, step: number, text: string) => (tx: DbClient) =>
    tx.annotation.upsert({
      where: { runId_seq: { runId, seq } },
      create: { runId, seq, step, kind: 'event', text, authorId: null, authorName: 'trainer' },
      update: {},
    });

  /** Epoch results with their confusion matrices, in seq order, for seqs in `seq` (a Prisma filter). */
  async function epochsWithConfusion(
    runId: string,
    seq: { gte?: number; lte?: number },
  ): Promise<WireEpoch[]> {
    const [epochs, matrices] = await Promise.all([
      db.epochMetric.findMany({ where: { runId, seq }, orderBy: { seq: 'asc' } }),
      db.confusionMatrix.findMany({ where: { runId, seq } }),
    ]);
    const bySeq = new Map(matrices.map((m) => [m.seq, m.matrix]));
    return epochs.map((e) => toWireEpoch(e, bySeq.get(e.seq)));
  }

  /** How each stored wire kind is read back (a new kind that is stored needs one here). */
  const readBack: {
    [K in Exclude<WireEventType, UnstoredType>]: (
      runId: string,
      seq: SeqRange,
    ) => Promise<Array<Extract<WireEvent, { type: K }>>>;
  } = {
    point: async (runId, seq) =>
      (await db.batchMetric.findMany({ where: { runId, seq } })).map((p) => ({
        seq: p.seq,
        type: 'point',
        point: toWirePoint(p),
      })),
    epoch: async (runId, seq) =>
      (await epochsWithConfusion(runId, seq)).map((e) => ({ seq: e.seq, type: 'epoch', epoch: e })),
    predictions: async (runId, seq) =>
      (await db.predictionPanel.findMany({ where: { runId, seq } })).map((p) => ({
        seq: p.seq,
        type: 'predictions',
        predictions: toWirePredictions(p),
      })),
    misclassified: async (runId, seq) => {
      const rows = await db.misclassified.findMany({
        where: { runId, seq },
        orderBy: { index: 'asc' },
      });
      const bySeq = new Map<number, Extract<WireEvent, { type: 'misclassified' }>>();
      for (const m of rows) {
        const item: DigitPrediction = {
          index: m.index,
          label: m.label,
          predicted: m.predicted,
          probabilities: storedProbabilities(
            m.probabilities,
            `probabilities of run ${runId} digit ${m.index}`,
          ),
        };
        const known = bySeq.get(m.seq);
        // The event's total is not stored; the stored items are the best count there is.
        if (known) {
          known.items.push(item);
          known.total = known.items.length;
        } else
          bySeq.set(m.seq, {
            seq: m.seq,
            type: 'misclassified',
            epoch: m.epoch,
            total: 1,
            items: [item],
          });
      }
      return [...bySeq.values()];
    },
  };

  return {
    /**
     * Builds every row of a batch and writes them, with each run's patch, in one transaction.
     * Writing a batch twice stores each row once (a resend after a failed write). `lastSeqs` is
     * each run's stored seq once this batch is in (every seq up to it stored), its `lastSeq`.
     */
    async write(batch: EventWrite[], lastSeqs: ReadonlyMap<string, number>): Promise<void> {
      const batches: unknown[][] = [];
      const epochs: unknown[][] = [];
      const confusions: unknown[][] = [];
      const misclassified: unknown[][] = [];
      const panels: unknown[][] = [];
      const checkpoints: CheckpointInsert[] = [];
      const notes: Array<(tx: DbClient) => Promise<unknown>> = [];
      const patches = new Map<string, RunUpdate & { lastSeq: number }>();
      const pointsOf = new Map<string, WirePoint[]>();
      for (const p of batch) {
        for (const e of p.events) {
          const { runId, seq } = e;
          const note = trainerNote(e);
          if (note) notes.push(noteOf(runId, seq, note.step, note.text));
          switch (e.type) {
            case 'metrics:batch':
              batches.push([
                runId,
                seq,
                e.point.epoch,
                e.point.batch,
                e.point.step,
                exact(e.point.loss),
                exact(e.point.accuracy),
                exact(e.point.learningRate),
                exact(e.point.samplesPerSec),
                exact(e.point.time),
              ]);
              if (!pointsOf.has(runId)) pointsOf.set(runId, []);
              pointsOf.get(runId)!.push({ ...e.point, seq });
              break;
            case 'metrics:epoch': {
              const m = e.summary;
              epochs.push([
                runId,
                seq,
                m.epoch,
                m.step,
                exact(m.trainLoss),
                exact(m.trainAccuracy),
                exact(m.testLoss),
                exact(m.testAccuracy),
                exact(m.samplesPerSec),
                exact(m.trainMs),
                exact(m.evalMs),
                exact(p.receivedAt),
              ]);
              confusions.push([runId, seq, m.epoch, JSON.stringify(m.confusion)]);
              break;
            }
            case 'misclassified':
              for (const d of e.items)
                misclassified.push([
                  runId,
                  seq,
                  e.epoch,
                  d.index,
                  d.label,
                  d.predicted,
                  JSON.stringify(d.probabilities),
                ]);
              break;
            case 'predictions':
              panels.push([
                runId,
                seq,
                e.step,
                e.epoch,
                JSON.stringify(e.items),
                exact(p.receivedAt),
              ]);
              break;
            case 'checkpoint':
              checkpoints.push({
                runId,
                seq,
                epoch: e.epoch,
                step: e.step,
                reason: e.reason,
                path: e.path,
              });
              break;
            // A note from these (trainerNote) is written above; no row of their own.
            case 'metrics:nonfinite':
            case 'status':
            case 'run:started':
            case 'phase':
            case 'control':
              break;
            default:
              assertNever(e);
          }
        }
        patches.set(p.runId, {
          ...patches.get(p.runId),
          ...p.patch,
          lastSeq: lastSeqs.get(p.runId) ?? 0,
        });
      }
      // Checkpoint rows have a generated id: skip the ones a previous write of this batch stored.
      const stored = checkpoints.length
        ? await db.checkpoint.findMany({
            where: { OR: checkpoints.map((c) => ({ runId: c.runId, seq: c.seq })) },
            select: { runId: true, seq: true },
          })
        : [];
      const freshCheckpoints = checkpoints.filter(
        (c) => !stored.some((s) => s.runId === c.runId && s.seq === c.seq),
      );
      // Event rows bypass the query compiler (server/db/bulk.ts) and skip rows already stored.
      const rows: RawStatement[] = [
        ...bulkInsert(provider, 'BatchMetric', BATCH_COLUMNS, batches),
        ...bulkInsert(provider, 'EpochMetric', EPOCH_COLUMNS, epochs),
        ...bulkInsert(provider, 'ConfusionMatrix', CONFUSION_COLUMNS, confusions),
        ...bulkInsert(provider, 'Misclassified', MISCLASSIFIED_COLUMNS, misclassified),
        ...bulkInsert(provider, 'PredictionPanel', PANEL_COLUMNS, panels),
      ];
      // The series store's buckets change in the same transaction as the points they summarise.
      const folds = await Promise.all(
        [...pointsOf].map(([runId, points]) => series.plan(runId, points)),
      );
      for (const f of folds) rows.push(...f.ops);
      // An interactive transaction, not a batch: Prisma compiles a batch that holds one
      // non-raw statement (the run's patch) as a whole, and every write's batch differs (its
      // multi-row INSERTs), so each write paid a compile on the event loop. Here
      // the raw statements skip the compiler and the patches' few shapes are compiled once.
      await db.$transaction(async (tx) => {
        await runStatements(tx, rows);
        if (freshCheckpoints.length) await tx.checkpoint.createMany({ data: freshCheckpoints });
        for (const note of notes) await note(tx);
        for (const [id, data] of patches) await tx.run.update({ where: { id }, data });
      }, WRITE_TRANSACTION);
      for (const f of folds) f.commit();
    },

    /** Batch points with seq in (afterSeq, upTo], in seq order, at most `limit`. */
    async points(
      runId: string,
      afterSeq: number,
      opts: { upTo?: number; limit?: number } = {},
    ): Promise<WirePoint[]> {
      const rows = await db.batchMetric.findMany({
        where: {
          runId,
          seq: { gt: afterSeq, ...(opts.upTo === undefined ? {} : { lte: opts.upTo }) },
        },
        orderBy: { seq: 'asc' },
        take: opts.limit,
      });
      return rows.map(toWirePoint);
    },

    /** Every epoch's results with its confusion matrix, in seq order, up to seq `upTo`. */
    epochsWithConfusion: (runId: string, upTo?: number) =>
      epochsWithConfusion(runId, upTo === undefined ? {} : { lte: upTo }),

    /**
     * Every epoch's results up to seq `upTo`, in seq order, the latest with its confusion matrix
     * and the others with none (`[]`): what a snapshot carries, bounded for a 1,000-epoch run.
     */
    async epochsLatestConfusion(runId: string, upTo: number): Promise<WireEpoch[]> {
      const epochs = await db.epochMetric.findMany({
        where: { runId, seq: { lte: upTo } },
        orderBy: { seq: 'asc' },
      });
      const latest = epochs[epochs.length - 1];
      const matrix = latest
        ? await db.confusionMatrix.findUnique({ where: { runId_seq: { runId, seq: latest.seq } } })
        : null;
      return epochs.map((e) => toWireEpoch(e, e === latest ? matrix?.matrix : undefined));
    },

    /** The confusion matrix of an epoch (its latest, if the epoch was recorded twice), or null. */
    async confusion(runId: string, epoch: number): Promise<number[][] | null> {
      const row = await db.confusionMatrix.findFirst({
        where: { runId, epoch },
        orderBy: { seq: 'desc' },
      });
      if (!row) return null;
      const e = await db.epochMetric.findUnique({ where: { runId_seq: { runId, seq: row.seq } } });
      return e ? toWireEpoch(e, row.matrix).confusion : null;
    },

    /** The newest prediction panel at or before seq `upTo`. */
    async latestPanel(runId: string, upTo: number): Promise<WirePredictions | null> {
      const row = await db.predictionPanel.findFirst({
        where: { runId, seq: { lte: upTo } },
        orderBy: { seq: 'desc' },
      });
      return row ? toWirePredictions(row) : null;
    },

    /** The newest epoch with results, or null. */
    async lastEpoch(runId: string): Promise<number | null> {
      const row = await db.epochMetric.findFirst({
        where: { runId },
        orderBy: { seq: 'desc' },
        select: { epoch: true },
      });
      return row?.epoch ?? null;
    },

    /** The misclassified test digits of an epoch, by test index. */
    async misclassified(runId: string, epoch: number): Promise<DigitPrediction[]> {
      const rows = await db.misclassified.findMany({
        where: { runId, epoch },
        orderBy: { index: 'asc' },
      });
      return rows.map((r) => ({
        index: r.index,
        label: r.label,
        predicted: r.predicted,
        probabilities: storedProbabilities(
          r.probabilities,
          `probabilities of run ${runId} digit ${r.index}`,
        ),
      }));
    },

    /**
     * The live stream's seqs `from`–`to` read back as they were sent. Kinds that are not
     * stored (progress, status...) come back as `silent`, so the seqs are still each covered once.
     */
    async between(runId: string, from: number, to: number): Promise<WireEvent[]> {
      const seq = { gte: from, lte: to };
      const bySeq = new Map<number, WireEvent>();
      for (const list of await Promise.all(Object.values(readBack).map((read) => read(runId, seq))))
        for (const e of list) bySeq.set(e.seq, e);
      const out: WireEvent[] = [];
      for (let s = from; s <= to; s++) out.push(bySeq.get(s) ?? { seq: s, type: 'silent' });
      return out;
    },
  };
}
export type EventQueries = ReturnType<typeof createEventQueries>;
