/**
 * The run's log of people's commands ("Ada stopped the run"), at the step each took effect.
 * A command forwarded to a trainer takes effect between two batches, after the hub last heard
 * of a step, so the note waits for the trainer's `control` event, which says at which step
 * it was applied. If the trainer does not confirm within `confirmMs` (it went away), the note
 * is written at the last step the hub knew, saying so.
 */
import type { Actor, Annotations } from './annotations';
import type { ControlVerb } from './lifecycle';

interface Pending {
  verb: ControlVerb;
  actor: Actor;
  text: string;
  timer: NodeJS.Timeout;
}

export interface ControlLogDeps {
  annotations: Pick<Annotations, 'addEvent'>;
  /** The last step the hub knows of a run (for a command never confirmed). */
  lastStep: (runId: string) => number;
  log: (line: string) => void;
  confirmMs?: number;
}

export function createControlLog({
  annotations,
  lastStep,
  log,
  confirmMs = 60_000,
}: ControlLogDeps) {
  const pending = new Map<string, Pending[]>();
  const write = (runId: string, step: number, p: Pending, text = p.text) =>
    annotations
      .addEvent(runId, step, p.actor, text)
      .catch((error: unknown) =>
        log(
          `run ${runId}: could not log "${text}": ${error instanceof Error ? error.message : error}`,
        ),
      );

  function take(runId: string, match: (p: Pending) => boolean): Pending | null {
    const list = pending.get(runId);
    const i = list?.findIndex(match) ?? -1;
    if (!list || i < 0) return null;
    const [p] = list.splice(i, 1);
    if (list.length === 0) pending.delete(runId);
    clearTimeout(p.timer);
    return p;
  }

  return {
    /** Notes a command sent to the run's trainer; logged once the trainer applies it. */
    expect(runId: string, verb: ControlVerb, actor: Actor, text: string): void {
      const p: Pending = {
        verb,
        actor,
        text,
        timer: setTimeout(() => {
          if (take(runId, (q) => q === p))
            void write(runId, lastStep(runId), p, `${text} (the trainer did not confirm it)`);
        }, confirmMs),
      };
      p.timer.unref();
      const list = pending.get(runId);
      if (list) list.push(p);
      else pending.set(runId, [p]);
    },
    /** The trainer applied `verb` to the run after step `step` (its control event). */
    applied(runId: string, verb: ControlVerb, step: number): void {
      const p = take(runId, (q) => q.verb === verb);
      if (p) void write(runId, step, p);
    },
    /** Logs at once (a command the hub carried out itself, e.g. stopping a queued run). */
    now: (runId: string, step: number, actor: Actor, text: string) =>
      annotations.addEvent(runId, step, actor, text),
    close(): void {
      for (const list of pending.values()) for (const p of list) clearTimeout(p.timer);
      pending.clear();
    },
  };
}
export type ControlLog = ReturnType<typeof createControlLog>;
