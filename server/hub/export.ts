/**
 * Export of a run: `csv` is one row per batch (the curve, for a spreadsheet or pandas), `json`
 * is the whole record (run, epochs with confusion matrices, batches, annotations). Batches are
 * read in pages and written as they come, so a long run does not sit in memory twice.
 */
import type { ServerResponse } from 'node:http';
import { HubError, type HubContext } from './context';
import { listAnnotations } from './annotations';
import { getRunSummary } from './runs';
import { toWireEpoch, toWirePoint } from './wire';

const PAGE = 5000;
export const CSV_COLUMNS = ['seq', 'step', 'epoch', 'batch', 'loss', 'accuracy', 'learningRate', 'samplesPerSec', 'time'] as const;

async function* batchPages(ctx: HubContext, runId: string) {
  let after = 0;
  for (;;) {
    const rows = await ctx.db.batchMetric.findMany({ where: { runId, seq: { gt: after } }, orderBy: { seq: 'asc' }, take: PAGE });
    if (rows.length === 0) return;
    yield rows.map(toWirePoint);
    after = rows[rows.length - 1].seq;
    if (rows.length < PAGE) return;
  }
}

function write(res: ServerResponse, chunk: string): Promise<void> {
  return new Promise((resolve) => (res.write(chunk) ? resolve() : res.once('drain', resolve)));
}

const safeName = (name: string) => name.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 80) || 'run';

export async function exportRun(ctx: HubContext, runId: string, format: string, res: ServerResponse): Promise<void> {
  if (format !== 'csv' && format !== 'json') throw new HubError('INVALID', 'format must be csv or json', { format: 'expected csv or json' });
  const run = await getRunSummary(ctx, runId);
  const file = `livetrain-${safeName(run.name)}-${run.id}.${format}`;
  if (format === 'csv') {
    res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="${file}"` });
    await write(res, `${CSV_COLUMNS.join(',')}\n`);
    for await (const page of batchPages(ctx, runId)) {
      await write(res, page.map((p) => CSV_COLUMNS.map((c) => p[c]).join(',')).join('\n') + '\n');
    }
    res.end();
    return;
  }
  const [epochs, matrices, annotations] = await Promise.all([
    ctx.db.epochMetric.findMany({ where: { runId }, orderBy: { seq: 'asc' } }),
    ctx.db.confusionMatrix.findMany({ where: { runId } }),
    listAnnotations(ctx, runId),
  ]);
  const bySeq = new Map(matrices.map((m) => [m.seq, m.matrix as unknown as number[][]]));
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-disposition': `attachment; filename="${file}"` });
  await write(res, `{"run":${JSON.stringify(run)},"epochs":${JSON.stringify(epochs.map((e) => toWireEpoch(e, bySeq.get(e.seq) ?? [])))},"annotations":${JSON.stringify(annotations)},"batches":[`);
  let first = true;
  for await (const page of batchPages(ctx, runId)) {
    await write(res, (first ? '' : ',') + page.map((p) => JSON.stringify(p)).join(','));
    first = false;
  }
  res.end(']}');
}

/**
 * A loss sparkline per run: the mean loss in `points` equal step buckets, computed in the
 * database (a run may have hundreds of thousands of batches).
 */
export async function sparklines(ctx: HubContext, ids: string[], points: number): Promise<Record<string, number[]>> {
  const runs = await ctx.db.run.findMany({ where: { id: { in: ids } }, select: { id: true, lastStep: true } });
  const out: Record<string, number[]> = {};
  for (const run of runs) {
    const span = Math.max(1, run.lastStep);
    const rows = await ctx.db.$queryRaw<Array<{ bucket: number | bigint; loss: number }>>`
      SELECT ((step - 1) * CAST(${points} AS INTEGER)) / CAST(${span} AS INTEGER) AS bucket, CAST(AVG(loss) AS DOUBLE PRECISION) AS loss
      FROM "BatchMetric" WHERE "runId" = ${run.id} GROUP BY bucket ORDER BY bucket`;
    out[run.id] = rows.map((r) => Number(r.loss)).filter(Number.isFinite);
  }
  return out;
}
