/**
 * The run registry: the one owner of the hub's in-memory state of each run it streams. It
 * alone creates (on the first event, watch or command), changes and releases that state;
 * everyone else reads it through {@link RunState}'s read-only fields and calls the registry.
 * Work on one run (its events, its status changes) is serialised through {@link RunRegistry.serialise}.
 */
import type { RunUpdate } from '../../db/rows';
import {
  isFinished,
  MAX_LEARNING_RATE_CHANGES,
  MAX_SEQ_AHEAD,
  type HubRunStatus,
  type LearningRateChange,
} from '../../protocol';
import { assertNever, type TrainerEvent } from '../../trainer/events';
import { HubError } from '../errors';
import type { LiveStreams } from '../live/stream';
import { progressOf } from '../storage/runList';
import type { Storage } from '../storage/storage';
import { canTransition } from './lifecycle';
import { SeqSet, type SeqView } from './seqSet';

/** What the hub knows of a run while it streams. */
export interface RunState {
  readonly runId: string;
  readonly status: HubRunStatus;
  readonly trainerId: string | null;
  /** The seqs accepted (queued for storage); replays of them are dropped. */
  readonly accepted: SeqView;
  /** Every event up to this seq is in the database, as the hub last read it (the ingest's base). */
  readonly dbSeq: number;
  readonly lastStep: number;
  readonly learningRate: number | null;
  /** The learning rate's history (protocol's RunSummary.learningRates). */
  readonly learningRates: readonly LearningRateChange[];
  /** Latest batch loss received. */
  readonly lastLoss: number | null;
  /** How many steps the run takes, once its trainer said (for the list's progress column). */
  readonly totalSteps: number | null;
  /** Status last announced to browsers (run:status). */
  readonly announcedStatus: HubRunStatus;
  /** When runs:changed last went out for this run (ms). */
  readonly announcedAt: number;
  /** Resolves when the latest accepted events are committed (with the stored seq). */
  readonly lastStore: Promise<number>;
}

type Held = { -readonly [K in Exclude<keyof RunState, 'accepted'>]: RunState[K] } & {
  readonly accepted: SeqSet;
  chain: Promise<unknown>;
};

/** Events a trainer sent that the run had not accepted yet, and the Run row's changes they imply. */
export interface Accepted {
  fresh: TrainerEvent[];
  patch: RunUpdate;
}

export interface RunRegistryDeps {
  storage: Pick<Storage, 'runs'>;
  streams: LiveStreams;
  log: (line: string) => void;
}

export function createRunRegistry({ storage, streams, log }: RunRegistryDeps) {
  const runs = new Map<string, Held>();
  /** Every state handed out, to its writable self (a released one stays writable for work in flight). */
  const states = new WeakMap<RunState, Held>();
  const loading = new Map<string, Promise<RunState | null>>();
  const releasedListeners: Array<(runId: string, acceptedSeq: number) => void> = [];

  const own = (state: RunState): Held => {
    const held = states.get(state);
    if (!held) throw new Error(`run ${state.runId}: a state the registry did not create`);
    return held;
  };

  async function loadState(runId: string): Promise<RunState | null> {
    const run = await storage.runs.state(runId);
    if (!run) return null;
    const again = runs.get(runId);
    if (again) return again;
    const held: Held = {
      runId,
      status: run.status,
      trainerId: run.trainerId,
      accepted: new SeqSet(run.lastSeq),
      dbSeq: run.lastSeq,
      lastStep: run.lastStep,
      learningRate: run.learningRates.at(-1)?.value ?? null,
      learningRates: run.learningRates,
      lastLoss: null,
      totalSteps: run.totalSteps,
      lastStore: Promise.resolve(run.lastSeq),
      announcedStatus: run.status,
      announcedAt: 0,
      chain: Promise.resolve(),
    };
    states.set(held, held);
    runs.set(runId, held);
    streams.open(runId, run.lastSeq);
    return held;
  }

  /** Records the rate in force from `step` on, in the state and the row's patch. */
  function changeLearningRate(held: Held, patch: RunUpdate, step: number, value: number): void {
    patch.currentLearningRate = value;
    // A second change before any step used the first (both while paused) replaces it; one
    // back to the rate before leaves no change at all.
    const kept =
      held.learningRates.at(-1)?.step === step
        ? held.learningRates.slice(0, -1)
        : held.learningRates;
    const next = kept.at(-1)?.value === value ? [...kept] : [...kept, { step, value }];
    // A run that changes it at every step keeps its first value and the latest changes.
    patch.learningRates = held.learningRates =
      next.length > MAX_LEARNING_RATE_CHANGES
        ? [next[0], ...next.slice(-(MAX_LEARNING_RATE_CHANGES - 1))]
        : next;
  }

  function setStatus(held: Held, patch: RunUpdate, to: HubRunStatus, message: string | null): void {
    const from = held.status;
    if (!canTransition(from, to)) {
      log(`run ${held.runId}: ignoring status ${to} reported while ${from}`);
      return;
    }
    held.status = to;
    patch.status = to;
    patch.statusMessage = message;
    if (!isFinished(to)) patch.endedAt = null;
  }

  /** The Run row's changes that these events imply; applies them to the run's state. */
  function patchFor(held: Held, events: TrainerEvent[]): RunUpdate {
    const patch: RunUpdate = {};
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
            progress: progressOf(held.lastStep, e.totalSteps),
          });
          held.totalSteps = e.totalSteps;
          held.learningRate = e.hyperparams.learningRate;
          setStatus(held, patch, 'running', null);
          break;
        case 'metrics:batch': {
          // A stretch filled in late (after a hole) moves neither the step nor the rate back.
          const newest = e.point.step > held.lastStep || held.learningRates.length === 0;
          patch.lastStep = held.lastStep = Math.max(held.lastStep, e.point.step);
          patch.progress = progressOf(held.lastStep, held.totalSteps);
          if (!newest) break;
          held.learningRate = e.point.learningRate;
          held.lastLoss = e.point.loss;
          // The list sorts by the latest loss there is: a diverged batch's (null) keeps the one before.
          if (e.point.loss !== null) patch.lastLoss = e.point.loss;
          if (held.learningRates.at(-1)?.value !== e.point.learningRate)
            changeLearningRate(held, patch, e.point.step, e.point.learningRate);
          break;
        }
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
          setStatus(held, patch, e.status, e.message ?? null);
          if (isFinished(e.status)) patch.endedAt = new Date(e.time);
          break;
        case 'control':
          if (e.action === 'set-lr' && e.learningRate) {
            held.learningRate = e.learningRate;
            // The trainer took the new rate (a paused one at once): it is the run's rate from its
            // next step, so everyone sees it now, not at the first batch after a resume.
            const last = held.learningRates.at(-1);
            if (last?.value !== e.learningRate && e.step + 1 >= (last?.step ?? 0)) {
              changeLearningRate(held, patch, e.step + 1, e.learningRate);
              // Announced with this commit even if the run's row went out less than a second ago.
              held.announcedAt = 0;
            }
          }
          break;
        case 'predictions':
        case 'phase':
        case 'misclassified':
        case 'checkpoint':
        case 'metrics:nonfinite':
          break;
        default:
          assertNever(e);
      }
    }
    return patch;
  }

  return {
    get: (runId: string): RunState | undefined => runs.get(runId),
    has: (runId: string): boolean => runs.has(runId),
    /** Runs held now. */
    size: (): number => runs.size,

    /**
     * Loads (or returns) the state of a run and opens its live stream; null when there is no
     * such run. Callers that ask while it loads share one load and get it in the order they
     * asked: a trainer's pipelined messages reaching a freshly started hub must be accepted in
     * the order they arrived.
     */
    load(runId: string): Promise<RunState | null> {
      const known = runs.get(runId);
      if (known) return Promise.resolve(known);
      let load = loading.get(runId);
      if (!load) {
        load = loadState(runId).finally(() => loading.delete(runId));
        loading.set(runId, load);
      }
      return load;
    },

    /** Runs `task` after everything queued before it for this run. */
    serialise<T>(state: RunState, task: () => Promise<T>): Promise<T> {
      const held = own(state);
      const next = held.chain.then(task, task);
      held.chain = next.catch(() => undefined);
      return next;
    },

    /**
     * Takes a run's status, trainer and stored seq from the database, where another hub may
     * have changed them (with several hubs, only the hub its trainer is connected to knows it better).
     */
    async refresh(state: RunState): Promise<void> {
      const row = await storage.runs.state(state.runId);
      if (!row) return;
      const held = own(state);
      held.trainerId = row.trainerId;
      held.status = row.status;
      held.dbSeq = Math.max(held.dbSeq, row.lastSeq);
      // Stored elsewhere up to there, every seq of it.
      held.accepted.raise(row.lastSeq);
    },

    /**
     * Accepts the events above the accepted seq, in seq order: the run's state takes what they
     * say (status, step, learning rate) and `patch` is what the Run row takes with them. Null
     * when every event was accepted before (a replay).
     * @throws HubError INVALID for two events with one seq, or a seq more than MAX_SEQ_AHEAD past the accepted one.
     */
    accept(state: RunState, events: TrainerEvent[]): Accepted | null {
      const held = own(state);
      const { accepted } = held;
      const fresh = events.filter((e) => !accepted.has(e.seq)).sort((a, b) => a.seq - b.seq);
      if (fresh.length === 0) return null;
      const last = fresh[fresh.length - 1].seq;
      if (last > accepted.gapless + MAX_SEQ_AHEAD) {
        throw new HubError(
          'INVALID',
          `seq ${last} is more than ${MAX_SEQ_AHEAD.toLocaleString('en-US')} past the last seq run ${held.runId} accepted (${accepted.gapless}): refused`,
        );
      }
      for (let i = 1; i < fresh.length; i++) {
        if (fresh[i].seq === fresh[i - 1].seq)
          throw new HubError('INVALID', `duplicate seq ${fresh[i].seq} in one message`);
      }
      const highest = accepted.highest;
      if (fresh[0].seq > highest + 1)
        log(
          `run ${held.runId}: events jump from seq ${highest} to ${fresh[0].seq}; storing what arrived`,
        );
      const patch = patchFor(held, fresh);
      for (const e of fresh) accepted.add(e.seq);
      return { fresh, patch };
    },

    /**
     * Records the commit of accepted events (from seq `firstSeq` on): acknowledgements wait
     * for it; if it fails, those seqs (and any accepted after them) are accepted again when the
     * trainer resends them.
     */
    storing(state: RunState, commit: Promise<number>, firstSeq: number): Promise<number> {
      const held = own(state);
      const stored = commit.catch((error: unknown) => {
        held.accepted.dropFrom(firstSeq);
        throw error;
      });
      held.lastStore = stored;
      stored.catch(() => {}); // awaited by the caller; a later duplicate may await it again
      return stored;
    },

    /** The hub (not the trainer) set the run's status, and maybe let go of its trainer. */
    setStatus(state: RunState, status: HubRunStatus): void {
      own(state).status = status;
    },

    /** The run's trainer, as this hub or another one assigned it (null: none). */
    setTrainer(state: RunState, trainerId: string | null): void {
      own(state).trainerId = trainerId;
    },

    /** What browsers were last told about the run, and when. */
    announced(state: RunState, status: HubRunStatus, at: number): void {
      const held = own(state);
      held.announcedStatus = status;
      held.announcedAt = at;
    },

    /** Drops a finished run's state; its stream ends once everything is sent. */
    release(runId: string): void {
      const held = runs.get(runId);
      streams.close(runId);
      runs.delete(runId);
      if (held) for (const l of releasedListeners) l(runId, held.accepted.highest);
    },

    /** Forgets a run another hub finished (this hub only knew it); its stream is the caller's. */
    forget(state: RunState): void {
      if (runs.get(state.runId) === state) runs.delete(state.runId);
    },

    /** Calls `listener` after each release, with the run's accepted seq. */
    onReleased(listener: (runId: string, acceptedSeq: number) => void): void {
      releasedListeners.push(listener);
    },
  };
}
export type RunRegistry = ReturnType<typeof createRunRegistry>;
