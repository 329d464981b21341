/**
 * `npm run train`'s flags: {@link USAGE}, and {@link parseCli}, which turns argv into
 * {@link CliOptions} or throws a {@link UsageError} saying in one line what is wrong, in words
 * (`--lr: a number above 0 and at most 10, got -1`), never Node's or zod's own wording.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  backendChoiceSchema,
  describeHyperparamError,
  hyperparamsSchema,
  HYPERPARAM_RULES,
  MAX_RUN_NAME_CHARS,
  reportingSchema,
  runIdSchema,
  type HyperparamsInput,
} from './config';
import { resolveDataDir } from './data/mnist';
import { unknownOption, UsageError } from '../cliFlags';

export const USAGE = `Usage: npm run train -- [options]

Trains the tutorial CNN on MNIST headless, or with --hub as a run in a hub's dashboard.

Options:
  --hub URL           create the run on this hub (e.g. http://127.0.0.1:3000) and stream it
                      there: everyone sees it live, and stop, pause, resume and the learning
                      rate work from the dashboard; the run keeps training and buffers while
                      the hub is away
  --token T           the hub's trainer token (default $LIVETRAIN_TRAINER_TOKEN)
  --name NAME         the run's name in the dashboard (with --hub)
  --epochs N          epochs to train (default 1)
  --batch-size N      samples per batch (default 32)
  --lr X              learning rate (default 0.01)
  --momentum X        SGD momentum (default 0.5)
  --beta1 X, --beta2 X, --epsilon X
                      Adam's decay rates and ε (default 0.9, 0.999, 1e-8)
  --optimizer NAME    sgd | adam (default sgd)
  --seed N            seed for initialisation, shuffling and dropout (default 1)
  --backend NAME      ${backendChoiceSchema.options.join(' | ')} (default auto)
  --train-limit N     train on the first N training images only (MNIST has 60,000)
  --test-limit N      evaluate on the first N test images only (MNIST has 10,000)
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
                      (otherwise a one-line summary)
  --verbose           say in full why each better backend was not used (Dawn's messages too)
  -h, --help          show this help
`;

/** The flag that sets each hyperparameter. */
export const FLAG_OF: Record<string, string> = {
  epochs: '--epochs',
  batchSize: '--batch-size',
  learningRate: '--lr',
  momentum: '--momentum',
  optimizer: '--optimizer',
  seed: '--seed',
  trainLimit: '--train-limit',
  testLimit: '--test-limit',
  beta1: '--beta1',
  beta2: '--beta2',
  epsilon: '--epsilon',
};

const STRING_FLAGS = [
  'epochs',
  'batch-size',
  'lr',
  'momentum',
  'beta1',
  'beta2',
  'epsilon',
  'optimizer',
  'seed',
  'backend',
  'train-limit',
  'test-limit',
  'data-dir',
  'checkpoint-dir',
  'resume',
  'run-id',
  'stop-after-nonfinite',
  'hub',
  'token',
  'name',
] as const;
const BOOLEAN_FLAGS = [
  'no-checkpoint',
  'no-train-eval',
  'allow-software-gpu',
  'json',
  'verbose',
  'help',
] as const;
type StringFlag = (typeof STRING_FLAGS)[number];
type BooleanFlag = (typeof BOOLEAN_FLAGS)[number];

export { UsageError };

export interface CliOptions {
  hyperparams: HyperparamsInput;
  backend: string;
  dataDir?: string;
  checkpointDir: string | null;
  resume?: string;
  runId: string;
  json: boolean;
  verbose: boolean;
  evalTrainSet: boolean;
  stopAfterNonFinite?: number;
  allowSoftwareGpu: boolean;
  /** With --hub: where the run is created and streamed, the trainer token and the run's name. */
  hub?: { url: string; token?: string; name?: string };
}

const isNumber = (text: string) => text.trim() !== '' && Number.isFinite(Number(text));

/**
 * Reads argv into flag values. Node's parseArgs, strict, would refuse `--lr -1` ("argument is
 * ambiguous"): it takes `-1` for an option. So it only tokenizes here (not strict), and the
 * checks are made on its tokens: a value that starts with `-` is a value when it is a number,
 * and a missing value otherwise.
 */
function readFlags(argv: string[]) {
  const { tokens } = parseArgs({
    args: argv,
    strict: false,
    allowPositionals: true,
    tokens: true,
    options: {
      ...Object.fromEntries(STRING_FLAGS.map((name) => [name, { type: 'string' as const }])),
      ...Object.fromEntries(BOOLEAN_FLAGS.map((name) => [name, { type: 'boolean' as const }])),
      help: { type: 'boolean', short: 'h' },
    },
  });
  const strings: Partial<Record<StringFlag, string>> = {};
  const booleans: Partial<Record<BooleanFlag, boolean>> = {};
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      throw new UsageError(
        `unexpected argument "${token.value}": every option starts with --, e.g. --epochs 3`,
      );
    }
    const { name, rawName, value, inlineValue } = token;
    if ((STRING_FLAGS as readonly string[]).includes(name)) {
      if (value === undefined || (!inlineValue && value.startsWith('-') && !isNumber(value))) {
        throw new UsageError(`${rawName} needs a value (${rawName} VALUE or ${rawName}=VALUE)`);
      }
      strings[name as StringFlag] = value;
    } else if ((BOOLEAN_FLAGS as readonly string[]).includes(name)) {
      if (value !== undefined) throw new UsageError(`${rawName} takes no value, got "${value}"`);
      booleans[name as BooleanFlag] = true;
    } else {
      throw new UsageError(unknownOption(rawName, [...STRING_FLAGS, ...BOOLEAN_FLAGS]));
    }
  }
  return { strings, booleans };
}

/** A hyperparameter flag's number; text that is no number is told the field's rule. */
function numberFlag(
  field: keyof typeof HYPERPARAM_RULES,
  value: string | undefined,
): number | undefined {
  if (value === undefined) return undefined;
  if (!isNumber(value))
    throw new UsageError(`${FLAG_OF[field]}: ${HYPERPARAM_RULES[field]}, got "${value}"`);
  return Number(value);
}

/** Parses argv into options; throws {@link UsageError} on anything wrong. */
export function parseCli(argv: string[]): CliOptions | 'help' {
  const { strings: v, booleans: b } = readFlags(argv);
  if (b.help) return 'help';
  const raw = {
    epochs: numberFlag('epochs', v.epochs),
    batchSize: numberFlag('batchSize', v['batch-size']),
    learningRate: numberFlag('learningRate', v.lr),
    momentum: numberFlag('momentum', v.momentum),
    optimizer: v.optimizer,
    beta1: numberFlag('beta1', v.beta1),
    beta2: numberFlag('beta2', v.beta2),
    epsilon: numberFlag('epsilon', v.epsilon),
    seed: numberFlag('seed', v.seed),
    trainLimit: numberFlag('trainLimit', v['train-limit']),
    testLimit: numberFlag('testLimit', v['test-limit']),
  };
  const hyperparams = Object.fromEntries(
    Object.entries(raw).filter(([, x]) => x !== undefined),
  ) as HyperparamsInput;
  const check = hyperparamsSchema.safeParse(hyperparams);
  if (!check.success) {
    throw new UsageError(
      describeHyperparamError(check.error, {
        input: hyperparams,
        label: (field) => FLAG_OF[field],
      }),
    );
  }
  const stopText = v['stop-after-nonfinite'];
  const stopAfter = stopText !== undefined && isNumber(stopText) ? Number(stopText) : undefined;
  if (
    stopText !== undefined &&
    (stopAfter === undefined ||
      !reportingSchema.shape.stopAfterNonFinite.safeParse(stopAfter).success)
  ) {
    throw new UsageError(
      `--stop-after-nonfinite: a whole number of batches from 1 to 1,000,000, got "${stopText}"`,
    );
  }
  const backend = backendChoiceSchema.safeParse(v.backend ?? 'auto');
  if (!backend.success)
    throw new UsageError(
      `--backend: one of ${backendChoiceSchema.options.join(', ')}, got "${v.backend}"`,
    );
  if (b['no-checkpoint'] && v['checkpoint-dir'])
    throw new UsageError('--no-checkpoint and --checkpoint-dir contradict each other');
  const hub = hubFlags(v);
  if (v['run-id'] !== undefined && !runIdSchema.safeParse(v['run-id']).success) {
    throw new UsageError(
      `--run-id: letters, digits, _ . - only, starting with a letter or digit, at most 128, got "${v['run-id']}"`,
    );
  }
  return {
    hyperparams,
    backend: backend.data,
    dataDir: resolveDataDir(v['data-dir']),
    checkpointDir: b['no-checkpoint']
      ? null
      : (v['checkpoint-dir'] ?? path.join('.livetrain', 'checkpoints')),
    resume: v.resume,
    runId: v['run-id'] ?? randomUUID(),
    json: Boolean(b.json),
    verbose: Boolean(b.verbose),
    evalTrainSet: !b['no-train-eval'],
    ...(stopAfter === undefined ? {} : { stopAfterNonFinite: stopAfter }),
    allowSoftwareGpu: Boolean(b['allow-software-gpu']),
    ...(hub ? { hub } : {}),
  };
}

/** --hub, --token and --name: checked together (the last two mean nothing without a hub). */
function hubFlags(v: Partial<Record<StringFlag, string>>): CliOptions['hub'] {
  if (v.hub === undefined) {
    for (const flag of ['token', 'name'] as const)
      if (v[flag] !== undefined)
        throw new UsageError(
          `--${flag} goes with --hub URL (without a hub the run is not shown anywhere)`,
        );
    return undefined;
  }
  let url: URL | null;
  try {
    url = new URL(v.hub);
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    throw new UsageError(`--hub: a URL like http://host:3000, got "${v.hub}"`);
  if (v.resume !== undefined)
    throw new UsageError(
      '--resume cannot be used with --hub yet: a run from the command line starts fresh on the hub',
    );
  if (v.name !== undefined && !/\S/.test(v.name))
    throw new UsageError('--name: a name needs at least one character');
  if (v.name !== undefined && v.name.trim().length > MAX_RUN_NAME_CHARS)
    throw new UsageError(
      `--name: a name has at most ${MAX_RUN_NAME_CHARS} characters, got ${v.name.trim().length}`,
    );
  const token = v.token ?? (process.env.LIVETRAIN_TRAINER_TOKEN || undefined);
  return {
    url: v.hub,
    ...(token ? { token } : {}),
    ...(v.name !== undefined ? { name: v.name.trim() } : {}),
  };
}
