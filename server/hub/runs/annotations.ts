/**
 * Annotations pinned to a step of a run: people's notes (editable and deletable by their
 * author, with the previous texts kept) and the hub's control events (who did what, when).
 * Adds and edits share one rate limit per participant, whichever way they arrive (socket or HTTP).
 */
import type { WireAnnotation } from '../../protocol';
import { HubError } from '../errors';
import { createRateLimiter } from '../rateLimit';
import { runRoom } from '../live/stream';
import type { HubServer } from '../sockets';
import type { Storage } from '../storage/storage';
import type { RunUpdates } from './updates';

/** Who asked: a participant's id (proved by its credential) and display name (HTTP clients are "api"), and from where. */
export interface Actor {
  id: string | null;
  name: string;
  /** The client's address (peers/proxies.ts clientAddress). */
  address: string;
}

/** Who the actor is for budgets and limits: the participant its credential proves, else its address. */
export const actorKey = (actor: Actor) =>
  actor.id ? `participant:${actor.id}` : `address:${actor.address}`;

/** An address may add or edit this many times a person's budget (several people behind one address). */
const ADDRESS_BUDGET_PEOPLE = 3;

export interface AnnotationDeps {
  storage: Pick<Storage, 'runs' | 'notes'>;
  updates: Pick<RunUpdates, 'changed'>;
  io: HubServer;
  /** Adds and edits allowed per participant per minute. */
  perMinute: number;
}

export function createAnnotations({ storage, updates, io, perMinute }: AnnotationDeps) {
  // Keyed on what the hub knows, not on names a client picks: the participant its credential
  // proves (HTTP clients have none: their address), and the address, which socket and HTTP
  // share, so that fresh participants from one place do not each get a fresh budget.
  const perPerson = createRateLimiter(perMinute, 60_000);
  const perAddress = createRateLimiter(perMinute * ADDRESS_BUDGET_PEOPLE, 60_000);

  function checkRate(actor: Actor): void {
    const person = actorKey(actor);
    if (!perPerson.allows(person) || !perAddress.allows(actor.address)) {
      throw new HubError(
        'RATE_LIMITED',
        'too many annotations in a short time; wait a little and try again',
      );
    }
    perPerson.take(person);
    perAddress.take(actor.address);
  }

  async function ownNote(actor: Actor, id: number) {
    const row = await storage.notes.find(id);
    if (!row) throw new HubError('NOT_FOUND', `no annotation ${id}`);
    if (row.kind !== 'note')
      throw new HubError('FORBIDDEN', 'control events are a record and cannot be changed');
    if (!actor.id || row.authorId !== actor.id)
      throw new HubError('FORBIDDEN', 'only its author can change an annotation');
    return row;
  }

  function added(annotation: WireAnnotation): WireAnnotation {
    updates.changed(annotation.runId);
    io.to(runRoom(annotation.runId)).emit('annotation:added', { annotation });
    return annotation;
  }

  return {
    list: (runId: string) => storage.notes.list(runId),

    /** Records a control event as an `event` annotation and shows it to the run's watchers. */
    async addEvent(
      runId: string,
      step: number,
      actor: Actor,
      text: string,
    ): Promise<WireAnnotation> {
      return added(
        await storage.notes.add({
          runId,
          step,
          kind: 'event',
          text,
          authorId: actor.id,
          authorName: actor.name,
        }),
      );
    },

    /** Shows watchers the notes stored with a run's events `seqs` (committed by now). */
    async recorded(runId: string, seqs: number[]): Promise<void> {
      for (const annotation of await storage.notes.ofEvents(runId, seqs)) added(annotation);
    },

    async addNote(
      actor: Actor,
      input: { runId: string; step: number; text: string },
    ): Promise<WireAnnotation> {
      if (!(await storage.runs.exists(input.runId)))
        throw new HubError('NOT_FOUND', `no run ${input.runId}`);
      checkRate(actor);
      return added(
        await storage.notes.add({
          runId: input.runId,
          step: input.step,
          kind: 'note',
          text: input.text,
          authorId: actor.id,
          authorName: actor.name,
        }),
      );
    },

    async editNote(actor: Actor, input: { id: number; text: string }): Promise<WireAnnotation> {
      const before = await ownNote(actor, input.id);
      checkRate(actor);
      const annotation = await storage.notes.edit(before, input.text, actor.name);
      updates.changed(annotation.runId);
      io.to(runRoom(annotation.runId)).emit('annotation:edited', { annotation });
      return annotation;
    },

    async deleteNote(actor: Actor, input: { id: number }): Promise<{ id: number }> {
      const row = await ownNote(actor, input.id);
      await storage.notes.remove(row.id);
      updates.changed(row.runId);
      io.to(runRoom(row.runId)).emit('annotation:deleted', { runId: row.runId, id: row.id });
      return { id: row.id };
    },
  };
}
export type Annotations = ReturnType<typeof createAnnotations>;
