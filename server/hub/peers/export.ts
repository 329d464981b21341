/**
 * Export of a run: `csv` is one row per batch (`table=batches`, the default: the curve, for a
 * spreadsheet or pandas) or one per epoch (`table=epochs`); `json` is the whole record (run,
 * epochs with confusion matrices, batches, annotations). Batches are read in pages and
 * written as they come, so a long run does not sit in memory twice.
 */
import type { ServerResponse } from 'node:http';
import type { WireEpoch, WirePoint } from '../../protocol';
import { fileSlug } from '../../format';
import { HubError } from '../errors';
import type { Storage } from '../storage/storage';

const PAGE = 5000;

type Cell = string | number | null;
/** A CSV table: column names that say their units, and how each row's cells are read. */
interface CsvTable<Row> {
  columns: readonly string[];
  cells(row: Row): Cell[];
}

const isoTime = (ms: number) => new Date(ms).toISOString();

/**
 * One row per batch, numbered as the dashboard numbers them (`batch` from 1 within its epoch),
 * values in the units their names say; an empty cell is a value that was not finite (a
 * diverged batch). Time twice: ms since 1970 (the trainer's clock) and ISO 8601 (UTC).
 */
export const BATCH_CSV: CsvTable<WirePoint> = {
  columns: [
    'seq',
    'step',
    'epoch',
    'batch',
    'loss',
    'accuracy_percent',
    'learning_rate',
    'samples_per_second',
    'time_ms',
    'time_iso',
  ],
  cells: (p) => [
    p.seq,
    p.step,
    p.epoch,
    p.batch + 1,
    p.loss,
    p.accuracy,
    p.learningRate,
    p.samplesPerSec,
    p.time,
    isoTime(p.time),
  ],
};

/** One row per epoch: the tutorial's fit() report (train and test loss and accuracy) and its timings. */
export const EPOCH_CSV: CsvTable<WireEpoch> = {
  columns: [
    'epoch',
    'step',
    'train_loss',
    'train_accuracy_percent',
    'test_loss',
    'test_accuracy_percent',
    'samples_per_second',
    'train_seconds',
    'eval_seconds',
    'time_ms',
    'time_iso',
  ],
  cells: (e) => [
    e.epoch,
    e.step,
    e.trainLoss,
    e.trainAccuracy,
    e.testLoss,
    e.testAccuracy,
    e.samplesPerSec,
    e.trainMs / 1000,
    e.evalMs / 1000,
    e.time,
    isoTime(e.time),
  ],
};

/** A CSV line: numbers as they are, text quoted (RFC 4180), null empty. */
const csvLine = (cells: Cell[]) =>
  cells
    .map((c) =>
      c === null
        ? ''
        : typeof c === 'number'
          ? String(c)
          : /[",\n]/.test(c)
            ? `"${c.replace(/"/g, '""')}"`
            : c,
    )
    .join(',');

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

export async function exportRun(
  storage: Pick<Storage, 'runs' | 'events' | 'notes'>,
  runId: string,
  format: string,
  table: string,
  res: ServerResponse,
): Promise<void> {
  if (format !== 'csv' && format !== 'json')
    throw new HubError('INVALID', 'format must be csv or json', { format: 'expected csv or json' });
  const run = await storage.runs.summary(runId);
  if (!run) throw new HubError('NOT_FOUND', `no run ${runId}`);
  const file = `livetrain-${fileSlug(run.name)}-${run.id}.${format}`;
  if (format === 'csv') {
    if (table !== 'batches' && table !== 'epochs')
      throw new HubError('INVALID', 'table must be batches or epochs', {
        table: 'expected batches (one row per batch) or epochs (one row per epoch)',
      });
    res.writeHead(200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="${file.replace(/\.csv$/, `-${table}.csv`)}"`,
    });
    if (table === 'epochs') {
      const epochs = await storage.events.epochsWithConfusion(runId);
      await write(
        res,
        [EPOCH_CSV.columns.join(','), ...epochs.map((e) => csvLine(EPOCH_CSV.cells(e)))].join(
          '\n',
        ) + '\n',
      );
    } else {
      await write(res, `${BATCH_CSV.columns.join(',')}\n`);
      for await (const page of batchPages(storage, runId))
        await write(res, page.map((p) => csvLine(BATCH_CSV.cells(p))).join('\n') + '\n');
    }
    res.end();
    return;
  }
  const [epochs, annotations] = await Promise.all([
    storage.events.epochsWithConfusion(runId),
    storage.notes.list(runId),
  ]);
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'content-disposition': `attachment; filename="${file}"`,
  });
  await write(
    res,
    `{"run":${JSON.stringify(run)},"epochs":${JSON.stringify(epochs)},"annotations":${JSON.stringify(annotations)},"batches":[`,
  );
  let first = true;
  for await (const page of batchPages(storage, runId)) {
    await write(res, (first ? '' : ',') + page.map((p) => JSON.stringify(p)).join(','));
    first = false;
  }
  res.end(']}');
}
