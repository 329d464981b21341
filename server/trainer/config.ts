/**
 * Training configuration: the tutorial's defaults, validated with zod at every boundary
 * (CLI flags, daemon jobs, later the hub's `run:start`).
 */
import { z } from 'zod';

/** Backends the trainer knows, best first; `auto` picks the best one that works here. */
export const BACKENDS = ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
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
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, _ . - only, starting with a letter or digit');

export const OPTIMIZERS = ['sgd', 'adam'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** The tutorial's hyperparameters: SGD lr 0.01 momentum 0.5, batch 32. */
export const hyperparamsSchema = z
  .object({
    epochs: z.number().int().min(1).max(1000).default(1),
    batchSize: z.number().int().min(1).max(8192).default(32),
    learningRate: z.number().gt(0).max(10).default(0.01),
    /** SGD's momentum (Adam does not use it). */
    momentum: z.number().min(0).lt(1).default(0.5),
    optimizer: z.enum(OPTIMIZERS).default('sgd'),
    /** Adam's decay rate of the gradient's running mean (SGD does not use it). */
    beta1: z.number().min(0).lt(1).default(0.9),
    /** Adam's decay rate of the squared gradient's running mean. */
    beta2: z.number().min(0).lt(1).default(0.999),
    /** Adam's ε, added to the denominator for numerical stability. */
    epsilon: z.number().gt(0).max(1).default(1e-8),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(1),
    /** Use only the first N training images (quick runs, tests); null = all. */
    trainLimit: z.number().int().min(1).nullable().default(null),
    /** Use only the first N test images; null = all. */
    testLimit: z.number().int().min(1).nullable().default(null),
  })
  .strip();

export type Hyperparams = z.infer<typeof hyperparamsSchema>;

/** The hyperparameters each optimizer reads (the others are kept but do not matter to it). */
export const OPTIMIZER_PARAMS = { sgd: ['momentum'], adam: ['beta1', 'beta2', 'epsilon'] } as const satisfies Record<OptimizerName, readonly (keyof Hyperparams)[]>;
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

/** Parses hyperparameters, throwing a ZodError with field paths on bad input. */
export function parseHyperparams(input: unknown): Hyperparams {
  return hyperparamsSchema.parse(input ?? {});
}

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
