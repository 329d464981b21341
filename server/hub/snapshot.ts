/**
 * `run:watch`: a run's snapshot from the database plus the live tail, ending exactly where the
 * live frames for the room begin. The caller joins the room in the same tick the snapshot is
 * completed, so nothing is missed and nothing repeats.
 */
import type { RunSnapshot, WireEpoch, WirePanel, WirePoint } from '../protocol';
import type { RunChange } from './cluster';
import { HubError, type HubContext } from './context';
import { listAnnotations } from './annotations';
import { toRunSummary, toWireEpoch, toWirePanel, toWirePoint, type WireEvent } from './wire';

const versions = new WeakMap<HubContext, Map<string, number>>();

/**
 * Bumped whenever something a snapshot holds but the seq stream does not (annotations, the
 * run's status) changes: a snapshot read across such a change is read again. Other hubs are
 * told before the change is broadcast (one Redis connection keeps the order), so theirs are too.
 */
export function bumpRunVersion(ctx: HubContext, runId: string, change: Omit<RunChange, 'runId'> = {}): void {
  bumpLocalVersion(ctx, runId);
  ctx.cluster.changed({ runId, ...change });
}

/** {@link bumpRunVersion} for a change another hub made (and told the others about). */
export function bumpLocalVersion(ctx: HubContext, runId: string): void {
  let map = versions.get(ctx);
  if (!map) versions.set(ctx, (map = new Map()));
  map.set(runId, (map.get(runId) ?? 0) + 1);
  dropCached(ctx, runId);
}
const versionOf = (ctx: HubContext, runId: string) => versions.get(ctx)?.get(runId) ?? 0;

/** What the database gave, up to `bound`; the live tail completes it. */
interface StoredPart {
  base: RunSnapshot;
  bound: number;
  version: number;
  afterSeq: number;
  release: () => void;
}

async function readStored(ctx: HubContext, runId: string, afterSeq: number): Promise<StoredPart> {
  const version = versionOf(ctx, runId);
  const row = await ctx.db.run.findUnique({ where: { id: runId } });
  if (!row) throw new HubError('NOT_FOUND', `no run ${runId}`);
  const bound = ctx.streams.bound(runId) ?? row.lastSeq;
  const release = ctx.streams.pin(runId, bound);
  try {
    const [points, epochs, annotations, panel] = await Promise.all([
      ctx.db.batchMetric.findMany({ where: { runId, seq: { gt: afterSeq, lte: bound } }, orderBy: { seq: 'asc' } }),
      readEpochs(ctx, runId, bound),
      listAnnotations(ctx, runId),
      ctx.db.predictionPanel.findFirst({ where: { runId, seq: { lte: bound } }, orderBy: { seq: 'desc' } }),
    ]);
    const base: RunSnapshot = {
      run: toRunSummary(row),
      epochs,
      annotations,
      presence: [],
      points: points.map(toWirePoint),
      predictions: panel ? toWirePanel(panel) : null,
      lastSeq: bound,
    };
    return { base, bound, version, afterSeq, release };
  } catch (error) {
    release();
    throw error;
  }
}

/** Completes a stored part with the live tail, synchronously; null when it went stale. */
function completeLive(ctx: HubContext, runId: string, part: StoredPart): RunSnapshot | null {
  if (part.version !== versionOf(ctx, runId)) return null;
  const live = ctx.streams.since(runId, part.bound);
  if (!live) return null;
  const snapshot: RunSnapshot = { ...part.base, epochs: [...part.base.epochs], points: [...part.base.points] };
  mergeTail(snapshot, live.events, part.afterSeq);
  snapshot.lastSeq = live.sentSeq;
  return snapshot;
}

/**
 * Builds the snapshot and calls `join` synchronously once it is consistent.
 * `presence` is filled by the caller after joining.
 */
export async function buildSnapshot(ctx: HubContext, runId: string, afterSeq: number, join: () => void): Promise<RunSnapshot> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const part = await readStored(ctx, runId, afterSeq);
    let kept = false;
    try {
      // From here to join() nothing awaits: the live tail and the room are read in one tick.
      const live = completeLive(ctx, runId, part);
      if (live) {
        join();
        kept = keepCached(ctx, runId, part);
        return live;
      }
      if (!ctx.streams.isOpen(runId) && part.version === versionOf(ctx, runId)) {
        const now = await ctx.db.run.findUnique({ where: { id: runId }, select: { lastSeq: true, status: true } });
        // Nothing was stored or changed while we read: the snapshot is complete.
        if (now && now.lastSeq === part.bound && !ctx.streams.isOpen(runId) && part.version === versionOf(ctx, runId)) {
          part.base.run.status = now.status as typeof part.base.run.status;
          join();
          return part.base;
        }
      }
    } finally {
      if (!kept) part.release();
    }
  }
  throw new HubError('UNAVAILABLE', 'the run changed too fast to take a snapshot; try again');
}

/**
 * The stored part of a live run's snapshot is kept (and its tail pinned) for a second, so
 * that a crowd opening the run reads the database once, not once each.
 */
const CACHE_MS = 1000;
const cached = new WeakMap<HubContext, Map<string, StoredPart & { timer: NodeJS.Timeout }>>();
const cacheKey = (runId: string, afterSeq: number) => `${runId}\u0000${afterSeq}`;

function keepCached(ctx: HubContext, runId: string, part: StoredPart): boolean {
  let map = cached.get(ctx);
  if (!map) cached.set(ctx, (map = new Map()));
  const key = cacheKey(runId, part.afterSeq);
  if (map.has(key)) return false;
  const timer = setTimeout(() => {
    if (map!.get(key)?.timer === timer) map!.delete(key);
    part.release();
  }, CACHE_MS);
  timer.unref();
  map.set(key, { ...part, timer });
  return true;
}

function dropCached(ctx: HubContext, runId: string): void {
  const map = cached.get(ctx);
  for (const [key, entry] of map ?? []) {
    if (!key.startsWith(`${runId}\u0000`)) continue;
    clearTimeout(entry.timer);
    entry.release();
    map!.delete(key);
  }
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
  const hit = cached.get(ctx)?.get(cacheKey(runId, afterSeq));
  const fromCache = hit ? completeLive(ctx, runId, hit) : null;
  if (fromCache) {
    join();
    return Promise.resolve(fromCache);
  }
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
