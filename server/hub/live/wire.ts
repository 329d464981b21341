/** A trainer's event as the seq of the live stream it becomes (see protocol's `wireEventSchema`). */
import type { WireEvent } from '../../protocol';
import { assertNever, type TrainerEvent } from '../../trainer/events';

export function toWireEvent(event: TrainerEvent, receivedAt: number): WireEvent {
  const seq = event.seq;
  switch (event.type) {
    case 'metrics:batch':
      return { seq, type: 'point', point: { ...event.point, seq } };
    case 'metrics:epoch':
      return { seq, type: 'epoch', epoch: { ...event.summary, seq, time: receivedAt } };
    case 'predictions':
      return {
        seq,
        type: 'predictions',
        predictions: {
          seq,
          step: event.step,
          epoch: event.epoch,
          items: event.items,
          time: receivedAt,
        },
      };
    case 'misclassified':
      return {
        seq,
        type: 'misclassified',
        epoch: event.epoch,
        total: event.total,
        items: event.items,
      };
    case 'phase':
      return {
        seq,
        type: 'progress',
        phase: event.phase,
        epoch: event.epoch,
        done: event.done,
        total: event.total,
      };
    case 'run:started':
    case 'checkpoint':
    case 'status':
    case 'control':
    case 'metrics:nonfinite': // its note reaches watchers as an annotation once stored
      return { seq, type: 'silent' };
    default:
      return assertNever(event);
  }
}
