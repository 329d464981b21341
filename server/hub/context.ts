/**
 * What the hub's parts share: the database, the Socket.IO server, the live streams, the
 * ingest queue and per-run bookkeeping. Built once by createHub and passed to each part.
 */
import type { Namespace, Server } from 'socket.io';
import type { z } from 'zod';
import type { Db } from '../db/client';
import type { ClientToServerEvents, ErrorCode, Failure, HubToTrainerEvents, ServerToClientEvents, TrainerToHubEvents } from '../protocol';
import type { Cluster } from './cluster';
import type { Ingest } from './ingest';
import type { LiveStreams } from './stream';

export type BrowserServer = Server<ClientToServerEvents, ServerToClientEvents>;
export type TrainerNamespace = Namespace<TrainerToHubEvents, HubToTrainerEvents>;

export interface HubOptions {
  /** Grace period for a disconnected trainer to come back before its runs are interrupted. */
  graceMs: number;
  /** Token browsers and HTTP clients must present; null = none (loopback only). */
  browserToken: string | null;
  /** Token trainer daemons must present; null = none. */
  trainerToken: string | null;
  /** Annotation adds/edits allowed per participant per minute. */
  annotationsPerMinute: number;
}

/** Per-run state the hub keeps while a run streams. */
export interface RunState {
  status: string;
  trainerId: string | null;
  /** Highest seq accepted (queued for storage), for de-duplication of replays. */
  acceptedSeq: number;
  lastStep: number;
  learningRate: number | null;
  /** Latest batch loss received. */
  lastLoss: number | null;
  /** Status last announced to browsers (run:status). */
  announcedStatus: string;
  /** When runs:changed last went out for this run (ms). */
  announcedAt: number;
  /** Resolves when the latest accepted events are committed (with the stored seq). */
  lastStore: Promise<number>;
  /** Serialises event handling for this run. */
  chain: Promise<unknown>;
}

export interface HubContext {
  db: Db;
  provider: 'sqlite' | 'postgresql';
  io: BrowserServer;
  trainers: TrainerNamespace;
  streams: LiveStreams;
  /** The other hubs (through Redis), or nothing when this one is alone. */
  cluster: Cluster;
  ingest: Ingest;
  options: HubOptions;
  runs: Map<string, RunState>;
  log: (line: string) => void;
  /** Asks the scheduler to hand queued runs to free trainers. */
  schedule: () => void;
}

/** An error that crosses the wire as a `{ ok: false }` envelope. */
export class HubError extends Error {
  constructor(readonly code: ErrorCode, message: string, readonly details?: unknown) {
    super(message);
    this.name = 'HubError';
  }
}

/** The failure envelope for any error; internal errors keep their message out of the wire. */
export function toFailure(error: unknown, log?: (line: string) => void): Failure {
  if (error instanceof HubError) return { ok: false, error: error.code, message: error.message, ...(error.details === undefined ? {} : { details: error.details }) };
  log?.(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return { ok: false, error: 'INTERNAL', message: 'internal error; the hub log has the details' };
}

/** A new run id: time-ordered, URL- and file-name-safe. */
export function newRunId(): string {
  return `r${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

/** Turns a zod failure into `{ field: message }` details. */
export function fieldErrors(error: z.ZodError): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of error.issues) out[issue.path.join('.') || '(payload)'] ??= issue.message;
  return out;
}

/** A refused handshake, with the envelope's code and message in `error.data`. */
export function handshakeError(code: 'UNAUTHORIZED' | 'UNSUPPORTED_VERSION' | 'INVALID', message: string): Error {
  return Object.assign(new Error(message), { data: { ok: false, error: code, message } });
}

/**
 * A Socket.IO listener that validates its payload with `schema` (after `check`, e.g. a size
 * limit), runs `handler` and answers the ack with the envelope, whatever happens.
 */
export function acked<S extends z.ZodType, T>(
  ctx: Pick<HubContext, 'log'>,
  what: string,
  schema: S,
  handler: (input: z.infer<S>) => Promise<T>,
  check?: (payload: unknown) => void,
): (payload: unknown, ack?: unknown) => Promise<void> {
  return async (payload, ack) => {
    const reply = typeof ack === 'function' ? (ack as (r: unknown) => void) : () => {};
    try {
      check?.(payload);
      const parsed = schema.safeParse(payload);
      if (!parsed.success) throw new HubError('INVALID', `invalid ${what} payload`, fieldErrors(parsed.error));
      reply({ ok: true, data: await handler(parsed.data) });
    } catch (error) {
      reply(toFailure(error, ctx.log));
    }
  };
}
