/**
 * Run control between batches: pause/resume, stop, learning-rate change. The fit loop calls
 * {@link RunControl.checkpoint} before every batch; requests made meanwhile take effect there.
 */

export type ControlAction = 'pause' | 'resume' | 'stop' | 'set-lr';

export class ControlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlError';
  }
}

export interface RunControl {
  pause(): void;
  resume(): void;
  stop(): void;
  setLearningRate(lr: number): void;
  readonly paused: boolean;
  readonly stopRequested: boolean;
}

/** What the loop must do at a batch boundary. */
export interface ControlHooks {
  onApplied(action: ControlAction, learningRate?: number): void;
  applyLearningRate(lr: number): void;
}

export interface ControlState extends RunControl {
  /** Applies pending requests; while paused, waits for resume or stop. Returns false on stop. */
  checkpoint(hooks: ControlHooks): Promise<boolean>;
}

/** Valid learning rates: finite, positive, at most 10 (same bound as the hyperparameters). */
export function validateLearningRate(lr: number): void {
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr <= 0 || lr > 10) {
    throw new ControlError(`learning rate must be a number in (0, 10], got ${String(lr)}`);
  }
}

export function createControl(): ControlState {
  let pauseRequested = false;
  let paused = false;
  let stopRequested = false;
  let pendingLr: number | null = null;
  let wake: (() => void) | null = null;

  const poke = () => {
    wake?.();
    wake = null;
  };

  return {
    pause() {
      if (stopRequested) throw new ControlError('run is stopping');
      pauseRequested = true;
    },
    resume() {
      pauseRequested = false;
      poke();
    },
    stop() {
      stopRequested = true;
      poke();
    },
    setLearningRate(lr) {
      validateLearningRate(lr);
      pendingLr = lr;
      poke();
    },
    get paused() {
      return paused;
    },
    get stopRequested() {
      return stopRequested;
    },
    async checkpoint(hooks) {
      for (;;) {
        if (pendingLr !== null) {
          const lr = pendingLr;
          pendingLr = null;
          hooks.applyLearningRate(lr);
          hooks.onApplied('set-lr', lr);
        }
        if (stopRequested) {
          paused = false;
          hooks.onApplied('stop');
          return false;
        }
        if (pauseRequested && !paused) {
          paused = true;
          hooks.onApplied('pause');
        } else if (!pauseRequested && paused) {
          paused = false;
          hooks.onApplied('resume');
        }
        if (!paused) return true;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
  };
}
