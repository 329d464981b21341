/**
 * Fills holes in live streams (see stream.ts) that the sources do not fill themselves within
 * a second (a trainer that skipped seqs, entries Redis lost while it restarted): the missing
 * stretch is read back from the database. Stored kinds come back as they were sent; kinds that
 * are not stored fill their seqs silently, so the frames still cover every seq once.
 */
import type { Storage } from '../storage/storage';
import type { LiveStreams } from './stream';

const WAIT_FOR_STORE_MS = 15_000;
const POLL_MS = 100;
/** How long a hole may stay open before it is read from the database. */
const HOLE_WAIT_MS = 1000;
/** Seqs read back at a time; what is left of a longer hole is read next. */
const READ_BACK_SEQS = 5000;

export interface HoleFillerDeps {
  storage: Pick<Storage, 'runs' | 'events'>;
  streams: LiveStreams;
  /**
   * Whether this hub stores the run (its trainer is connected here): then nothing is on its
   * way from another hub, and a hole is seqs the trainer never sent, read back at once.
   */
  storesHere: (runId: string) => boolean;
  log: (line: string) => void;
}

export function createHoleFiller({ storage, streams, storesHere, log }: HoleFillerDeps) {
  const timers = new Map<string, NodeJS.Timeout>();
  let closed = false;

  async function readBack(runId: string, from: number, to: number) {
    // Another hub that stores the run commits within a fraction of a second; wait for it (a
    // hub that died leaves its trainer to replay them elsewhere, which also ends this wait).
    const deadline = Date.now() + WAIT_FOR_STORE_MS;
    while (!storesHere(runId)) {
      const run = await storage.runs.state(runId);
      if (!run || run.lastSeq >= to) break;
      if (Date.now() > deadline) {
        log(
          `run ${runId}: seqs ${from}-${to} are not stored after ${WAIT_FOR_STORE_MS} ms; sending what is`,
        );
        break;
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    return storage.events.between(runId, from, to);
  }

  function fill(runId: string): void {
    timers.delete(runId);
    const found = streams.hole(runId);
    if (!found || closed) return;
    const hole = { from: found.from, to: Math.min(found.to, found.from + READ_BACK_SEQS - 1) };
    void readBack(runId, hole.from, hole.to).then(
      (events) => {
        if (!closed) streams.publish(runId, events);
      },
      (error) => {
        log(
          `run ${runId}: could not read seqs ${hole.from}-${hole.to} back (trying again): ${error}`,
        );
        noticed(runId);
      },
    );
  }

  function noticed(runId: string): void {
    if (closed || timers.has(runId)) return;
    timers.set(
      runId,
      setTimeout(() => fill(runId), HOLE_WAIT_MS),
    );
  }

  streams.onHole(noticed);
  return {
    close(): void {
      closed = true;
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
    },
  };
}
