/**
 * Writes the PostgreSQL Prisma schema from the SQLite one.
 *
 * `prisma/schema.prisma` is the single source of the data model. Prisma fixes the provider per
 * schema, so `prisma/postgres/schema.prisma` is derived from it: same models, provider
 * `postgresql`, client output `server/db/generated/postgres`, and a header saying it is
 * generated. Run after every edit of `prisma/schema.prisma`:
 *
 * ```sh
 * npm run db:schemas            # rewrite prisma/postgres/schema.prisma
 * npm run db:schemas -- --check # exit 1 if the committed file is stale (tests, CI)
 * ```
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

/** Repository root (this file lives in `scripts/`). */
const ROOT = path.resolve(import.meta.dirname, '..');

/** The hand-written schema: SQLite provider, the source of truth. */
export const SQLITE_SCHEMA = path.join(ROOT, 'prisma', 'schema.prisma');

/** The derived schema: PostgreSQL provider, committed, never edited by hand. */
export const POSTGRES_SCHEMA = path.join(ROOT, 'prisma', 'postgres', 'schema.prisma');

const HEADER = [
  '// GENERATED FILE: do not edit. Written by scripts/prisma-schemas.ts (`npm run db:schemas`)',
  "// from prisma/schema.prisma, the single source of Livetrain's data model, with the provider",
  '// set to postgresql and the client written to server/db/generated/postgres.',
  '// See docs/database.md.',
  '',
  '',
].join('\n');

/**
 * Replaces exactly one match of `pattern` in `text`, or throws naming `what`: a silent
 * no-op here would commit a PostgreSQL schema that still says SQLite.
 */
function replaceOnce(text: string, pattern: RegExp, replacement: string, what: string): string {
  const flags = pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`;
  const matches = text.match(new RegExp(pattern.source, flags)) ?? [];
  if (matches.length !== 1) {
    throw new Error(
      `prisma-schemas: expected exactly one ${what} in prisma/schema.prisma, found ${matches.length}`,
    );
  }
  return text.replace(pattern, replacement);
}

/**
 * Derives the PostgreSQL schema text from the SQLite schema text.
 *
 * The leading `//` comment block (which describes the SQLite file) is replaced by the generated
 * header; the datasource provider and the `prisma-client` generator's output are rewritten;
 * everything else (models, `///` docs) is kept byte for byte.
 *
 * @param sqliteSource - the contents of `prisma/schema.prisma`
 * @returns the contents `prisma/postgres/schema.prisma` must have
 * @throws when the source does not have exactly one sqlite datasource provider or one
 *   `../server/db/generated/sqlite` output
 */
export function renderPostgresSchema(sqliteSource: string): string {
  const body = sqliteSource.replace(/\r\n/g, '\n').replace(/^(?:\/\/[^\n]*\n|[ \t]*\n)*/, '');
  let out = replaceOnce(
    body,
    /(datasource\s+\w+\s*\{[^}]*?provider\s*=\s*)"sqlite"/,
    '$1"postgresql"',
    'datasource with provider = "sqlite"',
  );
  out = replaceOnce(
    out,
    /(output\s*=\s*)"\.\.\/server\/db\/generated\/sqlite"/,
    '$1"../../server/db/generated/postgres"',
    'generator output = "../server/db/generated/sqlite"',
  );
  return HEADER + out;
}

/** Outcome of {@link syncPostgresSchema}. */
export interface SyncResult {
  /** Whether the file on disk already matched the derived schema. */
  upToDate: boolean;
  /** The file the result is about. */
  file: string;
}

/**
 * Compares (and unless `check`, rewrites) the PostgreSQL schema on disk.
 *
 * @param opts.check - only compare, never write
 * @param opts.source - SQLite schema path (defaults to {@link SQLITE_SCHEMA})
 * @param opts.target - PostgreSQL schema path (defaults to {@link POSTGRES_SCHEMA})
 */
export async function syncPostgresSchema(opts: {
  check: boolean;
  source?: string;
  target?: string;
}): Promise<SyncResult> {
  const source = opts.source ?? SQLITE_SCHEMA;
  const target = opts.target ?? POSTGRES_SCHEMA;
  const wanted = renderPostgresSchema(await readFile(source, 'utf8'));
  const current = await readFile(target, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw e;
  });
  const upToDate = current === wanted;
  if (!upToDate && !opts.check) {
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, wanted);
  }
  return { upToDate, file: target };
}

/**
 * CLI entry: `tsx scripts/prisma-schemas.ts [--check]`.
 *
 * @returns the process exit code: 0 written or up to date, 1 stale under `--check`, 2 bad usage
 */
export async function main(argv: string[]): Promise<number> {
  let check: boolean;
  try {
    const { values } = parseArgs({
      args: argv,
      options: { check: { type: 'boolean', default: false } },
      strict: true,
    });
    check = values.check === true;
  } catch (e) {
    console.error(
      `prisma-schemas: ${(e as Error).message}\nusage: tsx scripts/prisma-schemas.ts [--check]`,
    );
    return 2;
  }
  const { upToDate, file } = await syncPostgresSchema({ check });
  const rel = path.relative(ROOT, file);
  if (upToDate) {
    console.log(`${rel} is up to date`);
    return 0;
  }
  if (check) {
    console.error(`${rel} is stale: run \`npm run db:schemas\` and commit the result`);
    return 1;
  }
  console.log(`wrote ${rel}`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(2);
    },
  );
}
