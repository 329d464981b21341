'use client';
/**
 * The page's one Socket.IO connection to the hub, and who "I" am. It connects on mount,
 * says hello (with the remembered display name) on every (re)connect, and exposes `session`,
 * which changes after each successful hello, so that watchers re-watch and catch up.
 */
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  type ReactNode,
} from 'react';
import { io, type Socket } from 'socket.io-client';
import {
  ERROR_CODES,
  PROTOCOL_VERSION,
  type BrowserAckData,
  type BrowserCommand,
  type BrowserPayload,
  type DatabaseState,
  type DatasetSizes,
  type ErrorCode,
  type Participant,
  type PresenceUser,
  type Result,
  type ServerToClientEvents,
} from '../../server/protocol';

/**
 * What the page sends. Each command's payload and answer are typed where it is sent, by
 * {@link Hub.call} (the protocol's BrowserPayload and BrowserAckData); the socket only carries
 * them, and the answer is checked to be the protocol's envelope before it is used.
 */
type Outgoing = Record<BrowserCommand, (payload: unknown, ack: (answer: unknown) => void) => void>;
export type HubSocket = Socket<ServerToClientEvents, Outgoing>;

const NAME_KEY = 'livetrain.name';
const ID_KEY = 'livetrain.participant';
const CREDENTIAL_KEY = 'livetrain.credential';

export interface Hub {
  socket: HubSocket | null;
  connected: boolean;
  /** Increments after each successful hello; 0 before the first. */
  session: number;
  me: Participant | null;
  /** Whether this hub asks for the team token (the page then offers to sign out). */
  tokenRequired: boolean;
  /** The sizes of the data set the hub's runs train on; null until hello, or when the hub cannot read it. */
  dataset: DatasetSizes | null;
  /** The remembered display name; null on a first visit (ask for one). */
  name: string | null;
  setName(name: string): void;
  /** Everyone connected (the runs page's "online"). */
  online: PresenceUser[];
  /** A connection-level problem to show, e.g. a refused token. */
  problem: string | null;
  /** The hub's database, when it does not answer (what is shown stays live but is not saved). */
  databaseAway: DatabaseState | null;
  call<K extends BrowserCommand>(
    event: K,
    payload: BrowserPayload<K>,
  ): Promise<Result<BrowserAckData[K]>>;
}

const HubContext = createContext<Hub | null>(null);

export function useHub(): Hub {
  const hub = useContext(HubContext);
  if (!hub) throw new Error('useHub() outside <HubProvider>');
  return hub;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;
const isErrorCode = (value: unknown): value is ErrorCode =>
  (ERROR_CODES as readonly unknown[]).includes(value);

/**
 * A success envelope. Its data's shape is the hub's side of the protocol, which this page is
 * built with (the same module), so the envelope is what is checked here.
 */
function isSuccess<K extends BrowserCommand>(
  answer: unknown,
): answer is { ok: true; data: BrowserAckData[K] } {
  return isRecord(answer) && answer.ok === true && 'data' in answer;
}

/** A command's answer, if it is the protocol's envelope; anything else becomes an INTERNAL failure. */
function envelope<K extends BrowserCommand>(event: K, answer: unknown): Result<BrowserAckData[K]> {
  if (
    isRecord(answer) &&
    answer.ok === false &&
    isErrorCode(answer.error) &&
    typeof answer.message === 'string'
  ) {
    return { ok: false, error: answer.error, message: answer.message, details: answer.details };
  }
  if (isSuccess<K>(answer)) return answer;
  return {
    ok: false,
    error: 'INTERNAL',
    message: `the hub answered ${event} with something that is not the protocol's envelope`,
  };
}

/** Who this browser was told it is: the id and credential of its last hello, if any. */
function storedIdentity(): { participantId?: string; credential?: string } {
  const participantId = localStorage.getItem(ID_KEY) ?? '';
  const credential = localStorage.getItem(CREDENTIAL_KEY) ?? '';
  if (!/^[A-Za-z0-9_-]{8,64}$/.test(participantId) || !/^[A-Za-z0-9_-]{16,128}$/.test(credential))
    return {};
  return { participantId, credential };
}

export function HubProvider({ children }: { children: ReactNode }) {
  const [socket, setSocket] = useState<HubSocket | null>(null);
  const [connected, setConnected] = useState(false);
  const [session, setSession] = useState(0);
  const [me, setMe] = useState<Participant | null>(null);
  const [tokenRequired, setTokenRequired] = useState(false);
  const [dataset, setDataset] = useState<DatasetSizes | null>(null);
  const [name, setNameState] = useState<string | null>(null);
  const [online, setOnline] = useState<PresenceUser[]>([]);
  const [problem, setProblem] = useState<string | null>(null);
  const [databaseAway, setDatabaseAway] = useState<DatabaseState | null>(null);
  const nameRef = useRef<string | null>(null);

  const hello = useCallback((s: HubSocket) => {
    const current = nameRef.current;
    if (!current) return;
    const payload: BrowserPayload<'hello'> = { name: current, ...storedIdentity() };
    s.timeout(10_000).emit('hello', payload, (err: Error | null, answer: unknown) => {
      if (err) return setProblem('the hub did not answer; retrying…');
      const result = envelope('hello', answer);
      if (!result.ok) return setProblem(result.message);
      setProblem(null);
      // The hub says who this browser is (a new participant when it could not prove the old one).
      localStorage.setItem(ID_KEY, result.data.participant.id);
      localStorage.setItem(CREDENTIAL_KEY, result.data.credential);
      setMe(result.data.participant);
      setTokenRequired(result.data.tokenRequired === true);
      setDataset(result.data.dataset ?? null);
      setSession((n) => n + 1);
    });
  }, []);

  useEffect(() => {
    nameRef.current = localStorage.getItem(NAME_KEY);
    setNameState(nameRef.current);
    const s: HubSocket = io({
      transports: ['websocket'],
      auth: { protocolVersion: PROTOCOL_VERSION },
    });
    s.on('connect', () => {
      setConnected(true);
      hello(s);
    });
    s.on('disconnect', () => {
      setConnected(false);
      // A hub that comes back says again if its database is still away.
      setDatabaseAway(null);
    });
    s.on('hub:database', (state) => setDatabaseAway(state.available ? null : state));
    // Another hub's broadcasts may have been lost: a new session reloads what they carried.
    s.on('hub:resync', () => setSession((n) => (n > 0 ? n + 1 : n)));
    s.on('connect_error', (error: Error & { data?: { error?: string; message?: string } }) => {
      const code = error.data?.error;
      if (code === 'UNAUTHORIZED') setProblem('This hub needs the team token: sign in at /login.');
      else if (code === 'UNSUPPORTED_VERSION')
        setProblem(`${error.data?.message ?? 'The hub was updated'}.`);
      else setProblem(`Cannot reach the hub (${error.message}); retrying…`);
    });
    s.on('presence', (msg) => {
      if (msg.runId === null) setOnline(msg.users);
    });
    setSocket(s);
    return () => {
      s.disconnect();
    };
  }, [hello]);

  const setName = useCallback(
    (next: string) => {
      const trimmed = next.trim().slice(0, 64);
      if (!trimmed) return;
      localStorage.setItem(NAME_KEY, trimmed);
      nameRef.current = trimmed;
      setNameState(trimmed);
      if (socket?.connected) hello(socket);
    },
    [socket, hello],
  );

  const call = useCallback(
    async <K extends BrowserCommand>(
      event: K,
      payload: BrowserPayload<K>,
    ): Promise<Result<BrowserAckData[K]>> => {
      if (!socket)
        return { ok: false, error: 'UNAVAILABLE', message: 'not connected to the hub yet' };
      try {
        const name: BrowserCommand = event;
        return envelope(event, await socket.timeout(15_000).emitWithAck(name, payload));
      } catch {
        return {
          ok: false,
          error: 'UNAVAILABLE',
          message: 'the hub did not answer in time; check the connection',
        };
      }
    },
    [socket],
  );

  const value = useMemo<Hub>(
    () => ({
      socket,
      connected,
      session,
      me,
      tokenRequired,
      dataset,
      name,
      setName,
      online,
      problem,
      databaseAway,
      call,
    }),
    [
      socket,
      connected,
      session,
      me,
      tokenRequired,
      dataset,
      name,
      setName,
      online,
      problem,
      databaseAway,
      call,
    ],
  );
  return <HubContext.Provider value={value}>{children}</HubContext.Provider>;
}
