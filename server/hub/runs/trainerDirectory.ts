/**
 * Where the trainer daemons are: those connected to this hub, and (through the adapter) those
 * connected to any hub. A run's events are stored by the hub its trainer is connected to.
 */
import { everywhereOrHere } from '../cluster/reach';
import type { AnySocket, HubNamespace, TrainerData } from '../sockets';

export interface TrainerDirectory {
  /** Whether the trainer is connected to this hub (so that this hub stores its runs' events). */
  holds(trainerId: string | null): boolean;
  /**
   * The trainers connected to any hub, each with its registration. Asking the other hubs goes
   * through Redis; when that does not answer within `waitMs`, this hub's own (`everywhere: false`).
   */
  reachable(
    waitMs?: number,
  ): Promise<{ trainers: Array<{ socket: AnySocket; trainer: TrainerData }>; everywhere: boolean }>;
}

export function createTrainerDirectory(nsp: HubNamespace, shared: boolean): TrainerDirectory {
  const registered = (sockets: AnySocket[]) =>
    sockets.flatMap((socket) =>
      socket.data.trainer ? [{ socket, trainer: socket.data.trainer }] : [],
    );
  return {
    holds(trainerId) {
      if (!trainerId) return false;
      for (const socket of nsp.sockets.values())
        if (socket.data.trainer?.trainerId === trainerId) return true;
      return false;
    },
    async reachable(waitMs = 2000) {
      const { sockets, everywhere } = await everywhereOrHere<AnySocket[]>(
        shared,
        () => nsp.fetchSockets(),
        () => nsp.local.fetchSockets(),
        waitMs,
      );
      return { trainers: registered(sockets), everywhere };
    },
  };
}
