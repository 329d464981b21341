/**
 * `run:watch`: a run's snapshot from the database plus the live tail, ending exactly where the
 * live frames for the room begin. The caller joins the room in the same tick the snapshot is
 * completed, so nothing is missed and nothing repeats.
 */
import type { RunSnapshot, WireEpoch, WirePanel, WirePoint } from '../protocol';
import { HubError, type HubContext } from './context';
import { listAnnotations } from './annotations';
import { toRunSummary, toWireEpoch, toWirePanel, toWirePoint, type WireEvent } from './wire';

/**
 * Builds the snapshot and calls `join` synchronously once it is consistent.
 * `presence` is filled by the caller after joining.
 */
export async function buildSnapshot(ctx: HubContext, runId: string, afterSeq: number, join: () => void): Promise<RunSnapshot> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const row = await ctx.db.run.findUnique({ where: { id: runId } });
    if (!row) throw new HubError('NOT_FOUND', `no run ${runId}`);
    const bound = ctx.streams.storedSeq(runId) ?? row.lastSeq;
    const release = ctx.streams.pin(runId, bound);
    try {
      const [points, epochs, annotations, panel] = await Promise.all([
        ctx.db.batchMetric.findMany({ where: { runId, seq: { gt: afterSeq, lte: bound } }, orderBy: { seq: 'asc' } }),
        readEpochs(ctx, runId, bound),
        listAnnotations(ctx, runId),
        ctx.db.predictionPanel.findFirst({ where: { runId, seq: { lte: bound } }, orderBy: { seq: 'desc' } }),
      ]);
      const snapshot: RunSnapshot = {
        run: toRunSummary(row),
        epochs,
        annotations,
        presence: [],
        points: points.map(toWirePoint),
        predictions: panel ? toWirePanel(panel) : null,
        lastSeq: bound,
      };
      // From here to join() nothing awaits: the live tail and the room are read in one tick.
      const live = ctx.streams.since(runId, bound);
      if (live) {
        mergeTail(snapshot, live.events, afterSeq);
        snapshot.lastSeq = live.sentSeq;
        join();
        return snapshot;
      }
      if (!ctx.streams.isOpen(runId)) {
        const now = await ctx.db.run.findUnique({ where: { id: runId }, select: { lastSeq: true, status: true } });
        // Nothing was stored while we read: the snapshot is complete.
        if (now && now.lastSeq === bound && !ctx.streams.isOpen(runId)) {
          snapshot.run.status = now.status as typeof snapshot.run.status;
          join();
          return snapshot;
        }
      }
    } finally {
      release();
    }
  }
  throw new HubError('UNAVAILABLE', 'the run changed too fast to take a snapshot; try again');
}

async function readEpochs(ctx: HubContext, runId: string, bound: number): Promise<WireEpoch[]> {
  const [epochs, matrices] = await Promise.all([
    ctx.db.epochMetric.findMany({ where: { runId, seq: { lte: bound } }, orderBy: { seq: 'asc' } }),
    ctx.db.confusionMatrix.findMany({ where: { runId, seq: { lte: bound } } }),
  ]);
  const bySeq = new Map(matrices.map((m) => [m.seq, m.matrix as unknown as number[][]]));
  return epochs.map((e) => toWireEpoch(e, bySeq.get(e.seq) ?? []));
}

function mergeTail(snapshot: RunSnapshot, events: WireEvent[], afterSeq: number): void {
  let panel: WirePanel | null = snapshot.predictions;
  const points: WirePoint[] = [];
  for (const e of events) {
    if (e.kind === 'point' && e.seq > afterSeq) points.push(e.point);
    else if (e.kind === 'epoch') snapshot.epochs.push(e.epoch);
    else if (e.kind === 'panel') panel = e.panel;
  }
  snapshot.points.push(...points);
  snapshot.predictions = panel;
}

const inFlight = new WeakMap<HubContext, Map<string, { joins: Array<() => void>; promise: Promise<RunSnapshot> }>>();

/**
 * {@link buildSnapshot}, shared by everyone who asks for the same run and `afterSeq` while one
 * is being built: a crowd opening a run at once costs one read of the database, and all of
 * them join the room in the tick the snapshot completes. Callers must not mutate the result.
 */
export function sharedSnapshot(ctx: HubContext, runId: string, afterSeq: number, join: () => void): Promise<RunSnapshot> {
  let builds = inFlight.get(ctx);
  if (!builds) inFlight.set(ctx, (builds = new Map()));
  const key = `${runId}\u0000${afterSeq}`;
  const pending = builds.get(key);
  if (pending) {
    pending.joins.push(join);
    return pending.promise;
  }
  const entry = { joins: [join], promise: null as unknown as Promise<RunSnapshot> };
  builds.set(key, entry);
  entry.promise = buildSnapshot(ctx, runId, afterSeq, () => {
    builds!.delete(key);
    for (const j of entry.joins) j();
  }).finally(() => {
    if (builds!.get(key) === entry) builds!.delete(key);
  });
  return entry.promise;
}
