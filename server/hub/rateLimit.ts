/**
 * A sliding-window limiter: `limit` actions per `windowMs` per key. Keys come from peers
 * (addresses, participants), so the map is bounded: past `maxKeys`, keys with nothing left in
 * the window are dropped, then the oldest.
 */
export function createRateLimiter(
  limit: number,
  windowMs: number,
  now: () => number = Date.now,
  maxKeys = 10_000,
) {
  const hits = new Map<string, number[]>();
  const recent = (key: string, t: number) => (hits.get(key) ?? []).filter((h) => t - h < windowMs);

  function prune(t: number): void {
    for (const [key, list] of hits) if (list.every((h) => t - h >= windowMs)) hits.delete(key);
    // Still too many live keys: the ones touched longest ago go first (Map keeps insertion order).
    for (const key of hits.keys()) {
      if (hits.size <= maxKeys) break;
      hits.delete(key);
    }
  }

  return {
    /** Records an action; false when the key is over its limit (nothing recorded). */
    take(key: string): boolean {
      const t = now();
      const list = recent(key, t);
      hits.delete(key);
      hits.set(key, list);
      if (list.length >= limit) return false;
      list.push(t);
      if (hits.size > maxKeys) prune(t);
      return true;
    },
    /** Whether the key could act now (records nothing). */
    allows(key: string): boolean {
      return recent(key, now()).length < limit;
    },
    /** Keys held now (for tests of the bound). */
    size: () => hits.size,
  };
}
