/**
 * Every row of every table, whole, for "a refused request changes nothing": counting rows
 * misses a refused request that rewrites a run's status, learning rate or lastSeq, or a note's
 * text. The tables are Prisma's own model list, so a model added to the schema is compared
 * without anyone remembering to list it here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type * as runtime from '@prisma/client/runtime/client';
import { Prisma } from '../../server/db/generated/sqlite/client';
import type { TestHub } from './hub';

type ModelName = Prisma.ModelName;
/** A model's table as the client names it (`Run` → `run`). */
type Table<M extends ModelName = ModelName> = Uncapitalize<M>;
type Row<M extends ModelName> = runtime.Types.Utils.PayloadToResult<
  Prisma.TypeMap['model'][M]['payload']
>;

/** All rows of all tables, by table, each in primary-key order. */
export type DbState = { [M in ModelName as Table<M>]: Row<M>[] };

const SCHEMA = path.resolve(import.meta.dirname, '../../prisma/schema.prisma');

/** Each model's primary-key fields, read from the schema (`@id` on a field, or `@@id([...])`). */
function primaryKeys(): Map<ModelName, string[]> {
  const text = readFileSync(SCHEMA, 'utf8');
  const keys = new Map<ModelName, string[]>();
  for (const [, model, body] of text.matchAll(/^model (\w+) \{\n([\s\S]*?)^\}/gm)) {
    const compound = /^\s*@@id\(\[([^\]]+)\]\)/m.exec(body);
    const single = /^\s*(\w+)\s+\S+.*\s@id\b/m.exec(body);
    const fields = compound
      ? compound[1].split(',').map((f) => f.trim())
      : single
        ? [single[1]]
        : [];
    keys.set(model as ModelName, fields);
  }
  for (const model of Object.values(Prisma.ModelName)) {
    assert.ok(
      keys.get(model)?.length,
      `dbState: no primary key found for model ${model} in ${SCHEMA}`,
    );
  }
  return keys;
}

const tableOf = <M extends ModelName>(model: M) =>
  (model[0].toLowerCase() + model.slice(1)) as Table<M>;
const KEYS = new Map(
  Object.values(Prisma.ModelName).map((model) => [
    tableOf(model) as string,
    primaryKeys().get(model)!,
  ]),
);

/** All rows of all tables, each table in key order, after the hub wrote what it holds back. */
export async function dbState(hub: TestHub): Promise<DbState> {
  await hub.hub.flush();
  const state: Record<string, object[]> = {};
  for (const [table, key] of KEYS) {
    const delegate = (
      hub.db.prisma as unknown as Record<string, { findMany(args: object): Promise<object[]> }>
    )[table];
    state[table] = await delegate.findMany({ orderBy: key.map((field) => ({ [field]: 'asc' })) });
  }
  return state as DbState;
}

/** A row's primary key in its table, e.g. `runId=r1 seq=3`. */
function keyOf(table: string, row: object): string {
  const r = row as Record<string, unknown>;
  return KEYS.get(table)!
    .map((field) => `${field}=${String(r[field])}`)
    .join(' ');
}

/**
 * Every row of `before` is in `after` unchanged; tables not in `mayAdd` are identical, and
 * the ones in it only gained rows. Returns the rows added, by table.
 */
export function assertOnlyAdded<T extends keyof DbState>(
  before: DbState,
  after: DbState,
  mayAdd: readonly T[],
  message: string,
): { [K in T]: DbState[K] } {
  const added = {} as { [K in T]: DbState[K] };
  for (const table of Object.keys(before) as Array<keyof DbState>) {
    if (!(mayAdd as readonly string[]).includes(table)) {
      assert.deepEqual(after[table], before[table], `${message}: ${table} unchanged`);
      continue;
    }
    const rows = new Map((after[table] as object[]).map((r) => [keyOf(table, r), r]));
    for (const row of before[table] as object[]) {
      assert.deepEqual(
        rows.get(keyOf(table, row)),
        row,
        `${message}: ${table} ${keyOf(table, row)} unchanged`,
      );
      rows.delete(keyOf(table, row));
    }
    (added as Record<string, object[]>)[table] = [...rows.values()];
  }
  return added;
}
