/**
 * Whether this hub's database answers, as people need to know it: a write that fails makes it
 * suspect, a ping decides (a bad row is not an outage), and while it is away a ping every few
 * seconds notices its return. Each change is announced (the hub tells its browsers: what they
 * see is live but not being saved, and nothing acknowledged is lost).
 */
import type { DatabaseState } from '../../protocol';

export interface DatabaseWatchDeps {
  ping: () => Promise<void>;
  onChange: (state: DatabaseState) => void;
  log: (line: string) => void;
  /** How often to ping while it is away (default 2 s). */
  retryMs?: number;
}

export interface DatabaseWatch {
  /** The state now. */
  readonly state: DatabaseState;
  /** Something failed against the database (a write): ping it to tell an outage from bad data. */
  suspect(error: unknown): void;
  /** Something succeeded against it (a commit): it is back, if it was away. */
  answered(): void;
  close(): void;
}

/** A failure in a line for people: its message, else its code (drivers throw some with neither). */
function messageOf(error: unknown): string {
  if (error === null || error === undefined) return '';
  const text = (error instanceof Error ? error.message : String(error)).split('\n')[0].trim();
  const code = typeof error === 'object' && 'code' in error ? String((error as { code: unknown }).code) : '';
  return (text || code).slice(0, 300);
}

export function createDatabaseWatch({ ping, onChange, log, retryMs = 2000 }: DatabaseWatchDeps): DatabaseWatch {
  let state: DatabaseState = { available: true, since: Date.now(), message: null };
  let timer: NodeJS.Timeout | null = null;
  let checking = false;
  let closed = false;

  function set(next: DatabaseState): void {
    if (next.available === state.available) return;
    state = next;
    log(next.available ? 'database: answering again' : `database: unavailable (${next.message})`);
    onChange(state);
  }

  async function check(cause: unknown): Promise<void> {
    if (checking || closed) return;
    checking = true;
    try {
      await ping();
      set({ available: true, since: Date.now(), message: null });
    } catch (error) {
      const message = messageOf(cause) || messageOf(error) || 'it does not answer';
      set({ available: false, since: state.available ? Date.now() : state.since, message });
      timer ??= setTimeout(() => {
        timer = null;
        void check(null);
      }, retryMs);
      timer.unref();
    } finally {
      checking = false;
    }
  }

  return {
    get state() {
      return state;
    },
    suspect: (error) => void check(error),
    answered() {
      if (!state.available) set({ available: true, since: Date.now(), message: null });
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
