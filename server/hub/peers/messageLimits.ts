/**
 * How large a message each connection may send. Engine.IO has one limit for the whole server
 * (`maxHttpBufferSize`), which trainers need large (event batches, checkpoints). Anything else
 * — every browser, and any connection before it has authenticated as a trainer — gets
 * {@link PRE_AUTH_MESSAGE_BYTES}: a bigger frame closes that connection before it is buffered
 * or parsed, so that strangers cannot make the hub hold 16 MiB per connection.
 *
 * Neither Engine.IO nor ws has a public per-connection setting, so this writes the two places
 * that hold it: the polling transport's `opts.maxHttpBufferSize` and the ws receiver's
 * `_maxPayload` (ws 8). If either is missing (a changed library) it says so once in the log and
 * the server-wide limit applies; test/security.test.ts fails then.
 */
import { MAX_BROWSER_PAYLOAD_BYTES } from '../../protocol';
import type { HubServer } from '../sockets';

/** Frames up to this size reach the hub's checks (which answer TOO_LARGE above 64 KiB of JSON). */
export const PRE_AUTH_MESSAGE_BYTES = 2 * MAX_BROWSER_PAYLOAD_BYTES;

const LIMIT = Symbol('livetrain.messageLimit');

interface EngineSocket {
  [LIMIT]?: number;
  transport: {
    name?: string;
    opts?: { maxHttpBufferSize?: number };
    socket?: { _receiver?: { _maxPayload?: number } };
  };
  on(event: 'upgrade', listener: () => void): void;
}

export interface MessageLimits {
  /** Lets this connection send messages up to the server's limit (an authenticated trainer). */
  allowLarge(conn: unknown): void;
}

export function createMessageLimits(
  io: HubServer,
  serverLimit: number,
  log: (line: string) => void,
): MessageLimits {
  let warned = false;
  function apply(conn: EngineSocket, bytes: number): void {
    conn[LIMIT] = bytes;
    const t = conn.transport;
    let set = false;
    if (t.opts && typeof t.opts.maxHttpBufferSize === 'number') {
      t.opts.maxHttpBufferSize = bytes;
      set = true;
    }
    const receiver = t.socket?._receiver;
    if (receiver && typeof receiver._maxPayload === 'number') {
      receiver._maxPayload = bytes;
      set = true;
    }
    if (!set && !warned) {
      warned = true;
      log(
        `message limits: cannot set a per-connection limit on the ${t.name ?? 'unknown'} transport; every connection may send ${serverLimit} bytes`,
      );
    }
  }
  io.engine.on('connection', (conn: EngineSocket) => {
    apply(conn, Math.min(PRE_AUTH_MESSAGE_BYTES, serverLimit));
    // Polling → websocket: the new transport starts with the server's limit again.
    conn.on('upgrade', () => apply(conn, conn[LIMIT] ?? PRE_AUTH_MESSAGE_BYTES));
  });
  return {
    allowLarge: (conn) => apply(conn as EngineSocket, serverLimit),
  };
}
