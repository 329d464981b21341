/**
 * The `/trainer` namespace: daemons register (backend, device, host, capacity), take jobs,
 * stream events (acknowledged once stored) and upload checkpoints. A daemon that disconnects
 * keeps its runs for a grace period; if it does not come back they become `interrupted`.
 */
import {
  assertNever,
  checkpointUploadSchema,
  PROTOCOL_VERSION,
  runCreateSchema,
  trainerEventsSchema,
  trainerHandshakeSchema,
  trainerReportSchema,
  type TrainerReport,
} from '../../protocol';
import { fieldErrors, handshakeCheck, handshakeError, HubError } from '../errors';
import type { MessageLimits } from './messageLimits';
import type { Ingest } from '../runs/ingest';
import type { EventReceiver } from '../runs/receive';
import type { RunCommands } from '../runs/commands';
import type { RunRegistry } from '../runs/registry';
import type { Scheduler } from '../runs/scheduler';
import type { TrainerDirectory } from '../runs/trainerDirectory';
import type { RunUpdates } from '../runs/updates';
import type { HubNamespace, HubSocket } from '../sockets';
import type { Storage } from '../storage/storage';
import { acked } from './acked';
import type { Auth } from './auth';

export interface TrainerPeerDeps {
  nsp: HubNamespace;
  auth: Pick<Auth, 'trainer'>;
  /** Grace period for a disconnected trainer to come back before its runs are interrupted. */
  graceMs: number;
  /** Whether other hubs may hold trainers too (then orphaned runs are swept for). */
  shared: boolean;
  storage: Pick<Storage, 'runs' | 'peers'>;
  registry: RunRegistry;
  receiver: EventReceiver;
  ingest: Pick<Ingest, 'flush'>;
  updates: Pick<RunUpdates, 'setStatus'>;
  scheduler: Scheduler;
  commands: Pick<RunCommands, 'createForTrainer'>;
  trainers: TrainerDirectory;
  limits: MessageLimits;
  log: (line: string) => void;
}

export interface TrainerPeers {
  /** At hub start: give trainers of runs left active a grace period to come back. */
  recover(): Promise<void>;
  close(): void;
}

export function attachTrainers(deps: TrainerPeerDeps): TrainerPeers {
  const { nsp, storage, registry, receiver, updates, scheduler, log } = deps;
  const graceTimers = new Map<string, NodeJS.Timeout>();
  let closed = false;

  function startGrace(trainerId: string): void {
    if (graceTimers.has(trainerId)) return;
    graceTimers.set(
      trainerId,
      setTimeout(() => {
        graceTimers.delete(trainerId);
        void expire(trainerId).catch((error) => log(`grace expiry for ${trainerId}: ${error}`));
      }, deps.graceMs),
    );
  }

  async function expire(trainerId: string): Promise<void> {
    const back = (await nsp.fetchSockets()).some((s) => s.data.trainer?.trainerId === trainerId);
    if (back) return;
    for (const run of await storage.runs.heldBy(trainerId)) {
      if (run.status === 'queued') {
        await updates.setStatus(
          run.id,
          'queued',
          `trainer ${trainerId} went away before starting; waiting for another`,
          { unassign: true },
        );
      } else {
        await updates.setStatus(
          run.id,
          'interrupted',
          `trainer ${trainerId} disconnected and did not come back within ${Math.round(deps.graceMs / 1000)} s`,
        );
      }
    }
    scheduler.schedule();
  }

  /**
   * With several hubs, a hub that dies takes its trainers' disconnects with it: every hub
   * looks now and then for active runs whose trainer is connected to no hub at all.
   */
  async function sweepOrphans(): Promise<void> {
    const holding = await storage.runs.activeTrainers();
    if (holding.size === 0) return;
    const connected = new Set((await nsp.fetchSockets()).map((s) => s.data.trainer?.trainerId));
    for (const trainerId of holding) if (!connected.has(trainerId)) startGrace(trainerId);
  }
  const sweep = deps.shared
    ? setInterval(
        () => void sweepOrphans().catch((error) => log(`orphan sweep: ${error}`)),
        Math.max(1000, deps.graceMs),
      )
    : null;
  sweep?.unref();

  nsp.use(async (socket, next) => {
    const auth = trainerHandshakeSchema.safeParse(socket.handshake.auth);
    if (!auth.success)
      return next(
        handshakeError(
          'INVALID',
          `bad trainer handshake: ${JSON.stringify(fieldErrors(auth.error))}`,
        ),
      );
    if (auth.data.protocolVersion !== PROTOCOL_VERSION) {
      return next(
        handshakeError(
          'UNSUPPORTED_VERSION',
          `this hub speaks protocol ${PROTOCOL_VERSION}, the trainer ${auth.data.protocolVersion}`,
        ),
      );
    }
    const refused = handshakeCheck(() => deps.auth.trainer(socket.request, auth.data.token));
    if (refused) return next(refused);
    const { trainerId, backend, concurrency, instance, takesJobs } = auth.data;
    // An id is one daemon's: a second connection claiming it is refused, unless it is the same
    // process (same instance secret) coming back before the hub saw its old connection drop.
    const holder = (await deps.trainers.reachable()).trainers.find(
      (t) => t.trainer.trainerId === trainerId,
    );
    if (holder && (!instance || holder.trainer.instance !== instance)) {
      return next(
        handshakeError(
          'CONFLICT',
          `a trainer with id "${trainerId}" is already connected; start this one with another --id`,
        ),
      );
    }
    socket.data.trainer = {
      trainerId,
      host: backend.host,
      backend: backend.name,
      device: backend.device,
      concurrency,
      instance,
      takesJobs,
    };
    // Authenticated: this connection may now send event batches and checkpoints.
    deps.limits.allowLarge(socket.conn);
    next();
  });

  nsp.on('connection', (socket) => {
    const trainer = socket.data.trainer;
    if (!trainer) return void socket.disconnect(true); // the handshake sets it; nothing else connects
    const { trainerId } = trainer;
    const claimed = new Set(trainerHandshakeSchema.parse(socket.handshake.auth).runs);
    void onConnect(socket, claimed).catch((error) => log(`trainer ${trainerId} connect: ${error}`));

    socket.on(
      'run:create',
      acked(log, 'run:create', runCreateSchema, (input) =>
        deps.commands.createForTrainer(input, trainer),
      ),
    );

    socket.on(
      'trainer:events',
      acked(log, 'trainer:events', trainerEventsSchema, async ({ runId, events }) => ({
        storedSeq: await receiver.receive(trainerId, runId, events),
      })),
    );

    socket.on(
      'checkpoint:upload',
      acked(log, 'checkpoint:upload', checkpointUploadSchema, async ({ runId, seq, data }) => {
        const state = await registry.load(runId);
        if (!state || !(await receiver.isAssignedTo(state, trainerId)))
          throw new HubError('FORBIDDEN', `run ${runId} is not assigned to this trainer`);
        // The checkpoint event came first on this socket: let it reach the database.
        await registry.serialise(state, () => deps.ingest.flush());
        const row = await storage.peers.attachCheckpoint(runId, seq, data, trainerId);
        if (!row)
          throw new HubError('NOT_FOUND', `no checkpoint event with seq ${seq} for run ${runId}`);
        return { id: row.id };
      }),
    );

    socket.on('trainer:report', async (payload: unknown) => {
      const parsed = trainerReportSchema.safeParse(payload);
      if (!parsed.success) return log(`trainer ${trainerId}: ignoring a malformed report`);
      await onReport(trainerId, parsed.data).catch((error) =>
        log(`trainer ${trainerId} report: ${error}`),
      );
    });

    socket.on('disconnect', () => {
      if (closed) return;
      void storage.runs.heldBy(trainerId).then((runs) => {
        if (runs.length) startGrace(trainerId);
        scheduler.schedule();
      });
    });
  });

  async function onConnect(socket: HubSocket, claimed: Set<string>): Promise<void> {
    const registration = socket.data.trainer;
    if (!registration) return;
    const { trainerId, host, backend, device, concurrency } = registration;
    // The same daemon came back (its instance matched): its stale connection goes.
    for (const other of (await deps.trainers.reachable()).trainers) {
      if (
        other.socket.id !== socket.id &&
        other.trainer.trainerId === trainerId &&
        other.trainer.instance === registration.instance
      )
        other.socket.disconnect(true);
    }
    const timer = graceTimers.get(trainerId);
    if (timer) clearTimeout(timer);
    graceTimers.delete(trainerId);
    await storage.peers.registerTrainer({ id: trainerId, host, backend, device, concurrency });
    // Runs this trainer held: continue the ones it still has, let go of the ones it lost.
    for (const run of await storage.runs.heldBy(trainerId, { interrupted: true })) {
      if (claimed.has(run.id)) {
        if (run.status === 'interrupted')
          await updates.setStatus(run.id, 'running', `trainer ${trainerId} came back`);
      } else if (run.status === 'queued') {
        await updates.setStatus(run.id, 'queued', null, { unassign: true });
      } else if (run.status !== 'interrupted') {
        await updates.setStatus(
          run.id,
          'interrupted',
          `trainer ${trainerId} restarted and no longer has this run`,
        );
      }
    }
    log(
      `trainer ${trainerId} connected: ${backend} on ${host} (${device}), ${concurrency} at a time`,
    );
    scheduler.schedule();
  }

  async function onReport(trainerId: string, report: TrainerReport): Promise<void> {
    if (report.kind === 'job:accepted' || !report.runId) return;
    try {
      const state = await registry.load(report.runId);
      if (!state || !(await receiver.isAssignedTo(state, trainerId))) return;
      // Let the run's events land first: they carry the authoritative status.
      await registry.serialise(state, async () => undefined);
      const status = state.status;
      if (status !== 'queued' && status !== 'running' && status !== 'paused') return;
      switch (report.kind) {
        case 'job:done':
          await updates.setStatus(report.runId, report.status, null);
          break;
        case 'job:failed':
        case 'rejected':
          await updates.setStatus(report.runId, 'failed', report.message);
          break;
        default:
          assertNever(report);
      }
    } finally {
      // The trainer has a free slot now, whatever the report said.
      scheduler.schedule();
    }
  }

  return {
    async recover() {
      for (const trainerId of await storage.runs.activeTrainers()) startGrace(trainerId);
      scheduler.schedule();
    },
    close() {
      closed = true;
      if (sweep) clearInterval(sweep);
      for (const t of graceTimers.values()) clearTimeout(t);
      graceTimers.clear();
    },
  };
}
