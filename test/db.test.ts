/**
 * The database layer on a real SQLite file and a real PostgreSQL database: migrations applied
 * and recorded as Prisma records them, refusals that change nothing, failures recorded as
 * Prisma does, every model through the Prisma client, WAL mode, and the derived schema in sync.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  DEFAULT_DATABASE_URL,
  DatabaseUrlError,
  openDatabase,
  resolveDatabaseUrl,
  type Db,
} from '../server/db/client';
import {
  MIGRATIONS_DIRS,
  MigrationError,
  applyMigrations,
  type Provider,
} from '../server/db/migrate';
import { createPeerQueries } from '../server/hub/storage/peers';
import { hyperparamColumns, searchKey, textColumns } from '../server/hub/storage/runList';
import { postgresDatabases, tempSqlite, type TempSqlite } from './helpers/db';
import { ROOT } from './helpers/proc';

const pgdb = postgresDatabases();
/** The migration that added the runs list's sort and search columns. */
const LIST_MIGRATION = '20261202120000_runs_list_columns';
const temps: TempSqlite[] = [];
const dirs: string[] = [];
after(async () => {
  await pgdb.dropAll();
  await Promise.all([
    ...temps.map((d) => d.cleanup()),
    ...dirs.map((d) => rm(d, { recursive: true, force: true })),
  ]);
});

/** An empty database of `provider`, or null when the test was skipped. */
async function fresh(provider: Provider, t: test.TestContext): Promise<string | null> {
  if (provider === 'postgresql') return pgdb.create(t);
  const d = await tempSqlite();
  temps.push(d);
  return d.url;
}

/** A private copy of the committed migrations, to edit. */
async function copyMigrations(provider: Provider): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'livetrain-migrations-'));
  dirs.push(dir);
  await cp(MIGRATIONS_DIRS[provider], dir, { recursive: true });
  return dir;
}

/** Committed migration names and the sha256 of each file's bytes. */
async function committed(provider: Provider): Promise<{ name: string; sha: string }[]> {
  const dir = MIGRATIONS_DIRS[provider];
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name) => ({
      name,
      sha: createHash('sha256')
        .update(await readFile(path.join(dir, name, 'migration.sql')))
        .digest('hex'),
    })),
  );
}

interface LedgerRow {
  id: string;
  checksum: string;
  migration_name: string;
  logs: string | null;
  started_at: Date;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  applied_steps_count: number | bigint;
}
const ledger = (db: Db) =>
  db.$queryRawUnsafe<LedgerRow[]>(
    'SELECT * FROM "_prisma_migrations" ORDER BY migration_name, started_at',
  );

function tables(db: Db, provider: Provider): Promise<{ name: string }[]> {
  return provider === 'sqlite'
    ? db.$queryRawUnsafe(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
    : db.$queryRawUnsafe(
        `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`,
      );
}

test('the PostgreSQL schema is in sync with prisma/schema.prisma (scripts/prisma-schemas.ts --check)', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'scripts/prisma-schemas.ts', '--check'],
    { cwd: ROOT },
  );
  assert.match(stdout, /up to date/);
});

test('database URLs: default, relative and file:// SQLite paths, unsupported schemes', () => {
  assert.deepEqual(resolveDatabaseUrl(DEFAULT_DATABASE_URL, '/srv/app').target, {
    provider: 'sqlite',
    file: '/srv/app/.livetrain/livetrain.db',
  });
  assert.equal(resolveDatabaseUrl('file:///var/lt.db').url, 'file:/var/lt.db');
  assert.equal(resolveDatabaseUrl('postgres://u@h/db').provider, 'postgresql');
  for (const bad of [
    'mysql://u@h/db',
    'file::memory:',
    'lt.db',
    'postgresql://u@h/db?schema=other',
  ]) {
    assert.throws(() => resolveDatabaseUrl(bad), DatabaseUrlError, bad);
  }
});

test('openDatabase creates the SQLite directory and uses WAL, synchronous=FULL, foreign keys', async () => {
  const d = await tempSqlite();
  temps.push(d);
  const db = await openDatabase({ url: `file:${path.join(d.dir, 'nested', 'deeper', 'lt.db')}` });
  try {
    const pragma = async (name: string) =>
      Object.values((await db.prisma.$queryRawUnsafe<object[]>(`PRAGMA ${name}`))[0]!)[0];
    assert.equal(await pragma('journal_mode'), 'wal');
    assert.equal(
      Number(await pragma('synchronous')),
      2,
      'FULL: an acknowledged commit survives a power cut',
    );
    assert.equal(Number(await pragma('foreign_keys')), 1);
    assert.equal(Number(await pragma('busy_timeout')), 5000);
  } finally {
    await db.close();
  }
});

for (const provider of ['sqlite', 'postgresql'] as const) {
  describe(provider, () => {
    test('participants are saved in bulk: new ones created, known ones renamed and seen again, createdAt kept', async (t) => {
      const url = await fresh(provider, t);
      if (!url) return;
      const db = await openDatabase({ url });
      try {
        const peers = createPeerQueries(db.prisma, provider);
        const before = new Date(Date.now() - 1000);
        await peers.saveParticipants(
          new Map(
            Array.from({ length: 700 }, (_, i) => [
              `p${i}`,
              { name: `Person ${i}`, colour: '#112233' },
            ]),
          ),
        );
        assert.equal(await db.prisma.participant.count(), 700, 'more than one statement of rows');
        const first = await db.prisma.participant.findUniqueOrThrow({ where: { id: 'p3' } });
        assert.equal(first.name, 'Person 3');
        assert.ok(
          first.createdAt instanceof Date &&
            first.createdAt >= before &&
            first.lastSeenAt.getTime() === first.createdAt.getTime(),
          'timestamps read back as Dates',
        );
        await new Promise((r) => setTimeout(r, 20));
        await peers.saveParticipants(
          new Map([
            ['p3', { name: 'Ada', colour: '#abcdef' }],
            ['new', { name: "O'Brien; DROP TABLE", colour: '#000000' }],
          ]),
        );
        const again = await db.prisma.participant.findUniqueOrThrow({ where: { id: 'p3' } });
        assert.deepEqual([again.name, again.colour], ['Ada', '#abcdef']);
        assert.equal(again.createdAt.getTime(), first.createdAt.getTime(), 'createdAt kept');
        assert.ok(again.lastSeenAt > first.lastSeenAt, 'lastSeenAt moved on');
        assert.equal(
          (await db.prisma.participant.findUniqueOrThrow({ where: { id: 'new' } })).name,
          "O'Brien; DROP TABLE",
          'names are parameters, not SQL',
        );
        assert.equal(await db.prisma.participant.count(), 701);
      } finally {
        await db.close();
      }
    });

    test('applies the committed migrations as Prisma records them; re-applying is a no-op', async (t) => {
      const url = await fresh(provider, t);
      if (!url) return;
      const files = await committed(provider);
      const first = await openDatabase({ url });
      try {
        assert.deepEqual(first.migrations, {
          applied: files.map((f) => f.name),
          alreadyApplied: [],
          notOnDisk: [],
        });
        const rows = await ledger(first.prisma);
        assert.equal(rows.length, files.length);
        rows.forEach((row, i) => {
          assert.equal(row.migration_name, files[i]!.name);
          assert.equal(row.checksum, files[i]!.sha);
          assert.match(
            row.id,
            /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
          );
          assert.ok(row.finished_at instanceof Date && row.finished_at >= row.started_at);
          assert.equal(row.rolled_back_at, null);
          assert.equal(row.logs, null);
          assert.equal(Number(row.applied_steps_count), 1);
        });
        const again = await applyMigrations({ target: resolveDatabaseUrl(url).target });
        assert.deepEqual(again, {
          applied: [],
          alreadyApplied: files.map((f) => f.name),
          notOnDisk: [],
        });
        assert.deepEqual(await ledger(first.prisma), rows);
      } finally {
        await first.close();
      }
    });

    test('an applied migration whose file changed is refused by name and nothing changes', async (t) => {
      const url = await fresh(provider, t);
      if (!url) return;
      const db = await openDatabase({ url });
      try {
        const [before, beforeTables] = [await ledger(db.prisma), await tables(db.prisma, provider)];
        const dir = await copyMigrations(provider);
        const [first] = await committed(provider);
        await appendFile(
          path.join(dir, first!.name, 'migration.sql'),
          '\n-- edited after it was applied\n',
        );
        await mkdir(path.join(dir, '99990101000000_next'));
        await writeFile(
          path.join(dir, '99990101000000_next', 'migration.sql'),
          'CREATE TABLE "Next" ("id" INTEGER);\n',
        );
        await assert.rejects(
          applyMigrations({ target: resolveDatabaseUrl(url).target, migrationsDir: dir }),
          (e: unknown) => {
            assert.ok(e instanceof MigrationError);
            assert.equal(e.code, 'CHECKSUM_MISMATCH');
            assert.deepEqual(e.migrations, [first!.name]);
            assert.match(e.message, new RegExp(first!.name));
            return true;
          },
        );
        assert.deepEqual(await ledger(db.prisma), before);
        assert.deepEqual(await tables(db.prisma, provider), beforeTables);
      } finally {
        await db.close();
      }
    });

    test('a failing migration is recorded as failed, leaves no partial schema, and blocks later runs', async (t) => {
      const url = await fresh(provider, t);
      if (!url) return;
      const dir = await copyMigrations(provider);
      const broken = '99990101000000_broken';
      await mkdir(path.join(dir, broken));
      await writeFile(
        path.join(dir, broken, 'migration.sql'),
        'CREATE TABLE "Half" ("id" INTEGER);\nSELECT * FROM "NoSuchTable";\n',
      );
      await assert.rejects(
        openDatabase({ url, migrationsDir: dir }),
        (e: unknown) =>
          e instanceof MigrationError &&
          e.code === 'MIGRATION_FAILED' &&
          e.migrations[0] === broken &&
          /NoSuchTable/.test(e.message),
      );
      const db = await openDatabase({ url, migrate: false });
      try {
        const rows = await ledger(db.prisma);
        const files = await committed(provider);
        assert.deepEqual(
          rows.map((r) => r.migration_name),
          [...files.map((f) => f.name), broken],
        );
        const failed = rows.at(-1)!;
        assert.equal(failed.finished_at, null);
        assert.equal(failed.rolled_back_at, null);
        assert.equal(Number(failed.applied_steps_count), 0);
        assert.match(failed.logs ?? '', /NoSuchTable/);
        assert.ok(!(await tables(db.prisma, provider)).some((r) => r.name === 'Half'));
        for (const migrationsDir of [dir, MIGRATIONS_DIRS[provider]]) {
          await assert.rejects(
            applyMigrations({ target: resolveDatabaseUrl(url).target, migrationsDir }),
            (e: unknown) =>
              e instanceof MigrationError &&
              e.code === 'FAILED_MIGRATION' &&
              e.migrations.includes(broken),
          );
        }
      } finally {
        await db.close();
      }
    });

    if (provider === 'sqlite') {
      test('a Prisma-style redefinition of Run (DROP + RENAME) keeps the rows of its child tables', async (t) => {
        const url = await fresh(provider, t);
        if (!url) return;
        const db = await openDatabase({ url });
        await db.prisma.run.create({
          data: { id: 'r', name: 'r', hyperparams: {}, status: 'queued', createdBy: 'a' },
        });
        await db.prisma.annotation.create({
          data: { runId: 'r', step: 1, kind: 'note', text: 't', authorName: 'a' },
        });
        // The table as the committed migrations left it (created, then altered).
        const [{ sql: createRun }] = await db.prisma.$queryRawUnsafe<Array<{ sql: string }>>(
          `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'Run'`,
        );
        await db.close();
        // What `prisma migrate dev` writes for a changed column on SQLite.
        const dir = await copyMigrations(provider);
        await mkdir(path.join(dir, '99990101000000_redefine_run'));
        await writeFile(
          path.join(dir, '99990101000000_redefine_run', 'migration.sql'),
          [
            '-- RedefineTables',
            'PRAGMA defer_foreign_keys=ON;',
            'PRAGMA foreign_keys=OFF;',
            `${createRun.replace('"Run"', '"new_Run"')};`,
            'INSERT INTO "new_Run" SELECT * FROM "Run";',
            'DROP TABLE "Run";',
            'ALTER TABLE "new_Run" RENAME TO "Run";',
            'PRAGMA foreign_keys=ON;',
            'PRAGMA defer_foreign_keys=OFF;',
            '',
          ].join('\n'),
        );
        const after = await openDatabase({ url, migrationsDir: dir });
        try {
          assert.deepEqual(after.migrations?.applied, ['99990101000000_redefine_run']);
          assert.equal(await after.prisma.annotation.count(), 1);
          assert.equal(
            (
              await after.prisma.run.findUniqueOrThrow({
                where: { id: 'r' },
                include: { annotations: true },
              })
            ).annotations.length,
            1,
          );
        } finally {
          await after.close();
        }
      });
    }

    if (provider === 'postgresql') {
      test('two hubs migrating at once apply each migration once (advisory lock)', async (t) => {
        const url = await fresh(provider, t);
        if (!url) return;
        const target = resolveDatabaseUrl(url).target;
        const reports = await Promise.all([
          applyMigrations({ target }),
          applyMigrations({ target }),
        ]);
        const files = (await committed(provider)).map((f) => f.name);
        assert.deepEqual(reports.map((r) => r.applied).sort(), [[], files]);
        const db = await openDatabase({ url, migrate: false });
        try {
          assert.equal((await ledger(db.prisma)).length, files.length);
        } finally {
          await db.close();
        }
      });
    }

    test("the runs_list_columns migration fills the list's keys and tag rows of the runs stored before it", async (t) => {
      const url = await fresh(provider, t);
      if (!url) return;
      // The database as it was before: every migration but this one, and runs written then.
      const before = await copyMigrations(provider);
      await rm(path.join(before, LIST_MIGRATION), { recursive: true });
      const old = await openDatabase({ url, migrationsDir: before });
      const json = provider === 'postgresql' ? '::jsonb' : '';
      const hp = { epochs: 3, batchSize: 64, learningRate: 0.05, optimizer: 'adam', seed: 7 };
      try {
        const insert = (id: string, name: string, cols: string, values: string) =>
          old.prisma.$executeRawUnsafe(
            `INSERT INTO "Run" ("id", "name", "status", "createdBy", "updatedAt"${cols}) VALUES ('${id}', '${name}', 'completed', 'Ada Lovelace', CURRENT_TIMESTAMP${values})`,
          );
        await insert(
          'old-1',
          'LR Sweep_50%',
          ', "description", "tags", "hyperparams", "learningRates", "lastStep", "totalSteps"',
          `, 'With **Adam**', '["baseline","lr sweep"]'${json}, '${JSON.stringify(hp)}'${json}, '[{"step":0,"value":0.05},{"step":10,"value":0.02}]'${json}, 50, 200`,
        );
        // Written before hyperparameters had defaults: an empty object, no tags, no steps.
        await insert('old-2', 'Bare', ', "hyperparams"', `, '{}'${json}`);
        const batch = (seq: number, step: number, loss: string) =>
          `('old-1', ${seq}, 1, ${step - 1}, ${step}, ${loss}, 50, 0.05, 100, 0)`;
        await old.prisma.$executeRawUnsafe(
          `INSERT INTO "BatchMetric" ("runId", "seq", "epoch", "batch", "step", "loss", "accuracy", "learningRate", "samplesPerSec", "time") VALUES ${[batch(1, 1, '2.5'), batch(2, 2, '0.75'), batch(3, 3, 'NULL')].join(', ')}`,
        );
      } finally {
        await old.close();
      }
      const db = await openDatabase({ url });
      try {
        assert.deepEqual(db.migrations?.applied, [LIST_MIGRATION]);
        const runs = await db.prisma.run.findMany({ orderBy: { id: 'asc' } });
        const keys = (r: (typeof runs)[number]) => ({
          sortName: r.sortName,
          sortCreator: r.sortCreator,
          searchText: r.searchText,
          lastLoss: r.lastLoss,
          progress: r.progress,
          currentLearningRate: r.currentLearningRate,
          hpEpochs: r.hpEpochs,
          hpBatchSize: r.hpBatchSize,
          hpOptimizer: r.hpOptimizer,
          hpSeed: r.hpSeed,
        });
        assert.deepEqual(
          keys(runs[0]!),
          {
            ...textColumns({
              id: 'old-1',
              name: 'LR Sweep_50%',
              description: 'With **Adam**',
              tags: ['baseline', 'lr sweep'],
              createdBy: 'Ada Lovelace',
            }),
            ...hyperparamColumns(hp, [{ value: 0.05 }, { value: 0.02 }]),
            lastLoss: 0.75,
            progress: 0.25,
          },
          'as the storage layer derives them; the latest finite loss',
        );
        assert.deepEqual(
          keys(runs[1]!),
          {
            ...textColumns({
              id: 'old-2',
              name: 'Bare',
              description: '',
              tags: [],
              createdBy: 'Ada Lovelace',
            }),
            ...hyperparamColumns({}),
            lastLoss: null,
            progress: null,
          },
          'missing hyperparameters: their defaults, as the run shows them',
        );
        assert.deepEqual(
          await db.prisma.runTag.findMany({ orderBy: [{ runId: 'asc' }, { tag: 'asc' }] }),
          [
            { runId: 'old-1', tag: 'baseline' },
            { runId: 'old-1', tag: 'lr sweep' },
          ],
        );
        assert.ok(
          runs[0]!.searchText.includes(searchKey('sweep_50%')) &&
            !runs[0]!.searchText.includes('_'),
          "LIKE's wildcards are out of the key",
        );
      } finally {
        await db.close();
      }
    });

    test('every model round-trips through the Prisma client; deleting a run cascades', async (t) => {
      const url = await fresh(provider, t);
      if (!url) return;
      const { prisma, close } = await openDatabase({ url });
      try {
        const hyperparams = {
          learningRate: 0.01,
          layers: [8, 16],
          optimizer: { name: 'adam', beta: [0.9, 0.999] },
          note: null,
        };
        const run = await prisma.run.create({
          data: {
            id: 'run-1',
            name: 'crud',
            hyperparams,
            reporting: { panelEvery: 50 },
            status: 'queued',
            createdBy: 'alice',
          },
        });
        assert.deepEqual(run.hyperparams, hyperparams);
        const started = await prisma.run.update({
          where: { id: 'run-1' },
          data: { status: 'running', startedAt: new Date(), lastSeq: 3 },
        });
        assert.equal(started.status, 'running');
        assert.ok(started.updatedAt >= run.updatedAt);

        const batches = Array.from({ length: 300 }, (_, i) => ({
          runId: 'run-1',
          seq: i + 1,
          epoch: Math.floor(i / 100),
          batch: i % 100,
          step: i + 1,
          loss: 2.302585 / (i + 1),
          accuracy: i / 300,
          learningRate: 0.01,
          samplesPerSec: 1234.5,
          time: 1.7e12 + i,
        }));
        assert.equal((await prisma.batchMetric.createMany({ data: batches })).count, 300);
        const stored = await prisma.batchMetric.findMany({
          where: { runId: 'run-1' },
          orderBy: { seq: 'asc' },
        });
        assert.deepEqual(stored, batches);

        await prisma.epochMetric.create({
          data: {
            runId: 'run-1',
            seq: 301,
            epoch: 0,
            step: 100,
            trainLoss: null,
            trainAccuracy: null,
            testLoss: 0.3,
            testAccuracy: 0.91,
            samplesPerSec: 900,
            trainMs: 1200.5,
            evalMs: 80.25,
            time: 1.7e12,
          },
        });
        const matrix = Array.from({ length: 10 }, (_, r) =>
          Array.from({ length: 10 }, (_, c) => (r === c ? 90 : r + c)),
        );
        await prisma.confusionMatrix.create({
          data: { runId: 'run-1', seq: 302, epoch: 0, matrix },
        });
        assert.deepEqual(
          (await prisma.confusionMatrix.findFirstOrThrow({ where: { runId: 'run-1' } })).matrix,
          matrix,
        );
        const probabilities = [0.01, 0.02, 0.5, 0.07, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05];
        await prisma.misclassified.create({
          data: {
            runId: 'run-1',
            seq: 302,
            epoch: 0,
            index: 17,
            label: 7,
            predicted: 2,
            probabilities,
          },
        });
        assert.deepEqual(
          (
            await prisma.misclassified.findUniqueOrThrow({
              where: { runId_seq_index: { runId: 'run-1', seq: 302, index: 17 } },
            })
          ).probabilities,
          probabilities,
        );
        const items = [{ index: 3, label: 1, predicted: 1, probabilities }];
        await prisma.predictionPanel.create({
          data: { runId: 'run-1', seq: 303, step: 120, epoch: 1, items, time: 1.7e12 },
        });
        assert.deepEqual((await prisma.predictionPanel.findFirstOrThrow()).items, items);

        const bytes = new Uint8Array(4096).map((_, i) => (i * 131 + 7) % 256);
        bytes.set(new TextEncoder().encode('LVTCKPT1'));
        const ckpt = await prisma.checkpoint.create({
          data: {
            runId: 'run-1',
            seq: 304,
            epoch: 1,
            step: 200,
            reason: 'epoch',
            path: '/tmp/c',
            data: bytes,
          },
        });
        const read = await prisma.checkpoint.findUniqueOrThrow({ where: { id: ckpt.id } });
        assert.ok(read.data && Buffer.from(read.data).equals(Buffer.from(bytes)));
        // A second checkpoint with the same (runId, seq): the unique constraint, as Prisma's P2002.
        await assert.rejects(
          prisma.checkpoint.create({
            data: { runId: 'run-1', seq: 304, epoch: 1, step: 1, reason: 'stop', path: '/x' },
          }),
          (e: Error & { code?: string }) => {
            assert.equal(e.name, 'PrismaClientKnownRequestError', e.message);
            assert.equal(e.code, 'P2002', e.message);
            assert.match(e.message, /Unique constraint failed/);
            return true;
          },
        );
        assert.equal(
          await prisma.checkpoint.count({ where: { runId: 'run-1', seq: 304 } }),
          1,
          'the first one alone is kept',
        );

        const note = await prisma.annotation.create({
          data: {
            runId: 'run-1',
            step: 150,
            kind: 'note',
            text: 'v2',
            authorName: 'Bob',
            edits: { create: [{ previousText: 'v1', editedBy: 'Bob' }] },
          },
          include: { edits: true },
        });
        assert.equal(note.edits[0]!.previousText, 'v1');
        await prisma.participant.upsert({
          where: { id: 'p1' },
          create: { id: 'p1', name: 'Bob', colour: '#f80' },
          update: { lastSeenAt: new Date() },
        });
        await prisma.trainer.create({
          data: { id: 'tr1', host: 'gpu-1', backend: 'wasm', device: 'cpu', concurrency: 2 },
        });
        assert.equal(
          (await prisma.trainer.update({ where: { id: 'tr1' }, data: { concurrency: 4 } }))
            .concurrency,
          4,
        );
        assert.ok(await prisma.participant.findUnique({ where: { id: 'p1' } }));

        await prisma.runTag.createMany({
          data: [
            { runId: 'run-1', tag: 'baseline' },
            { runId: 'run-1', tag: 'mnist' },
          ],
        });
        assert.deepEqual(
          (
            await prisma.runTag.findMany({ where: { runId: 'run-1' }, orderBy: { tag: 'asc' } })
          ).map((r) => r.tag),
          ['baseline', 'mnist'],
        );
        await assert.rejects(
          prisma.runTag.create({ data: { runId: 'run-1', tag: 'mnist' } }),
          (e: Error & { code?: string }) => e.code === 'P2002',
          'a tag once per run',
        );

        await prisma.run.delete({ where: { id: 'run-1' } });
        const left = await Promise.all([
          prisma.batchMetric.count(),
          prisma.epochMetric.count(),
          prisma.confusionMatrix.count(),
          prisma.misclassified.count(),
          prisma.predictionPanel.count(),
          prisma.checkpoint.count(),
          prisma.annotation.count(),
          prisma.annotationEdit.count(),
          prisma.runTag.count(),
        ]);
        assert.deepEqual(left, [0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert.deepEqual([await prisma.participant.count(), await prisma.trainer.count()], [1, 1]);
      } finally {
        await close();
      }
    });
  });
}
