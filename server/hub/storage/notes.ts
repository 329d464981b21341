/** Queries about annotations: people's notes (with their earlier texts) and control events. */
import type { Db } from '../../db/client';
import type { AnnotationRow } from '../../db/rows';
import type { WireAnnotation } from '../../protocol';
import { toWireAnnotation } from './toWire';

const withEdits = { _count: { select: { edits: true } } } as const;

export function createNoteQueries(db: Db) {
  return {
    /** A run's annotations by step, then by id. */
    async list(runId: string): Promise<WireAnnotation[]> {
      const rows = await db.annotation.findMany({
        where: { runId },
        orderBy: [{ step: 'asc' }, { id: 'asc' }],
        include: withEdits,
      });
      return rows.map(toWireAnnotation);
    },

    /** The newest `limit` annotations (by id), in list order (step, then id), and how many there are. */
    async latest(
      runId: string,
      limit: number,
    ): Promise<{ annotations: WireAnnotation[]; total: number }> {
      const [rows, total] = await Promise.all([
        db.annotation.findMany({
          where: { runId },
          orderBy: { id: 'desc' },
          take: limit,
          include: withEdits,
        }),
        db.annotation.count({ where: { runId } }),
      ]);
      rows.sort((a, b) => a.step - b.step || a.id - b.id);
      return { annotations: rows.map(toWireAnnotation), total };
    },

    async add(note: {
      runId: string;
      step: number;
      kind: 'note' | 'event';
      text: string;
      authorId: string | null;
      authorName: string;
    }): Promise<WireAnnotation> {
      return toWireAnnotation(await db.annotation.create({ data: note, include: withEdits }));
    },

    /** The notes recorded from a run's events with these seqs (a trainer's, e.g. a loss that became NaN). */
    async ofEvents(runId: string, seqs: number[]): Promise<WireAnnotation[]> {
      const rows = await db.annotation.findMany({
        where: { runId, seq: { in: seqs } },
        orderBy: { id: 'asc' },
        include: withEdits,
      });
      return rows.map(toWireAnnotation);
    },

    /** The stored annotation, or null. */
    find(id: number): Promise<AnnotationRow | null> {
      return db.annotation.findUnique({ where: { id } });
    },

    /** Replaces a note's text, keeping the one it had. */
    async edit(before: AnnotationRow, text: string, editedBy: string): Promise<WireAnnotation> {
      const [, row] = await db.$transaction([
        db.annotationEdit.create({
          data: { annotationId: before.id, previousText: before.text, editedBy },
        }),
        db.annotation.update({ where: { id: before.id }, data: { text }, include: withEdits }),
      ]);
      return toWireAnnotation(row);
    },

    async remove(id: number): Promise<void> {
      await db.annotation.delete({ where: { id } });
    },
  };
}
