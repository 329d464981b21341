/**
 * Run management: what people change about a run besides its training — its name,
 * description and tags; archiving (hidden from the runs list by default, every row kept) and
 * restoring; deleting for good, which needs the run's name typed again and removes everything
 * stored of it (events, notes, checkpoints). Each change is announced to everyone.
 */
import { isFinished, type RunSummary } from '../../protocol';
import type { HubServer } from '../sockets';
import { HubError } from '../errors';
import type { Storage } from '../storage/storage';
import type { Actor, Annotations } from './annotations';
import type { RunRegistry } from './registry';
import type { RunUpdates } from './updates';

export interface RunManagementDeps {
  storage: Pick<Storage, 'runs'>;
  registry: Pick<RunRegistry, 'get' | 'release'>;
  updates: Pick<RunUpdates, 'summary' | 'changed'>;
  annotations: Pick<Annotations, 'addEvent'>;
  io: HubServer;
}

export function createRunManagement({ storage, registry, updates, annotations, io }: RunManagementDeps) {
  /** The run, which must have ended (a training run is stopped first). */
  async function ended(runId: string, what: string): Promise<RunSummary> {
    const run = await updates.summary(runId);
    if (!isFinished(run.status)) throw new HubError('CONFLICT', `the run is ${run.status}: stop it before you ${what} it`);
    return run;
  }

  function announce(run: RunSummary): RunSummary {
    updates.changed(run.id);
    io.emit('runs:changed', { run });
    return run;
  }

  return {
    async edit(runId: string, fields: { name?: string; description?: string; tags?: string[] }, actor: Actor): Promise<RunSummary> {
      const before = await updates.summary(runId);
      const run = await storage.runs.edit(runId, fields);
      if (fields.name !== undefined && fields.name !== before.name) await annotations.addEvent(runId, run.lastStep, actor, `${actor.name} renamed the run from “${before.name}” to “${run.name}”`);
      return announce(run);
    },

    async archive(runId: string, actor: Actor): Promise<RunSummary> {
      const run = await ended(runId, 'archive');
      if (run.archivedAt) throw new HubError('CONFLICT', 'the run is archived already');
      await annotations.addEvent(runId, run.lastStep, actor, `${actor.name} archived the run`);
      return announce(await storage.runs.setArchived(runId, new Date()));
    },

    async restore(runId: string, actor: Actor): Promise<RunSummary> {
      const run = await updates.summary(runId);
      if (!run.archivedAt) throw new HubError('CONFLICT', 'the run is not archived');
      await annotations.addEvent(runId, run.lastStep, actor, `${actor.name} restored the run`);
      return announce(await storage.runs.setArchived(runId, null));
    },

    /** Deletes the run for good when `confirmName` is its name, exactly. */
    async remove(runId: string, confirmName: string, actor: Actor): Promise<{ runId: string }> {
      const run = await ended(runId, 'delete');
      if (confirmName !== run.name) {
        throw new HubError('INVALID', 'the name typed is not the run\'s: nothing was deleted', { confirmName: `type the run's name, “${run.name}”, to delete it and everything stored of it` });
      }
      await storage.runs.remove(runId);
      if (registry.get(runId)) registry.release(runId);
      updates.changed(runId);
      io.emit('runs:deleted', { runId, by: actor.name });
      return { runId };
    },
  };
}
export type RunManagement = ReturnType<typeof createRunManagement>;
