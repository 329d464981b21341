/**
 * Export of a run: `csv` is one row per batch (the curve, for a spreadsheet or pandas), `json`
 * is the whole record (run, epochs with confusion matrices, batches, annotations). Batches are
 * read in pages and written as they come, so a long run does not sit in memory twice.
 */
import type { ServerResponse } from 'node:http';
import { HubError } from '../errors';
import type { Storage } from '../storage/storage';

const PAGE = 5000;
export const CSV_COLUMNS = ['seq', 'step', 'epoch', 'batch', 'loss', 'accuracy', 'learningRate', 'samplesPerSec', 'time'] as const;

async function* batchPages(storage: Pick<Storage, 'events'>, runId: string) {
  let after = 0;
  for (;;) {
    const points = await storage.events.points(runId, after, { limit: PAGE });
    if (points.length === 0) return;
    yield points;
    after = points[points.length - 1].seq;
    if (points.length < PAGE) return;
  }
}

function write(res: ServerResponse, chunk: string): Promise<void> {
  return new Promise((resolve) => (res.write(chunk) ? resolve() : res.once('drain', resolve)));
}

const safeName = (name: string) => name.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 80) || 'run';

export async function exportRun(storage: Pick<Storage, 'runs' | 'events' | 'notes'>, runId: string, format: string, res: ServerResponse): Promise<void> {
  if (format !== 'csv' && format !== 'json') throw new HubError('INVALID', 'format must be csv or json', { format: 'expected csv or json' });
  const run = await storage.runs.summary(runId);
  if (!run) throw new HubError('NOT_FOUND', `no run ${runId}`);
  const file = `livetrain-${safeName(run.name)}-${run.id}.${format}`;
  if (format === 'csv') {
    res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="${file}"` });
    await write(res, `${CSV_COLUMNS.join(',')}\n`);
    for await (const page of batchPages(storage, runId)) {
      await write(res, page.map((p) => CSV_COLUMNS.map((c) => p[c]).join(',')).join('\n') + '\n');
    }
    res.end();
    return;
  }
  const [epochs, annotations] = await Promise.all([storage.events.epochsWithConfusion(runId), storage.notes.list(runId)]);
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-disposition': `attachment; filename="${file}"` });
  await write(res, `{"run":${JSON.stringify(run)},"epochs":${JSON.stringify(epochs)},"annotations":${JSON.stringify(annotations)},"batches":[`);
  let first = true;
  for await (const page of batchPages(storage, runId)) {
    await write(res, (first ? '' : ',') + page.map((p) => JSON.stringify(p)).join(','));
    first = false;
  }
  res.end(']}');
}
