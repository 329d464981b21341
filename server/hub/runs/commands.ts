/**
 * Run commands shared by the socket handlers and the HTTP API: start a run, and control it
 * (stop, pause, resume, change the learning rate) as a person asked, recording who did what.
 */
import type { z } from 'zod';
import { runStartIssues, type RunSummary } from '../../protocol';
import {
  MNIST_SIZES,
  reportingSchema,
  type DatasetSizes,
  type Hyperparams,
} from '../../trainer/config';
import type { Cluster } from '../cluster/cluster';
import { HubError } from '../errors';
import type { HubServer, TrainerData } from '../sockets';
import type { Storage } from '../storage/storage';
import { actorKey, type Actor, type Annotations } from './annotations';
import type { ControlLog } from './controlLog';
import { describeControl, planControl, type ControlVerb } from './lifecycle';
import type { RunRegistry } from './registry';
import type { Scheduler } from './scheduler';
import type { TrainerDirectory } from './trainerDirectory';
import type { RunUpdates } from './updates';

/** A run's name when none is given: what it trains with. */
function defaultName(hp: Hyperparams): string {
  return `${hp.optimizer} lr ${hp.learningRate} · batch ${hp.batchSize} · ${hp.epochs} epoch${hp.epochs === 1 ? '' : 's'}`;
}

/** A new run id: time-ordered, URL- and file-name-safe. */
export function newRunId(): string {
  return `r${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

export interface RunCommandDeps {
  storage: Pick<Storage, 'runs'>;
  registry: RunRegistry;
  updates: RunUpdates;
  annotations: Pick<Annotations, 'addEvent'>;
  controlLog: Pick<ControlLog, 'expect' | 'now'>;
  trainers: TrainerDirectory;
  scheduler: Pick<Scheduler, 'schedule'>;
  cluster: Pick<Cluster, 'shared'>;
  io: HubServer;
  /** Runs one person may have waiting for a trainer at once. */
  queuedPerPerson: number;
  /** The sizes of the data set the hub's runs train on (the one whose digits it shows). */
  datasetSizes: () => Promise<DatasetSizes>;
  /** A run was started (e.g. to load what its page will soon ask for). */
  onStarted?: (run: RunSummary) => void;
}

/**
 * The rules across a run's fields and the data set, checked before anything is stored: each
 * problem at every field that causes it. The hub checks against its own data set, the one
 * whose digits the dashboard shows (a trainer on another data set refuses the job itself).
 */
async function checkAgainstDataset(
  hp: Hyperparams,
  datasetSizes: () => Promise<DatasetSizes>,
): Promise<void> {
  const sizes = await datasetSizes().catch((error: unknown) => {
    throw new HubError(
      'UNAVAILABLE',
      `the hub cannot read its data set to check the digit limits (${error instanceof Error ? error.message : String(error)}); nothing was started`,
    );
  });
  const details = runStartIssues(hp, sizes);
  const messages = [...new Set(Object.values(details))];
  if (messages.length)
    throw new HubError('INVALID', `the run cannot start: ${messages.join('; ')}`, details);
}

export function createRunCommands({
  storage,
  registry,
  updates,
  annotations,
  controlLog,
  trainers,
  scheduler,
  cluster,
  io,
  queuedPerPerson,
  datasetSizes,
  onStarted,
}: RunCommandDeps) {
  return {
    /** Creates a queued run and asks the scheduler for a trainer. */
    async start(
      input: {
        name?: string;
        hyperparams: Hyperparams;
        reporting?: Partial<z.infer<typeof reportingSchema>>;
      },
      actor: Actor,
    ): Promise<RunSummary> {
      await checkAgainstDataset(input.hyperparams, datasetSizes);
      const createdById = actorKey(actor);
      const waiting = await storage.runs.queuedBy(createdById);
      if (waiting >= queuedPerPerson) {
        throw new HubError(
          'CONFLICT',
          `you have ${waiting} runs waiting for a trainer already (at most ${queuedPerPerson}); stop one, or wait for them to start`,
        );
      }
      const id = newRunId();
      const hp = input.hyperparams;
      const name = input.name ?? defaultName(hp);
      const run = await storage.runs.create({
        id,
        name,
        hyperparams: hp,
        reporting: input.reporting,
        createdBy: actor.name,
        createdById,
      });
      await annotations.addEvent(id, 0, actor, describeControl(actor.name, 'start'));
      // Live from the start: watchers who open it while it waits share one snapshot read.
      await registry.load(id);
      io.emit('runs:changed', { run });
      scheduler.schedule();
      onStarted?.(run);
      return run;
    },

    /**
     * Creates a run that a trainer trains itself (`run:create`, `npm run train -- --hub`): held
     * by that trainer from the start, never queued, so no other trainer is given it. A create
     * sent again (its ack was lost) gets the same run while it is this trainer's.
     */
    async createForTrainer(
      input: {
        runId?: string;
        host: string;
        name?: string;
        hyperparams: Hyperparams;
        reporting?: Partial<z.infer<typeof reportingSchema>>;
      },
      trainer: TrainerData,
    ): Promise<{ runId: string }> {
      const hp = input.hyperparams;
      // The trainer checks the digit limits against its own data, which need not be the hub's;
      // the points a run may record are still the hub's rule, counted on the digits it asks for.
      await checkAgainstDataset(hp, () =>
        Promise.resolve({
          train: hp.trainLimit ?? MNIST_SIZES.train,
          test: hp.testLimit ?? MNIST_SIZES.test,
        }),
      );
      const name = input.name ?? defaultName(hp);
      const id = input.runId ?? newRunId();
      const who = `${input.host} (command line)`;
      const existing = input.runId ? await storage.runs.summaryAndTrainer(id) : null;
      if (existing) {
        if (existing.trainerId !== trainer.trainerId || existing.run.origin !== 'cli')
          throw new HubError('CONFLICT', `a run with id ${id} exists already; pick another id`);
        return { runId: id };
      }
      const held = (await storage.runs.load([trainer.trainerId])).get(trainer.trainerId) ?? 0;
      if (held >= trainer.concurrency) {
        throw new HubError(
          'CONFLICT',
          `trainer ${trainer.trainerId} already trains ${held} run${held === 1 ? '' : 's'}, as many as its concurrency`,
        );
      }
      const made = await storage.runs.createForTrainer(
        {
          id,
          name,
          hyperparams: hp,
          reporting: input.reporting,
          createdBy: who,
          createdById: `trainer:${trainer.trainerId}`,
          originHost: input.host,
        },
        trainer,
      );
      if (!made.created) {
        if (made.trainerId !== trainer.trainerId || made.run.origin !== 'cli')
          throw new HubError('CONFLICT', `a run with id ${id} exists already; pick another id`);
        return { runId: id };
      }
      await annotations.addEvent(
        id,
        0,
        { id: null, name: who, address: trainer.host },
        `started from the command line on ${input.host}`,
      );
      // Live from the start, like a run of the queue.
      await registry.load(id);
      io.emit('runs:changed', { run: made.run });
      return { runId: id };
    },

    /** Applies a control command from a person; the trainer's confirmation follows as run:status. */
    async control(
      runId: string,
      verb: ControlVerb,
      actor: Actor,
      learningRate?: number,
    ): Promise<RunSummary> {
      const state = await registry.load(runId);
      if (!state) throw new HubError('NOT_FOUND', `no run ${runId}`);
      if (cluster.shared && !trainers.holds(state.trainerId)) {
        // Another hub stores this run: the database knows its status better than this hub's memory.
        await registry.serialise(state, () => registry.refresh(state));
      }
      const plan = planControl(state.status, verb);
      const from = state.learningRate ?? undefined;
      // Setting the rate in force changes nothing: refused here, so no client logs "from 0.001
      // to 0.001" or marks the curve for it.
      if (verb === 'set-lr' && plan.kind !== 'reject' && learningRate === from) {
        throw new HubError(
          'CONFLICT',
          `The learning rate is ${from} already; enter a different rate to change it.`,
        );
      }
      let run: RunSummary;
      switch (plan.kind) {
        case 'reject':
          throw new HubError('CONFLICT', plan.message);
        case 'stop-now':
          run = await updates.setStatus(runId, 'stopped', `stopped by ${actor.name}`);
          break;
        case 'requeue':
          if ((await storage.runs.summary(runId))?.origin === 'cli') {
            // Only the trainer that created it has it: another would start it over.
            throw new HubError(
              'CONFLICT',
              'this run came from the command line: continue it there (npm run train -- --resume with its checkpoint), not from the dashboard',
            );
          }
          run = await updates.setStatus(runId, 'queued', `resumed by ${actor.name}`, {
            unassign: true,
          });
          scheduler.schedule();
          break;
        case 'forward': {
          const target = (await trainers.reachable()).trainers.find(
            (t) => t.trainer.trainerId === state.trainerId,
          );
          if (!target)
            throw new HubError(
              'UNAVAILABLE',
              "the run's trainer is disconnected; try again when it is back",
            );
          if (verb === 'set-lr')
            target.socket.emit('job:control', {
              runId,
              action: 'set-lr',
              learningRate: learningRate!,
            });
          else target.socket.emit('job:control', { runId, action: verb });
          run = await updates.summary(runId);
          break;
        }
      }
      const text = describeControl(actor.name, verb, { learningRate, from });
      // A forwarded command takes effect at the step the trainer reports; the others now.
      if (plan.kind === 'forward') controlLog.expect(runId, verb, actor, text);
      else await controlLog.now(runId, state.lastStep, actor, text);
      return run;
    },
  };
}
export type RunCommands = ReturnType<typeof createRunCommands>;
