/**
 * Presence: who watches each run (its room) and who is connected at all (the runs page).
 * Computed from the sockets themselves (fetchSockets also works across hubs with an adapter),
 * so it cannot drift from reality; a participant with several tabs counts once.
 */
import type { PresenceUser } from '../protocol';
import { everywhereOrHere } from './cluster';
import type { HubContext } from './context';
import { runRoom } from './stream';

/** At most this many people are listed in a presence message; `total` counts everyone. */
export const PRESENCE_LIST_MAX = 50;

/** Participants in a room (or everyone connected, for `null`), each once, by name. */
export async function presenceOf(ctx: HubContext, runId: string | null): Promise<PresenceUser[]> {
  // With Redis away, the people on this hub are better than no presence at all.
  const { sockets } = await everywhereOrHere(
    ctx,
    () => (runId ? ctx.io.in(runRoom(runId)) : ctx.io).fetchSockets(),
    () => (runId ? ctx.io.local.in(runRoom(runId)) : ctx.io.local).fetchSockets(),
  );
  const users = new Map<string, PresenceUser>();
  for (const s of sockets) {
    const p = s.data?.participant as PresenceUser | undefined;
    if (p) users.set(p.id, { id: p.id, name: p.name, colour: p.colour });
  }
  return [...users.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The same list from this hub's own sockets only, without building a RemoteSocket per member
 * (fetchSockets does): answering each of 500 people who open a run at once with a
 * fetchSockets over the room cost 125,000 objects and a 1.3 s stall. Capped at `max`.
 */
export function localPresence(ctx: HubContext, runId: string, max = PRESENCE_LIST_MAX): PresenceUser[] {
  const ids = ctx.io.sockets.adapter.rooms.get(runRoom(runId));
  const users = new Map<string, PresenceUser>();
  for (const id of ids ?? []) {
    const p = ctx.io.sockets.sockets.get(id)?.data?.participant as PresenceUser | undefined;
    if (p && !users.has(p.id)) users.set(p.id, { id: p.id, name: p.name, colour: p.colour });
  }
  return [...users.values()].sort((a, b) => a.name.localeCompare(b.name)).slice(0, max);
}

const pending = new WeakMap<HubContext, Map<string, NodeJS.Timeout>>();

/**
 * Announces presence for a run (or globally) soon; bursts of joins collapse into one message.
 * The wait grows with the audience (a message to n people about n people costs n²), so 500
 * people joining at once make a few messages, not 500.
 */
export function announcePresence(ctx: HubContext, runId: string | null): void {
  let timers = pending.get(ctx);
  if (!timers) pending.set(ctx, (timers = new Map()));
  const key = runId ?? '';
  if (timers.has(key)) return;
  const audience = runId ? (ctx.io.sockets.adapter.rooms.get(runRoom(runId))?.size ?? 0) : ctx.io.sockets.sockets.size;
  const delayMs = Math.min(1000, 30 + 2 * audience);
  timers.set(
    key,
    setTimeout(() => {
      timers!.delete(key);
      presenceOf(ctx, runId).then(
        (users) => (runId ? ctx.io.to(runRoom(runId)) : ctx.io).emit('presence', { runId, users: users.slice(0, PRESENCE_LIST_MAX), total: users.length }),
        (error) => ctx.log(`presence: ${error}`),
      );
    }, delayMs),
  );
}

/** Cancels pending presence announcements (hub shutdown). */
export function cancelPresence(ctx: HubContext): void {
  for (const t of pending.get(ctx)?.values() ?? []) clearTimeout(t);
  pending.delete(ctx);
}

/** A readable colour from a participant id, when the browser did not choose one. */
export function colourFor(id: string): string {
  let h = 0;
  for (const ch of id) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  const hue = h % 360;
  // HSL(hue, 65%, 45%) to hex.
  const s = 0.65, l = 0.45;
  const f = (n: number) => {
    const k = (n + hue / 30) % 12;
    const c = l - s * Math.min(l, 1 - l) * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(c * 255).toString(16).padStart(2, '0');
  };
  return `#${f(0)}${f(8)}${f(4)}`;
}
