/**
 * `npm run train -- [flags]`: trains headless with a progress bar on stderr and, with
 * `--json`, prints one JSON object as the last line of stdout. Bad flags exit 2 with usage;
 * bad data or an unavailable backend exit 1 with the message, no stack trace.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ZodError } from 'zod';
import { backendChoiceSchema, describeZodError, hyperparamsSchema, reportingSchema, type HyperparamsInput } from './config';
import { initBackend } from './backend';
import { CheckpointError, latestCheckpoint, loadCheckpoint, type Checkpoint } from './checkpoint';
import { loadMnist, resolveDataDir } from './data/mnist';
import { createProgress } from './progress';
import { createTrainer, runCheckpointDir, type RunResult } from './trainer';

export const USAGE = `Usage: npm run train -- [options]

Trains the tutorial CNN on MNIST headless.

Options:
  --epochs N          epochs to train (default 1)
  --batch-size N      samples per batch (default 32)
  --lr X              learning rate (default 0.01)
  --momentum X        SGD momentum (default 0.5)
  --optimizer NAME    sgd | adam (default sgd)
  --seed N            seed for initialisation, shuffling and dropout (default 1)
  --backend NAME      ${backendChoiceSchema.options.join(' | ')} (default auto)
  --train-limit N     train on the first N training images only
  --test-limit N      evaluate on the first N test images only
  --data-dir DIR      directory of MNIST-format IDX files (plain or .gz);
                      default $LIVETRAIN_DATA_DIR, else the bundled MNIST
  --checkpoint-dir D  where checkpoints go (default .livetrain/checkpoints)
  --no-checkpoint     do not write checkpoints
  --resume PATH       continue from a checkpoint file, or the latest one in a directory
  --run-id ID         run id (default: a new UUID)
  --no-train-eval     skip evaluating the whole training set at each epoch end
  --stop-after-nonfinite N
                      stop the run as failed once the loss has been NaN or ±Infinity
                      for N batches in a row (default 10)
  --allow-software-gpu  let --backend webgpu use a software adapter (llvmpipe)
  --json              print the result as one JSON object on the last line of stdout
  -h, --help          show this help
`;

const FLAG_OF: Record<string, string> = {
  epochs: '--epochs', batchSize: '--batch-size', learningRate: '--lr', momentum: '--momentum', optimizer: '--optimizer',
  seed: '--seed', trainLimit: '--train-limit', testLimit: '--test-limit',
};

class UsageError extends Error {}

export interface CliOptions {
  hyperparams: HyperparamsInput;
  backend: string;
  dataDir?: string;
  checkpointDir: string | null;
  resume?: string;
  runId: string;
  json: boolean;
  evalTrainSet: boolean;
  stopAfterNonFinite?: number;
  allowSoftwareGpu: boolean;
}

function numberFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} expects a number, got "${value}"`);
  return n;
}

/** Parses argv into options; throws UsageError on anything wrong. */
export function parseCli(argv: string[]): CliOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        epochs: { type: 'string' }, 'batch-size': { type: 'string' }, lr: { type: 'string' }, momentum: { type: 'string' },
        optimizer: { type: 'string' }, seed: { type: 'string' }, backend: { type: 'string' },
        'train-limit': { type: 'string' }, 'test-limit': { type: 'string' }, 'data-dir': { type: 'string' },
        'checkpoint-dir': { type: 'string' }, 'no-checkpoint': { type: 'boolean' }, resume: { type: 'string' },
        'run-id': { type: 'string' }, 'no-train-eval': { type: 'boolean' }, 'allow-software-gpu': { type: 'boolean' },
        'stop-after-nonfinite': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  const raw = {
    epochs: numberFlag('epochs', v.epochs), batchSize: numberFlag('batch-size', v['batch-size']),
    learningRate: numberFlag('lr', v.lr), momentum: numberFlag('momentum', v.momentum), optimizer: v.optimizer,
    seed: numberFlag('seed', v.seed), trainLimit: numberFlag('train-limit', v['train-limit']),
    testLimit: numberFlag('test-limit', v['test-limit']),
  };
  const hyperparams = Object.fromEntries(Object.entries(raw).filter(([, x]) => x !== undefined)) as HyperparamsInput;
  const check = hyperparamsSchema.safeParse(hyperparams);
  if (!check.success) {
    throw new UsageError(describeZodError(check.error, { label: (field) => FLAG_OF[field] }));
  }
  const stopAfter = numberFlag('stop-after-nonfinite', v['stop-after-nonfinite']);
  const stopCheck = reportingSchema.shape.stopAfterNonFinite.safeParse(stopAfter);
  if (stopAfter !== undefined && !stopCheck.success) {
    throw new UsageError(`--stop-after-nonfinite: a whole number of batches from 1 to 1,000,000, got "${v['stop-after-nonfinite']}"`);
  }
  const backend = backendChoiceSchema.safeParse(v.backend ?? 'auto');
  if (!backend.success) throw new UsageError(`--backend: expected one of ${backendChoiceSchema.options.join(', ')}, got "${v.backend}"`);
  if (v['no-checkpoint'] && v['checkpoint-dir']) throw new UsageError('--no-checkpoint and --checkpoint-dir contradict each other');
  return {
    hyperparams,
    backend: backend.data,
    dataDir: resolveDataDir(v['data-dir']),
    checkpointDir: v['no-checkpoint'] ? null : (v['checkpoint-dir'] ?? path.join('.livetrain', 'checkpoints')),
    resume: v.resume,
    runId: v['run-id'] ?? randomUUID(),
    json: Boolean(v.json),
    evalTrainSet: !v['no-train-eval'],
    ...(stopAfter === undefined ? {} : { stopAfterNonFinite: stopAfter }),
    allowSoftwareGpu: Boolean(v['allow-software-gpu']),
  };
}

async function resolveResume(target: string): Promise<Checkpoint> {
  const file = target.endsWith('.ckpt') ? target : await latestCheckpoint(target);
  if (!file) throw new CheckpointError(target, 'no checkpoint found');
  return loadCheckpoint(file);
}

/** The `--json` summary. */
export function summarize(result: RunResult) {
  return {
    runId: result.runId,
    status: result.status,
    config: result.hyperparams,
    backend: result.backend.name,
    device: result.backend.device,
    samplesPerSec: Math.round(result.samplesPerSec),
    testAccuracy: result.testAccuracy,
    steps: result.step,
    checkpoint: result.lastCheckpoint,
    epochs: result.epochs.map((e) => ({
      epoch: e.epoch, trainLoss: e.trainLoss, trainAccuracy: e.trainAccuracy, testLoss: e.testLoss,
      testAccuracy: e.testAccuracy, samplesPerSec: Math.round(e.samplesPerSec), trainMs: e.trainMs, evalMs: e.evalMs,
    })),
  };
}

export async function main(argv: string[]): Promise<number> {
  let opts: CliOptions | 'help';
  try {
    opts = parseCli(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`error: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    const resume = opts.resume ? await resolveResume(opts.resume) : undefined;
    const hyperparams = resume ? resume.header.hyperparams : hyperparamsSchema.parse(opts.hyperparams);
    const runId = resume ? resume.header.runId : opts.runId;
    const data = await loadMnist({ dataDir: opts.dataDir });
    const backend = await initBackend(opts.backend as never, {
      allowSoftwareWebGpu: opts.allowSoftwareGpu,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    const progress = createProgress({ stream: process.stderr });
    const trainer = createTrainer(
      {
        runId, hyperparams, data, backend, resume,
        reporting: { evalTrainSet: opts.evalTrainSet, ...(opts.stopAfterNonFinite === undefined ? {} : { stopAfterNonFinite: opts.stopAfterNonFinite }) },
        checkpointDir: opts.checkpointDir ? runCheckpointDir(opts.checkpointDir, runId) : null,
      },
      { write: (events) => events.forEach((e) => progress.handle(e)) },
    );
    let interrupts = 0;
    process.on('SIGINT', () => {
      if (++interrupts > 1) process.exit(130);
      process.stderr.write('\nstopping after this batch (Ctrl-C again to quit now)\n');
      trainer.stop();
    });
    const result = await trainer.run();
    if (opts.json) process.stdout.write(`${JSON.stringify(summarize(result))}\n`);
    return 0;
  } catch (error) {
    // DataError, CheckpointError and BackendUnavailableError messages are written for users.
    const message = error instanceof ZodError ? describeZodError(error) : error instanceof Error ? error.message : String(error);
    process.stderr.write(`error: ${message}\n`);
    return 1;
  }
}

// Run only when executed directly, not when imported by tests.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
