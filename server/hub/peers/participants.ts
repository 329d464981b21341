/**
 * Participants are written behind hello, in batches: a crowd connecting at once (a hub
 * restart, a team opening the same link) would otherwise queue one upsert each, and Prisma
 * compiles every query on the event loop that also sends the live frames. One flush writes
 * the new ones with one createMany and updates only those whose name or colour changed.
 */
import type { PeerQueries } from '../storage/peers';

const FLUSH_MS = 1000;
const RESAVE_AFTER_MS = 5 * 60_000;
/** Participants whose last save is remembered (to skip writing them again). */
const REMEMBERED_MAX = 10_000;

export interface ParticipantWriter {
  remember(id: string, name: string, colour: string): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export function createParticipantWriter({
  peers,
  log,
}: {
  peers: Pick<PeerQueries, 'saveParticipants'>;
  log: (line: string) => void;
}): ParticipantWriter {
  const saved = new Map<string, { name: string; colour: string; at: number }>();
  let pending = new Map<string, { name: string; colour: string }>();
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<void> = Promise.resolve();

  function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = null;
    if (pending.size === 0) return writing;
    const batch = pending;
    pending = new Map();
    writing = writing
      .then(() => peers.saveParticipants(batch))
      .catch((error: unknown) =>
        log(`participants: ${error instanceof Error ? error.message : error}`),
      );
    return writing;
  }

  return {
    remember(id, name, colour) {
      const last = saved.get(id);
      if (
        last &&
        last.name === name &&
        last.colour === colour &&
        Date.now() - last.at < RESAVE_AFTER_MS
      )
        return;
      saved.delete(id);
      saved.set(id, { name, colour, at: Date.now() });
      // Ids come from peers: remember the most recent ones only (Map keeps insertion order).
      if (saved.size > REMEMBERED_MAX) saved.delete(saved.keys().next().value!);
      pending.set(id, { name, colour });
      timer ??= setTimeout(() => void flush(), FLUSH_MS);
    },
    flush,
    close: flush,
  };
}
