/**
 * The default namespace: browsers. Every command is size-checked, validated with its schema
 * from protocol.ts and answered with an ack envelope; unknown events are ignored by Socket.IO.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'socket.io';
import type { z } from 'zod';
import {
  browserSchemas,
  handshakeSchema,
  MAX_BROWSER_PAYLOAD_BYTES,
  PROTOCOL_VERSION,
  type BrowserAckData,
  type BrowserCommand,
  type ClientToServerEvents,
  type Participant,
  type ServerToClientEvents,
} from '../protocol';
import { addNote, createRateLimiter, deleteNote, editNote } from './annotations';
import { presentedToken, tokenMatches } from './auth';
import { acked, handshakeError, HubError, type HubContext } from './context';
import type { ParticipantWriter } from './participants';
import { announcePresence, colourFor, localPresence } from './presence';
import { controlRun, startRun, type Actor } from './runs';
import { sharedSnapshot } from './snapshot';
import { runRoom } from './stream';

interface SocketData {
  participant?: Participant;
  watching: Set<string>;
  /** Runs whose live stream this socket keeps fed on this hub (cluster.follow). */
  followed: Set<string>;
}
type BrowserSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

export function attachBrowsers(ctx: HubContext, participants: ParticipantWriter): void {
  const limiter = createRateLimiter(ctx.options.annotationsPerMinute, 60_000);
  const io = ctx.io;

  io.use((socket, next) => {
    const auth = handshakeSchema.safeParse(socket.handshake.auth);
    if (!auth.success) return next(handshakeError('INVALID', `handshake auth must be { protocolVersion: ${PROTOCOL_VERSION}, token? }`));
    if (auth.data.protocolVersion !== PROTOCOL_VERSION) {
      return next(handshakeError('UNSUPPORTED_VERSION', `this hub speaks protocol ${PROTOCOL_VERSION}, the client ${auth.data.protocolVersion}; reload the page`));
    }
    const token = auth.data.token ?? presentedToken(socket.request);
    if (!tokenMatches(ctx.options.browserToken, token)) return next(handshakeError('UNAUTHORIZED', 'a valid team token is required'));
    next();
  });

  io.on('connection', (raw) => {
    const socket = raw as unknown as BrowserSocket;
    socket.data.watching = new Set();
    socket.data.followed = new Set();
    const unfollow = (runId: string) => {
      if (socket.data.followed.delete(runId)) ctx.cluster.unfollow(runId);
    };
    const actor = (): Actor => {
      const p = socket.data.participant;
      if (!p) throw new HubError('NO_HELLO', 'send hello {name} first');
      return { id: p.id, name: p.name };
    };

    const tooLarge = (payload: unknown) => {
      if ((JSON.stringify(payload) ?? '').length > MAX_BROWSER_PAYLOAD_BYTES) {
        throw new HubError('TOO_LARGE', `payloads are limited to ${MAX_BROWSER_PAYLOAD_BYTES} bytes`);
      }
    };
    function on<K extends BrowserCommand>(event: K, handler: (input: z.infer<(typeof browserSchemas)[K]>) => Promise<BrowserAckData[K]>): void {
      (socket as unknown as { on(event: string, fn: (payload: unknown, ack?: unknown) => void): void }).on(event, acked(ctx, event, browserSchemas[event], handler as (input: unknown) => Promise<BrowserAckData[K]>, tooLarge));
    }

    on('hello', async (input) => {
      const id = input.participantId ?? randomBytes(12).toString('base64url');
      const colour = input.colour ?? colourFor(id);
      participants.remember(id, input.name, colour);
      socket.data.participant = { id, name: input.name, colour };
      announcePresence(ctx, null);
      for (const runId of socket.data.watching) announcePresence(ctx, runId);
      return { participant: socket.data.participant, protocolVersion: PROTOCOL_VERSION };
    });

    on('run:watch', async ({ runId, afterSeq }) => {
      actor();
      if (!socket.data.followed.has(runId)) {
        socket.data.followed.add(runId);
        await ctx.cluster.follow(runId);
      }
      const snapshot = await sharedSnapshot(ctx, runId, afterSeq ?? 0, () => {
        socket.join(runRoom(runId));
        socket.data.watching.add(runId);
      }).catch((error: unknown) => {
        if (!socket.data.watching.has(runId)) unfollow(runId);
        throw error;
      });
      announcePresence(ctx, runId);
      // The snapshot may be shared with others who asked at the same moment: copy, don't mutate.
      return { ...snapshot, presence: localPresence(ctx, runId) };
    });

    on('run:unwatch', async ({ runId }) => {
      socket.leave(runRoom(runId));
      socket.data.watching.delete(runId);
      unfollow(runId);
      announcePresence(ctx, runId);
      return { runId };
    });

    on('run:start', async (input) => ({ run: await startRun(ctx, input, actor()) }));
    on('run:stop', async ({ runId }) => ({ run: await controlRun(ctx, runId, 'stop', actor()) }));
    on('run:pause', async ({ runId }) => ({ run: await controlRun(ctx, runId, 'pause', actor()) }));
    on('run:resume', async ({ runId }) => ({ run: await controlRun(ctx, runId, 'resume', actor()) }));
    on('run:set-lr', async ({ runId, learningRate }) => ({ run: await controlRun(ctx, runId, 'set-lr', actor(), learningRate) }));
    on('annotation:add', async (input) => ({ annotation: await addNote(ctx, limiter, actor(), input) }));
    on('annotation:edit', async (input) => ({ annotation: await editNote(ctx, limiter, actor(), input) }));
    on('annotation:delete', async (input) => deleteNote(ctx, actor(), input));

    socket.on('disconnect', () => {
      for (const runId of socket.data.followed) unfollow(runId);
      for (const runId of socket.data.watching) announcePresence(ctx, runId);
      announcePresence(ctx, null);
    });
  });
}
