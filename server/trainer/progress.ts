/**
 * A progress bar for headless training on stderr: epoch, batch, samples/s, loss and ETA.
 * On a terminal it redraws one line; otherwise it prints a line every few seconds.
 */
import { assertNever, type TrainerEvent } from './events';
import { formatClock } from '../format';
import { describeNonFinite } from './divergence';

/** A loss for the progress line; null is a loss that was not finite. */
const fmtLoss = (x: number | null) => (x === null ? 'not a number' : x.toFixed(4));

export interface ProgressOptions {
  stream: NodeJS.WriteStream;
  /** Minimum ms between non-TTY lines. */
  lineEveryMs?: number;
  now?: () => number;
}

export function renderBar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.floor(f * width);
  return '█'.repeat(full) + (full < width ? '░'.repeat(width - full) : '');
}

/** Consumes trainer events and draws progress. */
export function createProgress(opts: ProgressOptions) {
  const tty = Boolean(opts.stream.isTTY);
  const now = opts.now ?? Date.now;
  const lineEveryMs = opts.lineEveryMs ?? 5000;
  let totalSteps = 0;
  let batchesPerEpoch = 0;
  let epochs = 0;
  let startStep = 0;
  let batchSize = 0;
  let lastLine = 0;
  let lastEvalMs = 0;
  let line = '';

  const draw = (text: string, force = false) => {
    line = text;
    if (tty) {
      const width = opts.stream.columns ?? 100;
      // Pad to the full width so a shorter line overwrites all of the previous one.
      opts.stream.write(`\r${text.slice(0, width - 1).padEnd(width - 1)}`);
    } else if (force || now() - lastLine >= lineEveryMs) {
      opts.stream.write(`${text}\n`);
      lastLine = now();
    }
  };

  return {
    handle(event: TrainerEvent): void {
      switch (event.type) {
        case 'run:started':
          totalSteps = event.totalSteps;
          batchesPerEpoch = event.batchesPerEpoch;
          epochs = event.hyperparams.epochs;
          startStep = event.startStep;
          batchSize = event.hyperparams.batchSize;
          draw(
            `training on ${event.backend.name} (${event.backend.device}): ${event.trainSize} train / ${event.testSize} test images, ${totalSteps} steps`,
            true,
          );
          if (tty) opts.stream.write('\n');
          break;
        case 'metrics:batch': {
          const p = event.point;
          const remainingSteps = totalSteps - p.step;
          const remainingEvals = epochs - p.epoch + 1;
          const eta =
            (remainingSteps * batchSize) / Math.max(1, p.samplesPerSec) +
            (remainingEvals * lastEvalMs) / 1000;
          const frac = totalSteps > startStep ? (p.step - startStep) / (totalSteps - startStep) : 1;
          draw(
            `epoch ${p.epoch}/${epochs} ${renderBar(frac, 24)} ${(frac * 100).toFixed(0).padStart(3)}% ` +
              `batch ${p.batch + 1}/${batchesPerEpoch} · ${Math.round(p.samplesPerSec).toLocaleString('en-US')} samples/s · ` +
              `loss ${fmtLoss(p.loss)} · ETA ${formatClock(eta)}`,
          );
          break;
        }
        case 'phase':
          if (event.phase !== 'train') {
            draw(
              `epoch ${event.epoch}/${epochs} evaluating ${event.phase === 'eval-train' ? 'training' : 'test'} set ${renderBar(event.done / event.total, 24)} ${Math.round((100 * event.done) / event.total)}%`,
            );
          }
          break;
        case 'metrics:epoch': {
          const s = event.summary;
          lastEvalMs = s.evalMs;
          // trainAccuracy is null only when the training set was not evaluated; trainLoss also when not finite.
          const train =
            s.trainAccuracy === null
              ? ''
              : `train loss ${fmtLoss(s.trainLoss)} acc ${s.trainAccuracy.toFixed(2)}% · `;
          draw(
            `epoch ${s.epoch}/${epochs}: ${train}test loss ${fmtLoss(s.testLoss)} acc ${s.testAccuracy.toFixed(2)}% · ${Math.round(s.samplesPerSec).toLocaleString('en-US')} samples/s`,
            true,
          );
          if (tty) opts.stream.write('\n');
          break;
        }
        case 'status':
          if (event.status !== 'running') {
            draw(
              `${event.status}${event.message ? `: ${event.message}` : ''} at step ${event.step}`,
              true,
            );
            if (tty) opts.stream.write('\n');
          }
          break;
        case 'metrics:nonfinite':
          draw(describeNonFinite(event), true);
          if (tty) opts.stream.write('\n');
          break;
        case 'control':
        case 'checkpoint':
        case 'predictions':
        case 'misclassified':
          break;
        default:
          assertNever(event);
      }
    },
    get line() {
      return line;
    },
  };
}
