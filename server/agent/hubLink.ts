/**
 * Connects a trainer daemon to a hub over Socket.IO (`/trainer`). Every event goes into a
 * per-run outbox and leaves it only when the hub acknowledges it as stored; after a
 * disconnect the outbox is replayed in seq order (the hub drops what it already has). Reports
 * (job done/failed) follow a run's events, never overtake them. Checkpoint files are uploaded
 * once the hub has stored their event, so any trainer can resume the run later.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { z } from 'zod';
import {
  PROTOCOL_VERSION,
  TRAINER_NAMESPACE,
  type HubToTrainerEvents,
  type Result,
  type RunCreate,
  type TrainerHandshake,
  type TrainerToHubEvents,
} from '../protocol';
import { checkpointFileName } from '../trainer/checkpoint';
import type { Daemon, DaemonMessage, DaemonOptions, JobInput } from '../trainer/daemon';
import { createDaemon, jobSchema } from '../trainer/daemon';
import { describeZodError } from '../trainer/config';
import { INT_COLUMN_MAX } from '../trainer/eventSchema';
import { assertNever, type BackendInfo, type TrainerEvent } from '../trainer/events';
import { runCheckpointDir } from '../trainer/trainer';

type Report = Exclude<DaemonMessage, { kind: 'events' } | { kind: 'ready' }>;

/** A job as a hub assigns it: the daemon's job, and the checkpoint to resume from. */
const assignedJobSchema = jobSchema.extend({
  checkpoint: z
    .object({
      step: z.number().int().min(0).max(INT_COLUMN_MAX),
      data: z
        .instanceof(Uint8Array)
        .refine((d) => d.byteLength <= 32 * 1024 * 1024, 'checkpoint larger than 32 MiB'),
    })
    .optional(),
});

export interface HubLinkOptions extends Omit<DaemonOptions, 'output'> {
  hubUrl: string;
  token?: string;
  trainerId: string;
  backend: BackendInfo;
  log?: (line: string) => void;
  /** How long to wait for the hub to acknowledge a batch before sending it again. */
  ackTimeoutMs?: number;
  /** False: the hub gives this trainer no queued runs; it trains the runs it creates ({@link HubLink.createRun}). */
  takesJobs?: boolean;
  /** Sees every message of the daemon (its events too) as it is sent, e.g. for a progress bar. */
  observe?: (message: DaemonMessage) => void;
}

interface Outbox {
  /** Unacknowledged events, in seq order. */
  events: TrainerEvent[];
  reports: Report[];
  /** Messages sent on this connection and not answered yet. */
  inFlight: number;
  /** Highest seq sent on this connection. */
  sentSeq: number;
  /** Waiting a moment before resending after a refusal or a timeout. */
  backoff: boolean;
}

/**
 * Event messages of one run on the wire at once, unacknowledged. The hub acks after its
 * database commit (every ~200 ms) and the emitter writes up to ~100 messages a second, so ~20
 * are in flight in steady state; beyond the limit events wait for an ack and go together.
 */
const MAX_IN_FLIGHT = 32;

export interface HubLink {
  readonly socket: Socket<HubToTrainerEvents, TrainerToHubEvents>;
  readonly daemon: Daemon;
  /** Events not yet acknowledged by the hub, per run. */
  pending(): Map<string, number>;
  /**
   * Creates a run on the hub that this link trains (`run:create`), once connected, and starts
   * it. Resolves with the hub's answer; a lost ack is asked again with the same id.
   */
  createRun(
    input: RunCreate & { runId: string; reporting?: JobInput['reporting'] },
  ): Promise<Result<{ runId: string }>>;
  /** Resolves when every outbox is empty. */
  drained(): Promise<void>;
  /** Stops the runs (each checkpoints), waits for the hub to store everything (up to `timeoutMs`), disconnects. */
  close(timeoutMs?: number): Promise<void>;
}

export function connectToHub(opts: HubLinkOptions): HubLink {
  const log = opts.log ?? (() => {});
  const outboxes = new Map<string, Outbox>();
  let drainWaiters: Array<() => void> = [];
  const ackTimeoutMs = opts.ackTimeoutMs ?? 30_000;
  let lastRejection: string | null = null;
  /** Bumped on every (re)connect. */
  let connection = 0;

  const box = (runId: string) => {
    let b = outboxes.get(runId);
    if (!b)
      outboxes.set(
        runId,
        (b = { events: [], reports: [], inFlight: 0, sentSeq: 0, backoff: false }),
      );
    return b;
  };

  /** This process's secret: the hub lets it replace a stale connection of its own, no one else. */
  const instance = randomBytes(18).toString('base64url');
  const socket: Socket<HubToTrainerEvents, TrainerToHubEvents> = io(
    new URL(TRAINER_NAMESPACE, opts.hubUrl).toString(),
    {
      transports: ['websocket'],
      reconnectionDelayMax: 2000,
      auth: (cb) => {
        const handshake: TrainerHandshake = {
          protocolVersion: PROTOCOL_VERSION,
          token: opts.token,
          trainerId: opts.trainerId,
          backend: opts.backend,
          concurrency: opts.concurrency ?? 1,
          runs: [...new Set([...daemon.runs.running, ...daemon.runs.queued, ...outboxes.keys()])],
          instance,
          takesJobs: opts.takesJobs ?? true,
        };
        cb(handshake);
      },
    },
  );

  const daemon = createDaemon({
    // One message per step up to ~100 steps a second (each written as the step ends); faster
    // runs batch. Watchers get a point within the hub's frame interval of its step's end.
    flushMs: 10,
    ...opts,
    output: {
      send(message) {
        opts.observe?.(message);
        switch (message.kind) {
          case 'ready':
            return;
          case 'events':
            for (const e of message.events) box(e.runId).events.push(e);
            for (const runId of new Set(message.events.map((e) => e.runId))) pump(runId);
            return;
          case 'rejected':
            lastRejection = message.message;
            if (message.runId) queueReport(message.runId, message);
            return;
          case 'job:accepted':
          case 'job:done':
          case 'job:failed':
            log(
              `${message.runId}: ${message.kind}${message.kind === 'job:failed' ? ` (${message.message})` : ''}`,
            );
            queueReport(message.runId, message);
            return;
          default:
            assertNever(message);
        }
      },
    },
  });

  function queueReport(runId: string, report: Report): void {
    box(runId).reports.push(report);
    pump(runId);
  }

  function settle(runId: string): void {
    const b = outboxes.get(runId);
    if (!b || b.inFlight > 0 || b.events.length > 0) return;
    if (socket.connected) for (const r of b.reports.splice(0)) socket.emit('trainer:report', r);
    const stillRunning = daemon.runs.running.includes(runId) || daemon.runs.queued.includes(runId);
    if (b.reports.length === 0 && !stillRunning) outboxes.delete(runId);
    if ([...outboxes.values()].every((o) => o.events.length === 0 && o.reports.length === 0)) {
      drainWaiters.forEach((w) => w());
      drainWaiters = [];
    }
  }

  /**
   * Sends what has not been sent on this connection, without waiting for earlier acks (up to
   * MAX_IN_FLIGHT messages): the hub acks after its database commit, every ~200 ms, and
   * live watchers should not wait for that.
   */
  function pump(runId: string): void {
    const b = outboxes.get(runId);
    if (!b || !socket.connected || b.backoff) return;
    if (b.events.length === 0) return settle(runId);
    const generation = connection;
    while (b.inFlight < MAX_IN_FLIGHT) {
      const from = firstAfter(b.events, b.sentSeq);
      if (from >= b.events.length) break;
      const batch = b.events.slice(from, from + 2000);
      b.sentSeq = batch[batch.length - 1].seq;
      b.inFlight++;
      void socket
        .timeout(ackTimeoutMs)
        .emitWithAck('trainer:events', { runId, events: batch })
        .then(
          (result: Result<{ storedSeq: number }>) => onAck(runId, batch, result),
          () => {
            log(`${runId}: no ack from the hub within ${ackTimeoutMs} ms; will resend`);
            return true;
          },
        )
        .then((later) => {
          // Acks of an older connection are void: everything unacked was resent since.
          if (generation !== connection) return;
          b.inFlight--;
          if (later && !b.backoff) {
            b.backoff = true;
            setTimeout(() => {
              b.backoff = false;
              b.sentSeq = 0; // resend everything not acked, in order
              pump(runId);
            }, 1000);
          }
          pump(runId);
        });
    }
  }

  /** Index of the first event with seq > `seq` (events are in seq order). */
  function firstAfter(events: TrainerEvent[], seq: number): number {
    let lo = 0;
    let hi = events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (events[mid].seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Applies an ack; true when unacked events should be sent again a little later. */
  function onAck(
    runId: string,
    batch: TrainerEvent[],
    result: Result<{ storedSeq: number }>,
  ): boolean {
    const b = box(runId);
    if (result.ok) {
      const stored = result.data.storedSeq;
      const cut = firstAfter(b.events, stored);
      for (const e of b.events.slice(0, cut))
        if (e.type === 'checkpoint') void upload(runId, e.seq, e.path);
      b.events = b.events.slice(cut);
      // Acked below what this message carried: the hub is missing a seq before it (a write of
      // its that failed), so what it lacks is sent again, later.
      return stored < batch[batch.length - 1].seq;
    }
    log(`${runId}: the hub refused ${batch.length} events: ${result.error} ${result.message}`);
    if (
      result.error === 'INVALID' ||
      result.error === 'FORBIDDEN' ||
      result.error === 'NOT_FOUND' ||
      result.error === 'GONE'
    ) {
      // Resending cannot help; the hub no longer wants this run from us.
      b.events = b.events.filter((e) => e.seq > batch[batch.length - 1].seq);
      if (result.error !== 'INVALID') daemon.control({ runId, action: 'stop' });
      return false;
    }
    return true;
  }

  async function upload(runId: string, seq: number, file: string): Promise<void> {
    try {
      const data = await readFile(file);
      const result = await socket
        .timeout(ackTimeoutMs)
        .emitWithAck('checkpoint:upload', { runId, seq, data });
      if (!result.ok) log(`${runId}: checkpoint upload refused: ${result.message}`);
    } catch (error) {
      log(`${runId}: checkpoint upload failed: ${error instanceof Error ? error.message : error}`);
    }
  }

  socket.on('connect', () => {
    log(`connected to ${opts.hubUrl} as ${opts.trainerId}`);
    // A new connection: nothing is in flight on it; resend every unacked event in order.
    connection++;
    for (const b of outboxes.values()) {
      b.inFlight = 0;
      b.sentSeq = 0;
    }
    for (const runId of outboxes.keys()) pump(runId);
  });
  socket.on('connect_error', (error: Error & { data?: { error?: string } }) => {
    log(`cannot connect to the hub: ${error.message}`);
    // A refusal in the hub's handshake is not retried by Socket.IO itself; an id in use (by
    // another daemon) may be free again soon, so keep asking.
    if (error.data?.error === 'CONFLICT') setTimeout(() => socket.connect(), 5000).unref();
  });
  socket.on('disconnect', (reason) => log(`disconnected from the hub (${reason}); buffering`));

  socket.on('job:assign', async (job: unknown, ack) => {
    if (typeof ack !== 'function') return;
    // A trainer that said it takes no jobs: the hub may give the run to another.
    if (opts.takesJobs === false)
      return ack({
        ok: false,
        error: 'UNAVAILABLE',
        message: 'this trainer trains only the runs it creates',
      });
    // The hub is a peer like any other: its job is checked before anything is written.
    const parsed = assignedJobSchema.safeParse(job);
    if (!parsed.success) {
      const message = `the job is not valid: ${describeZodError(parsed.error, { separator: '; ' })}`;
      log(message);
      return ack({ ok: false, error: 'INVALID', message });
    }
    try {
      const { checkpoint, ...rest } = parsed.data;
      if (checkpoint && opts.checkpointRoot) {
        const dir = runCheckpointDir(opts.checkpointRoot, rest.runId);
        await mkdir(dir, { recursive: true });
        await writeFile(
          path.join(dir, checkpointFileName(checkpoint.step)),
          Buffer.from(checkpoint.data),
        );
      }
      lastRejection = null;
      const accepted = daemon.submit(rest);
      ack(
        accepted
          ? { ok: true, data: { runId: rest.runId } }
          : { ok: false, error: 'INVALID', message: lastRejection ?? 'job refused' },
      );
      if (accepted) log(`${rest.runId}: accepted${rest.resume ? ' (resuming)' : ''}`);
    } catch (error) {
      ack({
        ok: false,
        error: 'INTERNAL',
        message: error instanceof Error ? error.message : String(error),
      });
    }
  });
  socket.on('job:control', (command) => {
    daemon.control(command);
  });
  socket.on('job:revoked', (msg: unknown) => {
    const parsed = z
      .object({ runId: z.string().max(128), message: z.string().max(4096) })
      .safeParse(msg);
    if (!parsed.success) return;
    const { runId, message } = parsed.data;
    log(`${runId}: ${message}`);
    // Nothing more of it goes to the hub; the run stops here (its last events are refused).
    const b = outboxes.get(runId);
    if (b) b.events = [];
    if (daemon.runs.running.includes(runId) || daemon.runs.queued.includes(runId))
      daemon.control({ runId, action: 'stop' });
  });

  async function createRun(
    input: RunCreate & { runId: string },
  ): Promise<Result<{ runId: string }>> {
    for (;;) {
      if (!socket.connected)
        await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      try {
        const result = await socket.timeout(ackTimeoutMs).emitWithAck('run:create', input);
        if (!result.ok) return result;
        // Started before anything else can reconnect, so the next handshake claims it.
        if (
          !daemon.submit({
            runId: result.data.runId,
            hyperparams: input.hyperparams,
            reporting: input.reporting,
            resume: false,
          })
        ) {
          return {
            ok: false,
            error: 'INVALID',
            message: lastRejection ?? 'the trainer refused the run',
          };
        }
        return result;
      } catch {
        log('no answer from the hub to run:create; asking again');
      }
    }
  }

  return {
    socket,
    daemon,
    createRun,
    pending: () => new Map([...outboxes].map(([id, b]) => [id, b.events.length])),
    drained() {
      if ([...outboxes.values()].every((o) => o.events.length === 0 && o.reports.length === 0))
        return Promise.resolve();
      return new Promise((resolve) => drainWaiters.push(resolve));
    },
    async close(timeoutMs = 10_000) {
      await daemon.shutdown();
      await Promise.race([this.drained(), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
      socket.disconnect();
    },
  };
}
