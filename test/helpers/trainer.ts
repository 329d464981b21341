/**
 * Shared fixtures for trainer tests: the wasm backend, the bundled MNIST loaded once, and a
 * sink that records every event.
 */
import { loadMnist, type MnistData } from '../../server/trainer/data/mnist';
import { initBackend } from '../../server/trainer/backend';
import type { BackendInfo, EventSink, TrainerEvent } from '../../server/trainer/events';

let setup: Promise<{ data: MnistData; backend: BackendInfo }> | null = null;

/** Initialises wasm and loads MNIST once per test file. */
export function wasmFixture(): Promise<{ data: MnistData; backend: BackendInfo }> {
  setup ??= (async () => ({ backend: await initBackend('wasm'), data: await loadMnist({}) }))();
  return setup;
}

export interface RecordingSink extends EventSink {
  events: TrainerEvent[];
  /** Called synchronously for each event as it is written. */
  onEvent?: (event: TrainerEvent) => void;
}

export function recordingSink(onEvent?: (event: TrainerEvent) => void): RecordingSink {
  const sink: RecordingSink = {
    events: [],
    onEvent,
    write(events) {
      for (const e of events) {
        sink.events.push(e);
        sink.onEvent?.(e);
      }
    },
  };
  return sink;
}

export function ofType<T extends TrainerEvent['type']>(
  events: TrainerEvent[],
  type: T,
): Extract<TrainerEvent, { type: T }>[] {
  return events.filter((e): e is Extract<TrainerEvent, { type: T }> => e.type === type);
}
