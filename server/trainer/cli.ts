/**
 * `npm run train -- [flags]`: trains headless with a progress bar on stderr and a one-line
 * summary on stdout, or with `--json` one JSON object as the last line of stdout. Bad flags
 * exit 2 with one line saying what is wrong (flags: cliArgs.ts); bad data or an unavailable
 * backend exit 1 with the message, no stack trace.
 */
import path from 'node:path';
import { ZodError } from 'zod';
import { describeZodError, hyperparamsSchema, type Hyperparams } from './config';
import { chooseBackend, describeBackendChoice } from './backend';
import { CheckpointError, latestCheckpoint, loadCheckpoint, type Checkpoint } from './checkpoint';
import { usageText } from '../cliFlags';
import { parseCli, USAGE, UsageError, type CliOptions } from './cliArgs';
import { loadMnist, type MnistData } from './data/mnist';
import { createProgress } from './progress';
import { createTrainer, runCheckpointDir, type RunResult } from './trainer';

export { parseCli } from './cliArgs';

const n = (x: number) => x.toLocaleString('en-US');

/**
 * A limit beyond the data set would be cut to its size without a word (limitSplit): refused
 * instead, once the data is loaded and its size known.
 */
export function limitProblem(
  hp: Hyperparams,
  data: MnistData,
  fromCheckpoint: boolean,
): string | null {
  const checks = [
    { limit: hp.trainLimit, count: data.train.count, flag: '--train-limit', set: 'training' },
    { limit: hp.testLimit, count: data.test.count, flag: '--test-limit', set: 'test' },
  ];
  for (const { limit, count, flag, set } of checks) {
    if (limit !== null && limit > count) {
      const who = fromCheckpoint ? `the checkpoint's ${flag.slice(2)}` : flag;
      return `${who} ${n(limit)}: the data set has only ${n(count)} ${set} images`;
    }
  }
  return null;
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
      epoch: e.epoch,
      trainLoss: e.trainLoss,
      trainAccuracy: e.trainAccuracy,
      testLoss: e.testLoss,
      testAccuracy: e.testAccuracy,
      samplesPerSec: Math.round(e.samplesPerSec),
      trainMs: e.trainMs,
      evalMs: e.evalMs,
    })),
  };
}

/** A loss as people read it; null is a loss that was not finite. */
const fmtLoss = (x: number | null) => (x === null ? 'not a number' : x.toFixed(4));

/**
 * The one-line summary printed without `--json`: `completed: 1 epoch, 1,875 steps, test
 * accuracy 98.52% (loss 0.0467), 2,460 samples/s; checkpoint .livetrain/checkpoints/…`.
 */
export function describeResult(result: RunResult, batchesPerEpoch: number): string {
  const { epochs } = result.hyperparams;
  const done = Math.min(epochs, Math.floor(result.step / Math.max(1, batchesPerEpoch)));
  const plural = (count: number, word: string) => `${n(count)} ${word}${count === 1 ? '' : 's'}`;
  const progress =
    result.status === 'completed'
      ? `${plural(epochs, 'epoch')}, ${plural(result.step, 'step')}`
      : `${n(done)} of ${plural(epochs, 'epoch')}, ${n(result.step)} of ${plural(batchesPerEpoch * epochs, 'step')}`;
  const last = result.epochs.at(-1);
  const accuracy = last
    ? `test accuracy ${last.testAccuracy.toFixed(2)}% (loss ${fmtLoss(last.testLoss)})${last.epoch === epochs ? '' : ` after epoch ${last.epoch}`}`
    : 'no test accuracy (no epoch ended in this run)';
  const speed =
    result.samplesPerSec > 0 ? `, ${n(Math.round(result.samplesPerSec))} samples/s` : '';
  const checkpoint = result.lastCheckpoint
    ? `checkpoint ${result.lastCheckpoint}`
    : 'no checkpoint written';
  return `${result.status}: ${progress}, ${accuracy}${speed}; ${checkpoint}`;
}

/** How `--hub` is served: the agent's (server/agent/train.ts); this core knows no transport. */
export type HubMode = (opts: CliOptions) => Promise<number>;

export async function main(argv: string[], onHub?: HubMode): Promise<number> {
  let opts: CliOptions | 'help';
  try {
    opts = parseCli(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(usageText(error.message, 'npm run train'));
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (opts.hub) {
    if (onHub) return onHub(opts);
    process.stderr.write(
      'error: --hub needs the entry point that connects to hubs: npm run train (server/agent/train.ts)\n',
    );
    return 2;
  }
  try {
    const resume = opts.resume ? await resolveResume(opts.resume) : undefined;
    const hyperparams = resume
      ? resume.header.hyperparams
      : hyperparamsSchema.parse(opts.hyperparams);
    const runId = resume ? resume.header.runId : opts.runId;
    const data = await loadMnist({ dataDir: opts.dataDir });
    const tooMany = limitProblem(hyperparams, data, Boolean(resume));
    if (tooMany) {
      process.stderr.write(`error: ${tooMany}\n`);
      return 2;
    }
    const chosen = await chooseBackend(opts.backend as never, {
      allowSoftwareWebGpu: opts.allowSoftwareGpu,
      ...(opts.verbose ? { log: (line: string) => process.stderr.write(`${line}\n`) } : {}),
    });
    const backend = chosen.backend;
    process.stderr.write(`backend: ${describeBackendChoice(chosen)}\n`);
    const progress = createProgress({ stream: process.stderr });
    const trainer = createTrainer(
      {
        runId,
        hyperparams,
        data,
        backend,
        resume,
        reporting: {
          evalTrainSet: opts.evalTrainSet,
          ...(opts.stopAfterNonFinite === undefined
            ? {}
            : { stopAfterNonFinite: opts.stopAfterNonFinite }),
        },
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
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(summarize(result))}\n`);
    } else {
      const trainCount = Math.min(hyperparams.trainLimit ?? Infinity, data.train.count);
      process.stdout.write(
        `${describeResult(result, Math.ceil(trainCount / hyperparams.batchSize))}\n`,
      );
    }
    return 0;
  } catch (error) {
    // DataError, CheckpointError and BackendUnavailableError messages are written for users.
    const message =
      error instanceof ZodError
        ? describeZodError(error)
        : error instanceof Error
          ? error.message
          : String(error);
    process.stderr.write(`error: ${message}\n`);
    return 1;
  }
}

// Run only when executed directly, not when imported by tests.
if (
  process.argv[1] &&
  path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)
) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
