/**
 * The run state machine: which status may follow which, and which control command a run
 * accepts in which status. Pure, so that the hub's handlers and the tests share one truth.
 *
 *   queued → running ⇄ paused → completed | stopped | failed | interrupted
 *   interrupted | stopped → queued (resume from the last checkpoint)
 */
import type { HubRunStatus } from '../../protocol';

const NEXT: Record<HubRunStatus, readonly HubRunStatus[]> = {
  queued: ['running', 'stopped', 'failed', 'interrupted', 'queued'],
  running: ['paused', 'completed', 'stopped', 'failed', 'interrupted', 'running'],
  paused: ['running', 'completed', 'stopped', 'failed', 'interrupted', 'paused'],
  interrupted: ['queued', 'stopped', 'running', 'paused', 'completed', 'failed'],
  stopped: ['queued'],
  completed: [],
  failed: [],
};

/** True when a run in `from` may move to `to` (same-status updates count as allowed). */
export function canTransition(from: HubRunStatus, to: HubRunStatus): boolean {
  return NEXT[from].includes(to);
}

export type ControlVerb = 'stop' | 'pause' | 'resume' | 'set-lr';

/**
 * What a control command does to a run in a given status:
 * - `forward`: send it to the trainer running the run;
 * - `requeue`: put the run back in the queue to resume from its last checkpoint;
 * - `stop-now`: the run holds no trainer, mark it stopped;
 * - `reject`: not possible in this status (the reason is the message).
 */
export type ControlPlan =
  | { kind: 'forward' }
  | { kind: 'requeue' }
  | { kind: 'stop-now' }
  | { kind: 'reject'; message: string };

export function planControl(status: HubRunStatus, verb: ControlVerb): ControlPlan {
  switch (verb) {
    case 'stop':
      if (status === 'running' || status === 'paused') return { kind: 'forward' };
      if (status === 'queued' || status === 'interrupted') return { kind: 'stop-now' };
      return { kind: 'reject', message: `the run is already ${status}` };
    case 'pause':
      if (status === 'running') return { kind: 'forward' };
      return {
        kind: 'reject',
        message: `only a running run can be paused (this one is ${status})`,
      };
    case 'resume':
      if (status === 'paused') return { kind: 'forward' };
      if (status === 'interrupted' || status === 'stopped') return { kind: 'requeue' };
      return {
        kind: 'reject',
        message: `only a paused, stopped or interrupted run can be resumed (this one is ${status})`,
      };
    case 'set-lr':
      if (status === 'running' || status === 'paused') return { kind: 'forward' };
      return {
        kind: 'reject',
        message: `the learning rate can change only while the run trains (this one is ${status})`,
      };
  }
}

/** The sentence recorded as an `event` annotation for a control action. */
export function describeControl(
  who: string,
  verb: ControlVerb | 'start',
  detail?: { learningRate?: number; from?: number },
): string {
  switch (verb) {
    case 'start':
      return `${who} started the run`;
    case 'stop':
      return `${who} stopped the run`;
    case 'pause':
      return `${who} paused the run`;
    case 'resume':
      return `${who} resumed the run`;
    case 'set-lr':
      return detail?.from !== undefined
        ? `${who} changed the learning rate from ${detail.from} to ${detail.learningRate}`
        : `${who} set the learning rate to ${detail?.learningRate}`;
  }
}
