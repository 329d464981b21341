/**
 * The trainer daemon treats its hub as a peer like any other: a real trainer process
 * (`npm run trainer`) against a hostile hub (a Socket.IO server written here) checks every job
 * before it writes anything. A run id that would leave the checkpoint directory, a checkpoint
 * with an absurd step, a malformed job: each is refused with INVALID and a reason, and no file
 * appears anywhere.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Server, type Socket } from 'socket.io';
import { TRAINER_NAMESPACE } from '../server/protocol';
import { hyperparamsSchema } from '../server/trainer/config';
import { eventually } from './helpers/hub';
import { spawnEntry } from './helpers/proc';

/** Every file and folder below `dir`, relative to it. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map(String).sort();
}

test('a hostile hub cannot make the trainer write outside its checkpoint directory, or write anything for an invalid job', async (t) => {
  const sandbox = await mkdtemp(path.join(os.tmpdir(), 'livetrain-agent-'));
  const checkpoints = path.join(sandbox, 'checkpoints', 'inner');
  const server = http.createServer();
  const io = new Server(server);
  let trainer: Socket | null = null;
  io.of(TRAINER_NAMESPACE).on('connection', (s) => (trainer = s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const child = spawnEntry(
    'server/agent/main.ts',
    ['--hub', url, '--backend', 'cpu', '--id', 'target', '--checkpoint-dir', checkpoints],
    { LIVETRAIN_TRAINER_TOKEN: '' },
  );
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  t.after(async () => {
    child.kill('SIGKILL');
    void io.close();
    await rm(sandbox, { recursive: true, force: true });
  });
  const peer = await eventually(
    () => trainer ?? undefined,
    `the trainer connects (${output})`,
    60_000,
  );
  const before = await tree(sandbox);

  const hyperparams = hyperparamsSchema.parse({ trainLimit: 32, testLimit: 32 });
  const checkpoint = { step: 3, data: Buffer.from('not really a checkpoint') };
  const jobs: Array<[string, unknown, RegExp]> = [
    [
      'a run id that climbs out',
      { runId: '..', hyperparams, resume: true, lastSeq: 10, checkpoint },
      /runId/,
    ],
    [
      'a run id with a path in it',
      { runId: '../../escaped', hyperparams, resume: true, lastSeq: 10, checkpoint },
      /runId/,
    ],
    [
      'an absurd checkpoint step',
      {
        runId: 'r1',
        hyperparams,
        resume: true,
        lastSeq: 10,
        checkpoint: { step: -5, data: checkpoint.data },
      },
      /checkpoint\.step/,
    ],
    [
      'hyperparameters out of range',
      { runId: 'r2', hyperparams: { ...hyperparams, epochs: 0 }, resume: true, checkpoint },
      /epochs/,
    ],
    ['no job at all', 'rm -rf /', /not valid/],
  ];
  for (const [what, job, reason] of jobs) {
    const answer = (await peer.timeout(10_000).emitWithAck('job:assign', job)) as {
      ok: boolean;
      error?: string;
      message?: string;
    };
    assert.equal(answer.ok, false, what);
    assert.equal(answer.error, 'INVALID', what);
    assert.match(answer.message ?? '', reason, what);
  }
  assert.deepEqual(
    await tree(sandbox),
    before,
    'nothing was written, inside the checkpoint directory or out of it',
  );
  assert.ok(child.exitCode === null, `the trainer is still running (${output})`);
});

test('a trainer told that the hub took its run back (job:revoked) stops the run and stops sending its events', async (t) => {
  const sandbox = await mkdtemp(path.join(os.tmpdir(), 'livetrain-agent-revoked-'));
  const server = http.createServer();
  const io = new Server(server);
  let trainer: Socket | null = null;
  let revoked = false;
  let afterRevoke = 0;
  let highest = 0;
  const reports: Array<{ kind: string; status?: string; runId?: string }> = [];
  io.of(TRAINER_NAMESPACE).on('connection', (s) => {
    trainer = s;
    s.on(
      'trainer:events',
      (msg: { runId: string; events: Array<{ seq: number }> }, ack: (r: unknown) => void) => {
        if (revoked) {
          afterRevoke += msg.events.length;
          return ack({
            ok: false,
            error: 'GONE',
            message: `run ${msg.runId} is failed on the hub and no longer this trainer's`,
          });
        }
        highest = Math.max(highest, ...msg.events.map((e) => e.seq));
        ack({ ok: true, data: { storedSeq: highest } });
      },
    );
    s.on('trainer:report', (r: { kind: string; status?: string; runId?: string }) =>
      reports.push(r),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const child = spawnEntry(
    'server/agent/main.ts',
    [
      '--hub',
      url,
      '--backend',
      'wasm',
      '--id',
      'revokee',
      '--checkpoint-dir',
      path.join(sandbox, 'ckpt'),
    ],
    { LIVETRAIN_TRAINER_TOKEN: '' },
  );
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  t.after(async () => {
    child.kill('SIGKILL');
    await io.close();
    await rm(sandbox, { recursive: true, force: true });
  });
  const peer = await eventually(
    () => trainer ?? undefined,
    `the trainer connects (${output})`,
    60_000,
  );
  const hyperparams = hyperparamsSchema.parse({ trainLimit: 320, testLimit: 50, epochs: 500 });
  const accepted = (await peer
    .timeout(10_000)
    .emitWithAck('job:assign', { runId: 'r-revoked', hyperparams, resume: false, lastSeq: 0 })) as {
    ok: boolean;
  };
  assert.ok(accepted.ok);
  await eventually(() => highest >= 20 || undefined, `events arrive (${output})`, 60_000);
  revoked = true;
  peer.emit('job:revoked', {
    runId: 'r-revoked',
    status: 'failed',
    message:
      'the hub failed run r-revoked: the trainer refused the job: not an ack; stop training it',
  });
  const done = await eventually(
    () => reports.find((r) => r.kind === 'job:done' && r.runId === 'r-revoked'),
    `the run ends (${output})`,
    60_000,
  );
  assert.equal(done.status, 'stopped');
  assert.match(output, /r-revoked: the hub failed run r-revoked/);
  // Its last events (the stop) were refused once with GONE and dropped, not sent again.
  const refused = afterRevoke;
  await peer
    .timeout(10_000)
    .emitWithAck('job:assign', 'ping')
    .catch(() => undefined); // a round trip
  assert.equal(afterRevoke, refused, 'nothing resent after GONE');
  assert.ok(child.exitCode === null, 'the trainer keeps running for other jobs');
});
