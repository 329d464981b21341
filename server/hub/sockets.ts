/**
 * The hub's Socket.IO types. One server carries both namespaces (browsers on the default one,
 * trainer daemons on `/trainer`), and Socket.IO types a namespace with its server's event
 * maps, so the maps are the union of both peers' events (their names do not overlap) and
 * `socket.data` says which peer a socket is: `participant` once a browser said hello,
 * `trainer` once a daemon's handshake passed.
 */
import type { Namespace, RemoteSocket, Server, Socket } from 'socket.io';
import type {
  ClientToServerEvents,
  HubToTrainerEvents,
  Participant,
  ServerToClientEvents,
  TrainerToHubEvents,
} from '../protocol';
import type { InterHubEvents } from './cluster/relay';

/** A trainer daemon as it registered in its handshake. */
export interface TrainerData {
  trainerId: string;
  host: string;
  backend: string;
  device: string;
  concurrency: number;
  /** The daemon process's secret (protocol's trainer handshake), if it sent one. */
  instance?: string;
  /** Whether the scheduler may give it queued runs (false: it trains only runs it creates). */
  takesJobs: boolean;
}

export interface PeerData {
  /** A browser's participant, after its hello. */
  participant?: Participant;
  /** A trainer daemon's registration. */
  trainer?: TrainerData;
}

type Listen = ClientToServerEvents & TrainerToHubEvents;
type Emit = ServerToClientEvents & HubToTrainerEvents;

export type HubServer = Server<Listen, Emit, InterHubEvents, PeerData>;
export type HubNamespace = Namespace<Listen, Emit, InterHubEvents, PeerData>;
export type HubSocket = Socket<Listen, Emit, InterHubEvents, PeerData>;
/** A socket of this hub or (through the adapter) of another hub. */
export type AnySocket = HubSocket | RemoteSocket<Emit, PeerData>;
