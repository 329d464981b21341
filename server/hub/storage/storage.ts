/**
 * The hub's storage layer: every database query the hub makes, named by what it answers and
 * returning the protocol's shapes (or the typed rows of server/db/rows.ts), on SQLite and
 * PostgreSQL alike. Nothing else in the hub touches the Prisma client.
 */
import type { Db } from '../../db/client';
import { createEventQueries } from './events';
import { createNoteQueries } from './notes';
import { createPeerQueries } from './peers';
import { createRunQueries } from './runs';
import { createSeriesQueries } from './series';

export type Provider = 'sqlite' | 'postgresql';

export function createStorage(db: Db, provider: Provider) {
  const series = createSeriesQueries(db, provider);
  return {
    provider,
    runs: createRunQueries(db, provider),
    events: createEventQueries(db, provider, series),
    series,
    notes: createNoteQueries(db),
    peers: createPeerQueries(db, provider),
  };
}
export type Storage = ReturnType<typeof createStorage>;
