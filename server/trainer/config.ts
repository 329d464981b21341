/**
 * Training configuration: the tutorial's defaults, validated with zod at every boundary
 * (CLI flags, daemon jobs, later the hub's `run:start`).
 */
import { z } from 'zod';

/** Backends the trainer knows, best first; `auto` picks the best one that works here. */
export const BACKENDS = [
  'tensorflow-gpu',
  'tensorflow',
  'webgpu',
  'native',
  'wasm',
  'cpu',
] as const;
export type BackendName = (typeof BACKENDS)[number];
export const backendChoiceSchema = z.enum(['auto', ...BACKENDS]);
export type BackendChoice = z.infer<typeof backendChoiceSchema>;

/**
 * A run id, wherever one arrives (jobs, events, browser commands, checkpoint files): it names
 * files and URL paths, so it is kept to letters, digits, `_`, `.` and `-`, and starts with a
 * letter or digit (no `..`).
 */
export const runIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
    'letters, digits, _ . - only, starting with a letter or digit',
  );

export const OPTIMIZERS = ['sgd', 'adam'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** The bounds of the numeric hyperparameters, shared by the schema, the words for it and the form's inputs. */
export const HYPERPARAM_BOUNDS = {
  epochs: { min: 1, max: 1000 },
  batchSize: { min: 1, max: 8192 },
  learningRate: { above: 0, max: 10 },
  momentum: { min: 0, below: 1 },
  beta1: { min: 0, below: 1 },
  beta2: { min: 0, below: 1 },
  epsilon: { above: 0, max: 1 },
  seed: { min: 0, max: 2 ** 31 - 1 },
  limit: { min: 1 },
} as const;

/** The tutorial's hyperparameters: SGD lr 0.01 momentum 0.5, batch 32. */
export const hyperparamsSchema = z
  .object({
    epochs: z
      .number()
      .int()
      .min(HYPERPARAM_BOUNDS.epochs.min)
      .max(HYPERPARAM_BOUNDS.epochs.max)
      .default(1),
    batchSize: z
      .number()
      .int()
      .min(HYPERPARAM_BOUNDS.batchSize.min)
      .max(HYPERPARAM_BOUNDS.batchSize.max)
      .default(32),
    learningRate: z
      .number()
      .gt(HYPERPARAM_BOUNDS.learningRate.above)
      .max(HYPERPARAM_BOUNDS.learningRate.max)
      .default(0.01),
    /** SGD's momentum (Adam does not use it). */
    momentum: z
      .number()
      .min(HYPERPARAM_BOUNDS.momentum.min)
      .lt(HYPERPARAM_BOUNDS.momentum.below)
      .default(0.5),
    optimizer: z.enum(OPTIMIZERS).default('sgd'),
    /** Adam's decay rate of the gradient's running mean (SGD does not use it). */
    beta1: z
      .number()
      .min(HYPERPARAM_BOUNDS.beta1.min)
      .lt(HYPERPARAM_BOUNDS.beta1.below)
      .default(0.9),
    /** Adam's decay rate of the squared gradient's running mean. */
    beta2: z
      .number()
      .min(HYPERPARAM_BOUNDS.beta2.min)
      .lt(HYPERPARAM_BOUNDS.beta2.below)
      .default(0.999),
    /** Adam's ε, added to the denominator for numerical stability. */
    epsilon: z
      .number()
      .gt(HYPERPARAM_BOUNDS.epsilon.above)
      .max(HYPERPARAM_BOUNDS.epsilon.max)
      .default(1e-8),
    seed: z
      .number()
      .int()
      .min(HYPERPARAM_BOUNDS.seed.min)
      .max(HYPERPARAM_BOUNDS.seed.max)
      .default(1),
    /** Use only the first N training images (quick runs, tests); null = all. */
    trainLimit: z.number().int().min(HYPERPARAM_BOUNDS.limit.min).nullable().default(null),
    /** Use only the first N test images; null = all. */
    testLimit: z.number().int().min(HYPERPARAM_BOUNDS.limit.min).nullable().default(null),
  })
  .strip();

export type Hyperparams = z.infer<typeof hyperparamsSchema>;

/** The hyperparameters each optimizer reads (the others are kept but do not matter to it). */
export const OPTIMIZER_PARAMS = {
  sgd: ['momentum'],
  adam: ['beta1', 'beta2', 'epsilon'],
} as const satisfies Record<OptimizerName, readonly (keyof Hyperparams)[]>;
const OPTIMIZER_ONLY = new Set<string>(Object.values(OPTIMIZER_PARAMS).flat());

/** Whether a run with `optimizer` reads hyperparameter `key` (false only for another optimizer's setting). */
export function optimizerReads(optimizer: OptimizerName, key: string): boolean {
  return (
    !OPTIMIZER_ONLY.has(key) || (OPTIMIZER_PARAMS[optimizer] as readonly string[]).includes(key)
  );
}
export type HyperparamsInput = z.input<typeof hyperparamsSchema>;

/** How the run reports; not part of the model's hyperparameters. */
export const reportingSchema = z
  .object({
    /** Prediction panel every N batches; null = time-based, about every `panelEveryMs`. */
    panelEveryBatches: z.number().int().min(1).nullable().default(null),
    panelEveryMs: z.number().int().min(50).max(60_000).default(500),
    /** Number of fixed test digits in the prediction panel. */
    panelSize: z.number().int().min(1).max(64).default(16),
    /** Evaluate the whole training set at each epoch end, as the tutorial's `fit` does. */
    evalTrainSet: z.boolean().default(true),
    /** Cap on misclassified digits reported per epoch (the rest are counted). */
    maxMisclassified: z.number().int().min(0).max(10_000).default(10_000),
    /**
     * A run whose batch loss is not finite (NaN, ±Infinity) this many batches in a row has
     * diverged: the trainer stops it as failed, saying why.
     */
    stopAfterNonFinite: z.number().int().min(1).max(1_000_000).default(10),
  })
  .strip();
export type Reporting = z.infer<typeof reportingSchema>;

/**
 * Formats a zod error as `field: message` items for CLIs and error envelopes; `label` may
 * rename a field (e.g. to the CLI flag that set it).
 */
export function describeZodError(
  error: z.ZodError,
  opts: { separator?: string; label?: (path: string) => string | undefined } = {},
): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.length ? issue.path.join('.') : '(input)';
      return `${opts.label?.(field) ?? field}: ${issue.message}`;
    })
    .join(opts.separator ?? '\n');
}

const n = (x: number) => x.toLocaleString('en-US');

/** Each hyperparameter's rule in words, as a person is told it when a value breaks it. */
export const HYPERPARAM_RULES: Readonly<Record<keyof Hyperparams, string>> = {
  epochs: `a whole number from ${n(HYPERPARAM_BOUNDS.epochs.min)} to ${n(HYPERPARAM_BOUNDS.epochs.max)}`,
  batchSize: `a whole number from ${n(HYPERPARAM_BOUNDS.batchSize.min)} to ${n(HYPERPARAM_BOUNDS.batchSize.max)}`,
  learningRate: `a number above ${n(HYPERPARAM_BOUNDS.learningRate.above)} and at most ${n(HYPERPARAM_BOUNDS.learningRate.max)}`,
  momentum: `a number from ${n(HYPERPARAM_BOUNDS.momentum.min)} up to but not including ${n(HYPERPARAM_BOUNDS.momentum.below)}`,
  optimizer: `one of ${OPTIMIZERS.join(', ')}`,
  beta1: `a number from ${n(HYPERPARAM_BOUNDS.beta1.min)} up to but not including ${n(HYPERPARAM_BOUNDS.beta1.below)}`,
  beta2: `a number from ${n(HYPERPARAM_BOUNDS.beta2.min)} up to but not including ${n(HYPERPARAM_BOUNDS.beta2.below)}`,
  epsilon: `a number above ${n(HYPERPARAM_BOUNDS.epsilon.above)} and at most ${n(HYPERPARAM_BOUNDS.epsilon.max)}`,
  seed: `a whole number from ${n(HYPERPARAM_BOUNDS.seed.min)} to ${n(HYPERPARAM_BOUNDS.seed.max)}`,
  trainLimit: `a whole number of training images, at least ${n(HYPERPARAM_BOUNDS.limit.min)}`,
  testLimit: `a whole number of test images, at least ${n(HYPERPARAM_BOUNDS.limit.min)}`,
};

/** A value as it is quoted back: numbers as they are, text in quotes. */
function quote(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  return value === null ? 'nothing' : typeof value;
}

/**
 * One issue of {@link hyperparamsSchema} in words, whatever zod's code for it:
 * `epochs: a whole number from 1 to 1,000, got 0`. `input` is what was parsed (to quote the
 * value back); `label` renames a field (the CLI passes its flag, `--epochs`). Issues on other
 * fields keep zod's message.
 */
export function describeHyperparamIssue(
  issue: z.core.$ZodIssue,
  opts: { input?: unknown; label?: (field: string) => string | undefined } = {},
): string {
  const field = issue.path.length ? issue.path.join('.') : '(input)';
  const name = opts.label?.(field) ?? field;
  // A cross-field rule (a custom issue) says its own reason; the field's rule would contradict it.
  const rule =
    issue.path.length === 1 && issue.code !== 'custom'
      ? HYPERPARAM_RULES[field as keyof Hyperparams]
      : undefined;
  if (!rule) return `${name}: ${issue.message}`;
  const input = opts.input as Record<string, unknown> | undefined;
  const got =
    input && typeof input === 'object' && field in input ? `, got ${quote(input[field])}` : '';
  return `${name}: ${rule}${got}`;
}

/** Every issue of a hyperparameter ZodError in words ({@link describeHyperparamIssue}), joined. */
export function describeHyperparamError(
  error: z.ZodError,
  opts: { input?: unknown; label?: (field: string) => string | undefined; separator?: string } = {},
): string {
  return error.issues
    .map((issue) => describeHyperparamIssue(issue, opts))
    .join(opts.separator ?? '; ');
}

/** How many images each split of a data set holds. */
export interface DatasetSizes {
  train: number;
  test: number;
}
/** The bundled MNIST's sizes (its files are checked against known SHA-256 when loaded). */
export const MNIST_SIZES: Readonly<DatasetSizes> = { train: 60_000, test: 10_000 };

/** The longest run name (the start form, the edit form, the hub, `npm run train -- --name`). */
export const MAX_RUN_NAME_CHARS = 120;

/** The most batch points one run may record (epochs × batches per epoch). */
export const MAX_POINTS_PER_RUN = 2_000_000;

/** A rule that joins several hyperparameters, or one and the data set: the fields that cause it and why. */
export interface CrossFieldIssue {
  fields: Array<'epochs' | 'batchSize' | 'trainLimit' | 'testLimit'>;
  message: string;
}

/**
 * Every rule of a run's hyperparameters that one field alone cannot tell: a digit limit beyond
 * the data set (which would train on fewer without a word), and the batch points a run may
 * record. Each issue names every field that causes it, so it is shown at each of them.
 */
export function crossFieldIssues(
  hp: Pick<Hyperparams, 'epochs' | 'batchSize' | 'trainLimit' | 'testLimit'>,
  sizes: DatasetSizes,
): CrossFieldIssue[] {
  const issues: CrossFieldIssue[] = [];
  if (hp.trainLimit !== null && hp.trainLimit > sizes.train) {
    issues.push({
      fields: ['trainLimit'],
      message: `the data set has only ${n(sizes.train)} training images, got ${n(hp.trainLimit)}`,
    });
  }
  if (hp.testLimit !== null && hp.testLimit > sizes.test) {
    issues.push({
      fields: ['testLimit'],
      message: `the data set has only ${n(sizes.test)} test images, got ${n(hp.testLimit)}`,
    });
  }
  const digits = Math.min(hp.trainLimit ?? sizes.train, sizes.train);
  const perEpoch = Math.ceil(digits / hp.batchSize);
  const points = hp.epochs * perEpoch;
  if (points > MAX_POINTS_PER_RUN) {
    issues.push({
      fields: ['epochs', 'batchSize', 'trainLimit'],
      message:
        `this run would record ${n(points)} batch points (${n(hp.epochs)} epochs × ${n(perEpoch)} batches); a run may record at most ${n(MAX_POINTS_PER_RUN)}: ` +
        `use fewer epochs, a larger batch size (now ${n(hp.batchSize)}) or fewer training digits (now ${hp.trainLimit === null ? 'all ' : ''}${n(digits)})`,
    });
  }
  return issues;
}
