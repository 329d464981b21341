/**
 * The database going away mid-run: a private PostgreSQL cluster (Debian's initdb/pg_ctl, run as
 * the postgres user) that the test stops and starts again; and SQLite whose disk fills up
 * (`max_page_count`) and whose file turns read-only (`query_only`), on the hub's own connection. While it is away the hub
 * acknowledges nothing and its health check says so with a 503 (a balancer sends people
 * elsewhere) and its browsers are told (and told again when it answers); when it is back, the
 * trainer's resend is stored, every event exactly once.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import type { DatabaseState } from '../server/protocol';
import type { TrainerEvent } from '../server/trainer/events';
import { servicesRequired } from './helpers/db';
import { connectBrowser, runOnFakeTrainer } from './helpers/hub';
import { freePort } from './helpers/proc';

const BIN = process.env.LIVETRAIN_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const run = promisify(execFile);

/** A PostgreSQL cluster of the test's own (as the postgres user when run as root), or null (skipped). */
async function privateCluster(t: TestContext) {
  if (!existsSync(path.join(BIN, 'pg_ctl'))) {
    const reason = `PostgreSQL's binaries are not in ${BIN} (apt-get install postgresql)`;
    if (servicesRequired())
      throw new Error(`${reason}; LIVETRAIN_REQUIRE_SERVICES=1 requires them`);
    t.skip(reason);
    return null;
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livetrain-pg-'));
  await chmod(dir, 0o777);
  const data = path.join(dir, 'data');
  const port = await freePort();
  const asPostgres = (cmd: string, args: string[]) =>
    process.getuid?.() === 0
      ? run('runuser', ['-u', 'postgres', '--', path.join(BIN, cmd), ...args])
      : run(path.join(BIN, cmd), args);
  await asPostgres('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync']);
  const ctl = (action: 'start' | 'stop') =>
    action === 'start'
      ? asPostgres('pg_ctl', [
          '-D',
          data,
          '-o',
          `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
          '-l',
          path.join(dir, 'log'),
          '-w',
          'start',
        ])
      : asPostgres('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
  await ctl('start');
  t.after(async () => {
    await ctl('stop').catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    stop: () => ctl('stop'),
    start: () => ctl('start'),
  };
}

const point = (runId: string, seq: number): TrainerEvent => ({
  runId,
  seq,
  type: 'metrics:batch',
  point: {
    step: seq,
    epoch: 1,
    batch: seq - 1,
    loss: 1 / seq,
    accuracy: 50,
    learningRate: 0.01,
    samplesPerSec: 10,
    time: Date.now(),
  },
});

test('PostgreSQL stopped and started again mid-run: nothing is acknowledged while it is away, health says 503, every event is stored once after', async (t) => {
  const pg = await privateCluster(t);
  if (!pg) return;
  const { hub, ada, trainer, runId } = await runOnFakeTrainer(t, 'outage', { databaseUrl: pg.url });
  const send = (seqs: number[]) =>
    trainer
      .timeout(30_000)
      .emitWithAck('trainer:events', { runId, events: seqs.map((s) => point(runId, s)) });
  const first = await send([1, 2, 3]);
  assert.ok(first.ok && first.data.storedSeq === 3);
  assert.equal((await fetch(`${hub.url}/api/health`)).status, 200);

  await pg.stop();
  const health = await fetch(`${hub.url}/api/health`);
  assert.equal(health.status, 503);
  const body = (await health.json()) as {
    ok: boolean;
    error: string;
    details?: { database?: string };
  };
  assert.deepEqual(
    [body.ok, body.error, body.details?.database],
    [false, 'UNAVAILABLE', 'unavailable'],
  );
  const during = await send([4, 5]);
  assert.ok(
    !during.ok,
    `nothing is acknowledged while the database is away: ${JSON.stringify(during)}`,
  );
  // The browser watching is told, once; one that arrives now is told at once.
  const away = await ada.waitFor('hub:database', (m) => !m.available);
  assert.match(away.message ?? '', /\S/, 'with what failed');
  const bob = await connectBrowser(hub.url, 'Bob');
  t.after(() => bob.close());
  const bobTold = await bob.waitFor('hub:database', undefined, 5000);
  assert.deepEqual(
    [bobTold.available, bobTold.since],
    [false, away.since],
    'a late browser hears the same outage',
  );

  await pg.start();
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await fetch(`${hub.url}/api/health`)).status, 200, 'healthy again');
  // The trainer resends what was not acknowledged (and a little of what was).
  const after = await send([3, 4, 5, 6]);
  assert.ok(after.ok && after.data.storedSeq === 6, JSON.stringify(after));
  const seqs = (
    await hub.db.prisma.batchMetric.findMany({ where: { runId }, orderBy: { seq: 'asc' } })
  ).map((p) => p.seq);
  assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6], 'every event once');
  assert.equal((await hub.db.prisma.run.findUniqueOrThrow({ where: { id: runId } })).lastSeq, 6);
  // Both are told it is back, and nothing else changed their minds in between.
  for (const b of [ada, bob]) {
    await b.waitFor('hub:database', (m) => m.available);
    assert.deepEqual(
      b.received
        .filter((r) => r.event === 'hub:database')
        .map((r) => (r.payload as DatabaseState).available),
      [false, true],
    );
  }
});

test('SQLite: a full disk, then a read-only database, mid-run: nothing acknowledged, health 503, browsers told why; once writable, every event stored once', async (t) => {
  const { hub, ada, trainer, runId } = await runOnFakeTrainer(t, 'sqlite-full');
  const range = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => from + i);
  const send = (seqs: number[]) =>
    trainer
      .timeout(30_000)
      .emitWithAck('trainer:events', { runId, events: seqs.map((s) => point(runId, s)) });
  const pragma = (sql: string) =>
    hub.db.prisma.$queryRawUnsafe<Array<Record<string, bigint | number>>>(`PRAGMA ${sql}`);
  assert.ok((await send(range(1, 3))).ok);

  // Each way the storage refuses writes (SQLite's own limits on this hub's connection: a disk
  // that is full, a file that is read-only), and then takes them again.
  const outages: Array<{
    refuse: () => Promise<unknown>;
    restore: () => Promise<unknown>;
    why: RegExp;
  }> = [
    {
      refuse: async () =>
        pragma(`max_page_count = ${Number((await pragma('page_count'))[0].page_count)}`),
      restore: () => pragma('max_page_count = 1073741823'),
      why: /disk holding the database is full/,
    },
    {
      refuse: () => pragma('query_only = ON'),
      restore: () => pragma('query_only = OFF'),
      why: /read-only/,
    },
  ];
  let stored = 3;
  for (const outage of outages) {
    const mark = ada.mark();
    await outage.refuse();
    const during = await send(range(stored + 1, stored + 2000));
    assert.ok(
      !during.ok,
      `nothing is acknowledged while writes fail: ${JSON.stringify(during).slice(0, 200)}`,
    );
    const told = await ada.waitForAfter(mark, 'hub:database', (m) => !m.available);
    assert.match(told.message ?? '', outage.why);
    const health = await fetch(`${hub.url}/api/health`);
    assert.equal(
      health.status,
      503,
      'reads still work, but a hub that stores nothing is not healthy',
    );
    const body = (await health.json()) as { details?: { database?: string }; message?: string };
    assert.equal(body.details?.database, 'unavailable');
    assert.match(body.message ?? '', outage.why);

    await outage.restore();
    const after = await send(range(stored - 1, stored + 2000));
    assert.ok(
      after.ok && after.data.storedSeq === stored + 2000,
      JSON.stringify(after).slice(0, 200),
    );
    stored += 2000;
    await ada.waitForAfter(mark, 'hub:database', (m) => m.available);
    assert.equal((await fetch(`${hub.url}/api/health`)).status, 200, 'healthy again');
  }
  const seqs = (
    await hub.db.prisma.batchMetric.findMany({
      where: { runId },
      orderBy: { seq: 'asc' },
      select: { seq: true },
    })
  ).map((p) => p.seq);
  assert.deepEqual(seqs, range(1, stored), 'every event once');
});
