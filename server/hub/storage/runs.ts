/**
 * Queries about runs: their records, their status and trainer, the queue, and the claims that
 * give a queued run to a trainer.
 */
import type { Db } from '../../db/client';
import type { RunUpdate } from '../../db/rows';
import { ACTIVE_STATUSES, type HubRunStatus, type LearningRateChange, type RunSummary } from '../../protocol';
import type { Hyperparams, Reporting } from '../../trainer/config';
import { storedLearningRates, storedStatus, toRunSummary } from './toWire';

/** What the hub keeps in memory of a run, as stored. */
export interface StoredRunState {
  status: HubRunStatus;
  trainerId: string | null;
  lastSeq: number;
  lastStep: number;
  learningRates: LearningRateChange[];
}

/** A queued run waiting for a trainer, with what its job needs. */
export interface QueuedRun {
  id: string;
  lastSeq: number;
  hyperparams: unknown;
  reporting: unknown;
}

/** The trainer a claim is for, as it registered. */
export interface ClaimingTrainer {
  trainerId: string;
  host: string;
  backend: string;
  device: string;
  concurrency: number;
}

export function createRunQueries(db: Db, provider: 'sqlite' | 'postgresql') {
  const active = { in: [...ACTIVE_STATUSES] };
  return {
    /** The run's record as the wire describes it, or null. */
    async summary(runId: string): Promise<RunSummary | null> {
      const row = await db.run.findUnique({ where: { id: runId } });
      return row ? toRunSummary(row) : null;
    },

    /** The run's record and the trainer holding it, or null. */
    async summaryAndTrainer(runId: string): Promise<{ run: RunSummary; trainerId: string | null } | null> {
      const row = await db.run.findUnique({ where: { id: runId } });
      return row ? { run: toRunSummary(row), trainerId: row.trainerId } : null;
    },

    /** The run's status, trainer and stored seq, or null. */
    async state(runId: string): Promise<StoredRunState | null> {
      const row = await db.run.findUnique({ where: { id: runId }, select: { status: true, trainerId: true, lastSeq: true, lastStep: true, learningRates: true } });
      return row ? { status: storedStatus(row.status, runId), trainerId: row.trainerId, lastSeq: row.lastSeq, lastStep: row.lastStep, learningRates: storedLearningRates(row.learningRates, runId) } : null;
    },

    async exists(runId: string): Promise<boolean> {
      return (await db.run.count({ where: { id: runId } })) > 0;
    },

    /** The newest runs first: those not archived, the archived ones, or both. */
    async recent(limit: number, archived: 'exclude' | 'only' | 'include' = 'exclude'): Promise<RunSummary[]> {
      const where = archived === 'include' ? {} : { archivedAt: archived === 'only' ? { not: null } : null };
      const rows = await db.run.findMany({ where, orderBy: { createdAt: 'desc' }, take: limit });
      return rows.map(toRunSummary);
    },

    /** Changes what people wrote about a run (its name, description, tags). */
    async edit(runId: string, fields: { name?: string; description?: string; tags?: string[] }): Promise<RunSummary> {
      return toRunSummary(await db.run.update({ where: { id: runId }, data: fields }));
    },

    /** Archives (a time) or restores (null) a run. */
    async setArchived(runId: string, at: Date | null): Promise<RunSummary> {
      return toRunSummary(await db.run.update({ where: { id: runId }, data: { archivedAt: at } }));
    },

    /** Deletes a run and everything stored of it (events, notes, checkpoints: the rows cascade). */
    async remove(runId: string): Promise<void> {
      await db.run.delete({ where: { id: runId } });
    },

    async create(run: { id: string; name: string; hyperparams: Hyperparams; reporting?: Partial<Reporting>; createdBy: string; createdById: string }): Promise<RunSummary> {
      const row = await db.run.create({ data: { ...run, status: 'queued' } });
      return toRunSummary(row);
    },

    /** Sets the run's status (and what goes with it), from the hub's side. */
    async setStatus(runId: string, update: RunUpdate & { status: HubRunStatus }): Promise<void> {
      await db.run.update({ where: { id: runId }, data: update });
    },

    /** How many runs this person started that still wait for a trainer. */
    queuedBy(createdById: string): Promise<number> {
      return db.run.count({ where: { createdById, status: 'queued' } });
    },

    /** Queued runs no trainer holds, oldest first. */
    async queued(take: number): Promise<QueuedRun[]> {
      return db.run.findMany({ where: { status: 'queued', trainerId: null }, orderBy: { createdAt: 'asc' }, take, select: { id: true, lastSeq: true, hyperparams: true, reporting: true } });
    },

    /** How many active runs each of these trainers holds (0 for those with none). */
    async load(trainerIds: string[]): Promise<Map<string, number>> {
      const rows = await db.run.findMany({ where: { trainerId: { in: trainerIds }, status: active }, select: { trainerId: true } });
      const load = new Map(trainerIds.map((id) => [id, 0]));
      for (const r of rows) if (r.trainerId) load.set(r.trainerId, (load.get(r.trainerId) ?? 0) + 1);
      return load;
    },

    /**
     * Gives a queued run to a trainer, in one transaction that holds the trainer's row: two
     * hubs' schedulers can neither give one run to two trainers (the run must still be queued
     * and unassigned) nor give one trainer more runs than it takes (its active runs are counted
     * under the lock; SQLite transactions are serial anyway).
     */
    claim(runId: string, trainer: ClaimingTrainer): Promise<'claimed' | 'taken' | 'trainer-full'> {
      const { trainerId, host, backend, device, concurrency } = trainer;
      return db.$transaction(async (tx) => {
        if (provider === 'postgresql') await tx.$queryRaw`SELECT "id" FROM "Trainer" WHERE "id" = ${trainerId} FOR UPDATE`;
        const busy = await tx.run.count({ where: { trainerId, status: active } });
        if (busy >= concurrency) return 'trainer-full';
        const claimed = await tx.run.updateMany({
          where: { id: runId, status: 'queued', trainerId: null },
          data: { trainerId, trainerHost: host, backend, device, statusMessage: `assigned to ${trainerId}` },
        });
        return claimed.count === 1 ? 'claimed' : 'taken';
      });
    },

    /** Gives a queued run back to the queue, if this trainer still holds it. */
    async unclaim(runId: string, trainerId: string): Promise<void> {
      await db.run.updateMany({ where: { id: runId, trainerId, status: 'queued' }, data: { trainerId: null } });
    },

    /** The runs a trainer holds that are active (or also interrupted). */
    heldBy(trainerId: string, opts: { interrupted?: boolean } = {}): Promise<Array<{ id: string; status: string }>> {
      const statuses = opts.interrupted ? [...ACTIVE_STATUSES, 'interrupted'] : [...ACTIVE_STATUSES];
      return db.run.findMany({ where: { trainerId, status: { in: statuses } }, select: { id: true, status: true } });
    },

    /** Trainers that hold active runs. */
    async activeTrainers(): Promise<Set<string>> {
      const rows = await db.run.findMany({ where: { status: active, trainerId: { not: null } }, select: { trainerId: true } });
      return new Set(rows.flatMap((r) => (r.trainerId ? [r.trainerId] : [])));
    },

    /**
     * A loss sparkline per run: the mean loss in `points` equal step buckets, computed in the
     * database (a run may have hundreds of thousands of batches).
     */
    async sparklines(ids: string[], points: number): Promise<Record<string, number[]>> {
      const runs = await db.run.findMany({ where: { id: { in: ids } }, select: { id: true, lastStep: true } });
      const out: Record<string, number[]> = {};
      for (const run of runs) {
        const span = Math.max(1, run.lastStep);
        const rows = await db.$queryRaw<Array<{ bucket: number | bigint; loss: number | null }>>`
          SELECT ((step - 1) * CAST(${points} AS INTEGER)) / CAST(${span} AS INTEGER) AS bucket, CAST(AVG(loss) AS DOUBLE PRECISION) AS loss
          FROM "BatchMetric" WHERE "runId" = ${run.id} GROUP BY bucket ORDER BY bucket`;
        // A bucket of a diverged stretch averages no loss (NULL): left out, not drawn as 0.
        out[run.id] = rows.map((r) => (r.loss === null ? NaN : Number(r.loss))).filter(Number.isFinite);
      }
      return out;
    },

    /** Answers when the database does (the health check). */
    async ping(): Promise<void> {
      await db.run.count({ take: 1 });
    },
  };
}
export type RunQueries = ReturnType<typeof createRunQueries>;
