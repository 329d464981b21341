/**
 * The hub killed with SIGKILL mid-run and started again on the same port and database: the
 * trainer keeps training and buffering, reconnects, replays what was not acknowledged, and the
 * stored run has every step exactly once. What the hub acknowledged was committed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openDatabase } from '../server/db/client';
import { eventually, SMALL, startTrainer } from './helpers/hub';
import { spawnEntry } from './helpers/proc';

function startHubProcess(port: number, dbUrl: string) {
  const child = spawnEntry('server/index.ts', ['--port', String(port), '--no-web', '--no-local-trainer', '--grace-ms', '20000'], { DATABASE_URL: dbUrl, LIVETRAIN_TOKEN: '', LIVETRAIN_TRAINER_TOKEN: '' });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise<unknown>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  const url = eventually(() => /listening on (http:\/\/[^\s]+)/.exec(log)?.[1], 'hub listening', 60_000);
  return { child, url, exited, log: () => log };
}

test('a hub killed mid-run loses nothing it acknowledged and the run completes after its restart', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'livetrain-crash-'));
  const dbUrl = `file:${path.join(dir, 'crash.db')}`;
  let hub = startHubProcess(0, dbUrl);
  const url = await hub.url;
  const port = Number(new URL(url).port);
  const trainer = await startTrainer(url, { id: 'survivor' });
  t.after(async () => {
    await trainer.stop();
    if (hub.child.exitCode === null) hub.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  const created = await fetch(`${url}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hyperparams: { ...SMALL, epochs: 8 } }) });
  const runId = ((await created.json()) as { data: { run: { id: string } } }).data.run.id;
  await eventually(async () => {
    const r = (await (await fetch(`${url}/api/runs/${runId}`)).json()) as { data: { run: { lastStep: number } } };
    return r.data.run.lastStep >= 15;
  }, 'some steps stored');

  hub.child.kill('SIGKILL');
  assert.equal(await hub.exited, 'SIGKILL');
  // The trainer keeps going while the hub is down.
  await new Promise((r) => setTimeout(r, 1500));
  hub = startHubProcess(port, dbUrl);
  await hub.url;
  const done = await eventually(async () => {
    const r = (await (await fetch(`${url}/api/runs/${runId}`)).json()) as { data: { run: { status: string; totalSteps: number } } };
    return r.data.run.status === 'completed' ? r.data.run : undefined;
  }, 'completed after the restart', 90_000);
  assert.match(trainer.output(), /disconnected from the hub[\s\S]*connected to/);

  hub.child.kill('SIGTERM');
  await hub.exited;
  const db = await openDatabase({ url: dbUrl, migrate: false });
  try {
    const points = await db.prisma.batchMetric.findMany({ where: { runId }, orderBy: { seq: 'asc' } });
    assert.equal(points.length, done.totalSteps, 'every step stored once');
    points.forEach((p, i) => assert.equal(p.step, i + 1));
    const run = await db.prisma.run.findUniqueOrThrow({ where: { id: runId } });
    assert.equal(await db.prisma.epochMetric.count({ where: { runId } }), 8);
    const integrity = (await db.prisma.$queryRawUnsafe('PRAGMA integrity_check')) as Array<{ integrity_check: string }>;
    assert.equal(integrity[0].integrity_check, 'ok');
    assert.ok(run.lastSeq >= points[points.length - 1].seq);
  } finally {
    await db.close();
  }
});
