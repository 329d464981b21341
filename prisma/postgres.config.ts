/**
 * Prisma CLI config for the PostgreSQL schema, which scripts/prisma-schemas.ts derives from
 * prisma/schema.prisma (never edit prisma/postgres/schema.prisma by hand).
 *
 * Used as `prisma <command> --config prisma/postgres.config.ts` (see `npm run db:generate` and
 * docs/database.md). Paths here are relative to this file.
 */
import { defineConfig } from 'prisma/config';

// Prisma 7's CLI fetches its native schema engine before any command, even `generate`, which
// never runs it; offline (CI, this project's machines) that fails. Naming an existing file skips
// the fetch. Only for commands that do not need the engine: `migrate`/`db` keep Prisma's own
// behaviour (see docs/database.md).
if (['generate', 'validate', 'format', 'version'].includes(process.argv[2] ?? '')) {
  process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= '/bin/false';
}

// Only migrate / introspection commands read the URL: the hub's DATABASE_URL when it is a
// PostgreSQL one, else a local development database.
const url = /^postgres(ql)?:\/\//.test(process.env.DATABASE_URL ?? '')
  ? process.env.DATABASE_URL!
  : 'postgresql://postgres@127.0.0.1:5432/livetrain';

export default defineConfig({
  schema: 'postgres/schema.prisma',
  migrations: { path: 'postgres/migrations' },
  datasource: { url },
});
