/**
 * The default namespace: browsers. Every command is size-checked, validated with its schema
 * from server/protocol and answered with an ack envelope; unknown events are ignored by Socket.IO.
 * Handlers are one table with a key per command ({@link BrowserHandlers}): a command added to
 * the protocol's `browserSchemas` does not compile until it has its handler here.
 */
import type { z } from 'zod';
import {
  browserSchemas,
  handshakeSchema,
  MAX_BROWSER_PAYLOAD_BYTES,
  PROTOCOL_VERSION,
  type BrowserAckData,
  type BrowserCommand,
  type BrowserInput,
  type DatasetSizes,
} from '../../protocol';
import type { Cluster } from '../cluster/cluster';
import { handshakeCheck, handshakeError, HubError } from '../errors';
import { rangeToWire, type Snapshots } from '../live/snapshot';
import { runRoom } from '../live/stream';
import type { Actor, Annotations } from '../runs/annotations';
import type { RunCommands } from '../runs/commands';
import type { DatabaseWatch } from '../runs/database';
import type { RunManagement } from '../runs/manage';
import type { HubServer } from '../sockets';
import { acked } from './acked';
import type { Auth } from './auth';
import type { Identities } from './identities';
import type { ParticipantWriter } from './participants';
import { createPacer } from './pacer';
import { colourFor, type Presence } from './presence';

export interface BrowserDeps {
  io: HubServer;
  auth: Pick<Auth, 'browser' | 'required' | 'clientAddress'>;
  identities: Identities;
  participants: ParticipantWriter;
  presence: Presence;
  snapshots: Snapshots;
  cluster: Pick<Cluster, 'follow' | 'unfollow'>;
  commands: RunCommands;
  manage: RunManagement;
  annotations: Annotations;
  database: Pick<DatabaseWatch, 'state'>;
  /** The sizes of the hub's data set, told in the hello ack (the start form's limits). */
  datasetSizes: () => Promise<DatasetSizes>;
  log: (line: string) => void;
}

/** Runs one connection may watch at once (the dashboard's compare page shows up to 10). */
export const MAX_WATCHED_RUNS = 32;
/** `run:watch` calls one connection may have unanswered at once. */
export const MAX_WATCHES_IN_FLIGHT = 16;
/** `run:series` calls one connection may have unanswered at once (the compare page asks one per run). */
export const MAX_RANGES_IN_FLIGHT = 16;
/** `run:watch` answers written per turn of the event loop when many arrive at once (see pacer.ts). */
export const WATCH_ANSWERS_PER_TURN = 16;

/** One handler per browser command, each given its validated payload and answering its ack's data. */
type BrowserHandlers = {
  [K in BrowserCommand]: (input: BrowserInput<K>) => Promise<BrowserAckData[K]>;
};

const tooLarge = (payload: unknown) => {
  if ((JSON.stringify(payload) ?? '').length > MAX_BROWSER_PAYLOAD_BYTES) {
    throw new HubError('TOO_LARGE', `payloads are limited to ${MAX_BROWSER_PAYLOAD_BYTES} bytes`);
  }
};

export function attachBrowsers({
  io,
  auth,
  identities,
  participants,
  presence,
  snapshots,
  cluster,
  commands,
  manage,
  annotations,
  database,
  datasetSizes,
  log,
}: BrowserDeps): void {
  io.use((socket, next) => {
    const hello = handshakeSchema.safeParse(socket.handshake.auth);
    if (!hello.success)
      return next(
        handshakeError(
          'INVALID',
          `handshake auth must be { protocolVersion: ${PROTOCOL_VERSION}, token? }`,
        ),
      );
    if (hello.data.protocolVersion !== PROTOCOL_VERSION) {
      return next(
        handshakeError(
          'UNSUPPORTED_VERSION',
          `this hub speaks protocol ${PROTOCOL_VERSION}, the client ${hello.data.protocolVersion}; reload the page`,
        ),
      );
    }
    const refused = handshakeCheck(() => auth.browser(socket.request, hello.data.token));
    if (refused) return next(refused);
    next();
  });

  const answers = createPacer(WATCH_ANSWERS_PER_TURN);

  io.on('connection', (socket) => {
    const address = auth.clientAddress(socket.request);
    // Arriving while the database is away: say so at once (changes come as they happen).
    if (!database.state.available) socket.emit('hub:database', database.state);
    /** Runs whose room this socket joined. */
    const watching = new Set<string>();
    /** Runs whose live stream this socket keeps fed on this hub (cluster.follow). */
    const followed = new Set<string>();
    const unfollow = (runId: string) => {
      if (followed.delete(runId)) cluster.unfollow(runId);
    };
    const actor = (): Actor => {
      const p = socket.data.participant;
      if (!p) throw new HubError('NO_HELLO', 'send hello {name} first');
      return { id: p.id, name: p.name, address };
    };

    let watchesInFlight = 0;
    let rangesInFlight = 0;
    const handlers: BrowserHandlers = {
      hello: async (input) => {
        const { id, credential } = identities.resolve(input);
        const colour = input.colour ?? colourFor(id);
        participants.remember(id, input.name, colour);
        socket.data.participant = { id, name: input.name, colour };
        if (watching.size > 0) presence.renamed();
        presence.announce(null);
        for (const runId of watching) presence.announce(runId);
        const dataset = await datasetSizes().catch(() => null);
        return {
          participant: socket.data.participant,
          credential,
          protocolVersion: PROTOCOL_VERSION,
          tokenRequired: auth.required,
          dataset,
        };
      },

      'run:watch': async ({ runId, afterSeq }) => {
        actor();
        if (!watching.has(runId) && watching.size >= MAX_WATCHED_RUNS) {
          throw new HubError(
            'CONFLICT',
            `one connection watches at most ${MAX_WATCHED_RUNS} runs at once; unwatch one first`,
          );
        }
        if (watchesInFlight >= MAX_WATCHES_IN_FLIGHT)
          throw new HubError(
            'RATE_LIMITED',
            `at most ${MAX_WATCHES_IN_FLIGHT} run:watch at a time on one connection; wait for the answers`,
          );
        watchesInFlight++;
        try {
          return await watch(runId, afterSeq);
        } finally {
          watchesInFlight--;
        }
      },

      'run:series': async (query) => {
        actor();
        if (rangesInFlight >= MAX_RANGES_IN_FLIGHT)
          throw new HubError(
            'RATE_LIMITED',
            `at most ${MAX_RANGES_IN_FLIGHT} run:series at a time on one connection; wait for the answers`,
          );
        rangesInFlight++;
        try {
          return rangeToWire(await snapshots.range(query));
        } finally {
          rangesInFlight--;
        }
      },

      'run:unwatch': async ({ runId }) => {
        void socket.leave(runRoom(runId));
        watching.delete(runId);
        unfollow(runId);
        presence.announce(runId);
        return { runId };
      },

      'run:start': async (input) => ({ run: await commands.start(input, actor()) }),
      'run:stop': async ({ runId }) => ({ run: await commands.control(runId, 'stop', actor()) }),
      'run:pause': async ({ runId }) => ({ run: await commands.control(runId, 'pause', actor()) }),
      'run:resume': async ({ runId }) => ({
        run: await commands.control(runId, 'resume', actor()),
      }),
      'run:set-lr': async ({ runId, learningRate }) => ({
        run: await commands.control(runId, 'set-lr', actor(), learningRate),
      }),
      'run:edit': async ({ runId, ...fields }) => ({
        run: await manage.edit(runId, fields, actor()),
      }),
      'run:archive': async ({ runId }) => ({ run: await manage.archive(runId, actor()) }),
      'run:restore': async ({ runId }) => ({ run: await manage.restore(runId, actor()) }),
      'run:delete': async ({ runId, confirmName }) => manage.remove(runId, confirmName, actor()),
      'runs:manage': async ({ runIds, action }) => ({
        results: await manage.many(runIds, action, actor()),
      }),
      'annotation:add': async (input) => ({
        annotation: await annotations.addNote(actor(), input),
      }),
      'annotation:edit': async (input) => ({
        annotation: await annotations.editNote(actor(), input),
      }),
      'annotation:delete': async (input) => annotations.deleteNote(actor(), input),
    };

    /** Listens to `event` with its schema from browserSchemas and its handler from the table. */
    function listen<K extends BrowserCommand>(event: K): void {
      // browserSchemas[K] parses to BrowserInput<K> by definition; TypeScript cannot see that
      // through zod's generics for an unresolved K, hence the widening here and only here.
      const schema = browserSchemas[event] as unknown as z.ZodType<BrowserInput<K>>;
      socket.on<BrowserCommand>(event, acked(log, event, schema, handlers[event], tooLarge));
    }
    for (const event of Object.keys(browserSchemas) as BrowserCommand[]) listen(event);

    async function watch(runId: string, afterSeq: number | undefined) {
      if (!followed.has(runId)) {
        followed.add(runId);
        await cluster.follow(runId);
      }
      const snapshot = await snapshots
        .shared(runId, afterSeq ?? 0, () => {
          void socket.join(runRoom(runId)); // the in-memory and Redis adapters join at once
          watching.add(runId);
        })
        .catch((error: unknown) => {
          if (!watching.has(runId)) unfollow(runId);
          throw error;
        });
      presence.announce(runId);
      await answers.turn();
      // The snapshot may be shared with others who asked at the same moment: copy, don't mutate.
      return { ...snapshot, presence: presence.local(runId) };
    }

    socket.on('disconnect', () => {
      for (const runId of followed) unfollow(runId);
      for (const runId of watching) presence.announce(runId);
      presence.announce(null);
    });
  });
}
