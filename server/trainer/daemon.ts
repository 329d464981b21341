/**
 * The trainer daemon: takes jobs, runs them one at a time (or `concurrency` at once) on this
 * process's backend, routes control commands to the right run, and reports everything
 * through one {@link DaemonOutput}. Transport-free: `daemonMain.ts` wires it to JSON lines
 * on stdio; the hub connects it over Socket.IO.
 */
import { z } from 'zod';
import type { DaemonErrorCode } from './daemonErrors';
import {
  crossFieldIssues,
  describeZodError,
  hyperparamsSchema,
  reportingSchema,
  runIdSchema,
  type Hyperparams,
} from './config';
import { latestCheckpoint, loadCheckpoint } from './checkpoint';
import { ControlError, validateLearningRate } from './control';
import type { MnistData } from './data/mnist';
import type { BackendInfo, TrainerEvent } from './events';
import { createTrainer, runCheckpointDir, type RunResult, type Trainer } from './trainer';

export const jobSchema = z
  .object({
    runId: runIdSchema,
    hyperparams: hyperparamsSchema,
    reporting: reportingSchema.partial().optional(),
    /** Continue from this run's latest checkpoint. */
    resume: z.boolean().default(false),
    /** Seq of the last event the caller stored for this run (resume after a crash). */
    lastSeq: z.number().int().min(0).optional(),
  })
  .strip();
export type Job = z.infer<typeof jobSchema>;
export type JobInput = z.input<typeof jobSchema>;

export const controlSchema = z.discriminatedUnion('action', [
  z.object({ runId: runIdSchema, action: z.literal('pause') }),
  z.object({ runId: runIdSchema, action: z.literal('resume') }),
  z.object({ runId: runIdSchema, action: z.literal('stop') }),
  z.object({ runId: runIdSchema, action: z.literal('set-lr'), learningRate: z.number() }),
]);
export type ControlCommand = z.infer<typeof controlSchema>;

/** What the daemon reports, besides trainer events. */
export type DaemonMessage =
  | { kind: 'ready'; backend: BackendInfo; concurrency: number }
  | { kind: 'events'; events: readonly TrainerEvent[] }
  | { kind: 'job:accepted'; runId: string; queued: number }
  | {
      kind: 'job:done';
      runId: string;
      status: RunResult['status'];
      testAccuracy: number | null;
      samplesPerSec: number;
      checkpoint: string | null;
    }
  | { kind: 'job:failed'; runId: string; message: string }
  | { kind: 'rejected'; runId?: string; error: DaemonErrorCode; message: string };

export interface DaemonOutput {
  send(message: DaemonMessage): void | Promise<void>;
}

export interface DaemonOptions {
  backend: BackendInfo;
  /** Loads (and may cache) the dataset; called once per job. */
  loadData: () => Promise<MnistData>;
  checkpointRoot: string | null;
  output: DaemonOutput;
  concurrency?: number;
  /** Event batching delay handed to each trainer (see TrainerOptions.flushMs). */
  flushMs?: number;
}

export interface Daemon {
  submit(job: unknown): boolean;
  control(command: unknown): boolean;
  /** Runs queued or running, in order. */
  readonly runs: { running: string[]; queued: string[] };
  /** Stops every run and resolves when all have finished. */
  shutdown(): Promise<void>;
  /** Resolves when nothing is queued or running. */
  idle(): Promise<void>;
}

/**
 * A digit limit beyond this trainer's data set would train on fewer without a word: the job
 * fails instead, saying so (the hub checks against its own data set, which may not be this one).
 */
function limitsFit(hp: Hyperparams, data: MnistData): void {
  const beyond = crossFieldIssues(hp, { train: data.train.count, test: data.test.count }).filter(
    (i) => i.fields.length === 1,
  );
  if (beyond.length)
    throw new Error(
      `this trainer cannot run it: ${beyond.map((i) => `${i.fields[0] === 'trainLimit' ? 'training' : 'test'} digits: ${i.message}`).join('; ')} (${data.source})`,
    );
}

export function createDaemon(opts: DaemonOptions): Daemon {
  const concurrency = opts.concurrency ?? 1;
  const queue: Job[] = [];
  /** `trainer` is null while the job is still loading data or its checkpoint. */
  const running = new Map<
    string,
    { trainer: Trainer | null; pending: ControlCommand[]; done: Promise<void> }
  >();
  let closing = false;
  let idleWaiters: Array<() => void> = [];
  const send = (m: DaemonMessage) => void opts.output.send(m);

  const checkIdle = () => {
    if (queue.length === 0 && running.size === 0) {
      idleWaiters.forEach((w) => w());
      idleWaiters = [];
    }
  };

  async function execute(job: Job): Promise<void> {
    const checkpointDir = opts.checkpointRoot
      ? runCheckpointDir(opts.checkpointRoot, job.runId)
      : null;
    try {
      const resumePath = job.resume && checkpointDir ? await latestCheckpoint(checkpointDir) : null;
      if (job.resume && !resumePath)
        throw new Error(`run ${job.runId} has no checkpoint to resume from`);
      const resume = resumePath ? await loadCheckpoint(resumePath) : undefined;
      const data = await opts.loadData();
      const hyperparams = resume?.header.hyperparams ?? job.hyperparams;
      limitsFit(hyperparams, data);
      const trainer = createTrainer(
        {
          runId: job.runId,
          hyperparams,
          reporting: job.reporting,
          data,
          backend: opts.backend,
          checkpointDir,
          resume,
          lastSeq: job.lastSeq,
          flushMs: opts.flushMs,
        },
        { write: (events) => opts.output.send({ kind: 'events', events }) },
      );
      const entry = running.get(job.runId)!;
      entry.trainer = trainer;
      // Commands that arrived while the job was starting apply before its first batch.
      for (const cmd of entry.pending.splice(0)) applyControl(trainer, cmd);
      const result = await trainer.run();
      send({
        kind: 'job:done',
        runId: job.runId,
        status: result.status,
        testAccuracy: result.testAccuracy,
        samplesPerSec: result.samplesPerSec,
        checkpoint: result.lastCheckpoint,
      });
    } catch (error) {
      send({
        kind: 'job:failed',
        runId: job.runId,
        message: error instanceof Error ? error.message : String(error),
      });
    }
  }

  function pump(): void {
    while (!closing && running.size < concurrency && queue.length > 0) {
      const job = queue.shift()!;
      const entry = {
        trainer: null as Trainer | null,
        pending: [] as ControlCommand[],
        done: Promise.resolve(),
      };
      running.set(job.runId, entry);
      entry.done = execute(job).finally(() => {
        running.delete(job.runId);
        pump();
        checkIdle();
      });
    }
  }

  return {
    submit(input) {
      const parsed = jobSchema.safeParse(input);
      if (!parsed.success) {
        const runId =
          typeof (input as { runId?: unknown })?.runId === 'string'
            ? (input as { runId: string }).runId
            : undefined;
        send({
          kind: 'rejected',
          runId,
          error: 'INVALID',
          message: describeZodError(parsed.error, { separator: '; ' }),
        });
        return false;
      }
      const job = parsed.data;
      if (running.has(job.runId) || queue.some((q) => q.runId === job.runId)) {
        send({
          kind: 'rejected',
          runId: job.runId,
          error: 'DUPLICATE_RUN',
          message: `run ${job.runId} is already queued or running`,
        });
        return false;
      }
      queue.push(job);
      send({ kind: 'job:accepted', runId: job.runId, queued: queue.length });
      pump();
      return true;
    },
    control(input) {
      const parsed = controlSchema.safeParse(input);
      if (!parsed.success) {
        send({
          kind: 'rejected',
          error: 'BAD_CONTROL',
          message: describeZodError(parsed.error, { separator: '; ' }),
        });
        return false;
      }
      const cmd = parsed.data;
      const queuedAt = queue.findIndex((q) => q.runId === cmd.runId);
      if (cmd.action === 'stop' && queuedAt >= 0) {
        queue.splice(queuedAt, 1);
        send({
          kind: 'job:done',
          runId: cmd.runId,
          status: 'stopped',
          testAccuracy: null,
          samplesPerSec: 0,
          checkpoint: null,
        });
        checkIdle();
        return true;
      }
      const entry = running.get(cmd.runId);
      if (!entry) {
        send({
          kind: 'rejected',
          runId: cmd.runId,
          error: 'UNKNOWN_RUN',
          message: `run ${cmd.runId} is not running here`,
        });
        return false;
      }
      try {
        if (entry.trainer) applyControl(entry.trainer, cmd);
        else {
          if (cmd.action === 'set-lr') validateLearningRate(cmd.learningRate);
          entry.pending.push(cmd);
        }
        return true;
      } catch (error) {
        if (!(error instanceof ControlError)) throw error;
        send({ kind: 'rejected', runId: cmd.runId, error: 'BAD_CONTROL', message: error.message });
        return false;
      }
    },
    get runs() {
      return { running: [...running.keys()], queued: queue.map((q) => q.runId) };
    },
    async shutdown() {
      closing = true;
      queue.length = 0;
      for (const entry of running.values()) {
        if (entry.trainer) entry.trainer.stop();
        else entry.pending.push({ runId: '', action: 'stop' });
      }
      await Promise.all([...running.values()].map((r) => r.done));
    },
    idle() {
      if (queue.length === 0 && running.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}

function applyControl(trainer: Trainer, cmd: ControlCommand): void {
  if (cmd.action === 'set-lr') trainer.setLearningRate(cmd.learningRate);
  else trainer[cmd.action]();
}
