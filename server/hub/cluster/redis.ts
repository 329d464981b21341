/**
 * Several hubs on one database and one Redis (REDIS_URL). Rooms and broadcasts that carry no
 * seq (run:status, runs:changed, annotations, presence) go through @socket.io/redis-adapter.
 * A run's live stream does not: the hub that receives its trainer's events appends them to a
 * Redis stream per run (entry id = the last seq it holds, so a replay is refused by Redis as a
 * duplicate), and every hub whose own sockets watch the run reads that stream into its own
 * LiveStreams and sends frames to its own sockets only. So each hub keeps the contract of
 * run:watch (snapshot + live frames, no gap, no repeat) by itself, whichever hub stores.
 * What arrives from Redis is validated (protocol's relay schemas) like any other input.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { createAdapter } from '@socket.io/redis-adapter';
import { Adapter as InMemoryAdapter } from 'socket.io-adapter';
import { createClient } from 'redis';
import { z } from 'zod';
import { isFinished, type HubRunStatus } from '../../protocol';
import {
  interHubRunChangeSchema,
  relayEntrySchema,
  relayEventsSchema,
  type RunChange,
} from './relay';
import type { LiveStreams } from '../live/stream';
import type { HubServer } from '../sockets';
import type { Cluster } from './cluster';

export interface RedisClusterDeps {
  url: string;
  /** Prefix of every Redis key and channel, so several deployments can share one Redis. */
  prefix?: string;
  /** The server whose rooms and broadcasts the adapter shares, and whose sockets are told to resync. */
  io: HubServer;
  /** This hub's live streams, which the relay feeds for its own watchers. */
  streams: LiveStreams;
  /** What is stored of a run: a relay starts from there. */
  storedState: (runId: string) => Promise<{ lastSeq: number; status: HubRunStatus } | null>;
  /** Whether this hub holds the run (stores its events): its stream stays open until released. */
  holds: (runId: string) => boolean;
  /** A stream this hub had of the run was started again: its snapshots are stale. */
  invalidate: (runId: string) => void;
  /** Called with a change another hub announced. */
  onRemoteChange: (change: RunChange) => void;
  log: (line: string) => void;
}

/** What XREAD answers: per stream read, its key and its entries (fields as strings). */
const xReadAnswer = z
  .array(
    z.object({
      name: z.string(),
      messages: z.array(z.object({ id: z.string(), message: z.record(z.string(), z.string()) })),
    }),
  )
  .nullable();

const STREAM_MAXLEN = 5000;
const ENDED_STREAM_TTL_S = 24 * 3600;
const READ_BLOCK_MS = 5000;

type RedisClient = ReturnType<typeof createClient>;

export async function redisCluster(opts: RedisClusterDeps): Promise<Cluster> {
  const { io, streams, log } = opts;
  const prefix = opts.prefix ?? 'livetrain';
  const hubId = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const errors = rateLimitedLog(log, 'redis');
  const connect = async (client: RedisClient) => {
    // Without an error listener node-redis would throw on every failed reconnect.
    client.on('error', (error: Error) => errors(error.message));
    await client.connect();
    return client;
  };
  // Commands issued while Redis is away wait in node-redis's offline queue and are sent when it
  // is back, in order: appended events then reach the stream without a hole.
  const pub = await connect(createClient({ url: opts.url }));
  const sub = await connect(pub.duplicate());
  // Pub/sub keeps nothing for a subscriber that is away: once the subscription is back, this
  // hub's browsers reload what other hubs may have broadcast meanwhile (notes, statuses).
  // (Registered after the first connection: every 'ready' here is a reconnection.)
  sub.on('ready', () => {
    log('redis: subscription restored; asking browsers to resync');
    setTimeout(
      () => io.local.emit('hub:resync', { reason: "the hubs' shared Redis came back" }),
      100,
    ).unref();
  });
  const reader = await connect(pub.duplicate());
  io.adapter(createAdapter(pub, sub, { key: `${prefix}:socket.io`, requestsTimeout: 5000 }));
  io.on('livetrain:run', (message: unknown) => {
    const parsed = interHubRunChangeSchema.safeParse(message);
    if (!parsed.success)
      return errors(
        `ignoring a malformed run change from another hub: ${parsed.error.issues[0]?.message}`,
      );
    const { hub, ...change } = parsed.data;
    if (hub !== hubId) opts.onRemoteChange(change);
  });

  const streamKey = (runId: string) => `${prefix}:run:${runId}`;
  const wakeKey = `${prefix}:wake:${hubId}`;
  const following = new Map<
    string,
    { refs: number; lastId: string; pos: number; ready: Promise<void> }
  >();
  let closed = false;

  const quiet = (what: string) => (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    // A replay of entries already appended: Redis refuses the id, which is what we want.
    if (!message.includes('equal or smaller')) errors(`${what}: ${message}`);
  };
  const trim = {
    TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: STREAM_MAXLEN },
  } as const;

  function wake(): void {
    pub
      .xAdd(wakeKey, '*', { w: '1' }, { TRIM: { strategy: 'MAXLEN', threshold: 10 } })
      .then(() => pub.expire(wakeKey, 3600))
      .catch(quiet('wake'));
  }

  /** Applies one entry of a run's stream to this hub's live stream of it; throws on a malformed entry. */
  function apply(runId: string, id: string, raw: Record<string, string>): void {
    const f = following.get(runId);
    if (!f) return;
    const seq = Number(id.split('-')[0]);
    const fields = relayEntrySchema.parse(raw);
    if ('k' in fields) {
      f.pos = Math.max(f.pos, seq);
      streams.stored(runId, seq);
      // A run this hub holds is released by this hub.
      if (!opts.holds(runId) && !streams.hole(runId)) streams.close(runId);
      return;
    }
    // This hub's own entries hold nothing new while its stream has them already (the usual
    // case: it published them as they arrived); otherwise they fill what it missed.
    if (fields.h === hubId && (streams.publishedSeq(runId) ?? -1) >= seq) {
      f.pos = Math.max(f.pos, seq);
      return;
    }
    const events = relayEventsSchema.parse(JSON.parse(fields.e));
    // A run that finished here and was resumed elsewhere: its stream opens again where it ended.
    if (!streams.isOpen(runId)) streams.open(runId, f.pos);
    streams.publish(runId, events);
    f.pos = Math.max(f.pos, seq);
    const stored = Number(fields.s);
    if (stored > 0) streams.stored(runId, Math.min(stored, streams.publishedSeq(runId) ?? 0));
  }

  async function readLoop(): Promise<void> {
    let wakeId = '0-0';
    while (!closed) {
      const keys = [...following].map(([runId, f]) => ({ key: streamKey(runId), id: f.lastId }));
      keys.push({ key: wakeKey, id: wakeId });
      let result;
      try {
        result = await reader.xRead(keys, { BLOCK: READ_BLOCK_MS, COUNT: 1000 });
      } catch (error) {
        if (closed) return;
        quiet('read')(error);
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      const read = xReadAnswer.safeParse(result);
      if (!read.success) {
        errors(`read: an XREAD answer of an unexpected shape (${read.error.issues[0]?.message})`);
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      for (const stream of read.data ?? []) {
        const last = stream.messages[stream.messages.length - 1];
        if (stream.name === wakeKey) {
          if (last) wakeId = last.id;
          continue;
        }
        const runId = stream.name.slice(`${prefix}:run:`.length);
        for (const m of stream.messages) {
          const f = following.get(runId);
          if (!f) break;
          f.lastId = m.id;
          try {
            apply(runId, m.id, m.message);
          } catch (error) {
            log(`relay ${runId} ${m.id}: ${error instanceof Error ? error.message : error}`);
          }
        }
      }
    }
  }
  const loop = readLoop();

  return {
    hubId,
    shared: true,
    append(runId, events, storedSeq) {
      if (events.length === 0) return;
      const last = events[events.length - 1].seq;
      pub
        .xAdd(
          streamKey(runId),
          `${last}-0`,
          { h: hubId, s: String(storedSeq), e: JSON.stringify(events) },
          trim,
        )
        .catch(quiet('append'));
    },
    ended(runId, storedSeq) {
      pub
        .xAdd(
          streamKey(runId),
          `${storedSeq}-1`,
          { h: hubId, k: 'end', s: String(storedSeq) },
          trim,
        )
        .then(() => pub.expire(streamKey(runId), ENDED_STREAM_TTL_S))
        .catch(quiet('end'));
    },
    async follow(runId) {
      const known = following.get(runId);
      if (known) {
        known.refs++;
        return known.ready;
      }
      const f = { refs: 1, lastId: '0-0', pos: 0, ready: Promise.resolve() };
      following.set(runId, f);
      f.ready = (async () => {
        const row = await opts.storedState(runId);
        // Not found, or every watcher here left meanwhile.
        if (!row || following.get(runId) !== f) return;
        // The first watcher here: a stream this hub has of the run may be stale (opened here,
        // trained through another hub), so it starts again from what is stored; the relay
        // brings everything after, this hub's own entries included.
        if (streams.isOpen(runId)) {
          streams.close(runId);
          opts.invalidate(runId);
        }
        if (!isFinished(row.status)) streams.open(runId, row.lastSeq);
        f.pos = row.lastSeq;
        f.lastId = `${row.lastSeq}-0`;
        wake();
      })();
      return f.ready;
    },
    unfollow(runId) {
      const f = following.get(runId);
      if (!f || --f.refs > 0) return;
      following.delete(runId);
      // A run this hub stores keeps its stream until it is released.
      if (!opts.holds(runId)) streams.close(runId);
    },
    reachable: () => pub.isReady && sub.isReady,
    relaying: () => following.size,
    changed(change) {
      if (closed) return;
      io.serverSideEmit('livetrain:run', { ...change, hub: hubId });
    },
    async close() {
      closed = true;
      reader.destroy();
      await loop.catch(() => undefined);
      // Whatever still emits (a late timer) stays on this process instead of a closed client.
      io.adapter(InMemoryAdapter);
      // A graceful close waits for Redis to answer; when it is away, give up after a moment.
      const graceful = Promise.allSettled([pub.close(), sub.close()]);
      await Promise.race([graceful, new Promise((r) => setTimeout(r, 2000).unref())]);
      for (const client of [pub, sub]) if (client.isOpen) client.destroy();
    },
  };
}

/** Logs the first error of a kind at once, then at most one line a second. */
function rateLimitedLog(log: (line: string) => void, what: string): (message: string) => void {
  let last = 0;
  let dropped = 0;
  return (message) => {
    const now = Date.now();
    if (now - last < 1000) {
      dropped++;
      return;
    }
    log(`${what}: ${message}${dropped ? ` (${dropped} more since)` : ''}`);
    last = now;
    dropped = 0;
  };
}
