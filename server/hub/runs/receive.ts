/**
 * Receiving a trainer's events for a run: de-duplicate replays by seq, publish the fresh ones
 * to the watchers at once (and to the other hubs), queue them for storage, and apply what they
 * say to the run (its registry state and its row). Acceptance is serialised per run.
 */
import { isFinished } from '../../protocol';
import type { ControlAction } from '../../trainer/control';
import type { TrainerEvent } from '../../trainer/events';
import type { Cluster } from '../cluster/cluster';
import { HubError } from '../errors';
import type { LiveStreams } from '../live/stream';
import { toWireEvent } from '../live/wire';
import { notesIn } from '../storage/events';
import type { Ingest } from './ingest';
import type { RunRegistry, RunState } from './registry';

export interface ReceiverDeps {
  registry: RunRegistry;
  streams: LiveStreams;
  cluster: Cluster;
  ingest: Ingest;
  /** Called once events that carry notes (a metric became NaN...) are committed, with their seqs. */
  onNotesStored: (runId: string, seqs: number[]) => Promise<void>;
  /** A trainer applied a person's control command (its `control` event), at this step. */
  onControlApplied: (runId: string, action: ControlAction, step: number) => void;
  log: (line: string) => void;
}

export function createEventReceiver({
  registry,
  streams,
  cluster,
  ingest,
  onNotesStored,
  onControlApplied,
  log,
}: ReceiverDeps) {
  /**
   * Whether the run is the trainer's. When this hub's memory says no, the database decides:
   * another hub's scheduler may have assigned it, or the trainer moved here from another hub.
   */
  async function isAssignedTo(state: RunState, trainerId: string): Promise<boolean> {
    if (state.trainerId !== trainerId) await registry.refresh(state);
    return state.trainerId === trainerId;
  }

  /**
   * Accepts events from the trainer holding the run; resolves with the run's stored seq once
   * they are committed.
   */
  async function receive(
    trainerId: string,
    runId: string,
    events: TrainerEvent[],
  ): Promise<number> {
    const state = await registry.load(runId);
    if (!state) throw new HubError('NOT_FOUND', `no run ${runId}`);
    // Only acceptance is serialised (de-duplication, publishing, queueing for storage); the wait
    // for the commit is not, so messages the trainer pipelines are published as they arrive.
    const { stored } = await registry.serialise(
      state,
      async (): Promise<{ stored: Promise<number> }> => {
        if (!(await isAssignedTo(state, trainerId))) {
          // Ended and held by no trainer (the hub failed it over the trainer's ack, or stopped it
          // while no trainer held it): nothing more is stored, and the trainer should let it go.
          if (isFinished(state.status) && state.trainerId === null)
            throw new HubError(
              'GONE',
              `run ${runId} is ${state.status} on the hub and no longer this trainer's: stop training it and drop its events`,
            );
          throw new HubError('FORBIDDEN', `run ${runId} is not assigned to trainer ${trainerId}`);
        }
        if (events.some((e) => e.runId !== runId))
          throw new HubError('INVALID', 'every event must carry the runId of the message');
        // Events past a missing seq: the database may hold that stretch already (stored through
        // another hub while the trainer was connected there); ask it before calling it a hole.
        if (events.every((e) => e.seq > state.accepted.gapless + 1)) await registry.refresh(state);
        const accepted = registry.accept(state, events);
        if (!accepted) {
          // A replay of what is stored already (e.g. after the run finished): nothing to keep open.
          if (isFinished(state.status)) registry.release(runId);
          // Acknowledge only once what was accepted before is committed.
          return { stored: state.lastStore };
        }
        const { fresh, patch } = accepted;
        const receivedAt = Date.now();
        const wire = fresh.map((e) => toWireEvent(e, receivedAt));
        streams.publish(runId, wire);
        cluster.append(runId, wire, streams.storedSeq(runId) ?? 0);
        const stored = registry.storing(
          state,
          ingest.store(runId, fresh, patch, state.dbSeq),
          fresh[0].seq,
        );
        for (const e of fresh) if (e.type === 'control') onControlApplied(runId, e.action, e.step);
        const noted = notesIn(fresh);
        if (noted.length) {
          stored
            .then(() => onNotesStored(runId, noted))
            .catch((error: unknown) =>
              log(
                `run ${runId}: notes at seqs ${noted.join(', ')} not shown: ${error instanceof Error ? error.message : error}`,
              ),
            );
        }
        return { stored };
      },
    );
    return stored;
  }

  return { receive, isAssignedTo };
}
export type EventReceiver = ReturnType<typeof createEventReceiver>;
