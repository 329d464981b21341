/**
 * The `/trainer` namespace: daemons register (backend, device, host, capacity), take jobs,
 * stream events (acknowledged once stored) and upload checkpoints. A daemon that disconnects
 * keeps its runs for a grace period; if it does not come back they become `interrupted`.
 */
import type { Socket } from 'socket.io';
import {
  ACTIVE_STATUSES,
  checkpointUploadSchema,
  PROTOCOL_VERSION,
  trainerEventsSchema,
  trainerHandshakeSchema,
  type HubToTrainerEvents,
  type TrainerToHubEvents,
} from '../protocol';
import type { TrainerEvent } from '../trainer/events';
import { tokenMatches } from './auth';
import { reachableTrainers } from './cluster';
import { acked, fieldErrors, handshakeError, HubError, type HubContext } from './context';
import { isAssignedTo, receiveEvents, runState, serialise } from './events';
import { createScheduler } from './scheduler';
import { setRunStatus } from './runs';
import { z } from 'zod';

export interface TrainerData {
  trainerId: string;
  host: string;
  backend: string;
  device: string;
  concurrency: number;
}
export type TrainerSocket = Socket<TrainerToHubEvents, HubToTrainerEvents, Record<string, never>, TrainerData>;

const reportSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('job:accepted'), runId: z.string(), queued: z.number() }),
  z.object({ kind: z.literal('job:done'), runId: z.string(), status: z.enum(['completed', 'stopped', 'failed']) }).passthrough(),
  z.object({ kind: z.literal('job:failed'), runId: z.string(), message: z.string().max(4096) }),
  z.object({ kind: z.literal('rejected'), runId: z.string().optional(), error: z.string(), message: z.string().max(4096) }),
]);

export interface Trainers {
  schedule(): void;
  /** At hub start: give trainers of runs left active a grace period to come back. */
  recover(): Promise<void>;
  close(): void;
}

export function attachTrainers(ctx: HubContext): Trainers {
  const nsp = ctx.trainers;
  const graceTimers = new Map<string, NodeJS.Timeout>();
  let closed = false;
  const scheduler = createScheduler(ctx);

  const activeRunsOf = (trainerId: string) =>
    ctx.db.run.findMany({ where: { trainerId, status: { in: [...ACTIVE_STATUSES] } }, select: { id: true, status: true } });

  function startGrace(trainerId: string): void {
    if (graceTimers.has(trainerId)) return;
    graceTimers.set(
      trainerId,
      setTimeout(() => {
        graceTimers.delete(trainerId);
        void expire(trainerId).catch((error) => ctx.log(`grace expiry for ${trainerId}: ${error}`));
      }, ctx.options.graceMs),
    );
  }

  async function expire(trainerId: string): Promise<void> {
    const back = (await nsp.fetchSockets()).some((s) => s.data.trainerId === trainerId);
    if (back) return;
    for (const run of await activeRunsOf(trainerId)) {
      if (run.status === 'queued') {
        await setRunStatus(ctx, run.id, 'queued', `trainer ${trainerId} went away before starting; waiting for another`, { trainerId: null });
      } else {
        await setRunStatus(ctx, run.id, 'interrupted', `trainer ${trainerId} disconnected and did not come back within ${Math.round(ctx.options.graceMs / 1000)} s`);
      }
    }
    scheduler.schedule();
  }

  /**
   * With several hubs, a hub that dies takes its trainers' disconnects with it: every hub
   * looks now and then for active runs whose trainer is connected to no hub at all.
   */
  async function sweepOrphans(): Promise<void> {
    const runs = await ctx.db.run.findMany({ where: { status: { in: [...ACTIVE_STATUSES] }, trainerId: { not: null } }, select: { trainerId: true } });
    if (runs.length === 0) return;
    const connected = new Set((await nsp.fetchSockets()).map((s) => s.data.trainerId));
    for (const trainerId of new Set(runs.map((r) => r.trainerId!))) if (!connected.has(trainerId)) startGrace(trainerId);
  }
  const sweep = ctx.cluster.shared
    ? setInterval(() => void sweepOrphans().catch((error) => ctx.log(`orphan sweep: ${error}`)), Math.max(1000, ctx.options.graceMs))
    : null;
  sweep?.unref();

  nsp.use((socket, next) => {
    const auth = trainerHandshakeSchema.safeParse(socket.handshake.auth);
    if (!auth.success) return next(handshakeError('INVALID', `bad trainer handshake: ${JSON.stringify(fieldErrors(auth.error))}`));
    if (auth.data.protocolVersion !== PROTOCOL_VERSION) {
      return next(handshakeError('UNSUPPORTED_VERSION', `this hub speaks protocol ${PROTOCOL_VERSION}, the trainer ${auth.data.protocolVersion}`));
    }
    if (!tokenMatches(ctx.options.trainerToken, auth.data.token)) return next(handshakeError('UNAUTHORIZED', 'a valid trainer token is required'));
    const { trainerId, backend, concurrency } = auth.data;
    Object.assign(socket.data, { trainerId, host: backend.host, backend: backend.name, device: backend.device, concurrency });
    next();
  });

  nsp.on('connection', (raw) => {
    const socket = raw as unknown as TrainerSocket;
    const { trainerId } = socket.data;
    const claimed = new Set(trainerHandshakeSchema.parse(socket.handshake.auth).runs);
    void onConnect(socket, claimed).catch((error) => ctx.log(`trainer ${trainerId} connect: ${error}`));

    const on = socket as unknown as { on(event: string, fn: (payload: unknown, ack?: unknown) => void): void };
    on.on(
      'trainer:events',
      acked(ctx, 'trainer:events', trainerEventsSchema, async ({ runId, events }) => ({ storedSeq: await receiveEvents(ctx, trainerId, runId, events as TrainerEvent[]) })),
    );

    on.on(
      'checkpoint:upload',
      acked(ctx, 'checkpoint:upload', checkpointUploadSchema, async ({ runId, seq, data }) => {
        const state = await runState(ctx, runId);
        if (!state || !(await isAssignedTo(ctx, runId, state, trainerId))) throw new HubError('FORBIDDEN', `run ${runId} is not assigned to this trainer`);
        // The checkpoint event came first on this socket: let it reach the database.
        await serialise(state, () => ctx.ingest.flush());
        const row = await ctx.db.checkpoint.update({ where: { runId_seq: { runId, seq } }, data: { data: Buffer.from(data), trainerId } }).catch(() => null);
        if (!row) throw new HubError('NOT_FOUND', `no checkpoint event with seq ${seq} for run ${runId}`);
        return { id: row.id };
      }),
    );

    socket.on('trainer:report', async (payload) => {
      const parsed = reportSchema.safeParse(payload);
      if (!parsed.success) return ctx.log(`trainer ${trainerId}: ignoring a malformed report`);
      await onReport(trainerId, parsed.data).catch((error) => ctx.log(`trainer ${trainerId} report: ${error}`));
    });

    socket.on('disconnect', () => {
      if (closed) return;
      void activeRunsOf(trainerId).then((runs) => {
        if (runs.length) startGrace(trainerId);
        scheduler.schedule();
      });
    });
  });

  async function onConnect(socket: TrainerSocket, claimed: Set<string>): Promise<void> {
    const { trainerId, host, backend, device, concurrency } = socket.data;
    for (const other of (await reachableTrainers(ctx)).sockets) {
      if (other.id !== socket.id && other.data.trainerId === trainerId) other.disconnect(true);
    }
    const timer = graceTimers.get(trainerId);
    if (timer) clearTimeout(timer);
    graceTimers.delete(trainerId);
    await ctx.db.trainer.upsert({
      where: { id: trainerId },
      create: { id: trainerId, host, backend, device, concurrency },
      update: { host, backend, device, concurrency, lastSeenAt: new Date() },
    });
    // Runs this trainer held: continue the ones it still has, let go of the ones it lost.
    const held = await ctx.db.run.findMany({ where: { trainerId, status: { in: [...ACTIVE_STATUSES, 'interrupted'] } } });
    for (const run of held) {
      if (claimed.has(run.id)) {
        if (run.status === 'interrupted') await setRunStatus(ctx, run.id, 'running', `trainer ${trainerId} came back`);
      } else if (run.status === 'queued') {
        await setRunStatus(ctx, run.id, 'queued', null, { trainerId: null });
      } else if (run.status !== 'interrupted') {
        await setRunStatus(ctx, run.id, 'interrupted', `trainer ${trainerId} restarted and no longer has this run`);
      }
    }
    ctx.log(`trainer ${trainerId} connected: ${backend} on ${host} (${device}), ${concurrency} at a time`);
    scheduler.schedule();
  }

  async function onReport(trainerId: string, report: z.infer<typeof reportSchema>): Promise<void> {
    if (report.kind === 'job:accepted' || !report.runId) return;
    try {
      const state = await runState(ctx, report.runId);
      if (!state || !(await isAssignedTo(ctx, report.runId, state, trainerId))) return;
      // Let the run's events land first: they carry the authoritative status.
      await serialise(state, async () => undefined);
      const status = state.status;
      if (status !== 'queued' && status !== 'running' && status !== 'paused') return;
      switch (report.kind) {
        case 'job:done':
          await setRunStatus(ctx, report.runId, report.status, null);
          break;
        case 'job:failed':
        case 'rejected':
          await setRunStatus(ctx, report.runId, 'failed', report.message);
          break;
      }
    } finally {
      // The trainer has a free slot now, whatever the report said.
      scheduler.schedule();
    }
  }

  return {
    schedule: scheduler.schedule,
    async recover() {
      const runs = await ctx.db.run.findMany({ where: { status: { in: [...ACTIVE_STATUSES] }, trainerId: { not: null } }, select: { trainerId: true } });
      for (const trainerId of new Set(runs.map((r) => r.trainerId!))) startGrace(trainerId);
      scheduler.schedule();
    },
    close() {
      closed = true;
      if (sweep) clearInterval(sweep);
      for (const t of graceTimers.values()) clearTimeout(t);
      graceTimers.clear();
      scheduler.close();
    },
  };
}
