/**
 * Opening Livetrain's database: an embedded SQLite file by default, or PostgreSQL when given a
 * `postgres://` / `postgresql://` URL. Migrations are applied first (server/db/migrate.ts), then
 * a Prisma 7 client is returned over a driver adapter. Both generated clients have the same
 * model API, so callers use one type, {@link Db}. See docs/database.md.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlDriverAdapterFactory } from '@prisma/client/runtime/client';
import { z } from 'zod';
import { PrismaClient as PostgresPrismaClient } from './generated/postgres/client';
import { PrismaClient as SqlitePrismaClient, type Prisma } from './generated/sqlite/client';
import {
  applyMigrations,
  type MigrationReport,
  type MigrationTarget,
  type Provider,
} from './migrate';

/** The models of Livetrain's schema, by their client property. */
type ModelKey =
  | 'run'
  | 'runTag'
  | 'batchMetric'
  | 'epochMetric'
  | 'confusionMatrix'
  | 'misclassified'
  | 'predictionPanel'
  | 'checkpoint'
  | 'annotation'
  | 'annotationEdit'
  | 'participant'
  | 'trainer'
  | 'hubSecret';
/**
 * The model methods Livetrain uses. Both generated clients have them with the same types
 * (`aggregate` and `groupBy` are left out: their generic result types differ per provider).
 */
type ModelMethod =
  | 'findUnique'
  | 'findUniqueOrThrow'
  | 'findFirst'
  | 'findFirstOrThrow'
  | 'findMany'
  | 'count'
  | 'create'
  | 'createMany'
  | 'update'
  | 'updateMany'
  | 'upsert'
  | 'delete'
  | 'deleteMany';

/** A database client or an interactive transaction's client. */
export type DbClient = { [K in ModelKey]: Pick<SqlitePrismaClient[K], ModelMethod> } & Pick<
  SqlitePrismaClient,
  '$queryRaw' | '$executeRaw' | '$executeRawUnsafe' | '$queryRawUnsafe'
>;
/** One statement of a batch transaction. */
export type DbStatement = Prisma.PrismaPromise<unknown>;

/**
 * What Livetrain needs of a Prisma client, whichever provider is behind it. Both generated
 * clients are assigned to it without a cast, so the compiler checks that each one has every
 * method used with the same types; server/db/rows.ts checks that their rows are identical.
 */
export interface Db extends DbClient {
  $transaction<R>(
    fn: (tx: DbClient) => Promise<R>,
    options?: { timeout?: number; maxWait?: number },
  ): Promise<R>;
  $transaction<const S extends DbStatement[]>(
    statements: [...S],
  ): Promise<{ [I in keyof S]: Awaited<S[I]> }>;
  $disconnect(): Promise<void>;
}

/** Used when no URL is given: relative to the working directory, created on first use. */
export const DEFAULT_DATABASE_URL = 'file:.livetrain/livetrain.db';

/** Busy timeout for SQLite connections, ms: how long a writer waits for another's lock. */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;

/**
 * Set on every SQLite connection the client opens. WAL lets the dashboard read while the hub
 * writes; `synchronous=FULL` makes a commit durable through a power cut too (NORMAL, in WAL
 * mode, may lose the last transactions to one), which is what acknowledging a trainer's events
 * as stored promises; foreign keys make cascades work. docs/benchmarks.md ("Storage") says what FULL costs.
 */
export const SQLITE_PRAGMAS = [
  'PRAGMA journal_mode = WAL',
  'PRAGMA synchronous = FULL',
  `PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`,
  'PRAGMA foreign_keys = ON',
] as const;

/** An open database. */
export interface LivetrainDatabase {
  /** The Prisma client. */
  prisma: Db;
  provider: Provider;
  /** The URL in effect: `file:` + absolute path for SQLite, the given URL for PostgreSQL. */
  url: string;
  /** What applying migrations did, or null under `migrate: false`. */
  migrations: MigrationReport | null;
  /** Disconnects the client (and closes its connections). */
  close(): Promise<void>;
}

/** A database URL that is malformed or of an unsupported kind. */
export class DatabaseUrlError extends Error {
  override name = 'DatabaseUrlError';
}

/** A URL resolved to its provider and what {@link applyMigrations} needs. */
export interface ResolvedDatabaseUrl {
  provider: Provider;
  url: string;
  target: MigrationTarget;
}

/**
 * Classifies a database URL. SQLite: `file:<path>` (relative to `cwd`) or `file:///abs/path`;
 * PostgreSQL: `postgres://` or `postgresql://`, in the default `public` schema.
 *
 * @throws DatabaseUrlError for any other scheme, an in-memory or parameterised SQLite URL, or
 *   a PostgreSQL URL naming another schema
 */
export function resolveDatabaseUrl(url: string, cwd: string = process.cwd()): ResolvedDatabaseUrl {
  if (url.startsWith('file:')) {
    if (url.includes('?'))
      throw new DatabaseUrlError(`SQLite URL parameters are not supported: ${url}`);
    const rest = url.slice('file:'.length);
    if (rest === '' || rest.includes(':memory:')) {
      throw new DatabaseUrlError(
        `SQLite URL must name a file (in-memory databases are not supported): ${url}`,
      );
    }
    const file = rest.startsWith('//') ? fileURLToPath(url) : path.resolve(cwd, rest);
    return { provider: 'sqlite', url: `file:${file}`, target: { provider: 'sqlite', file } };
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new DatabaseUrlError('malformed PostgreSQL URL');
    }
    const schema = parsed.searchParams.get('schema');
    if (schema !== null && schema !== 'public') {
      throw new DatabaseUrlError(
        `PostgreSQL schema "${schema}" is not supported: Livetrain uses the default "public" schema`,
      );
    }
    return {
      provider: 'postgresql',
      url,
      target: { provider: 'postgresql', connectionString: url },
    };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
  throw new DatabaseUrlError(
    `unsupported database URL${scheme ? ` scheme "${scheme}:"` : ''}: use file:<path> (SQLite) or postgresql://… (PostgreSQL)`,
  );
}

const openOptionsSchema = z
  .object({
    url: z.string().trim().min(1).optional(),
    migrate: z.boolean().default(true),
    migrationsDir: z.string().min(1).optional(),
  })
  .strip();

/** Options of {@link openDatabase}. */
export type OpenDatabaseOptions = z.input<typeof openOptionsSchema>;

/**
 * Opens the database at `url` (default {@link DEFAULT_DATABASE_URL}), creating the SQLite
 * file's directory, applying the committed migrations unless `migrate: false`, and returning a
 * Prisma client. Nothing is cached: each call opens its own connections; call `close()`.
 *
 * @param opts.url - `file:<path>`, `postgres://…` or `postgresql://…`
 * @param opts.migrate - apply migrations first (default true)
 * @param opts.migrationsDir - another migrations folder (tests); default: the committed one
 * @throws DatabaseUrlError for an unsupported URL; MigrationError when migrating fails
 */
export async function openDatabase(opts: OpenDatabaseOptions = {}): Promise<LivetrainDatabase> {
  const options = openOptionsSchema.parse(opts);
  const resolved = resolveDatabaseUrl(options.url ?? DEFAULT_DATABASE_URL);
  const { target } = resolved;
  if (target.provider === 'sqlite') await mkdir(path.dirname(target.file), { recursive: true });

  const migrations = options.migrate
    ? await applyMigrations({ target, migrationsDir: options.migrationsDir })
    : null;

  const prisma: Db =
    target.provider === 'sqlite'
      ? new SqlitePrismaClient({
          adapter: withPragmas(
            new PrismaBetterSqlite3({ url: resolved.url, timeout: SQLITE_BUSY_TIMEOUT_MS }),
          ),
        })
      : new PostgresPrismaClient({
          adapter: new PrismaPg({ connectionString: target.connectionString }),
        });

  return {
    prisma,
    provider: resolved.provider,
    url: resolved.url,
    migrations,
    close: () => prisma.$disconnect(),
  };
}

/**
 * Wraps the better-sqlite3 adapter factory so every connection it opens gets
 * {@link SQLITE_PRAGMAS}: the adapter itself only takes better-sqlite3's constructor options.
 */
function withPragmas(factory: PrismaBetterSqlite3): SqlDriverAdapterFactory {
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    async connect() {
      const adapter = await factory.connect();
      await adapter.executeScript(SQLITE_PRAGMAS.join(';\n'));
      return adapter;
    },
  };
}
