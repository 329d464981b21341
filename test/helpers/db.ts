/**
 * Database fixtures for tests: a SQLite file in a fresh temp directory, and throwaway
 * PostgreSQL databases (`livetrain_test_<pid>_<n>`) on the local server, skipped with a visible
 * reason when the server is unreachable, except under `LIVETRAIN_REQUIRE_SERVICES=1` (CI), where
 * that is a failure.
 *
 * ```ts
 * const pgdb = postgresDatabases();
 * after(() => pgdb.dropAll());
 * test('…', async (t) => {
 *   const url = await pgdb.create(t);
 *   if (!url) return; // skipped, reason shown
 * });
 * ```
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { z } from 'zod';

const envSchema = z.object({
  /** Server to create test databases on (any database of it; `postgres` is always there). */
  LIVETRAIN_TEST_POSTGRES_URL: z.url().default('postgresql://postgres@127.0.0.1:5432/postgres'),
  LIVETRAIN_REQUIRE_SERVICES: z.string().optional(),
});

function testEnv(): z.infer<typeof envSchema> {
  return envSchema.parse(process.env);
}

/** Whether missing services must fail tests instead of skipping them (`.ci/run` sets it). */
export function servicesRequired(): boolean {
  return testEnv().LIVETRAIN_REQUIRE_SERVICES === '1';
}

/** A SQLite database file in its own temp directory. */
export interface TempSqlite {
  /** `file:` URL of the database (the file does not exist yet). */
  url: string;
  file: string;
  dir: string;
  /** Removes the directory with the database and its WAL files. */
  cleanup(): Promise<void>;
}

/** Makes a temp directory and the `file:` URL of a database inside it. */
export async function tempSqlite(name = 'livetrain.db'): Promise<TempSqlite> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livetrain-db-'));
  const file = path.join(dir, name);
  return {
    url: `file:${file}`,
    file,
    dir,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Throwaway PostgreSQL databases for one test file; see the module comment. */
export interface PostgresDatabases {
  /** The server the databases are created on, for messages. */
  readonly server: string;
  /**
   * Creates an empty database and returns its URL; when the server is unreachable, marks `t`
   * skipped with the reason and returns null (or throws under LIVETRAIN_REQUIRE_SERVICES=1).
   */
  create(t: TestContext): Promise<string | null>;
  /** Drops every database this factory created (closing their connections). */
  dropAll(): Promise<void>;
}

/** Connects as the admin URL with a short timeout. */
async function connectAdmin(adminUrl: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  client.on('error', () => {}); // a server going away mid-test surfaces on the next query
  await client.connect();
  return client;
}

/**
 * A factory of throwaway databases named `livetrain_test_<pid>_<n>`.
 *
 * @param adminUrl - defaults to env LIVETRAIN_TEST_POSTGRES_URL, else
 *   `postgresql://postgres@127.0.0.1:5432/postgres` (trust auth)
 */
export function postgresDatabases(
  adminUrl: string = testEnv().LIVETRAIN_TEST_POSTGRES_URL,
): PostgresDatabases {
  const admin = new URL(adminUrl);
  const server = `${admin.hostname}:${admin.port || '5432'}`;
  const created: string[] = [];
  let reachable: Promise<string | null> | undefined; // null when reachable, else the reason

  function probe(): Promise<string | null> {
    reachable ??= connectAdmin(adminUrl).then(
      async (c) => {
        await c.end();
        return null;
      },
      (e: unknown) =>
        `PostgreSQL not reachable at ${server} (${(e as Error).message || String(e)})`,
    );
    return reachable;
  }

  return {
    server,
    async create(t) {
      const reason = await probe();
      if (reason !== null) {
        if (servicesRequired())
          throw new Error(`${reason}; LIVETRAIN_REQUIRE_SERVICES=1 requires it`);
        t.skip(reason);
        return null;
      }
      const name = `livetrain_test_${process.pid}_${created.length + 1}`;
      const client = await connectAdmin(adminUrl);
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await client.query(`CREATE DATABASE "${name}"`);
      } finally {
        await client.end();
      }
      created.push(name);
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      return url.toString();
    },
    async dropAll() {
      if (created.length === 0) return;
      const client = await connectAdmin(adminUrl);
      try {
        for (const name of created.splice(0)) {
          await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        }
      } finally {
        await client.end();
      }
    },
  };
}
