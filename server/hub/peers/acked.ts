/** The one shape of a command listener, for browsers' and trainers' events alike. */
import type { z } from 'zod';
import { fieldErrors, HubError, toFailure } from '../errors';

/**
 * A Socket.IO listener that validates its payload with `schema` (after `check`, e.g. a size
 * limit), runs `handler` and answers the ack with the envelope, whatever happens (a missing
 * or non-function ack is ignored: peers are untrusted).
 */
export function acked<S extends z.ZodType, T>(
  log: (line: string) => void,
  what: string,
  schema: S,
  handler: (input: z.infer<S>) => Promise<T>,
  check?: (payload: unknown) => void,
): (payload: unknown, ack?: unknown) => Promise<void> {
  return async (payload, ack) => {
    const reply = (result: unknown) => {
      if (typeof ack === 'function') ack(result);
    };
    try {
      check?.(payload);
      const parsed = schema.safeParse(payload);
      if (!parsed.success)
        throw new HubError('INVALID', `invalid ${what} payload`, fieldErrors(parsed.error));
      reply({ ok: true, data: await handler(parsed.data) });
    } catch (error) {
      reply(toFailure(error, log));
    }
  };
}
