/**
 * A run as a watcher holds it (a {@link RunView}): the snapshot from `run:watch`, then live
 * messages applied in seq order. Pure (no sockets, no React) so the catch-up rules are
 * unit-tested: a message that starts after a gap asks for a re-watch with `afterSeq`, one
 * already seen is ignored.
 */
import { assertNever, type PresenceUser, type RunSnapshot, type RunSummary, type StreamMessage, type WireAnnotation, type WireEpoch, type WirePanel, type WirePoint } from '../../server/protocol';

export type { StreamMessage };

export interface Progress {
  phase: 'train' | 'eval-train' | 'eval-test';
  epoch: number;
  done: number;
  total: number;
}

export interface RunView {
  run: RunSummary | null;
  /** Batch points in seq order; appended in place (watch `version`). */
  points: WirePoint[];
  epochs: WireEpoch[];
  annotations: WireAnnotation[];
  presence: PresenceUser[];
  predictions: WirePanel | null;
  progress: Progress | null;
  /** Misclassified counts of epochs announced live (the list itself is fetched on demand). */
  misclassifiedTotals: Map<number, number>;
  /** Highest seq applied. */
  lastSeq: number;
  /** Bumped on every change, for cheap change detection. */
  version: number;
}

export function emptyRunView(): RunView {
  return { run: null, points: [], epochs: [], annotations: [], presence: [], predictions: null, progress: null, misclassifiedTotals: new Map(), lastSeq: 0, version: 0 };
}

/**
 * Applies a `run:watch` answer. `afterSeq` is what was asked: with 0 the state is replaced,
 * otherwise the snapshot's points continue the ones held.
 */
export function applySnapshot(state: RunView, snap: RunSnapshot, afterSeq: number): void {
  if (afterSeq === 0) state.points.length = 0;
  else if (state.points.length && state.points[state.points.length - 1].seq > afterSeq) {
    // Keep only what precedes the catch-up (it came from this same hub history).
    let keep = state.points.length;
    while (keep > 0 && state.points[keep - 1].seq > afterSeq) keep--;
    state.points.length = keep;
  }
  for (const p of snap.points) state.points.push(p);
  state.run = snap.run;
  state.epochs = snap.epochs;
  state.annotations = snap.annotations;
  state.presence = snap.presence;
  state.predictions = snap.predictions ?? state.predictions;
  state.lastSeq = Math.max(snap.lastSeq, afterSeq);
  state.version++;
}

/** Applies a live message: 'ok', 'seen' (nothing new), or 'gap' (re-watch with afterSeq = lastSeq). */
export function applyMessage(state: RunView, m: StreamMessage): 'ok' | 'seen' | 'gap' {
  const { fromSeq, toSeq } = m.msg;
  if (toSeq <= state.lastSeq) return 'seen';
  if (fromSeq > state.lastSeq + 1) return 'gap';
  switch (m.event) {
    case 'metrics:batch':
      for (const p of m.msg.points) if (p.seq > state.lastSeq) state.points.push(p);
      break;
    case 'metrics:epoch':
      state.epochs = [...state.epochs.filter((e) => e.epoch !== m.msg.epoch.epoch), m.msg.epoch];
      break;
    case 'run:predictions':
      state.predictions = m.msg.panel;
      break;
    case 'run:misclassified':
      state.misclassifiedTotals.set(m.msg.epoch, m.msg.total);
      break;
    case 'run:progress':
      state.progress = { phase: m.msg.phase, epoch: m.msg.epoch, done: m.msg.done, total: m.msg.total };
      break;
    default:
      assertNever(m);
  }
  state.lastSeq = toSeq;
  state.version++;
  return 'ok';
}

/** Applies an annotation change from the room. */
export function applyAnnotation(state: RunView, change: { added?: WireAnnotation; edited?: WireAnnotation; deleted?: number }): void {
  if (change.added && !state.annotations.some((a) => a.id === change.added!.id)) state.annotations = [...state.annotations, change.added];
  if (change.edited) state.annotations = state.annotations.map((a) => (a.id === change.edited!.id ? change.edited! : a));
  if (change.deleted !== undefined) state.annotations = state.annotations.filter((a) => a.id !== change.deleted);
  state.version++;
}

/**
 * Estimated seconds left: steps to go at the recent throughput, plus the evaluation time per
 * remaining epoch end measured so far. Null until there is something to go on.
 */
export function etaSeconds(state: RunView): number | null {
  const run = state.run;
  const last = state.points[state.points.length - 1];
  if (!run || !last || !run.totalSteps || !run.batchesPerEpoch) return null;
  const recent = state.points.slice(-50);
  const sps = recent.reduce((a, p) => a + p.samplesPerSec, 0) / recent.length;
  if (!(sps > 0)) return null;
  const batch = run.hyperparams.batchSize;
  const train = ((run.totalSteps - last.step) * batch) / sps;
  const evalMs = state.epochs.length ? state.epochs.reduce((a, e) => a + e.evalMs, 0) / state.epochs.length : 0;
  const epochsLeft = run.hyperparams.epochs - (last.epoch - 1);
  return Math.max(0, train + (epochsLeft * evalMs) / 1000);
}
