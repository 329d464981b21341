/**
 * Stamps trainer events with the run id and a gap-free sequence number, and hands them to
 * the sink in batches. `emit` never waits: events are buffered and written at the next turn
 * of the event loop, at most one write per `flushMs` (leading edge: an event after a quiet
 * spell goes at once, those close behind it wait for the interval) or sooner when the buffer
 * is large, one write in flight at a time; so a slow consumer costs the training loop only
 * the push onto an array, and a watcher does not wait for a batching window at ~60 steps/s.
 */
import type { EventSink, TrainerEvent, UnstampedEvent } from './events';

export interface EmitterOptions {
  /** At most one write per this many ms; an event arriving after a longer pause is written at once. */
  flushMs?: number;
  /** Flush as soon as this many events are buffered. */
  maxBatch?: number;
  /** Sequence number of the last event already emitted (resume). */
  lastSeq?: number;
  onError?: (error: unknown) => void;
}

export interface Emitter {
  emit(event: UnstampedEvent): TrainerEvent;
  /** Resolves when everything emitted so far has been written. */
  flush(): Promise<void>;
  readonly lastSeq: number;
}

export function createEmitter(runId: string, sink: EventSink, opts: EmitterOptions = {}): Emitter {
  const flushMs = opts.flushMs ?? 50;
  const maxBatch = opts.maxBatch ?? 512;
  let seq = opts.lastSeq ?? 0;
  let buffer: TrainerEvent[] = [];
  let timer:
    | { kind: 'timeout'; handle: NodeJS.Timeout }
    | { kind: 'immediate'; handle: NodeJS.Immediate }
    | null = null;
  let inFlight: Promise<void> | null = null;
  /** When the last write started (ms). */
  let wroteAt = Number.NEGATIVE_INFINITY;

  const cancel = () => {
    if (timer?.kind === 'timeout') clearTimeout(timer.handle);
    else if (timer?.kind === 'immediate') clearImmediate(timer.handle);
    timer = null;
  };

  /** A write `delay` ms from now; 0 = the next turn of the event loop (after the current step). */
  function schedule(delay: number): void {
    if (timer) {
      if (delay > 0) return;
      cancel();
    }
    const fire = () => {
      timer = null;
      void drain();
    };
    timer =
      delay > 0
        ? { kind: 'timeout', handle: setTimeout(fire, delay) }
        : { kind: 'immediate', handle: setImmediate(fire) };
  }

  /** Writes buffered events, one sink write at a time, until the buffer is empty. */
  async function drain(): Promise<void> {
    if (inFlight) return inFlight;
    inFlight = (async () => {
      while (buffer.length > 0) {
        const batch = buffer;
        buffer = [];
        wroteAt = Date.now();
        try {
          await sink.write(batch);
        } catch (error) {
          opts.onError?.(error);
        }
      }
    })();
    try {
      await inFlight;
    } finally {
      inFlight = null;
    }
  }

  return {
    emit(event) {
      const stamped = { ...event, runId, seq: ++seq } as TrainerEvent;
      buffer.push(stamped);
      if (!inFlight)
        schedule(buffer.length >= maxBatch ? 0 : Math.max(0, wroteAt + flushMs - Date.now()));
      else if (buffer.length >= maxBatch) schedule(0);
      return stamped;
    },
    async flush() {
      cancel();
      while (buffer.length > 0 || inFlight) await drain();
    },
    get lastSeq() {
      return seq;
    },
  };
}
