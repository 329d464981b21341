/**
 * Whether this hub's database answers, as people need to know it: a write that fails makes it
 * suspect; a failure of the storage itself (a full disk, a read-only file or file system) makes
 * it unavailable until a commit succeeds again; otherwise a ping decides (a bad row is not an
 * outage), and while it does not answer a ping every few seconds notices its return. Each
 * change is announced (the hub tells its browsers: what they see is live but not being saved,
 * and nothing acknowledged is lost).
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
  /** Someone else pinged it (the health check): an answer ends an outage of no answers, none starts one. */
  pinged(answered: boolean, error?: unknown): void;
  close(): void;
}

/** A failure in a line for people: its message, else its code (drivers throw some with neither). */
function messageOf(error: unknown): string {
  if (error === null || error === undefined) return '';
  const text = (error instanceof Error ? error.message : String(error)).split('\n')[0].trim();
  const code =
    typeof error === 'object' && 'code' in error ? String((error as { code: unknown }).code) : '';
  return (text || code).slice(0, 300);
}

/** Driver codes of a storage that cannot take writes now, in words for people. */
const STORAGE_FAILURES: Record<string, string> = {
  SQLITE_FULL: 'the disk holding the database is full',
  SQLITE_READONLY: 'the database is read-only (its file or its file system)',
  SQLITE_IOERR: 'the disk holding the database fails to read or write',
  SQLITE_CANTOPEN: 'the database file cannot be opened',
  // PostgreSQL's SQLSTATEs: disk_full, read_only_sql_transaction, out_of_memory.
  '53100': "the database server's disk is full",
  '25006': 'the database is read-only (a standby, or default_transaction_read_only)',
  '53200': 'the database server is out of memory',
};

/** The storage failure `error` is (searching its causes: Prisma wraps the driver's), or null. */
export function storageFailure(error: unknown): string | null {
  const seen = new Set<unknown>();
  const visit = (value: unknown, depth: number): string | null => {
    if (depth > 6 || typeof value !== 'object' || value === null || seen.has(value)) return null;
    seen.add(value);
    const v = value as Record<string, unknown>;
    for (const key of ['originalCode', 'code']) {
      const code = typeof v[key] === 'string' ? (v[key] as string) : null;
      // SQLite's extended codes (SQLITE_IOERR_WRITE, SQLITE_READONLY_DBMOVED…) count as their primary one.
      const hit =
        code &&
        (STORAGE_FAILURES[code] ?? STORAGE_FAILURES[/^SQLITE_[A-Z]+/.exec(code)?.[0] ?? '']);
      if (hit) return hit;
    }
    for (const key of ['cause', 'meta', 'driverAdapterError']) {
      const found = visit(v[key], depth + 1);
      if (found) return found;
    }
    return null;
  };
  return visit(error, 0);
}

export function createDatabaseWatch({
  ping,
  onChange,
  log,
  retryMs = 2000,
}: DatabaseWatchDeps): DatabaseWatch {
  let state: DatabaseState = { available: true, since: Date.now(), message: null };
  let timer: NodeJS.Timeout | null = null;
  let checking = false;
  let closed = false;
  /** Writes failed for want of storage: only a commit clears that, not a ping (reads still work). */
  let writesFailing = false;

  /** A change of availability is announced; the same one again changes nothing (not `since`). */
  function set(available: boolean, message: string | null): void {
    if (available === state.available) return;
    state = { available, since: Date.now(), message };
    log(available ? 'database: answering again' : `database: unavailable (${message})`);
    onChange(state);
  }

  /** It answered a ping: back, unless writes are what fail. */
  function pingAnswered(): void {
    if (!writesFailing) set(true, null);
  }

  /** It did not answer (`cause`: what failed first): away, and pinged again until it answers. */
  function noAnswer(cause: unknown, error: unknown): void {
    set(false, messageOf(cause) || messageOf(error) || 'it does not answer');
    timer ??= setTimeout(() => {
      timer = null;
      void check(null);
    }, retryMs);
    timer.unref();
  }

  async function check(cause: unknown): Promise<void> {
    if (checking || closed) return;
    checking = true;
    try {
      await ping();
      pingAnswered();
    } catch (error) {
      noAnswer(cause, error);
    } finally {
      checking = false;
    }
  }

  return {
    get state() {
      return state;
    },
    suspect(error) {
      const failure = storageFailure(error);
      // Reads may still work: only a commit shows it takes writes again (see answered).
      if (failure) {
        writesFailing = true;
        set(false, failure);
      } else void check(error);
    },
    pinged(answered, error) {
      // The caller's ping is the answer: no second one.
      if (answered) pingAnswered();
      else if (!closed) noAnswer(null, error);
    },
    answered() {
      writesFailing = false;
      set(true, null);
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
