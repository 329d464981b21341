/** Queries about who takes part: trainer daemons, people (participants) and the checkpoints trainers upload. */
import { bulkInsert, inBatch } from '../../db/bulk';
import type { Db } from '../../db/client';
import type { CheckpointRow } from '../../db/rows';

export function createPeerQueries(db: Db, provider: 'sqlite' | 'postgresql') {
  return {
    /**
     * A secret of this deployment, the same for every hub on the database: the stored one, or
     * `fresh` stored now (the first hub to ask wins, the others read it back).
     */
    async secret(name: string, fresh: string): Promise<string> {
      await db.$executeRaw`INSERT INTO "HubSecret" ("name", "value") VALUES (${name}, ${fresh}) ON CONFLICT DO NOTHING`;
      return (await db.hubSecret.findUniqueOrThrow({ where: { name } })).value;
    },

    /** Records a trainer daemon as it registered (again). */
    async registerTrainer(t: {
      id: string;
      host: string;
      backend: string;
      device: string;
      concurrency: number;
    }): Promise<void> {
      const { id, ...rest } = t;
      await db.trainer.upsert({
        where: { id },
        create: t,
        update: { ...rest, lastSeenAt: new Date() },
      });
    },

    /**
     * Saves participants' names and colours: new ones are created, known ones get this name,
     * colour and `lastSeenAt`. Raw multi-row upserts: `createMany` compiles a plan per row count
     * on the hub's event loop (a crowd arriving at once stalls it), then needs one `update` each.
     */
    async saveParticipants(
      batch: ReadonlyMap<string, { name: string; colour: string }>,
    ): Promise<void> {
      const now = new Date();
      const rows = [...batch].map(([id, p]) => [id, p.name, p.colour, now, now]);
      await inBatch(
        db,
        bulkInsert(
          provider,
          'Participant',
          ['id', 'name', 'colour', 'createdAt', 'lastSeenAt'],
          rows,
          { key: ['id'], set: ['name', 'colour', 'lastSeenAt'] },
        ),
      );
    },

    /** The run's newest checkpoint whose file reached the hub, or null. */
    latestUploaded(runId: string): Promise<CheckpointRow | null> {
      return db.checkpoint.findFirst({
        where: { runId, data: { not: null } },
        orderBy: { seq: 'desc' },
      });
    },

    /** The run's newest checkpoint, uploaded or not, or null. */
    latestCheckpoint(runId: string): Promise<CheckpointRow | null> {
      return db.checkpoint.findFirst({ where: { runId }, orderBy: { seq: 'desc' } });
    },

    /** Stores the file of a checkpoint event; null when there is no such event. */
    async attachCheckpoint(
      runId: string,
      seq: number,
      data: Uint8Array,
      trainerId: string,
    ): Promise<{ id: number } | null> {
      const row = await db.checkpoint
        .update({
          where: { runId_seq: { runId, seq } },
          data: { data: Buffer.from(data), trainerId },
          select: { id: true },
        })
        .catch(() => null);
      return row;
    },
  };
}
export type PeerQueries = ReturnType<typeof createPeerQueries>;
