/**
 * Run management: what people change about a run besides its training — its name,
 * description and tags; archiving (hidden from the runs list by default, every row kept) and
 * restoring; deleting for good, which needs the run's name typed again and removes everything
 * stored of it (events, notes, checkpoints). Each change is announced to everyone.
 */
import {
  assertNever,
  isFinished,
  MAX_TAGS,
  tagKey,
  uniqueTags,
  type RunManageResult,
  type RunsManageAction,
  type RunSummary,
} from '../../protocol';
import type { HubServer } from '../sockets';
import { HubError, toFailure } from '../errors';
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
  log?: (line: string) => void;
}

export function createRunManagement({
  storage,
  registry,
  updates,
  annotations,
  io,
  log,
}: RunManagementDeps) {
  /** The run, which must have ended (a training run is stopped first). */
  async function ended(runId: string, what: string): Promise<RunSummary> {
    const run = await updates.summary(runId);
    if (!isFinished(run.status))
      throw new HubError('CONFLICT', `the run is ${run.status}: stop it before you ${what} it`);
    return run;
  }

  function announce(run: RunSummary): RunSummary {
    updates.changed(run.id);
    io.emit('runs:changed', { run });
    return run;
  }

  const api = {
    async edit(
      runId: string,
      fields: { name?: string; description?: string; tags?: string[] },
      actor: Actor,
    ): Promise<RunSummary> {
      const before = await updates.summary(runId);
      const run = await storage.runs.edit(runId, fields);
      if (fields.name !== undefined && fields.name !== before.name)
        await annotations.addEvent(
          runId,
          run.lastStep,
          actor,
          `${actor.name} renamed the run from “${before.name}” to “${run.name}”`,
        );
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
        throw new HubError('INVALID', "the name typed is not the run's: nothing was deleted", {
          confirmName: `type the run's name, “${run.name}”, to delete it and everything stored of it`,
        });
      }
      return removeNow(runId, actor);
    },

    /** Adds and removes tags (compared without regard to case; an added one keeps its spelling). */
    async retag(
      runId: string,
      add: readonly string[],
      remove: readonly string[],
      actor: Actor,
    ): Promise<RunSummary> {
      const run = await updates.summary(runId);
      const gone = new Set(remove.map(tagKey));
      const tags = uniqueTags([...run.tags.filter((t) => !gone.has(tagKey(t))), ...add]);
      if (tags.length > MAX_TAGS)
        throw new HubError(
          'INVALID',
          `the run would have ${tags.length} tags; a run has at most ${MAX_TAGS}`,
        );
      if (tags.length === run.tags.length && tags.every((t, i) => t === run.tags[i])) return run;
      return api.edit(runId, { tags }, actor);
    },

    /**
     * The same change to several runs (the runs page's ticked rows), each as its own command
     * would make it, one after another: a run that cannot take it (running, gone, archived
     * already) is reported with why, and the others are still changed.
     */
    async many(
      runIds: readonly string[],
      action: RunsManageAction,
      actor: Actor,
    ): Promise<RunManageResult[]> {
      const results: RunManageResult[] = [];
      for (const runId of runIds) {
        try {
          switch (action.kind) {
            case 'archive':
              results.push({ runId, ok: true, run: await api.archive(runId, actor) });
              break;
            case 'restore':
              results.push({ runId, ok: true, run: await api.restore(runId, actor) });
              break;
            case 'tag':
              results.push({
                runId,
                ok: true,
                run: await api.retag(runId, action.add, action.remove, actor),
              });
              break;
            case 'delete':
              // The count typed again (checked with the payload) stands for each run's name.
              await ended(runId, 'delete');
              await removeNow(runId, actor);
              results.push({ runId, ok: true, run: null });
              break;
            default:
              assertNever(action);
          }
        } catch (error) {
          const failure = toFailure(error, log);
          results.push({ runId, ok: false, error: failure.error, message: failure.message });
        }
      }
      return results;
    },
  };
  return api;

  async function removeNow(runId: string, actor: Actor): Promise<{ runId: string }> {
    await storage.runs.remove(runId);
    if (registry.get(runId)) registry.release(runId);
    updates.changed(runId);
    io.emit('runs:deleted', { runId, by: actor.name });
    return { runId };
  }
}
export type RunManagement = ReturnType<typeof createRunManagement>;
