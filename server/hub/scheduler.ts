/**
 * Hands queued runs to trainers with free capacity, oldest run first, least-loaded trainer
 * first. A run is claimed with a conditional update in the database (status queued, no
 * trainer), so that two schedulers, even on two hubs, never give one run to two trainers.
 */
import { ACTIVE_STATUSES, type Result, type TrainerJob } from '../protocol';
import { hyperparamsSchema, reportingSchema } from '../trainer/config';
import { reachableTrainers } from './cluster';
import type { HubContext } from './context';
import { setRunStatus } from './runs';
import type { TrainerSocket } from './trainers';

const ASSIGN_TIMEOUT_MS = 15_000;

export function createScheduler(ctx: HubContext) {
  let running = false;
  let again = false;
  let closed = false;

  async function once(): Promise<void> {
    const queued = await ctx.db.run.findMany({ where: { status: 'queued', trainerId: null }, orderBy: { createdAt: 'asc' }, take: 100 });
    if (queued.length === 0) return;
    // Claims are made in the database, so with Redis away this hub can still use its own trainers.
    const sockets = (await reachableTrainers(ctx)).sockets as unknown as TrainerSocket[];
    if (sockets.length === 0) return;
    const ids = sockets.map((s) => s.data.trainerId);
    const counts = await ctx.db.run.groupBy({ by: ['trainerId'], where: { trainerId: { in: ids }, status: { in: [...ACTIVE_STATUSES] } }, _count: { _all: true } });
    const load = new Map(ids.map((id) => [id, 0]));
    for (const c of counts) if (c.trainerId) load.set(c.trainerId, c._count._all);

    for (const run of queued) {
      const free = sockets
        // Trainers on other hubs come as RemoteSockets, which have no `connected`.
        .filter((s) => (load.get(s.data.trainerId) ?? 0) < s.data.concurrency && (s as { connected?: boolean }).connected !== false)
        .sort((a, b) => load.get(a.data.trainerId)! / a.data.concurrency - load.get(b.data.trainerId)! / b.data.concurrency);
      const socket = free[0];
      if (!socket) return;
      const { trainerId } = socket.data;
      const claimed = await claim(ctx, run.id, socket.data);
      if (claimed === 'trainer-full') {
        // Another hub gave it a run meanwhile: count again.
        load.set(trainerId, socket.data.concurrency);
        again = true;
        continue;
      }
      if (claimed !== 'claimed') continue;
      load.set(trainerId, load.get(trainerId)! + 1);
      const state = ctx.runs.get(run.id);
      if (state) state.trainerId = trainerId;
      ctx.cluster.changed({ runId: run.id, trainerId });
      const job = await jobFor(ctx, run.id, run.lastSeq, run.hyperparams, run.reporting);
      void assign(socket, job);
    }
  }

  async function assign(socket: TrainerSocket, job: TrainerJob): Promise<void> {
    let result: Result<{ runId: string }>;
    try {
      result = await socket.timeout(ASSIGN_TIMEOUT_MS).emitWithAck('job:assign', job);
    } catch {
      result = { ok: false, error: 'UNAVAILABLE', message: 'the trainer did not answer' };
    }
    // The hub may have closed while the trainer took its time; nothing is left to update.
    if (closed || result?.ok === true) return;
    const refusal = result && typeof result === 'object' && 'error' in result ? result : { ok: false as const, error: 'INVALID' as const, message: 'the trainer answered with something that is not an ack' };
    ctx.log(`run ${job.runId}: trainer ${socket.data.trainerId} refused the job: ${refusal.message}`);
    if (refusal.error === 'INVALID') {
      await setRunStatus(ctx, job.runId, 'failed', `the trainer refused the job: ${refusal.message}`);
    } else {
      // Give it back to the queue for another try (or another trainer).
      await ctx.db.run.updateMany({ where: { id: job.runId, trainerId: socket.data.trainerId, status: 'queued' }, data: { trainerId: null } });
      const state = ctx.runs.get(job.runId);
      if (state) state.trainerId = null;
      ctx.cluster.changed({ runId: job.runId, trainerId: null });
      setTimeout(schedule, 1000).unref();
    }
  }

  function schedule(): void {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    void (async () => {
      try {
        do {
          again = false;
          await once();
        } while (again && !closed);
      } catch (error) {
        ctx.log(`scheduler: ${error instanceof Error ? error.message : error}`);
      } finally {
        running = false;
      }
    })();
  }

  return {
    schedule,
    close() {
      closed = true;
    },
  };
}

/**
 * Gives a queued run to a trainer, in one transaction that holds the trainer's row: two hubs'
 * schedulers can neither give one run to two trainers (the run must still be queued and
 * unassigned) nor give one trainer more runs than it takes (its active runs are counted under
 * the lock; SQLite transactions are serial anyway).
 */
async function claim(ctx: HubContext, runId: string, trainer: TrainerSocket['data']): Promise<'claimed' | 'taken' | 'trainer-full'> {
  const { trainerId, host, backend, device, concurrency } = trainer;
  return ctx.db.$transaction(async (tx) => {
    if (ctx.provider === 'postgresql') await tx.$queryRaw`SELECT "id" FROM "Trainer" WHERE "id" = ${trainerId} FOR UPDATE`;
    const busy = await tx.run.count({ where: { trainerId, status: { in: [...ACTIVE_STATUSES] } } });
    if (busy >= concurrency) return 'trainer-full';
    const claimed = await tx.run.updateMany({
      where: { id: runId, status: 'queued', trainerId: null },
      data: { trainerId, trainerHost: host, backend, device, statusMessage: `assigned to ${trainerId}` },
    });
    return claimed.count === 1 ? 'claimed' : 'taken';
  });
}

/** The job for a run: a fresh start, or a resume from its latest checkpoint when it has one. */
async function jobFor(ctx: HubContext, runId: string, lastSeq: number, hyperparams: unknown, reporting: unknown): Promise<TrainerJob> {
  const hp = hyperparamsSchema.parse(hyperparams);
  const rep = reportingSchema.partial().safeParse(reporting ?? {});
  const job: TrainerJob = { runId, hyperparams: hp, reporting: rep.success ? rep.data : undefined, resume: false, lastSeq };
  if (lastSeq === 0) return job;
  // The newest checkpoint whose file reached the hub, so any trainer can resume; else the
  // newest one at all (only the trainer that wrote it has the file).
  const ckpt =
    (await ctx.db.checkpoint.findFirst({ where: { runId, data: { not: null } }, orderBy: { seq: 'desc' } })) ??
    (await ctx.db.checkpoint.findFirst({ where: { runId }, orderBy: { seq: 'desc' } }));
  if (!ckpt) return job;
  job.resume = true;
  if (ckpt.data) job.checkpoint = { step: ckpt.step, data: new Uint8Array(ckpt.data) };
  return job;
}
