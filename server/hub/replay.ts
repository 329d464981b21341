/**
 * A stretch of a run's live stream read back from the database: what a hub sends its watchers
 * when the events between two seqs never reached it (see cluster.ts). Stored kinds come back
 * as they were sent; kinds that are not stored (progress, status...) fill their seqs silently,
 * so the frames still cover every seq once.
 */
import type { HubContext } from './context';
import { toWireEpoch, toWirePanel, toWirePoint, type WireEvent } from './wire';
import type { DigitPrediction } from '../trainer/events';

const WAIT_FOR_STORE_MS = 15_000;
const POLL_MS = 100;

async function fillFromDatabase(ctx: HubContext, runId: string, from: number, to: number, waitMs = WAIT_FOR_STORE_MS): Promise<WireEvent[]> {
  // The storing hub commits within a fraction of a second; wait for it (a hub that died
  // leaves its trainer to replay them elsewhere, which also ends this wait).
  const deadline = Date.now() + waitMs;
  for (;;) {
    const row = await ctx.db.run.findUnique({ where: { id: runId }, select: { lastSeq: true } });
    if (!row || row.lastSeq >= to) break;
    if (Date.now() > deadline) {
      ctx.log(`run ${runId}: seqs ${from}-${to} are not stored after ${waitMs} ms; sending what is`);
      break;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const range = { runId, seq: { gte: from, lte: to } };
  const [points, epochs, matrices, panels, misclassified] = await Promise.all([
    ctx.db.batchMetric.findMany({ where: range }),
    ctx.db.epochMetric.findMany({ where: range }),
    ctx.db.confusionMatrix.findMany({ where: range }),
    ctx.db.predictionPanel.findMany({ where: range }),
    ctx.db.misclassified.findMany({ where: range, orderBy: { index: 'asc' } }),
  ]);
  const bySeq = new Map<number, WireEvent>();
  for (const p of points) bySeq.set(p.seq, { seq: p.seq, kind: 'point', point: toWirePoint(p) });
  const confusion = new Map(matrices.map((m) => [m.seq, m.matrix as unknown as number[][]]));
  for (const e of epochs) bySeq.set(e.seq, { seq: e.seq, kind: 'epoch', epoch: toWireEpoch(e, confusion.get(e.seq) ?? []) });
  for (const p of panels) bySeq.set(p.seq, { seq: p.seq, kind: 'panel', panel: toWirePanel(p) });
  for (const m of misclassified) {
    const item: DigitPrediction = { index: m.index, label: m.label, predicted: m.predicted, probabilities: m.probabilities as unknown as number[] };
    const known = bySeq.get(m.seq);
    if (known?.kind === 'misclassified') known.items.push(item);
    else bySeq.set(m.seq, { seq: m.seq, kind: 'misclassified', epoch: m.epoch, total: 0, items: [item] });
  }
  // The event's total is not stored; the stored items are the best count there is.
  for (const e of bySeq.values()) if (e.kind === 'misclassified') e.total = e.items.length;
  const out: WireEvent[] = [];
  for (let seq = from; seq <= to; seq++) out.push(bySeq.get(seq) ?? { seq, kind: 'silent' });
  return out;
}

/** How long a hole may stay open before it is read from the database. */
const HOLE_WAIT_MS = 1000;

/**
 * Fills holes in live streams (see stream.ts) that the sources do not fill themselves within
 * a second: a trainer that skipped seqs, entries Redis lost while it restarted.
 */
export function createHoleFiller(context: () => HubContext) {
  const timers = new Map<string, NodeJS.Timeout>();
  let closed = false;
  function fill(runId: string): void {
    timers.delete(runId);
    const ctx = context();
    const hole = ctx.streams.hole(runId);
    if (!hole || closed) return;
    void fillFromDatabase(ctx, runId, hole.from, hole.to).then(
      (events) => {
        if (!closed) ctx.streams.publish(runId, events);
      },
      (error) => {
        ctx.log(`run ${runId}: could not read seqs ${hole.from}-${hole.to} back (trying again): ${error}`);
        noticed(runId);
      },
    );
  }
  function noticed(runId: string): void {
    if (closed || timers.has(runId)) return;
    timers.set(runId, setTimeout(() => fill(runId), HOLE_WAIT_MS));
  }
  return {
    noticed,
    close(): void {
      closed = true;
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
    },
  };
}
