/**
 * A run's changes as the hub makes and tells them: its status set from the hub's side (not the
 * trainer's), and announcements to browsers (run:status to its room, runs:changed to everyone)
 * and to the other hubs. After each commit of a run's events its row is announced, and a run
 * that has finished and is fully stored is released.
 */
import { isFinished, type HubRunStatus, type RunSummary } from '../../protocol';
import type { RunChange } from '../cluster/relay';
import type { Cluster } from '../cluster/cluster';
import { HubError } from '../errors';
import type { Snapshots } from '../live/snapshot';
import { runRoom, type LiveStreams } from '../live/stream';
import type { HubServer } from '../sockets';
import type { Storage } from '../storage/storage';
import type { Ingest } from './ingest';
import type { RunRegistry } from './registry';

const RUNS_CHANGED_EVERY_MS = 1000;

export interface RunUpdatesDeps {
  storage: Pick<Storage, 'runs'>;
  registry: RunRegistry;
  ingest: Ingest;
  streams: LiveStreams;
  snapshots: Snapshots;
  cluster: Cluster;
  io: HubServer;
  log: (line: string) => void;
}

export function createRunUpdates({
  storage,
  registry,
  ingest,
  streams,
  snapshots,
  cluster,
  io,
  log,
}: RunUpdatesDeps) {
  /**
   * Something a snapshot of the run holds but the seq stream does not (notes, its status)
   * changed: snapshots here are read again, and other hubs are told before the change is
   * broadcast (one Redis connection keeps the order), so theirs are too.
   */
  function changed(runId: string, change: Omit<RunChange, 'runId'> = {}): void {
    snapshots.invalidate(runId);
    cluster.changed({ runId, ...change });
  }

  async function summary(runId: string): Promise<RunSummary> {
    const run = await storage.runs.summary(runId);
    if (!run) throw new HubError('NOT_FOUND', `no run ${runId}`);
    return run;
  }

  /**
   * Tells browsers about a run's current row: run:status to its room when the status changed,
   * runs:changed to everyone (at most once a second per run unless the status changed).
   * Resolves with the row it announced, or null when there was nothing to announce yet.
   */
  async function announce(runId: string): Promise<RunSummary | null> {
    const state = registry.get(runId);
    const now = Date.now();
    // Most commits change neither the status nor need a runs:changed yet: skip the read.
    if (
      state &&
      state.status === state.announcedStatus &&
      now - state.announcedAt < RUNS_CHANGED_EVERY_MS
    )
      return null;
    const found = await storage.runs.summaryAndTrainer(runId);
    if (!found) return null;
    const { run, trainerId } = found;
    const statusChanged = !state || state.announcedStatus !== run.status;
    if (state && !statusChanged && now - state.announcedAt < RUNS_CHANGED_EVERY_MS) return run;
    // Frames already received go out first, so a watcher never sees "completed" before the
    // last points.
    if (statusChanged) {
      streams.flush(runId);
      changed(runId, { status: run.status, trainerId });
      io.to(runRoom(runId)).emit('run:status', {
        runId,
        status: run.status,
        message: run.statusMessage,
        run,
      });
    }
    io.emit('runs:changed', { run, loss: state?.lastLoss ?? null });
    if (state) registry.announced(state, run.status, now);
    return run;
  }

  /**
   * Changes a run's status from the hub's side, in order with its events; `unassign` also lets
   * go of its trainer (back to the queue).
   */
  async function setStatus(
    runId: string,
    status: HubRunStatus,
    message: string | null,
    opts: { unassign?: boolean } = {},
  ): Promise<RunSummary> {
    const state = await registry.load(runId);
    if (!state) throw new HubError('NOT_FOUND', `no run ${runId}`);
    await registry.serialise(state, async () => {
      // Let queued event rows (and their run patches) land first so they cannot overwrite this.
      await ingest.flush();
      await storage.runs.setStatus(runId, {
        status,
        statusMessage: message,
        endedAt: isFinished(status) ? new Date() : null,
        ...(opts.unassign ? { trainerId: null } : {}),
      });
      registry.setStatus(state, status);
      if (opts.unassign) registry.setTrainer(state, null);
      cluster.changed({ runId, status, trainerId: state.trainerId });
    });
    const run = (await announce(runId)) ?? (await summary(runId));
    // A trainer that still sends events for it (one coming back) loads it again.
    if (isFinished(status)) registry.release(runId);
    return run;
  }

  // After a commit: announce, and forget runs that have finished and are fully stored.
  ingest.onCommitted((stored) => {
    for (const [runId, seq] of stored) {
      streams.stored(runId, seq);
      void announce(runId).then(
        () => {
          const state = registry.get(runId);
          if (state && isFinished(state.status) && state.accepted.highest <= seq)
            registry.release(runId);
        },
        (error) => log(`announce ${runId}: ${error}`),
      );
    }
  });

  return { changed, summary, announce, setStatus };
}
export type RunUpdates = ReturnType<typeof createRunUpdates>;
