/**
 * How the hub's errors cross the wire: a {@link HubError} carries a code from the protocol's
 * list and a message meant for people; anything else is an internal error, logged here and
 * answered without its details.
 */
import type { z } from 'zod';
import type { ErrorCode, Failure } from '../protocol';

/** An error that crosses the wire as a `{ ok: false }` envelope. */
export class HubError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'HubError';
  }
}

/** The failure envelope for any error; internal errors keep their message out of the wire. */
export function toFailure(error: unknown, log?: (line: string) => void): Failure {
  if (error instanceof HubError)
    return {
      ok: false,
      error: error.code,
      message: error.message,
      ...(error.details === undefined ? {} : { details: error.details }),
    };
  log?.(
    `internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
  return { ok: false, error: 'INTERNAL', message: 'internal error; the hub log has the details' };
}

/** Turns a zod failure into `{ field: message }` details. */
export function fieldErrors(error: z.ZodError): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of error.issues) out[issue.path.join('.') || '(payload)'] ??= issue.message;
  return out;
}

/** A refused handshake, with the envelope's code and message in `error.data`. */
export function handshakeError(
  code: 'UNAUTHORIZED' | 'UNSUPPORTED_VERSION' | 'INVALID' | 'RATE_LIMITED' | 'CONFLICT',
  message: string,
): Error {
  return Object.assign(new Error(message), { data: { ok: false, error: code, message } });
}

/** Runs a handshake check; a HubError it throws becomes the refusal (anything else is a bug, thrown on). */
export function handshakeCheck(check: () => void): Error | null {
  try {
    check();
    return null;
  } catch (error) {
    if (
      error instanceof HubError &&
      (error.code === 'UNAUTHORIZED' || error.code === 'RATE_LIMITED')
    )
      return handshakeError(error.code, error.message);
    throw error;
  }
}
