/**
 * The envelope every peer shares: the protocol's version (checked at each handshake), the error
 * codes of `{ ok: false, error }` answers (acks and HTTP), and the handshake itself.
 */
import { z } from 'zod';

/**
 * 2: snapshots carry a run's batch series as an overview of buckets plus a raw tail, numbers
 * travel as columns (server/columns/codec.ts: binary in snapshots and ranges, base64 in live frames),
 * `run:series` answers a step range.
 * 3: `run:misclassified` says how many digits an epoch got wrong, not which (they are read on
 * demand, like a past epoch's).
 */
export const PROTOCOL_VERSION = 3;

/** Error codes in `{ ok: false, error }` envelopes (acks and HTTP). */
export const ERROR_CODES = [
  'INVALID',
  'NOT_FOUND',
  'CONFLICT',
  'FORBIDDEN',
  'UNAUTHORIZED',
  'RATE_LIMITED',
  'TOO_LARGE',
  'NO_HELLO',
  'UNSUPPORTED_VERSION',
  'UNAVAILABLE',
  /** A trainer's events for a run that is no longer its (the hub ended it or took it back): stop it, drop them, do not resend. */
  'GONE',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export type Failure = { ok: false; error: ErrorCode; message: string; details?: unknown };
export type Result<T> = { ok: true; data: T } | Failure;
export type Ack<T> = (result: Result<T>) => void;

/** Handshake `auth` for both namespaces. */
export const handshakeSchema = z.object({
  protocolVersion: z.number().int(),
  token: z.string().max(512).optional(),
});
