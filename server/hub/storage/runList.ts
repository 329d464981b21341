/**
 * The runs list's columns and query, pure (no database): the sort and search keys a Run row
 * carries besides what people and trainers wrote (prisma/schema.prisma, "The runs list's sort
 * and search keys"), and the Prisma filter and ordering that `GET /api/runs` becomes. The keys
 * are plain typed columns, derived here when a run is written, so that sorting by a
 * hyperparameter or searching 10,000 runs is one indexed Prisma query on SQLite and
 * PostgreSQL alike rather than JSON read back row by row (docs/architecture.md, "The runs list at 10,000 runs").
 */
import type { Prisma } from '../../db/generated/sqlite/client';
import type { RunRow } from '../../db/rows';
import type { RunSortKey } from '../../protocol';
import type { RunsQuery } from './runsQuery';
import { hyperparamsSchema } from '../../trainer/config';

/**
 * Text as the search key holds it: lower-cased, and LIKE's special characters (`%`, `_`, and
 * PostgreSQL's escape `\`) replaced by private-use characters. Prisma's `contains` passes its
 * text to LIKE unescaped, and SQLite's LIKE has no escape character unless the query names
 * one, so a key and a search both free of them match as plain substrings on both providers.
 */
export function searchKey(text: string): string {
  return text
    .toLowerCase()
    .replaceAll('\\', '\uE002')
    .replaceAll('%', '\uE000')
    .replaceAll('_', '\uE001');
}

/** What people wrote about a run, from which its text keys are derived. */
export interface RunText {
  id: string;
  name: string;
  description: string;
  tags: readonly string[];
  createdBy: string;
}

/** The text columns: sort keys for the name and creator, and the search key (one field a line, so a search matches within one). */
export function textColumns(run: RunText): Pick<RunRow, 'sortName' | 'sortCreator' | 'searchText'> {
  return {
    sortName: run.name.toLowerCase(),
    sortCreator: run.createdBy.toLowerCase(),
    searchText: searchKey(
      [run.name, run.description, run.tags.join('\n'), run.createdBy, run.id].join('\n'),
    ),
  };
}

/**
 * The hyperparameter columns, from the hyperparameters as the run shows them (stored ones
 * that are not valid show, and sort, as the defaults), and the learning rate in force.
 */
export function hyperparamColumns(
  stored: unknown,
  learningRates: ReadonlyArray<{ value: number }> = [],
): Pick<RunRow, 'hpEpochs' | 'hpBatchSize' | 'hpOptimizer' | 'hpSeed' | 'currentLearningRate'> {
  const parsed = hyperparamsSchema.safeParse(stored);
  const hp = parsed.success ? parsed.data : hyperparamsSchema.parse({});
  return {
    hpEpochs: hp.epochs,
    hpBatchSize: hp.batchSize,
    hpOptimizer: hp.optimizer,
    hpSeed: hp.seed,
    currentLearningRate: learningRates.at(-1)?.value ?? hp.learningRate,
  };
}

/** Steps done over steps to do; null while the number of steps is not known. */
export function progressOf(lastStep: number, totalSteps: number | null): number | null {
  return totalSteps && totalSteps > 0 ? lastStep / totalSteps : null;
}

/** The column each sort key orders by, and whether runs may lack a value of it. */
const SORT_COLUMNS = {
  created: { column: 'createdAt', nullable: false },
  name: { column: 'sortName', nullable: false },
  status: { column: 'status', nullable: false },
  progress: { column: 'progress', nullable: true },
  loss: { column: 'lastLoss', nullable: true },
  accuracy: { column: 'finalTestAccuracy', nullable: true },
  lr: { column: 'currentLearningRate', nullable: false },
  backend: { column: 'backend', nullable: true },
  creator: { column: 'sortCreator', nullable: false },
  epochs: { column: 'hpEpochs', nullable: false },
  batchSize: { column: 'hpBatchSize', nullable: false },
  optimizer: { column: 'hpOptimizer', nullable: false },
  seed: { column: 'hpSeed', nullable: false },
} as const satisfies Record<RunSortKey, { column: keyof RunRow; nullable: boolean }>;

/** The filter of a runs query: archived or not, status, tag, creator and text. */
export function listWhere(
  q: Pick<RunsQuery, 'archived' | 'status' | 'tag' | 'creator' | 'q'>,
): Prisma.RunWhereInput {
  return {
    ...(q.archived === 'include'
      ? {}
      : { archivedAt: q.archived === 'only' ? { not: null } : null }),
    ...(q.status ? { status: q.status } : {}),
    ...(q.tag ? { runTags: { some: { tag: q.tag } } } : {}),
    ...(q.creator ? { sortCreator: q.creator.toLowerCase() } : {}),
    ...(q.q ? { searchText: { contains: searchKey(q.q) } } : {}),
  };
}

/** The ordering of a runs query: its column (missing values last either way), then the id, so that pages are stable. */
export function listOrder(
  sort: RunSortKey,
  order: 'asc' | 'desc',
): Prisma.RunOrderByWithRelationInput[] {
  const { column, nullable } = SORT_COLUMNS[sort];
  return [{ [column]: nullable ? { sort: order, nulls: 'last' } : order }, { id: order }];
}
