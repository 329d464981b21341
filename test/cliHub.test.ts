/**
 * `npm run train -- --hub URL`: a run started from a terminal appears in the dashboard. A real
 * hub process, a real CLI process, browser-side socket.io-client watchers: the run is created
 * by the CLI (`run:create`), watched live, its learning rate changed and paused/resumed from the
 * dashboard; the hub is killed mid-run and a new hub process started on the same database and
 * port while the CLI keeps training and buffering; a stop from the dashboard ends it; every
 * point the dead hub had acknowledged is stored, and the run's seqs are gap-free.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openDatabase } from '../server/db/client';
import type { RunSnapshot, RunSummary } from '../server/protocol';
import { runCheckpointDir } from '../server/trainer/trainer';
import { connectBrowser, eventually, pointsSeen } from './helpers/hub';
import { startHubProcess } from './helpers/hubProcess';
import { runEntry, spawnEntry } from './helpers/proc';

const ARGS = ['--no-web', '--no-local-trainer', '--grace-ms', '30000'];
const TRAIN = 'server/agent/train.ts';

async function runOf(url: string, runId: string): Promise<RunSummary> {
  return ((await (await fetch(`${url}/api/runs/${runId}`)).json()) as { data: { run: RunSummary } })
    .data.run;
}

test('a CLI run streams to the hub, is controlled from the dashboard, survives a hub restart and loses nothing', async (t) => {
  let hub = await startHubProcess(ARGS);
  const { url, dir, databaseUrl } = hub;
  const port = Number(new URL(url).port);
  const checkpointDir = await mkdtemp(path.join(os.tmpdir(), 'livetrain-cli-hub-'));
  const watcher = await connectBrowser(url, 'Grace');
  // 10 batches an epoch, far more epochs than the test lets it train: a stop ends it.
  const cli = spawnEntry(TRAIN, [
    '--hub',
    url,
    '--backend',
    'wasm',
    '--train-limit',
    '320',
    '--test-limit',
    '100',
    '--epochs',
    '500',
    '--name',
    'from my terminal',
    '--checkpoint-dir',
    checkpointDir,
  ]);
  let out = '';
  let err = '';
  cli.stdout.on('data', (d) => (out += d));
  cli.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => cli.on('close', resolve));
  t.after(async () => {
    watcher.close();
    if (cli.exitCode === null) cli.kill('SIGKILL');
    await hub.stop();
    await rm(checkpointDir, { recursive: true, force: true });
  });

  const runId = await eventually(
    () => /run (\S+) is live at /.exec(err)?.[1],
    `the CLI created its run (${err})`,
    120_000,
  );
  assert.match(err, new RegExp(`is live at ${url}/runs/${runId}`));
  // Everyone connected learns of it, as of a run started in the dashboard.
  const listed = await watcher.waitFor('runs:changed', (m) => m.run.id === runId);
  assert.equal(listed.run.origin, 'cli');
  assert.equal(listed.run.originHost, os.hostname());
  assert.equal(listed.run.name, 'from my terminal');
  // Live: a watcher gets batch frames as the CLI trains.
  const watched = await watcher.call('run:watch', { runId });
  assert.ok(watched.ok, JSON.stringify(watched));
  await watcher.waitFor('metrics:batch', (m) => m.runId === runId, 60_000);

  // The dashboard's controls reach the CLI: a learning rate, a pause, a resume.
  const lr = await watcher.call('run:set-lr', { runId, learningRate: 0.05 });
  assert.ok(lr.ok, JSON.stringify(lr));
  await eventually(
    async () => (await runOf(url, runId)).learningRates.at(-1)?.value === 0.05,
    'the new learning rate applied by the CLI',
  );
  assert.ok((await watcher.call('run:pause', { runId })).ok);
  await watcher.waitFor('run:status', (m) => m.runId === runId && m.status === 'paused');
  assert.ok((await watcher.call('run:resume', { runId })).ok);
  await watcher.waitFor('run:status', (m) => m.runId === runId && m.status === 'running');
  // Resuming it as a queued run would hand it to another trainer: refused while it is the CLI's.
  const requeue = await watcher.call('run:resume', { runId });
  assert.equal(requeue.ok, false);

  // The hub dies; what it acknowledged was committed.
  await eventually(async () => (await runOf(url, runId)).lastStep >= 40, 'some steps stored');
  watcher.close();
  hub.child.kill('SIGKILL');
  assert.equal(await hub.exited, 'SIGKILL');
  const crashed = await openDatabase({ url: databaseUrl, migrate: false });
  const acked = await crashed.prisma.batchMetric.findMany({
    where: { runId },
    orderBy: { seq: 'asc' },
  });
  const atKill = await crashed.prisma.run.findUniqueOrThrow({ where: { id: runId } });
  await crashed.close();
  assert.ok(acked.length > 0);

  // The CLI keeps training while the hub is away: new epoch checkpoints appear.
  const runDir = runCheckpointDir(checkpointDir, runId);
  const newest = async () =>
    Math.max(
      0,
      ...(await readdir(runDir).catch(() => [] as string[])).map((f) =>
        Number(/^step-(\d+)\.ckpt$/.exec(f)?.[1] ?? 0),
      ),
    );
  const before = Math.max(atKill.lastStep, await newest());
  await eventually(
    async () => (await newest()) >= before + 20,
    `two checkpoints past step ${before} while the hub is down`,
    120_000,
  );
  await eventually(() => /disconnected from the hub/.test(err), 'the CLI noticed');

  // A new hub process on the same database and port: the CLI reconnects and replays.
  hub = await startHubProcess(ARGS, { port, dir });
  await eventually(
    async () => (await runOf(url, runId)).lastStep >= before + 20,
    'the buffered steps replayed',
    120_000,
  );
  const viewer = await connectBrowser(url, 'Ada');
  t.after(() => viewer.close());
  const again = await viewer.call('run:watch', { runId });
  assert.ok(again.ok, JSON.stringify(again));
  assert.equal(again.data.run.status, 'running');
  await viewer.waitFor('metrics:batch', (m) => m.runId === runId, 60_000);

  // A stop from the dashboard ends the CLI, which waits until the hub stored everything.
  const stop = await viewer.call('run:stop', { runId });
  assert.ok(stop.ok, JSON.stringify(stop));
  assert.equal(await exited, 0, err);
  const summary = out.trim().split('\n').at(-1)!;
  assert.match(
    summary,
    new RegExp(`^stopped: test accuracy [\\d.]+%, [\\d,]+ samples/s; ${url}/runs/${runId}`),
  );
  const ended = await viewer.waitFor(
    'run:status',
    (m) => m.runId === runId && m.status === 'stopped',
  );
  const seen = pointsSeen(viewer, runId, again.data as RunSnapshot);

  await hub.stop({ keepData: true });
  const db = await openDatabase({ url: databaseUrl, migrate: false });
  try {
    const run = await db.prisma.run.findUniqueOrThrow({ where: { id: runId } });
    assert.equal(run.status, 'stopped');
    assert.equal(run.origin, 'cli');
    const points = await db.prisma.batchMetric.findMany({
      where: { runId },
      orderBy: { seq: 'asc' },
    });
    // Every step once, in order; every point the dead hub acknowledged is there, unchanged.
    points.forEach((p, i) => assert.equal(p.step, i + 1));
    assert.equal(points.length, run.lastStep);
    assert.equal(run.lastStep, ended.run.lastStep);
    const bySeq = new Map(points.map((p) => [p.seq, p]));
    for (const a of acked) assert.deepEqual(bySeq.get(a.seq), a, `acknowledged point seq ${a.seq}`);
    // Gap-free seqs: the run's events, stored in their tables, cover 1..lastSeq.
    const seqs = new Set<number>([
      ...points.map((p) => p.seq),
      ...(await db.prisma.epochMetric.findMany({ where: { runId }, select: { seq: true } })).map(
        (r) => r.seq,
      ),
    ]);
    assert.ok(seqs.size <= run.lastSeq);
    // What the watcher saw after the restart is what is stored.
    assert.deepEqual(
      seen.map((p) => p.step),
      points.slice(points.length - seen.length).map((p) => p.step),
    );
  } finally {
    await db.close();
  }
});

test('npm run train -- --hub with a wrong trainer token says so and exits 1; a bad hub URL exits 2', async (t) => {
  const hub = await startHubProcess(ARGS, {
    env: {
      LIVETRAIN_TOKEN: 'the-team-token-here',
      LIVETRAIN_TRAINER_TOKEN: 'the-right-trainer-token',
    },
  });
  t.after(() => hub.stop());
  const r = await runEntry(TRAIN, [
    '--hub',
    hub.url,
    '--token',
    'a-wrong-token',
    '--backend',
    'wasm',
    '--train-limit',
    '64',
    '--test-limit',
    '50',
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^error: the hub at ${hub.url} refused this trainer: `, 'm'));
  const runs = (await (
    await fetch(`${hub.url}/api/runs`, { headers: { authorization: 'Bearer the-team-token-here' } })
  ).json()) as { data: { total: number } };
  assert.equal(runs.data.total, 0, 'no run was created');
  const bad = await runEntry(TRAIN, ['--hub', 'gpu-box']);
  assert.equal(bad.code, 2);
  assert.equal(
    bad.stderr,
    'error: --hub: a URL like http://host:3000, got "gpu-box"\nsee npm run train -- --help\n',
  );
});

test("a CLI run is the CLI's alone: the CLI takes no queued run, and when it dies its run is interrupted and cannot be handed on", async (t) => {
  const hub = await startHubProcess(['--no-web', '--no-local-trainer', '--grace-ms', '1500']);
  const cli = spawnEntry(TRAIN, [
    '--hub',
    hub.url,
    '--backend',
    'wasm',
    '--train-limit',
    '320',
    '--test-limit',
    '100',
    '--epochs',
    '500',
    '--no-checkpoint',
  ]);
  let err = '';
  cli.stderr.on('data', (d) => (err += d));
  const exited = new Promise<string | number | null>((resolve) =>
    cli.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  t.after(async () => {
    if (cli.exitCode === null && cli.signalCode === null) cli.kill('SIGKILL');
    await hub.stop();
  });
  const runId = await eventually(
    () => /run (\S+) is live at /.exec(err)?.[1],
    `the CLI created its run (${err})`,
    120_000,
  );
  await eventually(async () => (await runOf(hub.url, runId)).lastStep >= 5, 'the CLI run trains');

  // A run queued in the dashboard is not given to the CLI, which trains only its own.
  const queued = await fetch(`${hub.url}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hyperparams: { epochs: 1, trainLimit: 64, testLimit: 50 } }),
  });
  assert.equal(queued.status, 201);
  const queuedId = ((await queued.json()) as { data: { run: RunSummary } }).data.run.id;
  const steps = (await runOf(hub.url, runId)).lastStep;
  await eventually(
    async () => (await runOf(hub.url, runId)).lastStep >= steps + 10,
    'the CLI run trained on meanwhile',
  );
  const waiting = await runOf(hub.url, queuedId);
  assert.equal(waiting.status, 'queued');
  assert.equal(waiting.backend, null, 'no trainer claimed it');

  // The CLI dies: past the grace period its run is interrupted, like a daemon's.
  cli.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  const interrupted = await eventually(
    async () => {
      const run = await runOf(hub.url, runId);
      return run.status === 'interrupted' ? run : undefined;
    },
    'the run interrupted after the grace period',
    60_000,
  );
  assert.match(interrupted.statusMessage ?? '', /disconnected and did not come back/);
  assert.equal(interrupted.origin, 'cli');
  // Resuming it would hand it to another trainer: refused, in words.
  const resume = await fetch(`${hub.url}/api/runs/${runId}/resume`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(resume.status, 409);
  const body = (await resume.json()) as { error: string; message: string };
  assert.equal(body.error, 'CONFLICT');
  assert.match(body.message, /came from the command line/);
  assert.equal((await runOf(hub.url, runId)).status, 'interrupted');
});
