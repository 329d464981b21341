/**
 * Spreads a burst of answers over turns of the event loop. When 500 people open a run at once
 * they share one snapshot read, and all 500 answers (each encoded and written for its own
 * socket) would then go out in one microtask run, a stall in which no trainer message is read
 * and no live frame leaves (docs/benchmarks.md, "Live fan-out"). Awaiting {@link Pacer.turn} lets at most
 * `perTurn` answers through per turn; the rest wait for the next (setImmediate), so I/O and
 * timers run between the groups.
 */
export interface Pacer {
  /** Resolves at once while this turn has room, else in a later turn. */
  turn(): Promise<void>;
}

export function createPacer(perTurn: number): Pacer {
  let used = 0;
  let scheduled = false;
  const waiting: Array<() => void> = [];

  function nextTurn(): void {
    scheduled = false;
    used = 0;
    for (const resolve of waiting.splice(0, perTurn)) {
      used++;
      resolve();
    }
    // The turn stays counted until the next one, so callers arriving meanwhile queue behind.
    schedule();
  }

  function schedule(): void {
    if (scheduled || (used === 0 && waiting.length === 0)) return;
    scheduled = true;
    setImmediate(nextTurn);
  }

  return {
    turn() {
      if (used < perTurn && waiting.length === 0) {
        used++;
        schedule();
        return Promise.resolve();
      }
      const queued = new Promise<void>((resolve) => waiting.push(resolve));
      schedule();
      return queued;
    },
  };
}
