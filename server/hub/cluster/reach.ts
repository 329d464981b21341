/**
 * Asking every hub, or settling for this one: a question that goes through Redis (all the
 * sockets of a room, all the trainers) waits while Redis is away; what this hub can do alone
 * (schedule onto its own trainers, forward a command, count presence, answer a health check)
 * then takes its own answer after `waitMs`.
 */

/** `everywhere()` (through Redis), or `here()` when that has not answered within `waitMs`; `everywhere` says which. */
export async function everywhereOrHere<T>(
  shared: boolean,
  everywhere: () => Promise<T>,
  here: () => Promise<T>,
  waitMs = 2000,
): Promise<{ sockets: T; everywhere: boolean }> {
  const all = everywhere();
  if (!shared) return { sockets: await all, everywhere: true };
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), waitMs)));
  const sockets = await Promise.race([all.catch(() => null), gaveUp]);
  clearTimeout(timer);
  if (sockets) return { sockets, everywhere: true };
  return { sockets: await here(), everywhere: false };
}
