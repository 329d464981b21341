/**
 * Multi-row INSERTs through the Prisma client's raw path, for the tables written at training
 * speed (batch metrics, misclassified digits): `createMany` runs Prisma 7's query compiler on
 * the hub's event loop for every shape of write, a raw statement does not (`npm run
 * bench:ingest` compares the two; docs/benchmarks.md).
 */
import type { Db, DbClient } from './client';
import type { Prisma } from './generated/sqlite/client';

/** A table written with raw SQL: a model of the Prisma schema (both clients come from one schema). */
type Table = Prisma.ModelName;
/** A column of `T`: one of its model's scalar fields, so a raw statement names no column the schema lacks. */
export type Column<T extends Table> = keyof Prisma.TypeMap['model'][T]['payload']['scalars'] &
  string;
/** The fields of `T` that `C` leaves out (never when it lists them all). */
export type MissingColumns<T extends Table, C extends string> = Exclude<Column<T>, C>;

/**
 * A column list of `T` that names every scalar field of its model: a field added to the schema
 * and not to the list fails to compile here, with the missing names in the message.
 */
export function everyColumn<T extends Table>() {
  return <const C extends readonly Column<T>[]>(
    columns: C &
      ([MissingColumns<T, C[number]>] extends [never]
        ? unknown
        : { missing: MissingColumns<T, C[number]> }),
  ): C => columns;
}

/**
 * One raw SQL statement and its parameters, not yet bound to a client: a caller runs it in a
 * batch (`db.$transaction(statements.map(…))`, which skips the query compiler when every
 * statement is raw) or inside an interactive transaction ({@link runStatements}).
 */
export interface RawStatement {
  sql: string;
  values: unknown[];
}

/** The `n`th (from 1) parameter of a raw statement: `$n` in PostgreSQL, `?` in SQLite. */
export const placeholder = (provider: 'sqlite' | 'postgresql', n: number) =>
  provider === 'postgresql' ? `$${n}` : '?';

/** Rows per statement: far below SQLite's 32,766 and PostgreSQL's 65,535 bound parameters. */
const ROWS_PER_STATEMENT = 500;

/**
 * Statements inserting `rows` into `table` (columns in `columns` order), to run inside the
 * caller's transaction. Rows whose key is already stored are skipped (ON CONFLICT DO NOTHING,
 * in SQLite and PostgreSQL alike), so writing a batch again is harmless; with `upsert`, the
 * stored row's `upsert.set` columns take the new values instead. `table` and the column
 * names are code constants, never input.
 */
export function bulkInsert<T extends Table>(
  provider: 'sqlite' | 'postgresql',
  table: T,
  columns: readonly Column<T>[],
  rows: readonly unknown[][],
  upsert?: { key: readonly Column<T>[]; set: readonly Column<T>[] },
): RawStatement[] {
  const ops: RawStatement[] = [];
  const head = `INSERT INTO "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) VALUES `;
  const tail = upsert
    ? ` ON CONFLICT (${upsert.key.map((c) => `"${c}"`).join(', ')}) DO UPDATE SET ${upsert.set.map((c) => `"${c}" = excluded."${c}"`).join(', ')}`
    : ' ON CONFLICT DO NOTHING';
  for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) {
    const chunk = rows.slice(start, start + ROWS_PER_STATEMENT);
    let n = 0;
    const values = chunk
      .map(() => `(${columns.map(() => placeholder(provider, ++n)).join(', ')})`)
      .join(', ');
    ops.push({ sql: head + values + tail, values: chunk.flat() });
  }
  return ops;
}

/** Runs `statements` in order on `client` (an interactive transaction's, usually). */
export async function runStatements(
  client: Pick<DbClient, '$executeRawUnsafe'>,
  statements: readonly RawStatement[],
): Promise<void> {
  for (const s of statements) await client.$executeRawUnsafe(s.sql, ...s.values);
}

/** Runs raw `statements` as one batch transaction (all raw: no query compiler). */
export async function inBatch(db: Db, statements: readonly RawStatement[]): Promise<void> {
  if (statements.length)
    await db.$transaction(statements.map((s) => db.$executeRawUnsafe(s.sql, ...s.values)));
}
