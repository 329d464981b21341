/**
 * Stamps trainer events with the run id and a gap-free sequence number, and hands them to
 * the sink in batches. `emit` never waits: events are buffered and flushed on a timer (or
 * sooner when the buffer is large), one write in flight at a time, so a slow consumer
 * costs the training loop only the push onto an array.
 */
import type { EventSink, TrainerEvent, UnstampedEvent } from './events';

export interface EmitterOptions {
  /** Flush at most this long after the first buffered event. */
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
  let timer: NodeJS.Timeout | null = null;
  let inFlight: Promise<void> | null = null;

  function schedule(delay: number): void {
    if (timer) {
      if (delay > 0) return;
      clearTimeout(timer);
    }
    timer = setTimeout(() => {
      timer = null;
      void drain();
    }, delay);
  }

  /** Writes buffered events, one sink write at a time, until the buffer is empty. */
  async function drain(): Promise<void> {
    if (inFlight) return inFlight;
    inFlight = (async () => {
      while (buffer.length > 0) {
        const batch = buffer;
        buffer = [];
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
      if (!inFlight) schedule(buffer.length >= maxBatch ? 0 : flushMs);
      else if (buffer.length >= maxBatch) schedule(0);
      return stamped;
    },
    async flush() {
      if (timer) {
        clearTimeout(timer);
        timer = null;
      }
      while (buffer.length > 0 || inFlight) await drain();
    },
    get lastSeq() {
      return seq;
    },
  };
}
