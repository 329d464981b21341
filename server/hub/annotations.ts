/**
 * Annotations pinned to a step of a run: people's notes (editable and deletable by their
 * author, with the previous texts kept) and the hub's control events (who did what, when).
 * Adds and edits are rate-limited per participant.
 */
import type { WireAnnotation } from '../protocol';
import { HubError, type HubContext } from './context';
import { bumpRunVersion } from './snapshot';
import { runRoom } from './stream';
import { toWireAnnotation } from './wire';
import type { Actor } from './runs';

const withEdits = { _count: { select: { edits: true } } } as const;

/** A sliding-window limiter: `limit` actions per `windowMs` per key. */
export function createRateLimiter(limit: number, windowMs: number, now: () => number = Date.now) {
  const hits = new Map<string, number[]>();
  return {
    /** Records an action; false when the key is over its limit (nothing recorded). */
    take(key: string): boolean {
      const t = now();
      const recent = (hits.get(key) ?? []).filter((h) => t - h < windowMs);
      if (recent.length >= limit) {
        hits.set(key, recent);
        return false;
      }
      recent.push(t);
      hits.set(key, recent);
      return true;
    },
  };
}
export type RateLimiter = ReturnType<typeof createRateLimiter>;

export async function listAnnotations(ctx: HubContext, runId: string): Promise<WireAnnotation[]> {
  const rows = await ctx.db.annotation.findMany({ where: { runId }, orderBy: [{ step: 'asc' }, { id: 'asc' }], include: withEdits });
  return rows.map(toWireAnnotation);
}

/** Records a control event as an `event` annotation and shows it to the run's watchers. */
export async function addEventAnnotation(ctx: HubContext, runId: string, step: number, actor: Actor, text: string): Promise<WireAnnotation> {
  const row = await ctx.db.annotation.create({
    data: { runId, step, kind: 'event', text, authorId: actor.id, authorName: actor.name },
    include: withEdits,
  });
  const annotation = toWireAnnotation(row);
  bumpRunVersion(ctx, runId);
  ctx.io.to(runRoom(runId)).emit('annotation:added', { annotation });
  return annotation;
}

function checkRate(limiter: RateLimiter, actor: Actor): void {
  if (!limiter.take(actor.id ?? actor.name)) {
    throw new HubError('RATE_LIMITED', 'too many annotations in a short time; wait a little and try again');
  }
}

export async function addNote(ctx: HubContext, limiter: RateLimiter, actor: Actor, input: { runId: string; step: number; text: string }): Promise<WireAnnotation> {
  const run = await ctx.db.run.findUnique({ where: { id: input.runId }, select: { id: true } });
  if (!run) throw new HubError('NOT_FOUND', `no run ${input.runId}`);
  checkRate(limiter, actor);
  const row = await ctx.db.annotation.create({
    data: { runId: input.runId, step: input.step, kind: 'note', text: input.text, authorId: actor.id, authorName: actor.name },
    include: withEdits,
  });
  const annotation = toWireAnnotation(row);
  bumpRunVersion(ctx, input.runId);
  ctx.io.to(runRoom(input.runId)).emit('annotation:added', { annotation });
  return annotation;
}

async function ownNote(ctx: HubContext, actor: Actor, id: number) {
  const row = await ctx.db.annotation.findUnique({ where: { id } });
  if (!row) throw new HubError('NOT_FOUND', `no annotation ${id}`);
  if (row.kind !== 'note') throw new HubError('FORBIDDEN', 'control events are a record and cannot be changed');
  if (!actor.id || row.authorId !== actor.id) throw new HubError('FORBIDDEN', 'only its author can change an annotation');
  return row;
}

export async function editNote(ctx: HubContext, limiter: RateLimiter, actor: Actor, input: { id: number; text: string }): Promise<WireAnnotation> {
  const before = await ownNote(ctx, actor, input.id);
  checkRate(limiter, actor);
  const [, row] = await ctx.db.$transaction([
    ctx.db.annotationEdit.create({ data: { annotationId: before.id, previousText: before.text, editedBy: actor.name } }),
    ctx.db.annotation.update({ where: { id: before.id }, data: { text: input.text }, include: withEdits }),
  ]);
  const annotation = toWireAnnotation(row);
  bumpRunVersion(ctx, row.runId);
  ctx.io.to(runRoom(row.runId)).emit('annotation:edited', { annotation });
  return annotation;
}

export async function deleteNote(ctx: HubContext, actor: Actor, input: { id: number }): Promise<{ id: number }> {
  const row = await ownNote(ctx, actor, input.id);
  await ctx.db.annotation.delete({ where: { id: row.id } });
  bumpRunVersion(ctx, row.runId);
  ctx.io.to(runRoom(row.runId)).emit('annotation:deleted', { runId: row.runId, id: row.id });
  return { id: row.id };
}
