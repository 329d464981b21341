/**
 * Presence: who watches each run (its room) and who is connected at all (the runs page).
 * Computed from the sockets themselves (fetchSockets also works across hubs with an adapter),
 * so it cannot drift from reality; a participant with several tabs counts once.
 */
import type { PresenceUser } from '../../protocol';
import { everywhereOrHere } from '../cluster/reach';
import { runRoom } from '../live/stream';
import type { AnySocket, HubServer } from '../sockets';

/** At most this many people are listed in a presence message; `total` counts everyone. */
export const PRESENCE_LIST_MAX = 50;

const byName = (a: PresenceUser, b: PresenceUser) => a.name.localeCompare(b.name);

export function createPresence({
  io,
  shared,
  log,
}: {
  io: HubServer;
  shared: boolean;
  log: (line: string) => void;
}) {
  const pending = new Map<string, NodeJS.Timeout>();
  /**
   * {@link local}'s answer per room, until someone joins or leaves it (or says who they are):
   * the 500 people opening a run at once are answered from one list, not 500 walks of the room.
   */
  const listed = new Map<string, PresenceUser[]>();
  const forget = (room: unknown) => {
    if (typeof room === 'string') listed.delete(room);
  };
  io.sockets.adapter.on('join-room', forget);
  io.sockets.adapter.on('leave-room', forget);
  io.sockets.adapter.on('delete-room', forget);

  /** Participants in a room (or everyone connected, for `null`), each once, by name. */
  async function presenceOf(runId: string | null): Promise<PresenceUser[]> {
    // With Redis away, the people on this hub are better than no presence at all.
    const { sockets } = await everywhereOrHere<AnySocket[]>(
      shared,
      () => (runId ? io.in(runRoom(runId)) : io).fetchSockets(),
      () => (runId ? io.local.in(runRoom(runId)) : io.local).fetchSockets(),
    );
    const users = new Map<string, PresenceUser>();
    for (const s of sockets) {
      const p = s.data.participant;
      if (p) users.set(p.id, { id: p.id, name: p.name, colour: p.colour });
    }
    return [...users.values()].sort(byName);
  }

  return {
    /**
     * The same list from this hub's own sockets only, without building a RemoteSocket per
     * member (fetchSockets does): answering each of N people who open a run at once with a
     * fetchSockets over the room builds N² objects and stalls the hub. Capped at `max`.
     */
    local(runId: string, max = PRESENCE_LIST_MAX): PresenceUser[] {
      const room = runRoom(runId);
      let list = listed.get(room);
      if (!list) {
        const users = new Map<string, PresenceUser>();
        for (const id of io.sockets.adapter.rooms.get(room) ?? []) {
          const p = io.sockets.sockets.get(id)?.data.participant;
          if (p && !users.has(p.id)) users.set(p.id, { id: p.id, name: p.name, colour: p.colour });
        }
        list = [...users.values()].sort(byName);
        listed.set(room, list);
      }
      return list.slice(0, max);
    },

    /** A participant's name or colour changed: every listed room may name them. */
    renamed(): void {
      listed.clear();
    },

    /**
     * Announces presence for a run (or globally) soon; bursts of joins collapse into one
     * message. The wait grows with the audience (a message to n people about n people costs
     * n²), so 500 people joining at once make a few messages, not 500.
     */
    announce(runId: string | null): void {
      const key = runId ?? '';
      if (pending.has(key)) return;
      const audience = runId
        ? (io.sockets.adapter.rooms.get(runRoom(runId))?.size ?? 0)
        : io.sockets.sockets.size;
      const delayMs = Math.min(1000, 30 + 2 * audience);
      pending.set(
        key,
        setTimeout(() => {
          pending.delete(key);
          presenceOf(runId).then(
            (users) => {
              const msg = { runId, users: users.slice(0, PRESENCE_LIST_MAX), total: users.length };
              if (runId) io.to(runRoom(runId)).emit('presence', msg);
              else io.emit('presence', msg);
            },
            (error) => log(`presence: ${error}`),
          );
        }, delayMs),
      );
    },

    /** Cancels pending announcements (hub shutdown). */
    close(): void {
      for (const t of pending.values()) clearTimeout(t);
      pending.clear();
    },
  };
}
export type Presence = ReturnType<typeof createPresence>;

/** A readable colour from a participant id, when the browser did not choose one. */
export function colourFor(id: string): string {
  let h = 0;
  for (const ch of id) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  const hue = h % 360;
  // HSL(hue, 65%, 45%) to hex.
  const s = 0.65,
    l = 0.45;
  const f = (n: number) => {
    const k = (n + hue / 30) % 12;
    const c = l - s * Math.min(l, 1 - l) * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(c * 255)
      .toString(16)
      .padStart(2, '0');
  };
  return `#${f(0)}${f(8)}${f(4)}`;
}
