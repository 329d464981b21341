/**
 * The hub killed with SIGKILL mid-run and started again on the same port and database: the
 * trainer keeps training and buffering, reconnects, replays what was not acknowledged, and the
 * stored run has every step exactly once. What the hub acknowledged was committed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openDatabase } from '../server/db/client';
import { eventually, SMALL, startTrainer } from './helpers/hub';
import { startHubProcess } from './helpers/hubProcess';

const ARGS = ['--no-web', '--no-local-trainer', '--grace-ms', '20000'];

test('a hub killed mid-run loses nothing it acknowledged and the run completes after its restart', async (t) => {
  let hub = await startHubProcess(ARGS);
  const { url, dir, databaseUrl } = hub;
  const port = Number(new URL(url).port);
  const trainer = await startTrainer(url, { id: 'survivor' });
  t.after(async () => {
    await trainer.stop();
    await hub.stop();
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
  hub = await startHubProcess(ARGS, { port, dir });
  const done = await eventually(async () => {
    const r = (await (await fetch(`${url}/api/runs/${runId}`)).json()) as { data: { run: { status: string; totalSteps: number } } };
    return r.data.run.status === 'completed' ? r.data.run : undefined;
  }, 'completed after the restart', 90_000);
  assert.match(trainer.output(), /disconnected from the hub[\s\S]*connected to/);

  await hub.stop({ keepData: true });
  const db = await openDatabase({ url: databaseUrl, migrate: false });
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
