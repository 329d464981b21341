/**
 * A run as a watcher holds it (a {@link RunView}): the snapshot from `run:watch`, then live
 * messages applied in seq order. Pure (no sockets, no React) so the catch-up rules are
 * unit-tested: a message that starts after a gap asks for a re-watch with `afterSeq`, one
 * already seen is ignored.
 */
import {
  bucketize,
  coarsen,
  fromBucketColumns,
  fromPointColumns,
  HEAD_STEPS,
  mergeBuckets,
  OVERVIEW_MAX_BUCKETS,
  TAIL_POINTS,
  widthFor,
  type Bucket,
} from '../../server/columns';
import {
  assertNever,
  type PresenceUser,
  type RunSnapshot,
  type RunSummary,
  type StreamMessage,
  type WireAnnotation,
  type WireEpoch,
  type WirePredictions,
  type WirePoint,
} from '../../server/protocol';

export type { StreamMessage };

export interface Progress {
  phase: 'train' | 'eval-train' | 'eval-test';
  epoch: number;
  done: number;
  total: number;
}

export interface RunView {
  run: RunSummary | null;
  /**
   * The raw batch points after the overview, in seq order; appended in place (watch `version`).
   * Bounded: once it holds more than {@link TAIL_LIMIT}, its oldest points are folded into the
   * overview (a new array).
   */
  points: WirePoint[];
  /** Buckets of one width summarising the points between `head` and `points[0]`; null when `points` holds them all. */
  overview: Bucket[] | null;
  /** With an overview: the run's first points, raw (the steep start of training). */
  head: WirePoint[];
  /** Batch points in the run up to lastSeq (overview + points). */
  pointCount: number;
  /** How many notes the run has (the snapshot carries the newest). */
  annotationsTotal: number;
  epochs: WireEpoch[];
  annotations: WireAnnotation[];
  presence: PresenceUser[];
  predictions: WirePredictions | null;
  progress: Progress | null;
  /** Misclassified counts of epochs announced live (the list itself is fetched on demand). */
  misclassifiedTotals: Map<number, number>;
  /** Highest seq applied. */
  lastSeq: number;
  /** Bumped on every change, for cheap change detection. */
  version: number;
}

export function emptyRunView(): RunView {
  return {
    run: null,
    points: [],
    overview: null,
    head: [],
    pointCount: 0,
    annotationsTotal: 0,
    epochs: [],
    annotations: [],
    presence: [],
    predictions: null,
    progress: null,
    misclassifiedTotals: new Map(),
    lastSeq: 0,
    version: 0,
  };
}

/** Raw points a view keeps at most before folding the oldest into its overview. */
export const TAIL_LIMIT = 4 * TAIL_POINTS;

/**
 * Keeps a view bounded however long it is watched: raw points beyond {@link TAIL_LIMIT} are
 * folded into the overview's buckets (the hub's widths, so the overview stays what the hub
 * would send), keeping the last {@link TAIL_POINTS} steps or so raw; an overview grown past
 * twice {@link OVERVIEW_MAX_BUCKETS} is coarsened to the next width (exact: 4 buckets make one).
 */
export function foldTail(state: RunView): void {
  const points = state.points;
  if (points.length <= TAIL_LIMIT) return;
  const last = points[points.length - 1];
  const width = state.overview?.[0]?.width ?? widthFor(last.step);
  // Whole buckets only, up to the bucket before the last TAIL_POINTS steps.
  const cut = Math.floor((last.step - TAIL_POINTS) / width) * width;
  let keep = 0;
  while (keep < points.length && points[keep].step < cut) keep++;
  if (keep === 0) return;
  let folding = points.slice(0, keep);
  if (!state.overview) {
    // The first fold keeps the start raw, as the hub's snapshot does (HEAD_STEPS).
    const headEnd = Math.ceil(HEAD_STEPS / width) * width;
    state.head = folding.filter((p) => p.step < headEnd);
    folding = folding.filter((p) => p.step >= headEnd);
  }
  const folded = bucketize(folding, width);
  const overview = state.overview ? state.overview.slice() : [];
  for (const b of folded) {
    const prev = overview[overview.length - 1];
    if (prev && prev.index === b.index) overview[overview.length - 1] = mergeBuckets(prev, b);
    else overview.push(b);
  }
  let coarse = overview;
  while (coarse.length > 2 * OVERVIEW_MAX_BUCKETS) coarse = coarsen(coarse);
  state.overview = coarse;
  state.points = points.slice(keep);
}

/**
 * Applies a `run:watch` answer. `afterSeq` is what was asked: with 0 the state is replaced,
 * otherwise the snapshot's points continue the ones held.
 */
export function applySnapshot(state: RunView, snap: RunSnapshot, afterSeq: number): void {
  const tail = fromPointColumns(snap.series.tail);
  if (snap.series.full || afterSeq === 0) {
    // The whole series: what was held is replaced.
    state.points = tail;
    state.overview = snap.series.overview ? fromBucketColumns(snap.series.overview) : null;
    state.head = snap.series.head ? fromPointColumns(snap.series.head) : [];
  } else {
    if (state.points.length && state.points[state.points.length - 1].seq > afterSeq) {
      // Keep only what precedes the catch-up (it came from this same hub history).
      let keep = state.points.length;
      while (keep > 0 && state.points[keep - 1].seq > afterSeq) keep--;
      state.points.length = keep;
    }
    for (const p of tail) state.points.push(p);
  }
  foldTail(state);
  state.pointCount = countPoints(state);
  state.annotationsTotal = snap.annotationsTotal;
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
      for (const p of fromPointColumns(m.msg.points)) {
        if (p.seq <= state.lastSeq) continue;
        state.points.push(p);
        state.pointCount++;
      }
      foldTail(state);
      // Training again: the evaluation before is over.
      if (state.progress && state.progress.phase !== 'train') state.progress = null;
      break;
    case 'metrics:epoch':
      state.epochs = [...state.epochs.filter((e) => e.epoch !== m.msg.epoch.epoch), m.msg.epoch];
      // The epoch's results are in: its evaluation is done.
      if (state.progress && state.progress.epoch <= m.msg.epoch.epoch) state.progress = null;
      break;
    case 'run:predictions':
      state.predictions = m.msg.panel;
      break;
    case 'run:misclassified':
      state.misclassifiedTotals.set(m.msg.epoch, m.msg.total);
      break;
    case 'run:progress':
      state.progress = {
        phase: m.msg.phase,
        epoch: m.msg.epoch,
        done: m.msg.done,
        total: m.msg.total,
      };
      break;
    default:
      assertNever(m);
  }
  state.lastSeq = toSeq;
  state.version++;
  return 'ok';
}

function countPoints(state: RunView): number {
  let n = state.points.length + state.head.length;
  for (const b of state.overview ?? []) n += b.count;
  return n;
}

/** Applies an annotation change from the room. */
export function applyAnnotation(
  state: RunView,
  change: { added?: WireAnnotation; edited?: WireAnnotation; deleted?: number },
): void {
  if (change.added && !state.annotations.some((a) => a.id === change.added!.id)) {
    state.annotations = [...state.annotations, change.added];
    state.annotationsTotal++;
  }
  if (change.edited)
    state.annotations = state.annotations.map((a) =>
      a.id === change.edited!.id ? change.edited! : a,
    );
  if (change.deleted !== undefined && state.annotations.some((a) => a.id === change.deleted)) {
    state.annotations = state.annotations.filter((a) => a.id !== change.deleted);
    state.annotationsTotal = Math.max(0, state.annotationsTotal - 1);
  }
  state.version++;
}

/**
 * Evaluating runs forward passes only, in batches of 1,000, several times faster than training
 * (docs/benchmarks.md has the ratio measured on wasm). Used for the ETA until the first epoch
 * end measures it.
 */
const EVAL_SPEEDUP = 8;

/**
 * Training samples per second as the run page and the compare page show it, defined once:
 * while it trains, the trainer's moving average over its last seconds of training (pauses and
 * evaluation excluded); paused, none ("paused"); finished, the average over all its training
 * time (each epoch's rate weighted by its training time). Null when there is nothing to go on.
 */
export function samplesPerSecond(
  state: Pick<RunView, 'run' | 'points' | 'epochs'>,
): number | 'paused' | null {
  const run = state.run;
  if (!run) return null;
  if (run.status === 'paused') return 'paused';
  const last = state.points[state.points.length - 1];
  if (run.status === 'running' && last) return last.samplesPerSec;
  const ms = state.epochs.reduce((a, e) => a + e.trainMs, 0);
  if (ms > 0) return state.epochs.reduce((a, e) => a + e.samplesPerSec * e.trainMs, 0) / ms;
  return last?.samplesPerSec ?? run.samplesPerSec;
}

/**
 * Estimated seconds left: the steps to go at the current training rate, plus the evaluations
 * still to come (each epoch end's, measured so far, else estimated from the training rate),
 * plus what is left of one under way. 'paused' while paused; null until there is something to
 * go on.
 */
export function etaSeconds(state: RunView): number | 'paused' | null {
  const run = state.run;
  const last = state.points[state.points.length - 1];
  if (run?.status === 'paused') return 'paused';
  if (!run || !last || !run.totalSteps || !run.batchesPerEpoch) return null;
  const sps = last.samplesPerSec;
  if (!(sps > 0)) return null;
  const batch = run.hyperparams.batchSize;
  const train = ((run.totalSteps - last.step) * batch) / sps;
  const evalDigits = (run.trainSize ?? 0) + (run.testSize ?? 0);
  const perEval = state.epochs.length
    ? state.epochs.reduce((a, e) => a + e.evalMs, 0) / state.epochs.length / 1000
    : evalDigits / (sps * EVAL_SPEEDUP);
  // Epoch ends still to come, counting the one being evaluated now as a fraction.
  const done = state.epochs.length ? Math.max(...state.epochs.map((e) => e.epoch)) : 0;
  let evals = run.hyperparams.epochs - done;
  const p = state.progress;
  if (p && p.phase !== 'train' && p.epoch === done + 1) {
    // eval-train comes before eval-test: what is left of this epoch end's evaluation.
    const trainShare = run.trainSize && evalDigits ? run.trainSize / evalDigits : 0;
    const fraction =
      p.phase === 'eval-train'
        ? trainShare * (p.done / Math.max(1, p.total))
        : trainShare + (1 - trainShare) * (p.done / Math.max(1, p.total));
    evals -= Math.min(1, fraction);
  }
  return Math.max(0, train + Math.max(0, evals) * perEval);
}
