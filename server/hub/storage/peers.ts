/** Queries about who takes part: trainer daemons, people (participants) and the checkpoints trainers upload. */
import type { Db } from '../../db/client';
import type { CheckpointRow } from '../../db/rows';

export function createPeerQueries(db: Db) {
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
    async registerTrainer(t: { id: string; host: string; backend: string; device: string; concurrency: number }): Promise<void> {
      const { id, ...rest } = t;
      await db.trainer.upsert({ where: { id }, create: t, update: { ...rest, lastSeenAt: new Date() } });
    },

    /**
     * Saves participants' names and colours: new ones in one statement; known ones get
     * `lastSeenAt`, and their name and colour when those changed.
     */
    async saveParticipants(batch: ReadonlyMap<string, { name: string; colour: string }>): Promise<void> {
      const ids = [...batch.keys()];
      const existing = await db.participant.findMany({ where: { id: { in: ids } } });
      const known = new Map(existing.map((p) => [p.id, p]));
      const fresh = ids.filter((id) => !known.has(id)).map((id) => ({ id, ...batch.get(id)! }));
      if (fresh.length) await db.participant.createMany({ data: fresh });
      const now = new Date();
      for (const [id, p] of known) {
        const next = batch.get(id)!;
        await db.participant.update({ where: { id }, data: { lastSeenAt: now, ...(p.name !== next.name || p.colour !== next.colour ? next : {}) } });
      }
    },

    /** The run's newest checkpoint whose file reached the hub, or null. */
    latestUploaded(runId: string): Promise<CheckpointRow | null> {
      return db.checkpoint.findFirst({ where: { runId, data: { not: null } }, orderBy: { seq: 'desc' } });
    },

    /** The run's newest checkpoint, uploaded or not, or null. */
    latestCheckpoint(runId: string): Promise<CheckpointRow | null> {
      return db.checkpoint.findFirst({ where: { runId }, orderBy: { seq: 'desc' } });
    },

    /** Stores the file of a checkpoint event; null when there is no such event. */
    async attachCheckpoint(runId: string, seq: number, data: Uint8Array, trainerId: string): Promise<{ id: number } | null> {
      const row = await db.checkpoint.update({ where: { runId_seq: { runId, seq } }, data: { data: Buffer.from(data), trainerId }, select: { id: true } }).catch(() => null);
      return row;
    },
  };
}
export type PeerQueries = ReturnType<typeof createPeerQueries>;
