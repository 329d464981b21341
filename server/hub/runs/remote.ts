/**
 * A change another hub made to a run (through the cluster): snapshots here are read again, and
 * this hub's state of the run (if it holds one) takes the new status and trainer.
 */
import { isFinished } from '../../protocol';
import type { RunChange } from '../cluster/relay';
import type { Snapshots } from '../live/snapshot';
import { runRoom, type LiveStreams } from '../live/stream';
import type { HubServer } from '../sockets';
import type { RunRegistry } from './registry';
import type { TrainerDirectory } from './trainerDirectory';

export interface RemoteChangeDeps {
  registry: RunRegistry;
  snapshots: Snapshots;
  streams: LiveStreams;
  trainers: Pick<TrainerDirectory, 'holds'>;
  io: HubServer;
}

export function remoteChanges({
  registry,
  snapshots,
  streams,
  trainers,
  io,
}: RemoteChangeDeps): (change: RunChange) => void {
  return (change) => {
    const { runId } = change;
    snapshots.invalidate(runId);
    const state = registry.get(runId);
    if (!state || (change.status === undefined && change.trainerId === undefined)) return;
    void registry.serialise(state, async () => {
      if (change.status !== undefined) registry.setStatus(state, change.status);
      if (change.trainerId !== undefined) registry.setTrainer(state, change.trainerId);
      // Finished elsewhere: this hub only knew the run (it was started or controlled here), and
      // forgets it, or runs started from one hub and trained through another would pile up here.
      if (
        isFinished(state.status) &&
        !trainers.holds(state.trainerId) &&
        registry.get(runId) === state
      ) {
        registry.forget(state);
        // Its own watchers' stream closes when the run's stream ends or when they leave.
        if (!io.sockets.adapter.rooms.get(runRoom(runId))?.size) streams.close(runId);
      }
    });
  };
}
