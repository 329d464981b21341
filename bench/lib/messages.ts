/**
 * The IPC messages between bench/fanout.ts and its child processes (bench/lib/hubProcess.ts,
 * bench/lib/watcherProcess.ts): one module, so both sides agree. Children's messages are
 * parsed with these schemas by the parent; the parent's commands are parsed by the children.
 */
import { z } from 'zod';

const histogram = z.array(z.tuple([z.number(), z.number()]));

/** What the hub process sends: its URL once listening, then resource samples. */
export const hubMessageSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('ready'), url: z.string() }),
  z.object({
    kind: z.literal('stats'),
    /** Date.now() of the sample. */
    t: z.number(),
    /** process.cpuUsage() user + system, µs, cumulative. */
    cpuUs: z.number(),
    rss: z.number(),
    /** Event-loop delay since the previous sample, ms. */
    lagP99Ms: z.number(),
    lagMaxMs: z.number(),
  }),
  z.object({
    kind: z.literal('report'),
    /** Hub receive time − point.time for every batch point a trainer sent (upstream latency). */
    upstream: histogram,
    trainerMessages: z.number(),
    /** Points per trainer:events message. */
    pointsPerMessage: histogram,
  }),
]);
export type HubMessage = z.infer<typeof hubMessageSchema>;

/** Commands to the hub process. */
export const hubCommandSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('report') }),
  z.object({ kind: z.literal('stop') }),
]);

/** What a watcher process sends. */
export const watcherMessageSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('connected'), sockets: z.number(), ms: z.number() }),
  z.object({
    kind: z.literal('watching'),
    ms: z.number(),
    failures: z.array(z.string()),
    snapshotPoints: z.number(),
  }),
  z.object({
    kind: z.literal('progress'),
    /** Points received by all this process's sockets so far. */
    points: z.number(),
    /** Lowest last-received seq over the sockets (-1 before every snapshot arrived). */
    minLastSeq: z.number(),
  }),
  z.object({
    kind: z.literal('report'),
    /** Receive time − point.time for every live point every socket received. */
    latency: histogram,
    /** The same, for points the trainer made after every socket of this process was watching. */
    steady: histogram,
    /** Per live frame: last socket's receive time − first socket's (fan-out spread). */
    spread: histogram,
    /** Distinct points (snapshot + live) per socket. */
    delivered: z.array(z.number()),
    chainBreaks: z.number(),
    duplicates: z.number(),
    /** First few chain breaks, described. */
    examples: z.array(z.string()),
    frames: z.number(),
    presence: z.number(),
    /** User entries in all presence messages, and their approximate size in bytes. */
    presenceUsers: z.number(),
    presenceBytes: z.number(),
    disconnects: z.number(),
    /** Stream messages that arrived before their socket's run:watch ack (held, then applied). */
    early: z.number(),
    /** CPU used by this process while watching, µs, and its event-loop utilisation (0–1). */
    cpuUs: z.number(),
    wallMs: z.number(),
    elu: z.number(),
    /** This process's own event-loop delay while watching, ms: time a frame may wait here. */
    lagP99Ms: z.number(),
    lagMaxMs: z.number(),
  }),
]);
export type WatcherMessage = z.infer<typeof watcherMessageSchema>;
export type WatcherReport = Extract<WatcherMessage, { kind: 'report' }>;

/** Commands to a watcher process. */
export const watcherCommandSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('watch'), runId: z.string() }),
  z.object({ kind: z.literal('report') }),
  z.object({ kind: z.literal('stop') }),
]);

/** Sends `message` to the parent over IPC (no-op when not forked). */
export function toParent(message: HubMessage | WatcherMessage): void {
  process.send?.(message);
}
