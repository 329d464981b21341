/**
 * Receiving a trainer's events for a run: de-duplicate replays by seq, publish the fresh ones
 * to the watchers at once, queue them for storage, and turn run-level events (started, status,
 * epoch results) into updates of the Run row. Handling is serialised per run.
 */
import type { HubRunStatus } from '../protocol';
import type { TrainerEvent } from '../trainer/events';
import { HubError, type HubContext, type RunState } from './context';
import type { RunPatch } from './ingest';
import { canTransition, isFinished } from './lifecycle';
import { release } from './runs';
import { toWireEvent } from './wire';

const loading = new WeakMap<HubContext, Map<string, Promise<RunState | null>>>();

/**
 * Loads (or returns) the hub's state for a run and opens its live stream. Callers that ask
 * while it loads share one load and get it in the order they asked: a trainer's pipelined
 * messages reaching a freshly started hub must be accepted in the order they arrived.
 */
export function runState(ctx: HubContext, runId: string): Promise<RunState | null> {
  const known = ctx.runs.get(runId);
  if (known) return Promise.resolve(known);
  let map = loading.get(ctx);
  if (!map) loading.set(ctx, (map = new Map()));
  let load = map.get(runId);
  if (!load) {
    load = loadRunState(ctx, runId).finally(() => map!.delete(runId));
    map.set(runId, load);
  }
  return load;
}

async function loadRunState(ctx: HubContext, runId: string): Promise<RunState | null> {
  const run = await ctx.db.run.findUnique({ where: { id: runId } });
  if (!run) return null;
  const again = ctx.runs.get(runId);
  if (again) return again;
  const state: RunState = {
    status: run.status,
    trainerId: run.trainerId,
    acceptedSeq: run.lastSeq,
    lastStep: run.lastStep,
    learningRate: null,
    lastLoss: null,
    lastStore: Promise.resolve(run.lastSeq),
    announcedStatus: run.status,
    announcedAt: 0,
    chain: Promise.resolve(),
  };
  ctx.runs.set(runId, state);
  ctx.streams.open(runId, run.lastSeq);
  return state;
}

/** Runs `task` after everything queued before it for this run. */
export function serialise<T>(state: RunState, task: () => Promise<T>): Promise<T> {
  const next = state.chain.then(task, task);
  state.chain = next.catch(() => undefined);
  return next;
}

/**
 * Accepts events from the trainer holding the run; resolves with the run's stored seq once
 * they are committed.
 */
export async function receiveEvents(ctx: HubContext, trainerId: string, runId: string, events: TrainerEvent[]): Promise<number> {
  const state = await runState(ctx, runId);
  if (!state) throw new HubError('NOT_FOUND', `no run ${runId}`);
  // Only acceptance is serialised (de-duplication, publishing, queueing for storage); the wait
  // for the commit is not, so messages the trainer pipelines are published as they arrive.
  const { stored } = await serialise(state, async (): Promise<{ stored: Promise<number> }> => {
    if (!(await isAssignedTo(ctx, runId, state, trainerId))) throw new HubError('FORBIDDEN', `run ${runId} is not assigned to trainer ${trainerId}`);
    if (events.some((e) => e.runId !== runId)) throw new HubError('INVALID', 'every event must carry the runId of the message');
    const fresh = events.filter((e) => e.seq > state.acceptedSeq).sort((a, b) => a.seq - b.seq);
    if (fresh.length === 0) {
      // A replay of what is stored already (e.g. after the run finished): nothing to keep open.
      if (isFinished(state.status as HubRunStatus)) release(ctx, runId);
      // Acknowledge only once what was accepted before is committed.
      return { stored: state.lastStore };
    }
    if (fresh[0].seq !== state.acceptedSeq + 1) {
      ctx.log(`run ${runId}: events jump from seq ${state.acceptedSeq} to ${fresh[0].seq}; storing what arrived`);
    }
    for (let i = 1; i < fresh.length; i++) {
      if (fresh[i].seq === fresh[i - 1].seq) throw new HubError('INVALID', `duplicate seq ${fresh[i].seq} in one message`);
    }
    const receivedAt = Date.now();
    const patch = patchFor(ctx, runId, state, fresh);
    state.acceptedSeq = fresh[fresh.length - 1].seq;
    const wire = fresh.map((e) => toWireEvent(e, receivedAt));
    ctx.streams.publish(runId, wire);
    ctx.cluster.append(runId, wire, ctx.streams.storedSeq(runId) ?? 0);
    const storing = ctx.ingest.store(runId, fresh, patch).catch((error: unknown) => {
      // Not stored: accept these seqs again when the trainer resends them.
      state.acceptedSeq = Math.min(state.acceptedSeq, fresh[0].seq - 1);
      throw error;
    });
    state.lastStore = storing;
    storing.catch(() => {}); // awaited below; a later duplicate may await it again
    return { stored: storing };
  });
  return stored;
}

/**
 * Whether the run is the trainer's. When this hub's memory says no, the database decides:
 * another hub's scheduler may have assigned it, or the trainer moved here from another hub.
 */
export async function isAssignedTo(ctx: HubContext, runId: string, state: RunState, trainerId: string): Promise<boolean> {
  if (state.trainerId !== trainerId) await refreshRunState(ctx, runId, state);
  return state.trainerId === trainerId;
}

/**
 * Takes a run's status, trainer and stored seq from the database, where another hub may have
 * changed them (with several hubs, only the hub its trainer is connected to knows it better).
 */
export async function refreshRunState(ctx: HubContext, runId: string, state: RunState): Promise<void> {
  const row = await ctx.db.run.findUnique({ where: { id: runId }, select: { trainerId: true, status: true, lastSeq: true } });
  if (!row) return;
  state.trainerId = row.trainerId;
  state.status = row.status;
  state.acceptedSeq = Math.max(state.acceptedSeq, row.lastSeq);
}

/** The Run row's changes that these events imply; applies status changes to `state`. */
function patchFor(ctx: HubContext, runId: string, state: RunState, events: TrainerEvent[]): RunPatch {
  const patch: RunPatch = {};
  for (const e of events) {
    switch (e.type) {
      case 'run:started':
        Object.assign(patch, {
          backend: e.backend.name,
          device: e.backend.device,
          trainerHost: e.backend.host,
          trainSize: e.trainSize,
          testSize: e.testSize,
          batchesPerEpoch: e.batchesPerEpoch,
          totalSteps: e.totalSteps,
          ...(e.startStep === 0 ? { startedAt: new Date(e.time) } : {}),
        });
        state.learningRate = e.hyperparams.learningRate;
        setStatus(ctx, runId, state, patch, 'running', null);
        break;
      case 'metrics:batch':
        patch.lastStep = state.lastStep = e.point.step;
        state.learningRate = e.point.learningRate;
        state.lastLoss = e.point.loss;
        break;
      case 'metrics:epoch':
        Object.assign(patch, {
          finalTrainLoss: e.summary.trainLoss,
          finalTrainAccuracy: e.summary.trainAccuracy,
          finalTestLoss: e.summary.testLoss,
          finalTestAccuracy: e.summary.testAccuracy,
          samplesPerSec: e.summary.samplesPerSec,
        });
        break;
      case 'status':
        setStatus(ctx, runId, state, patch, e.status, e.message ?? null);
        if (isFinished(e.status)) patch.endedAt = new Date(e.time);
        break;
      case 'control':
        if (e.action === 'set-lr' && e.learningRate) state.learningRate = e.learningRate;
        break;
      case 'predictions':
      case 'phase':
      case 'misclassified':
      case 'checkpoint':
        break;
    }
  }
  return patch;
}

function setStatus(ctx: HubContext, runId: string, state: RunState, patch: RunPatch, to: HubRunStatus, message: string | null): void {
  const from = state.status as HubRunStatus;
  if (!canTransition(from, to)) {
    ctx.log(`run ${runId}: ignoring status ${to} reported while ${from}`);
    return;
  }
  state.status = to;
  patch.status = to;
  patch.statusMessage = message;
  if (!isFinished(to)) patch.endedAt = null;
}
