/**
 * Run commands shared by the socket handlers and the HTTP API: start a run, control it, and
 * announce its changes (run:status to its room, runs:changed to everyone).
 */
import type { HubRunStatus, RunSummary } from '../protocol';
import { reportingSchema, type Hyperparams } from '../trainer/config';
import type { z } from 'zod';
import { holdsTrainer, reachableTrainers } from './cluster';
import { HubError, newRunId, type HubContext } from './context';
import { addEventAnnotation } from './annotations';
import { refreshRunState, runState, serialise } from './events';
import { describeControl, isFinished, planControl, type ControlVerb } from './lifecycle';
import { bumpRunVersion } from './snapshot';
import { runRoom } from './stream';
import { toRunSummary } from './wire';

/** Who asked: a participant's id and display name (HTTP clients are "api"). */
export interface Actor {
  id: string | null;
  name: string;
}

const RUNS_CHANGED_EVERY_MS = 1000;

export async function getRunSummary(ctx: HubContext, runId: string): Promise<RunSummary> {
  const run = await ctx.db.run.findUnique({ where: { id: runId } });
  if (!run) throw new HubError('NOT_FOUND', `no run ${runId}`);
  return toRunSummary(run);
}

/**
 * Tells browsers about a run's current row: run:status to its room when the status changed,
 * runs:changed to everyone (at most once a second per run unless the status changed).
 * Resolves with the row it announced, or null when there was nothing to announce yet.
 */
export async function announce(ctx: HubContext, runId: string): Promise<RunSummary | null> {
  const state = ctx.runs.get(runId);
  const now = Date.now();
  // Most commits change neither the status nor need a runs:changed yet: skip the read.
  if (state && state.status === state.announcedStatus && now - state.announcedAt < RUNS_CHANGED_EVERY_MS) return null;
  const row = await ctx.db.run.findUnique({ where: { id: runId } });
  if (!row) return null;
  const run = toRunSummary(row);
  const statusChanged = !state || state.announcedStatus !== run.status;
  if (state && !statusChanged && now - state.announcedAt < RUNS_CHANGED_EVERY_MS) return run;
  // Frames already received go out first, so a watcher never sees "completed" before the
  // last points.
  if (statusChanged) {
    ctx.streams.flush(runId);
    bumpRunVersion(ctx, runId, { status: run.status, trainerId: row.trainerId });
    ctx.io.to(runRoom(runId)).emit('run:status', { runId, status: run.status, message: run.statusMessage, run });
  }
  ctx.io.emit('runs:changed', { run, loss: state?.lastLoss ?? null });
  if (state) {
    state.announcedStatus = run.status;
    state.announcedAt = now;
  }
  return run;
}

/** After a commit: announce, and forget runs that have finished and are fully stored. */
export function afterCommit(ctx: HubContext, stored: Map<string, number>): void {
  for (const [runId, seq] of stored) {
    ctx.streams.stored(runId, seq);
    void announce(ctx, runId).then(() => {
      const state = ctx.runs.get(runId);
      if (state && isFinished(state.status as HubRunStatus) && state.acceptedSeq <= seq) {
        release(ctx, runId);
        ctx.schedule();
      }
    }, (error) => ctx.log(`announce ${runId}: ${error}`));
  }
}

/** Drops a finished run's in-memory state; its stream ends once everything is sent. */
export function release(ctx: HubContext, runId: string): void {
  const state = ctx.runs.get(runId);
  ctx.streams.close(runId);
  ctx.runs.delete(runId);
  // Other hubs close their copies of the stream too.
  if (state) ctx.cluster.ended(runId, state.acceptedSeq);
}

/** Changes a run's status from the hub's side (not the trainer's), in order with its events. */
export async function setRunStatus(ctx: HubContext, runId: string, status: HubRunStatus, message: string | null, extra: Record<string, unknown> = {}): Promise<RunSummary> {
  const state = await runState(ctx, runId);
  if (!state) throw new HubError('NOT_FOUND', `no run ${runId}`);
  await serialise(state, async () => {
    // Let queued event rows (and their run patches) land first so they cannot overwrite this.
    await ctx.ingest.flush();
    await ctx.db.run.update({
      where: { id: runId },
      data: { status, statusMessage: message, ...(isFinished(status) ? { endedAt: new Date() } : { endedAt: null }), ...extra },
    });
    state.status = status;
    if ('trainerId' in extra) state.trainerId = extra.trainerId as string | null;
    ctx.cluster.changed({ runId, status, trainerId: state.trainerId });
  });
  const run = (await announce(ctx, runId)) ?? (await getRunSummary(ctx, runId));
  // A trainer that still sends events for it (one coming back) loads it again.
  if (isFinished(status)) release(ctx, runId);
  return run;
}


/** Creates a queued run and asks the scheduler for a trainer. */
export async function startRun(
  ctx: HubContext,
  input: { name?: string; hyperparams: Hyperparams; reporting?: Partial<z.infer<typeof reportingSchema>> },
  actor: Actor,
): Promise<RunSummary> {
  const id = newRunId();
  const hp = input.hyperparams;
  const name = input.name ?? `${hp.optimizer} lr ${hp.learningRate} · batch ${hp.batchSize} · ${hp.epochs} epoch${hp.epochs === 1 ? '' : 's'}`;
  const row = await ctx.db.run.create({
    data: { id, name, hyperparams: hp, reporting: input.reporting ?? undefined, status: 'queued', createdBy: actor.name },
  });
  await addEventAnnotation(ctx, id, 0, actor, describeControl(actor.name, 'start'));
  // Live from the start: watchers who open it while it waits share one snapshot read.
  await runState(ctx, id);
  const run = toRunSummary(row);
  ctx.io.emit('runs:changed', { run });
  ctx.schedule();
  return run;
}

/** Applies a control command from a person; the trainer's confirmation follows as run:status. */
export async function controlRun(ctx: HubContext, runId: string, verb: ControlVerb, actor: Actor, learningRate?: number): Promise<RunSummary> {
  const state = await runState(ctx, runId);
  if (!state) throw new HubError('NOT_FOUND', `no run ${runId}`);
  if (ctx.cluster.shared && !holdsTrainer(ctx, state.trainerId)) {
    // Another hub stores this run: the database knows its status better than this hub's memory.
    await serialise(state, () => refreshRunState(ctx, runId, state));
  }
  const plan = planControl(state.status as HubRunStatus, verb);
  const from = state.learningRate ?? undefined;
  let run: RunSummary;
  switch (plan.kind) {
    case 'reject':
      throw new HubError('CONFLICT', plan.message);
    case 'stop-now':
      run = await setRunStatus(ctx, runId, 'stopped', `stopped by ${actor.name}`);
      break;
    case 'requeue':
      run = await setRunStatus(ctx, runId, 'queued', `resumed by ${actor.name}`, { trainerId: null });
      ctx.schedule();
      break;
    case 'forward': {
      const socket = (await reachableTrainers(ctx)).sockets.find((s) => s.data.trainerId === state.trainerId);
      if (!socket) throw new HubError('UNAVAILABLE', 'the run\'s trainer is disconnected; try again when it is back');
      if (verb === 'set-lr') socket.emit('job:control', { runId, action: 'set-lr', learningRate: learningRate! });
      else socket.emit('job:control', { runId, action: verb });
      run = await getRunSummary(ctx, runId);
      break;
    }
  }
  await addEventAnnotation(ctx, runId, state.lastStep, actor, describeControl(actor.name, verb, { learningRate, from }));
  return run;
}
