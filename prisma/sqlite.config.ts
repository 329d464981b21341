/**
 * Prisma CLI config for the SQLite schema (the embedded default).
 *
 * Used as `prisma <command> --config prisma/sqlite.config.ts` (see `npm run db:generate` and
 * docs/database.md). Paths here are relative to this file.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'prisma/config';

// Prisma 7's CLI fetches its native schema engine before any command, even `generate`, which
// never runs it; offline (CI, this project's machines) that fails. Naming an existing file skips
// the fetch. Only for commands that do not need the engine: `migrate`/`db` keep Prisma's own
// behaviour (see docs/database.md).
if (['generate', 'validate', 'format', 'version'].includes(process.argv[2] ?? '')) {
  process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= '/bin/false';
}

// Only migrate / introspection commands read the URL: the hub's DATABASE_URL when it is a
// SQLite one, else the hub's default database (.livetrain/livetrain.db at the repository root).
const url = process.env.DATABASE_URL?.startsWith('file:')
  ? process.env.DATABASE_URL
  : `file:${fileURLToPath(new URL('../.livetrain/livetrain.db', import.meta.url))}`;

export default defineConfig({
  schema: 'schema.prisma',
  migrations: { path: 'migrations' },
  datasource: { url },
});
