/**
 * Every row of every table the hub writes, whole, for "a refused request changes nothing":
 * counting rows misses a refused request that rewrites a run's status, learning rate or
 * lastSeq, or a note's text.
 */
import assert from 'node:assert/strict';
import type { TestHub } from './hub';

/** All rows of all tables, each table in key order, after the hub wrote what it holds back. */
export async function dbState(hub: TestHub) {
  await hub.hub.flush();
  const db = hub.db.prisma;
  const bySeq = [{ runId: 'asc' }, { seq: 'asc' }] as const;
  return {
    runs: await db.run.findMany({ orderBy: { id: 'asc' } }),
    runTags: await db.runTag.findMany({ orderBy: [{ runId: 'asc' }, { tag: 'asc' }] }),
    batchMetrics: await db.batchMetric.findMany({ orderBy: [...bySeq] }),
    epochMetrics: await db.epochMetric.findMany({ orderBy: [...bySeq] }),
    confusionMatrices: await db.confusionMatrix.findMany({ orderBy: [...bySeq] }),
    misclassified: await db.misclassified.findMany({ orderBy: [...bySeq, { index: 'asc' }] }),
    predictionPanels: await db.predictionPanel.findMany({ orderBy: [...bySeq] }),
    checkpoints: await db.checkpoint.findMany({ orderBy: { id: 'asc' } }),
    annotations: await db.annotation.findMany({ orderBy: { id: 'asc' } }),
    annotationEdits: await db.annotationEdit.findMany({ orderBy: { id: 'asc' } }),
    participants: await db.participant.findMany({ orderBy: { id: 'asc' } }),
    trainers: await db.trainer.findMany({ orderBy: { id: 'asc' } }),
  };
}
export type DbState = Awaited<ReturnType<typeof dbState>>;

/** A row's key in its table (the tables above all have `id`, or `runId` + `seq` (+ `index`), or `runId` + `tag`). */
function keyOf(row: object): string {
  const r = row as { id?: unknown; runId?: unknown; seq?: unknown; index?: unknown; tag?: unknown };
  if (r.tag !== undefined) return `${String(r.runId)}/tag ${String(r.tag)}`;
  return r.id !== undefined ? `id ${String(r.id)}` : `${String(r.runId)}/${String(r.seq)}${r.index !== undefined ? `/${String(r.index)}` : ''}`;
}

/**
 * Every row of `before` is in `after` unchanged; tables not in `mayAdd` are identical, and
 * the ones in it only gained rows. Returns the rows added, by table.
 */
export function assertOnlyAdded<T extends keyof DbState>(before: DbState, after: DbState, mayAdd: readonly T[], message: string): { [K in T]: DbState[K] } {
  const added = {} as { [K in T]: DbState[K] };
  for (const table of Object.keys(before) as Array<keyof DbState>) {
    if (!(mayAdd as readonly string[]).includes(table)) {
      assert.deepEqual(after[table], before[table], `${message}: ${table} unchanged`);
      continue;
    }
    const rows = new Map((after[table] as object[]).map((r) => [keyOf(r), r]));
    for (const row of before[table] as object[]) {
      assert.deepEqual(rows.get(keyOf(row)), row, `${message}: ${table} ${keyOf(row)} unchanged`);
      rows.delete(keyOf(row));
    }
    (added as Record<string, object[]>)[table] = [...rows.values()];
  }
  return added;
}
