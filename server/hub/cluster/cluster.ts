/**
 * The other hubs. With several hubs on one database and one Redis, a {@link Cluster} carries
 * what one hub tells the others: a run's accepted events (so each hub feeds its own watchers'
 * live streams), that a run's stream ended, that a run changed. It is transport only: what a
 * change means for this hub's runs is the caller's (runs/remote.ts). Alone, a hub uses
 * {@link soloCluster}, which does nothing: it feeds its streams directly.
 */
import type { WireEvent } from '../../protocol';
import type { RunChange } from './relay';

export interface Cluster {
  readonly hubId: string;
  /** Whether other hubs may exist (Redis configured). */
  readonly shared: boolean;
  /** The storing hub hands accepted events to the other hubs. */
  append(runId: string, events: WireEvent[], storedSeq: number): void;
  /** The run's live stream ended here: finished and stored up to `storedSeq`. */
  ended(runId: string, storedSeq: number): void;
  /** One more local socket watches the run: keep its live stream fed. */
  follow(runId: string): Promise<void>;
  /** One local socket fewer watches the run. */
  unfollow(runId: string): void;
  /** Tells the other hubs that a run changed (its snapshot, and maybe status or trainer). */
  changed(change: RunChange): void;
  /** Whether Redis answers (always true for one hub alone). */
  reachable(): boolean;
  /** Runs whose Redis stream this hub reads for its own watchers. */
  relaying(): number;
  close(): Promise<void>;
}

/** One hub alone: its streams are fed by its own trainers. */
export function soloCluster(): Cluster {
  return {
    hubId: 'solo',
    shared: false,
    append() {},
    ended() {},
    follow: async () => {},
    unfollow() {},
    changed() {},
    reachable: () => true,
    relaying: () => 0,
    close: async () => {},
  };
}
