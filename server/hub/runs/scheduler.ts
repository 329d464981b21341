/**
 * Hands queued runs to trainers with free capacity, oldest run first, least-loaded trainer
 * first. A run is claimed with a conditional update in the database (status queued, no
 * trainer), so that two schedulers, even on two hubs, never give one run to two trainers.
 * It looks again whenever it is asked to ({@link Scheduler.schedule}) and whenever a run is
 * released (a trainer's slot is free).
 */
import type { Result, TrainerJob } from '../../protocol';
import { hyperparamsSchema, reportingSchema } from '../../trainer/config';
import type { Cluster } from '../cluster/cluster';
import type { AnySocket, TrainerData } from '../sockets';
import type { QueuedRun } from '../storage/runs';
import type { Storage } from '../storage/storage';
import type { RunRegistry } from './registry';
import type { TrainerDirectory } from './trainerDirectory';
import type { RunUpdates } from './updates';

const ASSIGN_TIMEOUT_MS = 15_000;
const QUEUE_PAGE = 100;

export interface SchedulerDeps {
  storage: Pick<Storage, 'runs' | 'peers'>;
  registry: RunRegistry;
  trainers: TrainerDirectory;
  cluster: Cluster;
  updates: Pick<RunUpdates, 'setStatus'>;
  log: (line: string) => void;
}

export interface Scheduler {
  /** Looks for queued runs and free trainers (soon; calls while it looks make it look again). */
  schedule(): void;
  close(): void;
}

export function createScheduler({
  storage,
  registry,
  trainers,
  cluster,
  updates,
  log,
}: SchedulerDeps): Scheduler {
  let running = false;
  let again = false;
  let closed = false;

  async function once(): Promise<void> {
    const queued = await storage.runs.queued(QUEUE_PAGE);
    if (queued.length === 0) return;
    // Claims are made in the database, so with Redis away this hub can still use its own trainers.
    const { trainers: reachable } = await trainers.reachable();
    if (reachable.length === 0) return;
    const load = await storage.runs.load(reachable.map((t) => t.trainer.trainerId));

    for (const run of queued) {
      const free = reachable
        // Trainers on other hubs come as RemoteSockets, which have no `connected`.
        .filter(
          ({ socket, trainer }) =>
            trainer.takesJobs !== false &&
            (load.get(trainer.trainerId) ?? 0) < trainer.concurrency &&
            !('connected' in socket && socket.connected === false),
        )
        .sort(
          (a, b) =>
            load.get(a.trainer.trainerId)! / a.trainer.concurrency -
            load.get(b.trainer.trainerId)! / b.trainer.concurrency,
        );
      const chosen = free[0];
      if (!chosen) return;
      const { trainerId } = chosen.trainer;
      const claimed = await storage.runs.claim(run.id, chosen.trainer);
      if (claimed === 'trainer-full') {
        // Another hub gave it a run meanwhile: count again.
        load.set(trainerId, chosen.trainer.concurrency);
        again = true;
        continue;
      }
      if (claimed !== 'claimed') continue;
      load.set(trainerId, load.get(trainerId)! + 1);
      const state = registry.get(run.id);
      if (state) registry.setTrainer(state, trainerId);
      cluster.changed({ runId: run.id, trainerId });
      void assign(chosen.socket, chosen.trainer, await jobFor(run));
    }
  }

  async function assign(socket: AnySocket, trainer: TrainerData, job: TrainerJob): Promise<void> {
    let result: Result<{ runId: string }>;
    try {
      result = await socket.timeout(ASSIGN_TIMEOUT_MS).emitWithAck('job:assign', job);
    } catch {
      result = { ok: false, error: 'UNAVAILABLE', message: 'the trainer did not answer' };
    }
    // The hub may have closed while the trainer took its time; nothing is left to update.
    if (closed || result?.ok === true) return;
    const refusal =
      result && typeof result === 'object' && 'error' in result
        ? result
        : {
            ok: false as const,
            error: 'INVALID' as const,
            message: 'the trainer answered with something that is not an ack',
          };
    log(`run ${job.runId}: trainer ${trainer.trainerId} refused the job: ${refusal.message}`);
    if (refusal.error === 'INVALID') {
      // The trainer may be training it anyway (an ack it got wrong): the run is taken from it,
      // so that its events are refused (GONE), and it is told so.
      const message = `the trainer refused the job: ${refusal.message}`;
      await updates.setStatus(job.runId, 'failed', message, { unassign: true });
      socket.emit('job:revoked', {
        runId: job.runId,
        status: 'failed',
        message: `the hub failed run ${job.runId}: ${message}; stop training it`,
      });
    } else {
      // Give it back to the queue for another try (or another trainer).
      await storage.runs.unclaim(job.runId, trainer.trainerId);
      const state = registry.get(job.runId);
      if (state) registry.setTrainer(state, null);
      cluster.changed({ runId: job.runId, trainerId: null });
      setTimeout(schedule, 1000).unref();
    }
  }

  /** The job for a run: a fresh start, or a resume from its latest checkpoint when it has one. */
  async function jobFor(run: QueuedRun): Promise<TrainerJob> {
    const hp = hyperparamsSchema.parse(run.hyperparams);
    const rep = reportingSchema.partial().safeParse(run.reporting ?? {});
    const job: TrainerJob = {
      runId: run.id,
      hyperparams: hp,
      reporting: rep.success ? rep.data : undefined,
      resume: false,
      lastSeq: run.lastSeq,
    };
    if (run.lastSeq === 0) return job;
    // The newest checkpoint whose file reached the hub, so any trainer can resume; else the
    // newest one at all (only the trainer that wrote it has the file).
    const ckpt =
      (await storage.peers.latestUploaded(run.id)) ??
      (await storage.peers.latestCheckpoint(run.id));
    if (!ckpt) return job;
    job.resume = true;
    if (ckpt.data) job.checkpoint = { step: ckpt.step, data: new Uint8Array(ckpt.data) };
    return job;
  }

  function schedule(): void {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    void (async () => {
      try {
        do {
          again = false;
          await once();
        } while (again && !closed);
      } catch (error) {
        log(`scheduler: ${error instanceof Error ? error.message : error}`);
      } finally {
        running = false;
      }
    })();
  }

  registry.onReleased(() => schedule());
  return {
    schedule,
    close() {
      closed = true;
    },
  };
}
