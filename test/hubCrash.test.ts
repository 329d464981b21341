/**
 * The hub killed with SIGKILL mid-run and started again on the same port and database: the
 * trainer keeps training and buffering, reconnects, replays what was not acknowledged, and the
 * stored run has every step exactly once. What the hub acknowledged was committed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { runCheckpointDir } from '../server/trainer/trainer';
import { openDatabase } from '../server/db/client';
import { eventually, SMALL, startTrainer } from './helpers/hub';
import { startHubProcess } from './helpers/hubProcess';

const ARGS = ['--no-web', '--no-local-trainer', '--grace-ms', '20000'];

test('a hub killed mid-run loses nothing it acknowledged and the run completes after its restart', async (t) => {
  let hub = await startHubProcess(ARGS);
  const { url, dir, databaseUrl } = hub;
  const port = Number(new URL(url).port);
  const checkpointDir = await mkdtemp(path.join(os.tmpdir(), 'livetrain-ckpt-'));
  const trainer = await startTrainer(url, { id: 'survivor', checkpointDir });
  t.after(async () => {
    await trainer.stop();
    await hub.stop();
    await rm(checkpointDir, { recursive: true, force: true });
  });

  const created = await fetch(`${url}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hyperparams: { ...SMALL, epochs: 12 } }),
  });
  const runId = ((await created.json()) as { data: { run: { id: string } } }).data.run.id;
  await eventually(async () => {
    const r = (await (await fetch(`${url}/api/runs/${runId}`)).json()) as {
      data: { run: { lastStep: number } };
    };
    return r.data.run.lastStep >= 15;
  }, 'some steps stored');

  hub.child.kill('SIGKILL');
  assert.equal(await hub.exited, 'SIGKILL');
  const killedAt = Date.now();
  // What the dead hub had committed.
  const crashed = await openDatabase({ url: databaseUrl, migrate: false });
  const atKill = await crashed.prisma.run.findUniqueOrThrow({ where: { id: runId } });
  const storedAtKill = atKill.lastStep;
  const perEpoch = atKill.batchesPerEpoch!;
  await crashed.close();
  // The trainer keeps going while the hub is down: it writes epoch checkpoints (its files are
  // on the trainer's side, no hub needed) after those it had written before the kill; two of
  // them, so that the epoch between them was trained entirely after the kill.
  const runDir = runCheckpointDir(checkpointDir, runId);
  const checkpointSteps = async () =>
    (await readdir(runDir).catch(() => [] as string[])).map((f) =>
      Number(/^step-(\d+)\.ckpt$/.exec(f)?.[1] ?? 0),
    );
  const newestAtKill = Math.max(storedAtKill, ...(await checkpointSteps()));
  const trainedWhileDown = await eventually(async () => {
    const newest = Math.max(0, ...(await checkpointSteps()));
    return newest >= newestAtKill + 2 * perEpoch ? newest : undefined;
  }, `two checkpoints past step ${newestAtKill} while the hub is down`);
  assert.match(trainer.output(), /disconnected from the hub/);
  const restartedAt = Date.now();
  hub = await startHubProcess(ARGS, { port, dir });
  const done = await eventually(
    async () => {
      const r = (await (await fetch(`${url}/api/runs/${runId}`)).json()) as {
        data: { run: { status: string; totalSteps: number } };
      };
      return r.data.run.status === 'completed' ? r.data.run : undefined;
    },
    'completed after the restart',
    90_000,
  );
  assert.match(trainer.output(), /disconnected from the hub[\s\S]*connected to/);

  await hub.stop({ keepData: true });
  const db = await openDatabase({ url: databaseUrl, migrate: false });
  try {
    const points = await db.prisma.batchMetric.findMany({
      where: { runId },
      orderBy: { seq: 'asc' },
    });
    assert.equal(points.length, done.totalSteps, 'every step stored once');
    points.forEach((p, i) => assert.equal(p.step, i + 1));
    // The epoch trained while the hub was down reached it after the restart: its steps are
    // stored, made (by the trainer's clock) between the kill and the restart.
    const downtime = points.filter(
      (p) => p.step > trainedWhileDown - perEpoch && p.step <= trainedWhileDown,
    );
    assert.equal(downtime.length, perEpoch);
    assert.ok(
      downtime.every((p) => p.time > killedAt && p.time < restartedAt),
      `steps ${downtime[0]?.step}–${trainedWhileDown}, trained while the hub was down, are stored`,
    );
    const run = await db.prisma.run.findUniqueOrThrow({ where: { id: runId } });
    assert.equal(await db.prisma.epochMetric.count({ where: { runId } }), 12);
    const integrity = (await db.prisma.$queryRawUnsafe('PRAGMA integrity_check')) as Array<{
      integrity_check: string;
    }>;
    assert.equal(integrity[0].integrity_check, 'ok');
    assert.ok(run.lastSeq >= points[points.length - 1].seq);
  } finally {
    await db.close();
  }
});
