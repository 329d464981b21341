/** A trainer's event as the seq of the live stream it becomes (see protocol's `wireEventSchema`). */
import type { WireEvent } from '../../protocol';
import { assertNever, type TrainerEvent } from '../../trainer/events';

export function toWireEvent(event: TrainerEvent, receivedAt: number): WireEvent {
  const seq = event.seq;
  switch (event.type) {
    case 'metrics:batch':
      return { seq, kind: 'point', point: { ...event.point, seq } };
    case 'metrics:epoch':
      return { seq, kind: 'epoch', epoch: { ...event.summary, seq, time: receivedAt } };
    case 'predictions':
      return {
        seq,
        kind: 'panel',
        panel: { seq, step: event.step, epoch: event.epoch, items: event.items, time: receivedAt },
      };
    case 'misclassified':
      return {
        seq,
        kind: 'misclassified',
        epoch: event.epoch,
        total: event.total,
        items: event.items,
      };
    case 'phase':
      return {
        seq,
        kind: 'progress',
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
      return { seq, kind: 'silent' };
    default:
      return assertNever(event);
  }
}
