/**
 * The trainer daemon as a real process speaking JSON lines: jobs, control, bad input.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { DaemonMessage } from '../server/trainer/daemon';
import type { TrainerEvent } from '../server/trainer/events';
import { assertQuietBackendChoice, assertVerboseBackendChoice } from './helpers/backendReport';
import { spawnEntry } from './helpers/proc';

const tmp = mkdtempSync(path.join(tmpdir(), 'livetrain-daemon-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A daemon process with a message log and a way to wait for a message. */
function startDaemon(args = ['--backend', 'wasm']) {
  const child = spawnEntry('server/trainer/daemonMain.ts', [...args, '--checkpoint-dir', tmp]);
  const messages: DaemonMessage[] = [];
  const events: TrainerEvent[] = [];
  const waiters: Array<{
    match: (m: DaemonMessage, e?: TrainerEvent) => boolean;
    resolve: () => void;
  }> = [];
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const m = JSON.parse(line) as DaemonMessage;
    messages.push(m);
    const items: Array<TrainerEvent | undefined> =
      m.kind === 'events' ? [...m.events] : [undefined];
    for (const e of items) {
      if (e) events.push(e);
      for (const w of [...waiters]) {
        if (w.match(m, e)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  return {
    messages,
    events,
    exited,
    get stderr() {
      return stderr;
    },
    send: (obj: unknown) =>
      child.stdin.write(typeof obj === 'string' ? `${obj}\n` : `${JSON.stringify(obj)}\n`),
    waitFor: (match: (m: DaemonMessage, e?: TrainerEvent) => boolean, what: string, ms = 60_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${what}; stderr: ${stderr}`)),
          ms,
        );
        waiters.push({ match, resolve: () => (clearTimeout(timer), resolve()) });
      }),
  };
}

test('the daemon says one line on stderr about its backend, and the whole search with --verbose', async () => {
  for (const verbose of [false, true]) {
    const d = startDaemon(['--backend', 'auto', ...(verbose ? ['--verbose'] : [])]);
    await d.waitFor((m) => m.kind === 'ready', 'ready');
    d.send({ kind: 'shutdown' });
    assert.equal(await d.exited, 0, d.stderr);
    const report = verbose
      ? assertVerboseBackendChoice(d.stderr)
      : assertQuietBackendChoice(d.stderr);
    const ready = d.messages[0];
    assert.ok(
      ready.kind === 'ready' && ready.backend.name === report.name,
      'the line names the backend in use',
    );
    if (!verbose) assert.equal(d.stderr.trim().split('\n').length, 1, d.stderr);
  }
});

test('the daemon takes a job, obeys pause / set-lr / resume / stop, and rejects bad input', async () => {
  const d = startDaemon();
  await d.waitFor((m) => m.kind === 'ready', 'ready');
  const ready = d.messages[0];
  assert.ok(ready.kind === 'ready' && ready.backend.name === 'wasm');

  d.send('this is not json');
  d.send({ kind: 'job', job: { runId: 'bad run id!', hyperparams: {} } });
  d.send({ kind: 'job', job: { runId: 'x', hyperparams: { batchSize: -1 } } });
  d.send({ kind: 'control', runId: 'nope', action: 'pause' });
  d.send({ kind: 'control', runId: 'nope', action: 'explode' });
  await d.waitFor((m) => m.kind === 'rejected' && m.error === 'BAD_CONTROL', 'the fifth rejection');
  const rejected = d.messages
    .filter((m) => m.kind === 'rejected')
    .map((m) => (m.kind === 'rejected' ? m.error : ''));
  assert.deepEqual(rejected, ['INVALID', 'INVALID', 'INVALID', 'UNKNOWN_RUN', 'BAD_CONTROL']);
  const batchErr = d.messages.find((m) => m.kind === 'rejected' && /batchSize/.test(m.message));
  assert.ok(batchErr, 'the invalid field is named');

  d.send({
    kind: 'job',
    job: { runId: 'job-1', hyperparams: { epochs: 5, trainLimit: 3200, testLimit: 100 } },
  });
  await d.waitFor((_, e) => e?.type === 'metrics:batch' && e.point.step >= 2, 'first batches');
  d.send({ kind: 'control', runId: 'job-1', action: 'pause' });
  await d.waitFor((_, e) => e?.type === 'status' && e.status === 'paused', 'paused');
  d.send({ kind: 'control', runId: 'job-1', action: 'set-lr', learningRate: 1e9 });
  await d.waitFor(
    (m) => m.kind === 'rejected' && m.runId === 'job-1',
    'absurd learning rate rejected',
  );
  d.send({ kind: 'control', runId: 'job-1', action: 'set-lr', learningRate: 0.02 });
  d.send({ kind: 'control', runId: 'job-1', action: 'resume' });
  await d.waitFor(
    (_, e) => e?.type === 'metrics:batch' && e.point.learningRate === 0.02,
    'a batch at the new rate',
  );
  d.send({ kind: 'control', runId: 'job-1', action: 'stop' });
  await d.waitFor((m) => m.kind === 'job:done' && m.runId === 'job-1', 'job done');
  const done = d.messages.find((m) => m.kind === 'job:done');
  assert.ok(done?.kind === 'job:done' && done.status === 'stopped' && done.checkpoint !== null);

  const statuses = d.events
    .filter((e) => e.type === 'status')
    .map((e) => (e.type === 'status' ? e.status : ''));
  assert.deepEqual(statuses, ['running', 'paused', 'running', 'stopped']);
  const seqs = d.events.map((e) => e.seq);
  assert.deepEqual(
    seqs,
    seqs.map((_, i) => i + 1),
    'every event arrives, in order, once',
  );

  // Resume the stopped run from its checkpoint: the curve continues.
  const lastStep = Math.max(
    ...d.events.flatMap((e) => (e.type === 'metrics:batch' ? [e.point.step] : [])),
  );
  d.send({ kind: 'job', job: { runId: 'job-1', hyperparams: {}, resume: true } });
  await d.waitFor(
    (_, e) => e?.type === 'metrics:batch' && e.point.step === lastStep + 1,
    "the resumed run's next step",
  );
  d.send({ kind: 'shutdown' });
  assert.equal(await d.exited, 0);
});
