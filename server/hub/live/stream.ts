/**
 * The live stream of each run to the browsers watching it. Events arrive as fast as the
 * trainer emits them; at most every `frameMs` (50 ms: ~20 frames/s per room) what arrived
 * is sent to the run's room as messages covering contiguous seq ranges (see server/protocol/stream.ts).
 * A tail of recent events is kept in memory until stored, so that a snapshot built from the
 * database plus the tail ends exactly where the live frames begin.
 *
 * Events may come from two sources (this hub's trainer and, with several hubs, the Redis
 * relay), so publish() takes them in any order and more than once: each seq is sent once,
 * in order; events beyond a missing seq wait (`hole`) until it is filled.
 */
import { toPointColumns } from '../../columns';
import type { ServerToClientEvents, WireEvent } from '../../protocol';
import { assertNever } from '../../trainer/events';

export type Broadcast = <E extends keyof ServerToClientEvents>(
  room: string,
  event: E,
  ...args: Parameters<ServerToClientEvents[E]>
) => void;

export const runRoom = (runId: string) => `run:${runId}`;

interface LiveRun {
  /** Events received but not yet sent. */
  pending: WireEvent[];
  /** Highest seq sent to the room. */
  sentSeq: number;
  /** Highest seq committed to the database. */
  storedSeq: number;
  /** Events with seq > the retention floor, in seq order. */
  tail: WireEvent[];
  timer: NodeJS.Timeout | null;
  /** When the last frame went out (ms). */
  sentAt: number;
  /** Highest seq published (sent or pending); everything up to it is contiguous. */
  publishedSeq: number;
  /** Events above a missing seq, by seq, waiting for it. */
  held: Map<number, WireEvent>;
}

export interface LiveStreams {
  /** Starts following a run whose stored events end at `storedSeq`. */
  open(runId: string, storedSeq: number): void;
  isOpen(runId: string): boolean;
  /** Queues events for the room: seqs already published are dropped, later ones wait for the missing. */
  publish(runId: string, events: WireEvent[]): void;
  /** The missing seqs that hold events back, or null. */
  hole(runId: string): { from: number; to: number } | null;
  /** Records a commit; tail events at or below it may be dropped. */
  stored(runId: string, seq: number): void;
  /**
   * Holds tail events above `seq` until `release` is called: a snapshot reads the database up
   * to `seq` and then takes the rest from the tail.
   */
  pin(runId: string, seq: number): () => void;
  /** Sent events with seq in (afterSeq, sentSeq], and sentSeq; null if the run is not live. */
  since(runId: string, afterSeq: number): { events: WireEvent[]; sentSeq: number } | null;
  /** Sends what is pending now (used before a run's stream is closed). */
  flush(runId: string): void;
  /** Stops following a run once everything is sent and stored. */
  close(runId: string): void;
  /** Seq stored for a live run, or null. */
  storedSeq(runId: string): number | null;
  /** Highest seq published (sent or pending) for a live run, or null. */
  publishedSeq(runId: string): number | null;
  /**
   * Where a snapshot of a live run reads the database up to: stored and already sent (frames
   * go on from what was sent; the tail holds everything sent above what is stored).
   */
  bound(runId: string): number | null;
  /**
   * Calls `listener` when events arrive beyond a missing seq (once per hole): it fills the
   * hole (publish) or gives up on it.
   */
  onHole(listener: (runId: string, from: number, to: number) => void): void;
  closeAll(): void;
}

export function createLiveStreams(broadcast: Broadcast, frameMs = 50): LiveStreams {
  const runs = new Map<string, LiveRun>();
  const pins = new Map<string, number[]>();
  const holeListeners: Array<(runId: string, from: number, to: number) => void> = [];

  function trim(run: LiveRun, runId: string): void {
    const floor = Math.min(run.storedSeq, ...(pins.get(runId) ?? []));
    let drop = 0;
    while (
      drop < run.tail.length &&
      run.tail[drop].seq <= floor &&
      run.tail[drop].seq <= run.sentSeq
    )
      drop++;
    if (drop) run.tail.splice(0, drop);
  }

  function send(runId: string): void {
    const run = runs.get(runId);
    if (!run) return;
    if (run.timer) clearTimeout(run.timer);
    run.timer = null;
    if (run.pending.length === 0) return;
    run.sentAt = Date.now();
    const room = runRoom(runId);
    let from = run.sentSeq + 1;
    let points: Extract<WireEvent, { type: 'point' }>['point'][] = [];
    const flushPoints = (to: number) => {
      if (to < from) return;
      // Numbers as columns, their bytes in base64 text: Socket.IO pre-encodes a text packet once
      // for the whole room, while one with a binary attachment is written as two messages per
      // socket, each encoded for it (slower at 500 watchers: docs/benchmarks.md, "Live fan-out").
      broadcast(room, 'metrics:batch', {
        runId,
        fromSeq: from,
        toSeq: to,
        points: toPointColumns(points, 'text'),
      });
      points = [];
      from = to + 1;
    };
    for (const e of run.pending) {
      const range = () => ({ runId, fromSeq: from, toSeq: e.seq });
      if (e.type === 'point') points.push(e.point);
      else if (e.type !== 'silent' && points.length > 0) flushPoints(e.seq - 1);
      switch (e.type) {
        case 'point':
        case 'silent':
          continue;
        case 'epoch':
          broadcast(room, 'metrics:epoch', { ...range(), epoch: e.epoch });
          break;
        case 'predictions':
          // The socket event's field keeps its wire name (`panel`, protocol version 3).
          broadcast(room, 'run:predictions', { ...range(), panel: e.predictions });
          break;
        case 'misclassified':
          broadcast(room, 'run:misclassified', {
            ...range(),
            epoch: e.epoch,
            total: e.total,
            listed: e.items.length,
          });
          break;
        case 'progress':
          broadcast(room, 'run:progress', {
            ...range(),
            phase: e.phase,
            epoch: e.epoch,
            done: e.done,
            total: e.total,
          });
          break;
        default:
          assertNever(e);
      }
      from = e.seq + 1;
    }
    // Points and silent events at the end go out as one frame (possibly without points).
    flushPoints(run.pending[run.pending.length - 1].seq);
    run.sentSeq = run.pending[run.pending.length - 1].seq;
    run.pending = [];
    trim(run, runId);
  }

  function holeOf(run: LiveRun): { from: number; to: number } | null {
    if (run.held.size === 0) return null;
    let first = Infinity;
    for (const seq of run.held.keys()) first = Math.min(first, seq);
    return { from: run.publishedSeq + 1, to: first - 1 };
  }

  return {
    hole: (runId) => {
      const run = runs.get(runId);
      return run ? holeOf(run) : null;
    },
    open(runId, storedSeq) {
      if (runs.has(runId)) return;
      runs.set(runId, {
        pending: [],
        sentSeq: storedSeq,
        storedSeq,
        tail: [],
        timer: null,
        sentAt: 0,
        publishedSeq: storedSeq,
        held: new Map(),
      });
    },
    isOpen: (runId) => runs.has(runId),
    publish(runId, events) {
      const run = runs.get(runId);
      if (!run) return;
      // Events published before (a resend, the other source) are not sent twice.
      const holeBefore = holeOf(run);
      for (const e of events) if (e.seq > run.publishedSeq) run.held.set(e.seq, e);
      const fresh: WireEvent[] = [];
      for (
        let next = run.held.get(run.publishedSeq + 1);
        next;
        next = run.held.get(run.publishedSeq + 1)
      ) {
        run.held.delete(next.seq);
        run.publishedSeq = next.seq;
        fresh.push(next);
      }
      const hole = holeOf(run);
      if (hole && (!holeBefore || hole.from !== holeBefore.from || fresh.length > 0))
        for (const l of holeListeners) l(runId, hole.from, hole.to);
      if (fresh.length === 0) return;
      // One at a time: a spread of a long stretch read back would overflow the call stack.
      for (const e of fresh) {
        run.pending.push(e);
        run.tail.push(e);
      }
      // Throttle, leading edge: a frame goes out at once if the last one is at least frameMs
      // old, else when it will be; so a room gets at most 1000/frameMs frames a second and a
      // point waits at most frameMs (usually far less).
      if (run.timer) return;
      const wait = run.sentAt + frameMs - Date.now();
      run.timer = setTimeout(() => send(runId), Math.max(0, wait));
    },
    stored(runId, seq) {
      const run = runs.get(runId);
      if (!run) return;
      run.storedSeq = Math.max(run.storedSeq, seq);
      trim(run, runId);
    },
    pin(runId, seq) {
      const list = pins.get(runId) ?? [];
      list.push(seq);
      pins.set(runId, list);
      return () => {
        const at = list.indexOf(seq);
        if (at >= 0) list.splice(at, 1);
        if (list.length === 0) pins.delete(runId);
        const run = runs.get(runId);
        if (run) trim(run, runId);
      };
    },
    since(runId, afterSeq) {
      const run = runs.get(runId);
      if (!run) return null;
      return {
        events: run.tail.filter((e) => e.seq > afterSeq && e.seq <= run.sentSeq),
        sentSeq: run.sentSeq,
      };
    },
    flush: send,
    close(runId) {
      const run = runs.get(runId);
      if (!run) return;
      send(runId);
      if (run.timer) clearTimeout(run.timer);
      runs.delete(runId);
    },
    storedSeq: (runId) => runs.get(runId)?.storedSeq ?? null,
    publishedSeq: (runId) => runs.get(runId)?.publishedSeq ?? null,
    bound(runId) {
      const run = runs.get(runId);
      return run ? Math.min(run.storedSeq, run.sentSeq) : null;
    },
    onHole(listener) {
      holeListeners.push(listener);
    },
    closeAll() {
      for (const run of runs.values()) if (run.timer) clearTimeout(run.timer);
      runs.clear();
    },
  };
}
