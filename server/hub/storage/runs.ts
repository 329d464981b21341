/**
 * Queries about runs: their records, their status and trainer, the queue, and the claims that
 * give a queued run to a trainer.
 */
import { join, raw, sqltag } from '@prisma/client/runtime/client';
import { BUCKET_WIDTHS } from '../../columns';
import type { Db } from '../../db/client';
import type { RunUpdate } from '../../db/rows';
import {
  ACTIVE_STATUSES,
  tagKey,
  type HubRunStatus,
  type LearningRateChange,
  type RunSummary,
} from '../../protocol';
import type { RunsQuery } from './runsQuery';
import type { Hyperparams, Reporting } from '../../trainer/config';
import { hyperparamColumns, listOrder, listWhere, progressOf, textColumns } from './runList';
import { storedLearningRates, storedStatus, storedTags, toRunSummary } from './toWire';

/** What the hub keeps in memory of a run, as stored. */
export interface StoredRunState {
  status: HubRunStatus;
  trainerId: string | null;
  lastSeq: number;
  lastStep: number;
  learningRates: LearningRateChange[];
  totalSteps: number | null;
}

/** A run as stored, to insert many at once (an import; seeding a test or a benchmark). */
export interface RunImport {
  id: string;
  name: string;
  description?: string;
  tags?: string[];
  hyperparams: Hyperparams;
  status: HubRunStatus;
  createdBy: string;
  createdById?: string | null;
  createdAt?: Date;
  archivedAt?: Date | null;
  backend?: string | null;
  trainerHost?: string | null;
  lastStep?: number;
  totalSteps?: number | null;
  /** The latest finite batch loss. */
  lastLoss?: number | null;
  finalTrainLoss?: number | null;
  finalTestAccuracy?: number | null;
  learningRates?: LearningRateChange[];
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

/** Rows per INSERT of {@link createRunQueries}' insertMany (one statement for 10,000 runs is slower than chunks). */
const INSERT_CHUNK = 500;

/**
 * A run's tag rows: each tag's lower-case key once (the list's filter and its menu compare
 * tags without regard to case), while Run.tags keeps them as written.
 */
function tagRowsOf(runId: string, tags: readonly string[]): Array<{ runId: string; tag: string }> {
  return [...new Set(tags.map(tagKey))].map((tag) => ({ runId, tag }));
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
    async summaryAndTrainer(
      runId: string,
    ): Promise<{ run: RunSummary; trainerId: string | null } | null> {
      const row = await db.run.findUnique({ where: { id: runId } });
      return row ? { run: toRunSummary(row), trainerId: row.trainerId } : null;
    },

    /** The run's status, trainer and stored seq, or null. */
    async state(runId: string): Promise<StoredRunState | null> {
      const row = await db.run.findUnique({
        where: { id: runId },
        select: {
          status: true,
          trainerId: true,
          lastSeq: true,
          lastStep: true,
          learningRates: true,
          totalSteps: true,
        },
      });
      return row
        ? {
            status: storedStatus(row.status, runId),
            trainerId: row.trainerId,
            lastSeq: row.lastSeq,
            lastStep: row.lastStep,
            learningRates: storedLearningRates(row.learningRates, runId),
            totalSteps: row.totalSteps,
          }
        : null;
    },

    async exists(runId: string): Promise<boolean> {
      return (await db.run.count({ where: { id: runId } })) > 0;
    },

    /**
     * One page of the runs list, sorted and filtered by the database (runList.ts), with how
     * many runs match, read in one transaction so that the two agree.
     */
    async list(q: RunsQuery): Promise<{ runs: RunSummary[]; total: number }> {
      const where = listWhere(q);
      const [rows, total] = await db.$transaction([
        db.run.findMany({
          where,
          orderBy: listOrder(q.sort, q.order),
          skip: q.offset,
          take: q.limit,
        }),
        db.run.count({ where }),
      ]);
      return { runs: rows.map(toRunSummary), total };
    },

    /** Every tag in use on any run (lower-case: the filter's keys), sorted. */
    async tags(): Promise<string[]> {
      const rows = await db.$queryRaw<
        Array<{ tag: string }>
      >`SELECT DISTINCT "tag" FROM "RunTag" ORDER BY "tag"`;
      return rows.map((r) => r.tag);
    },

    /**
     * Changes what people wrote about a run (its name, description, tags), with the list's
     * keys derived from them and its tag rows, in one transaction.
     */
    async edit(
      runId: string,
      fields: { name?: string; description?: string; tags?: string[] },
    ): Promise<RunSummary> {
      return db.$transaction(async (tx) => {
        const before = await tx.run.findUniqueOrThrow({
          where: { id: runId },
          select: { id: true, name: true, description: true, tags: true, createdBy: true },
        });
        const text = { ...before, tags: storedTags(before.tags, runId), ...fields };
        const row = await tx.run.update({
          where: { id: runId },
          data: { ...fields, ...textColumns(text) },
        });
        if (fields.tags) {
          await tx.runTag.deleteMany({ where: { runId } });
          await tx.runTag.createMany({ data: tagRowsOf(runId, fields.tags) });
        }
        return toRunSummary(row);
      });
    },

    /** Archives (a time) or restores (null) a run. */
    async setArchived(runId: string, at: Date | null): Promise<RunSummary> {
      return toRunSummary(await db.run.update({ where: { id: runId }, data: { archivedAt: at } }));
    },

    /** Deletes a run and everything stored of it (events, notes, checkpoints: the rows cascade). */
    async remove(runId: string): Promise<void> {
      await db.run.delete({ where: { id: runId } });
    },

    async create(run: {
      id: string;
      name: string;
      hyperparams: Hyperparams;
      reporting?: Partial<Reporting>;
      createdBy: string;
      createdById: string;
    }): Promise<RunSummary> {
      const keys = {
        ...textColumns({ ...run, description: '', tags: [] }),
        ...hyperparamColumns(run.hyperparams),
      };
      const row = await db.run.create({ data: { ...run, ...keys, status: 'queued' } });
      return toRunSummary(row);
    },

    /**
     * Creates a run that a trainer made itself (`run:create`): running already, held by that
     * trainer, origin `cli`. With an id that exists, nothing is written: the run as stored and
     * its holder come back, for the caller to decide whether it is this trainer's.
     */
    async createForTrainer(
      run: {
        id: string;
        name: string;
        hyperparams: Hyperparams;
        reporting?: Partial<Reporting>;
        createdBy: string;
        createdById: string;
        originHost: string;
      },
      trainer: ClaimingTrainer,
    ): Promise<{ run: RunSummary; trainerId: string | null; created: boolean }> {
      return db.$transaction(async (tx) => {
        const existing = await tx.run.findUnique({ where: { id: run.id } });
        if (existing)
          return { run: toRunSummary(existing), trainerId: existing.trainerId, created: false };
        const keys = {
          ...textColumns({ ...run, description: '', tags: [] }),
          ...hyperparamColumns(run.hyperparams),
        };
        const { trainerId, host, backend, device } = trainer;
        const row = await tx.run.create({
          data: {
            ...run,
            ...keys,
            origin: 'cli',
            status: 'running',
            statusMessage: `started from the command line on ${run.originHost}`,
            trainerId,
            trainerHost: host,
            backend,
            device,
          },
        });
        return { run: toRunSummary(row), trainerId, created: true };
      });
    },

    /** Inserts many runs (and their tags) in one transaction, with the list's keys; returns how many. */
    async insertMany(runs: readonly RunImport[]): Promise<number> {
      const rows = runs.map(({ tags = [], learningRates = [], description = '', ...run }) => ({
        ...run,
        description,
        tags,
        learningRates: learningRates.map(({ step, value }) => ({ step, value })),
        ...textColumns({ ...run, description, tags }),
        ...hyperparamColumns(run.hyperparams, learningRates),
        progress: progressOf(run.lastStep ?? 0, run.totalSteps ?? null),
      }));
      const tagRows = runs.flatMap((r) => tagRowsOf(r.id, r.tags ?? []));
      // In statements of INSERT_CHUNK rows: Prisma's cost per row grows with the statement's size.
      const chunks = <T>(all: T[]) =>
        Array.from({ length: Math.ceil(all.length / INSERT_CHUNK) }, (_, i) =>
          all.slice(i * INSERT_CHUNK, (i + 1) * INSERT_CHUNK),
        );
      const inserted = await db.$transaction(
        async (tx) => {
          let n = 0;
          for (const data of chunks(rows)) n += (await tx.run.createMany({ data })).count;
          for (const data of chunks(tagRows)) await tx.runTag.createMany({ data });
          return n;
        },
        { timeout: 600_000 },
      );
      // PostgreSQL plans the list's queries from statistics its autovacuum gathers some time
      // after a bulk insert; until then it scans and sorts. (SQLite's planner keeps none here.)
      if (provider === 'postgresql') await db.$executeRawUnsafe('ANALYZE "Run", "RunTag"');
      return inserted;
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
      // A run a trainer created is that trainer's only (origin `cli`): never handed to another.
      return db.run.findMany({
        where: { status: 'queued', trainerId: null, origin: 'hub' },
        orderBy: { createdAt: 'asc' },
        take,
        select: { id: true, lastSeq: true, hyperparams: true, reporting: true },
      });
    },

    /**
     * Where a queued run waits: how many runs waiting for a trainer the scheduler takes before
     * it (oldest first, as {@link queued} lists them); null when the run is not waiting.
     */
    async queueAhead(runId: string): Promise<number | null> {
      const run = await db.run.findUnique({
        where: { id: runId },
        select: { status: true, trainerId: true, createdAt: true },
      });
      if (!run || run.status !== 'queued' || run.trainerId !== null) return null;
      return db.run.count({
        where: {
          status: 'queued',
          trainerId: null,
          OR: [
            { createdAt: { lt: run.createdAt } },
            { createdAt: run.createdAt, id: { lt: runId } },
          ],
        },
      });
    },

    /** How many active runs each of these trainers holds (0 for those with none). */
    async load(trainerIds: string[]): Promise<Map<string, number>> {
      const rows = await db.run.findMany({
        where: { trainerId: { in: trainerIds }, status: active },
        select: { trainerId: true },
      });
      const load = new Map(trainerIds.map((id) => [id, 0]));
      for (const r of rows)
        if (r.trainerId) load.set(r.trainerId, (load.get(r.trainerId) ?? 0) + 1);
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
        if (provider === 'postgresql')
          await tx.$queryRaw`SELECT "id" FROM "Trainer" WHERE "id" = ${trainerId} FOR UPDATE`;
        const busy = await tx.run.count({ where: { trainerId, status: active } });
        if (busy >= concurrency) return 'trainer-full';
        const claimed = await tx.run.updateMany({
          where: { id: runId, status: 'queued', trainerId: null },
          data: {
            trainerId,
            trainerHost: host,
            backend,
            device,
            statusMessage: `assigned to ${trainerId}`,
          },
        });
        return claimed.count === 1 ? 'claimed' : 'taken';
      });
    },

    /** Gives a queued run back to the queue, if this trainer still holds it. */
    async unclaim(runId: string, trainerId: string): Promise<void> {
      await db.run.updateMany({
        where: { id: runId, trainerId, status: 'queued' },
        data: { trainerId: null },
      });
    },

    /** The runs a trainer holds that are active (or also interrupted). */
    heldBy(
      trainerId: string,
      opts: { interrupted?: boolean } = {},
    ): Promise<Array<{ id: string; status: string }>> {
      const statuses = opts.interrupted
        ? [...ACTIVE_STATUSES, 'interrupted']
        : [...ACTIVE_STATUSES];
      return db.run.findMany({
        where: { trainerId, status: { in: statuses } },
        select: { id: true, status: true },
      });
    },

    /** Trainers that hold active runs. */
    async activeTrainers(): Promise<Set<string>> {
      const rows = await db.run.findMany({
        where: { status: active, trainerId: { not: null } },
        select: { trainerId: true },
      });
      return new Set(rows.flatMap((r) => (r.trainerId ? [r.trainerId] : [])));
    },

    /**
     * A loss sparkline per run: the mean loss in `points` equal step buckets of each run's
     * steps, computed in the database (a run may have hundreds of thousands of batches) in one
     * query for every run asked for. A run without batches gets an empty line; unknown ids none.
     */
    async sparklines(ids: string[], points: number): Promise<Record<string, number[]>> {
      if (ids.length === 0) return {};
      // Long runs from the series store (the coarsest width that still gives `points` buckets,
      // so a 2,000,000-step run reads a hundred rows, not two million), short ones from their
      // points; one statement either way.
      const span = sqltag`(CASE WHEN r."lastStep" > 1 THEN r."lastStep" ELSE 1 END)`;
      const widths = [...BUCKET_WIDTHS].reverse();
      const width = raw(
        `CASE ${widths.map((w) => `WHEN r."lastStep" >= ${w * points} THEN ${w}`).join(' ')} ELSE ${BUCKET_WIDTHS[0]} END`,
      );
      const long = BUCKET_WIDTHS[0] * points;
      // ("stretch", not "bucket": SeriesBucket has a column of that name, which GROUP BY would take.)
      const rows = await db.$queryRaw<
        Array<{
          runId: string;
          stretch: number | bigint | null;
          s: number | null;
          n: number | bigint | null;
        }>
      >`
        SELECT r."id" AS "runId", ((b."firstStep" - 1) * CAST(${points} AS INTEGER)) / ${span} AS stretch,
               CAST(SUM(b."lossSum") AS DOUBLE PRECISION) AS s, SUM(b."lossFinite") AS n
        FROM "Run" r LEFT JOIN "SeriesBucket" b ON b."runId" = r."id" AND b."width" = ${width}
        WHERE r."id" IN (${join(ids)}) AND r."lastStep" >= ${long}
        GROUP BY r."id", stretch
        UNION ALL
        SELECT r."id" AS "runId", ((b."step" - 1) * CAST(${points} AS INTEGER)) / ${span} AS stretch,
               CAST(SUM(b."loss") AS DOUBLE PRECISION) AS s, COUNT(b."loss") AS n
        FROM "Run" r LEFT JOIN "BatchMetric" b ON b."runId" = r."id"
        WHERE r."id" IN (${join(ids)}) AND r."lastStep" < ${long}
        GROUP BY r."id", stretch
        ORDER BY 1, 2`;
      const out: Record<string, number[]> = {};
      for (const r of rows) {
        const line = (out[r.runId] ??= []);
        // A bucket of a diverged stretch averages no loss (NULL): left out, not drawn as 0.
        const n = Number(r.n ?? 0);
        if (r.stretch !== null && n > 0 && r.s !== null && Number.isFinite(Number(r.s)))
          line.push(Number(r.s) / n);
      }
      return out;
    },

    /** Answers when the database does (the health check). */
    async ping(): Promise<void> {
      await db.run.count({ take: 1 });
    },
  };
}
