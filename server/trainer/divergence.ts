/**
 * Watching a run diverge. A loss that becomes NaN or ±Infinity is reported as null (JSON has no
 * NaN: it would arrive as null anyway, saying nothing), a `metrics:nonfinite` event says once
 * per stretch what it was and from which step, and a loss that stays non-finite for
 * `stopAfter` batches in a row ends the run with {@link Diverged}. Pure: no tensors, no I/O.
 */
import type { NON_FINITE_VALUES, WATCHED_METRICS } from './eventSchema';
import type { UnstampedEvent } from './events';

type Metric = (typeof WATCHED_METRICS)[number];
type NonFiniteValue = (typeof NON_FINITE_VALUES)[number];
type NonFiniteEvent = Extract<UnstampedEvent, { type: 'metrics:nonfinite' }>;

/** How a metric is named to people. */
export const METRIC_LABELS: Record<Metric, string> = {
  loss: 'loss',
  accuracy: 'accuracy',
  trainLoss: 'training-set loss',
  trainAccuracy: 'training-set accuracy',
  testLoss: 'test loss',
};

/** The run stopped because its loss was not finite too long; the message says so in words. */
export class Diverged extends Error {
  override name = 'Diverged';
}

export const nonFiniteValue = (x: number): NonFiniteValue =>
  Number.isNaN(x) ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity';

/** "loss became NaN at step 120", the note a diverging run gets. */
export function describeNonFinite(e: Pick<NonFiniteEvent, 'metric' | 'value' | 'step'>): string {
  return `${METRIC_LABELS[e.metric]} became ${e.value} at step ${e.step}`;
}

export interface DivergenceWatch {
  /**
   * One batch's loss and accuracy, non-finite ones as null, and the events to emit (a metric
   * finite before and not now); `diverged` says why the run must stop once the loss has not
   * been finite for `stopAfter` batches in a row (the caller emits the batch first, then
   * throws {@link Diverged} with it).
   */
  batch(
    step: number,
    epoch: number,
    loss: number,
    accuracy: number,
  ): {
    loss: number | null;
    accuracy: number | null;
    events: NonFiniteEvent[];
    diverged: string | null;
  };
  /** An epoch's evaluation results, the same way (no stop: the batches decide that). */
  epoch<K extends 'trainLoss' | 'trainAccuracy' | 'testLoss'>(
    step: number,
    epoch: number,
    values: Record<K, number | null>,
  ): { values: Record<K, number | null>; events: NonFiniteEvent[] };
}

export function createDivergenceWatch(stopAfter: number): DivergenceWatch {
  /** Metrics not finite now, with what they became and from which step. */
  const since = new Map<Metric, { step: number; value: NonFiniteValue }>();
  let lossRun = 0;

  /** `v`, or null when it is not finite; notes in `events` when it has just stopped being. */
  function scan(
    metric: Metric,
    v: number | null,
    step: number,
    epoch: number,
    events: NonFiniteEvent[],
  ): number | null {
    if (v === null) return null;
    if (Number.isFinite(v)) {
      since.delete(metric);
      return v;
    }
    if (!since.has(metric)) {
      const value = nonFiniteValue(v);
      since.set(metric, { step, value });
      events.push({ type: 'metrics:nonfinite', metric, value, step, epoch });
    }
    return null;
  }

  return {
    batch(step, epoch, loss, accuracy) {
      const events: NonFiniteEvent[] = [];
      const finiteLoss = scan('loss', loss, step, epoch, events);
      const finiteAccuracy = scan('accuracy', accuracy, step, epoch, events);
      lossRun = finiteLoss === null ? lossRun + 1 : 0;
      let diverged: string | null = null;
      if (lossRun >= stopAfter) {
        const first = since.get('loss')!;
        diverged =
          `the loss was ${first.value} from step ${first.step} on, ${lossRun} batch${lossRun === 1 ? '' : 'es'} in a row: ` +
          'the run diverged and was stopped (a lower learning rate usually helps)';
      }
      return { loss: finiteLoss, accuracy: finiteAccuracy, events, diverged };
    },
    epoch(step, epoch, values) {
      const events: NonFiniteEvent[] = [];
      const out = {} as Record<keyof typeof values, number | null>;
      for (const metric of Object.keys(values) as Array<keyof typeof values>)
        out[metric] = scan(metric, values[metric], step, epoch, events);
      return { values: out, events };
    },
  };
}
