/**
 * Applies the committed Prisma migrations at start-up (Prisma 7's `migrate deploy` needs a native
 * engine that is not available everywhere), recording them in `_prisma_migrations` as Prisma does
 * so that its CLI sees the same history. Stricter than Prisma's `deploy` in one way: an applied
 * migration whose file has changed since is an error. See docs/database.md.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import pg from 'pg';
import { z } from 'zod';

// better-sqlite3 ships no types (and @types/better-sqlite3 is not a dependency): the slice used.
type SqliteStatement = {
  get(...p: unknown[]): unknown;
  all(...p: unknown[]): unknown[];
  run(...p: unknown[]): unknown;
};
type SqliteConnection = {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): void;
  pragma(sql: string): unknown;
};
type SqliteOpen = new (
  file: string,
  o?: { timeout?: number },
) => SqliteConnection & { close(): void; inTransaction: boolean };

/** The database providers Livetrain supports. */
export type Provider = 'sqlite' | 'postgresql';

/** The committed migrations for each provider (Prisma's layout, see docs/database.md). */
export const MIGRATIONS_DIRS: Readonly<Record<Provider, string>> = {
  sqlite: path.resolve(import.meta.dirname, '..', '..', 'prisma', 'migrations'),
  postgresql: path.resolve(import.meta.dirname, '..', '..', 'prisma', 'postgres', 'migrations'),
};

/** Where to apply: a SQLite file path, or a PostgreSQL connection string. */
export type MigrationTarget =
  { provider: 'sqlite'; file: string } | { provider: 'postgresql'; connectionString: string };

/** Options of {@link applyMigrations}. */
export interface ApplyMigrationsOptions {
  target: MigrationTarget;
  /** Folder of `<name>/migration.sql` folders; defaults to {@link MIGRATIONS_DIRS}[provider]. */
  migrationsDir?: string;
  /** PostgreSQL: how long to wait for another process's migration lock (default 10 s, as Prisma). */
  lockTimeoutMs?: number;
  /** Called with one line per migration applied. */
  log?: (line: string) => void;
}

/** Prisma's key for `pg_advisory_lock` during `migrate deploy`: two appliers never interleave. */
export const PRISMA_ADVISORY_LOCK_KEY = 72707369;

// Prisma's DDL for the migrations table, verbatim, per provider.
const SQLITE_LEDGER_DDL = `CREATE TABLE "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
)`;

const POSTGRES_LEDGER_DDL = `CREATE TABLE _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
)`;

const LEDGER_COLUMNS = 'checksum, migration_name, finished_at, rolled_back_at';

/**
 * Why {@link applyMigrations} refused or stopped: the lock file names another provider; a
 * folder lacks migration.sql; an earlier failure is unresolved (Prisma's P3009); an applied
 * migration's file changed; a script failed now; another process held the PostgreSQL lock.
 */
export type MigrationErrorCode =
  | 'PROVIDER_MISMATCH'
  | 'MISSING_SCRIPT'
  | 'FAILED_MIGRATION'
  | 'CHECKSUM_MISMATCH'
  | 'MIGRATION_FAILED'
  | 'LOCK_TIMEOUT';

/** A refusal or failure of {@link applyMigrations}; `migrations` names the ones concerned. */
export class MigrationError extends Error {
  constructor(
    readonly code: MigrationErrorCode,
    message: string,
    readonly migrations: string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

/** One committed migration: its folder name, script and checksum. */
export interface MigrationFile {
  name: string;
  script: string;
  checksum: string;
}

/** What {@link applyMigrations} did. */
export interface MigrationReport {
  /** Applied by this call, in order. */
  applied: string[];
  /** Already applied before this call. */
  alreadyApplied: string[];
  /** Recorded as applied in the database but with no folder here (Prisma ignores these too). */
  notOnDisk: string[];
}

/** Prisma's checksum of a migration script: sha256 of its bytes, lowercase hex. */
export function migrationChecksum(script: string): string {
  return createHash('sha256').update(script, 'utf8').digest('hex');
}

/** Prisma's comparison: the file may have gained or lost CRLF line endings (git) since. */
function checksumMatches(script: string, checksum: string): boolean {
  const variants = [script, script.replace(/\r\n/g, '\n'), script.replace(/\r?\n/g, '\r\n')];
  return variants.some((v) => migrationChecksum(v) === checksum.toLowerCase());
}

/**
 * Reads a migrations folder in Prisma's layout: `migration_lock.toml` and one
 * `<timestamp>_<name>/migration.sql` per migration, in folder-name order.
 * @throws MigrationError `PROVIDER_MISMATCH` or `MISSING_SCRIPT`
 */
export async function readMigrations(dir: string, provider: Provider): Promise<MigrationFile[]> {
  const lock = await readFile(path.join(dir, 'migration_lock.toml'), 'utf8').catch(() => null);
  const locked = lock?.match(/^\s*provider\s*=\s*"([^"]*)"/m)?.[1];
  if (lock !== null && locked !== provider) {
    const msg = `${path.join(dir, 'migration_lock.toml')} is for provider "${locked ?? '?'}", not "${provider}"`;
    throw new MigrationError('PROVIDER_MISMATCH', msg, []);
  }
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const file = path.join(dir, name, 'migration.sql');
      const script = await readFile(file, 'utf8').catch(() => {
        throw new MigrationError(
          'MISSING_SCRIPT',
          `migration ${name} has no migration.sql (${file})`,
          [name],
        );
      });
      return { name, script, checksum: migrationChecksum(script) };
    }),
  );
}

// Rows read back from _prisma_migrations; timestamps only matter as null / not null.
const stamp = z.union([z.string(), z.number(), z.bigint(), z.date()]).nullable();
const ledgerRowSchema = z.object({
  checksum: z.string(),
  migration_name: z.string(),
  finished_at: stamp,
  rolled_back_at: stamp,
});

/**
 * Decides what to apply, following Prisma's `deploy`: rows rolled back are ignored, a row
 * neither finished nor rolled back is an unresolved failure, a finished row means applied.
 */
function planMigrations(
  files: MigrationFile[],
  rawRows: unknown[],
): { pending: MigrationFile[]; report: MigrationReport } {
  const rows = z
    .array(ledgerRowSchema)
    .parse(rawRows)
    .filter((r) => r.rolled_back_at === null);
  const failures = rows.filter((r) => r.finished_at === null).map((r) => r.migration_name);
  if (failures.length > 0) {
    throw new MigrationError(
      'FAILED_MIGRATION',
      `migration(s) ${failures.join(', ')} failed earlier and are not resolved (logs in _prisma_migrations); ` +
        'nothing was applied. Fix the database, then mark them rolled back (see docs/database.md).',
      failures,
    );
  }
  const applied = new Map(rows.map((r) => [r.migration_name, r.checksum]));
  const names = files
    .filter((f) => applied.has(f.name) && !checksumMatches(f.script, applied.get(f.name)!))
    .map((f) => f.name);
  if (names.length > 0) {
    throw new MigrationError(
      'CHECKSUM_MISMATCH',
      `migration(s) ${names.join(', ')} changed after being applied (checksum differs from _prisma_migrations); ` +
        'nothing was applied. Restore the committed file(s) and add a new migration instead.',
      names,
    );
  }
  const onDisk = new Set(files.map((f) => f.name));
  const pending = files.filter((f) => !applied.has(f.name));
  const alreadyApplied = files.filter((f) => applied.has(f.name)).map((f) => f.name);
  const notOnDisk = [...applied.keys()].filter((n) => !onDisk.has(n)).sort();
  return { pending, report: { applied: pending.map((f) => f.name), alreadyApplied, notOnDisk } };
}

/**
 * Brings the database up to the committed migrations. Idempotent: applied migrations are
 * skipped. Before applying anything it refuses (with a {@link MigrationError} naming the
 * migrations) a lock file for another provider, an unresolved failed migration, or an applied
 * migration whose file changed. A migration that fails is recorded as failed, as Prisma does,
 * and reported as `MIGRATION_FAILED`; the ones before it stay applied.
 *
 * @returns which migrations were applied now, which already were, and which rows have no file
 */
export async function applyMigrations(opts: ApplyMigrationsOptions): Promise<MigrationReport> {
  const { target } = opts;
  const files = await readMigrations(
    opts.migrationsDir ?? MIGRATIONS_DIRS[target.provider],
    target.provider,
  );
  const log = opts.log ?? (() => {});
  return target.provider === 'sqlite'
    ? applySqlite(target.file, files, log)
    : applyPostgres(target.connectionString, files, log, opts.lockTimeoutMs ?? 10_000);
}

/**
 * SQLite: one `BEGIN IMMEDIATE` transaction holds the write lock for the whole run, so a second
 * process waits, then finds everything applied. Each migration runs in a savepoint: a failing
 * one leaves no half-applied schema, and its failed row is recorded and committed.
 */
function applySqlite(
  file: string,
  files: MigrationFile[],
  log: (line: string) => void,
): MigrationReport {
  const Database = createRequire(import.meta.url)('better-sqlite3') as SqliteOpen;
  const db = new Database(file, { timeout: 15_000 });
  try {
    // Prisma's SQLite scripts redefine tables (DROP + RENAME) between `PRAGMA foreign_keys=OFF/ON`,
    // a no-op inside a transaction: off already, or the DROP cascades. Checked before commit.
    db.pragma('foreign_keys = OFF');
    db.exec('BEGIN IMMEDIATE');
    try {
      if (!db.prepare(`SELECT 1 FROM sqlite_master WHERE name = '_prisma_migrations'`).get())
        db.exec(SQLITE_LEDGER_DDL);
      const rows = db.prepare(`SELECT ${LEDGER_COLUMNS} FROM "_prisma_migrations"`).all();
      const plan = planMigrations(files, rows);
      const insert =
        db.prepare(`INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, started_at,
        applied_steps_count) VALUES (?, ?, ?, ?, ?, ?, ?)`);
      for (const m of plan.pending) {
        // Prisma's engine stores these timestamps as Unix milliseconds on SQLite.
        const startedAt = Date.now();
        db.exec('SAVEPOINT livetrain_migration');
        try {
          db.exec(m.script);
          const violations = db.pragma('foreign_key_check') as unknown[];
          if (violations.length > 0)
            throw new Error(`${violations.length} foreign key violation(s) after the script`);
          insert.run(randomUUID(), m.checksum, Date.now(), m.name, null, startedAt, 1);
          db.exec('RELEASE livetrain_migration');
        } catch (e) {
          db.exec('ROLLBACK TO livetrain_migration; RELEASE livetrain_migration');
          insert.run(randomUUID(), m.checksum, null, m.name, errorText(e), startedAt, 0);
          db.exec('COMMIT');
          throw failed(m.name, e);
        }
        log(`applied migration ${m.name}`);
      }
      db.exec('COMMIT');
      return plan.report;
    } finally {
      if (db.inTransaction) db.exec('ROLLBACK');
    }
  } finally {
    db.close();
  }
}

/**
 * PostgreSQL: under Prisma's advisory lock, each migration is recorded as started, run as one
 * simple-protocol query (PostgreSQL runs a multi-statement query in one implicit transaction,
 * as with Prisma), then marked finished, or its error written to `logs`.
 */
async function applyPostgres(
  url: string,
  files: MigrationFile[],
  log: (line: string) => void,
  lockMs: number,
): Promise<MigrationReport> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {}); // a dropped connection also fails the pending or next query
  await client.connect();
  try {
    // Held until client.end(): the session's end releases it even if we fail half-way.
    await acquireAdvisoryLock(client, lockMs);
    await client.query(POSTGRES_LEDGER_DDL.replace('CREATE TABLE', 'CREATE TABLE IF NOT EXISTS'));
    const { rows } = await client.query(`SELECT ${LEDGER_COLUMNS} FROM _prisma_migrations`);
    const plan = planMigrations(files, rows);
    for (const m of plan.pending) {
      const id = randomUUID();
      const insert =
        'INSERT INTO _prisma_migrations (id, checksum, started_at, migration_name) VALUES ($1, $2, now(), $3)';
      await client.query(insert, [id, m.checksum, m.name]);
      try {
        await client.query(m.script);
      } catch (e) {
        await client.query('UPDATE _prisma_migrations SET logs = $2 WHERE id = $1', [
          id,
          errorText(e),
        ]);
        throw failed(m.name, e);
      }
      const finish =
        'UPDATE _prisma_migrations SET finished_at = now(), applied_steps_count = applied_steps_count + 1 WHERE id = $1';
      await client.query(finish, [id]);
      log(`applied migration ${m.name}`);
    }
    return plan.report;
  } finally {
    await client.end();
  }
}

/** Polls `pg_try_advisory_lock` so a stuck peer gives a clear error instead of a hang. */
async function acquireAdvisoryLock(client: pg.Client, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [
      PRISMA_ADVISORY_LOCK_KEY,
    ]);
    if (rows[0]?.ok) return;
    if (Date.now() >= deadline) {
      const msg = `timed out after ${timeoutMs} ms waiting for pg_advisory_lock(${PRISMA_ADVISORY_LOCK_KEY}), held by another migrating process`;
      throw new MigrationError('LOCK_TIMEOUT', msg, []);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

function failed(name: string, e: unknown): MigrationError {
  return new MigrationError(
    'MIGRATION_FAILED',
    `migration ${name} failed and is recorded as failed in _prisma_migrations: ${errorText(e)}. ` +
      'Fix the database or the migration, then mark it rolled back (see docs/database.md) to retry.',
    [name],
    { cause: e },
  );
}
