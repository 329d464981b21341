/**
 * The hub side of bench/chart: the real hub (server/index.ts, production dashboard, fresh
 * SQLite file, no local trainer) as a tracked child process, and a hand-written trainer peer
 * on `/trainer` that takes runs and sends synthetic but realistic batch points as fast as the
 * hub stores them (preload) or at a fixed rate (live streaming).
 */
import os from 'node:os';
import path from 'node:path';
import { io, type Socket } from 'socket.io-client';
import {
  PROTOCOL_VERSION,
  TRAINER_NAMESPACE,
  type HubToTrainerEvents,
  type Result,
  type TrainerJob,
  type TrainerToHubEvents,
} from '../../server/protocol';
import { hyperparamsSchema } from '../../server/trainer/config';
import type { TrainerEvent } from '../../server/trainer/events';
import { outputOf, spawnEntry, tempDir } from './children';

/** MNIST's training set at batch 32. */
const TRAIN_SIZE = 60_000;
const BATCH_SIZE = 32;
const BATCHES_PER_EPOCH = Math.ceil(TRAIN_SIZE / BATCH_SIZE);
/** Simulated training speed of the preloaded history (its points' `time`). */
const PRELOAD_MS_PER_STEP = 10;
/** Events per `trainer:events` message and messages in flight while preloading. */
const CHUNK = 5000;
const WINDOW = 4;

/** Polls `check` every 100 ms until it returns something other than undefined/false. */
export async function until<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts the hub on a free port with its own temp database; resolves with its URL. */
export async function startHub(): Promise<{ url: string; output: () => string }> {
  const dir = await tempDir('livetrain-chart-');
  // The bench talks to the hub without tokens; children inherit this process's environment.
  delete process.env.LIVETRAIN_TOKEN;
  delete process.env.LIVETRAIN_TRAINER_TOKEN;
  const child = spawnEntry('server/index.ts', [
    '--port',
    '0',
    '--no-local-trainer',
    '--database-url',
    `file:${path.join(dir, 'chart.db')}`,
  ]);
  const url = await until(
    () => {
      if (child.exitCode !== null)
        throw new Error(`the hub exited (${child.exitCode}):\n${outputOf(child)}`);
      return /listening on (http:\/\/[^\s]+)/.exec(outputOf(child))?.[1];
    },
    'hub listening',
    120_000,
  );
  return { url, output: () => outputOf(child) };
}

/** A JSON API call; throws on an error envelope. */
export async function api<T>(url: string, method: 'GET' | 'POST', body?: unknown): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as Result<T>;
  if (!json.ok) throw new Error(`${method} ${url}: ${json.error} ${json.message}`);
  return json.data;
}

/** Deterministic PRNG (mulberry32), so every invocation sends the same curves. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One run held by the fake trainer: its next seq/step and its point generator. */
class BenchRun {
  private seq = 1;
  private step = 0;
  private readonly random: () => number;
  constructor(
    readonly runId: string,
    seed: number,
  ) {
    this.random = prng(seed);
  }

  /** Points sent so far (= last step). */
  get points(): number {
    return this.step;
  }

  started(): TrainerEvent {
    const hyperparams = hyperparamsSchema.parse({ epochs: 60, batchSize: BATCH_SIZE });
    return {
      runId: this.runId,
      seq: this.seq++,
      type: 'run:started',
      hyperparams,
      backend: { name: 'wasm', device: 'bench (fake trainer)', host: os.hostname() },
      trainSize: TRAIN_SIZE,
      testSize: 10_000,
      batchesPerEpoch: BATCHES_PER_EPOCH,
      totalSteps: BATCHES_PER_EPOCH * hyperparams.epochs,
      startStep: 0,
      parameterCount: 21_840,
      time: Date.now(),
    };
  }

  /**
   * The next `n` batch points: loss decays from ~2.3 towards ~0.05 with multiplicative noise
   * and a rare spike (×2–5); accuracy is the batch's share right, so a multiple of 1/32.
   */
  next(n: number, time: (step: number) => number): TrainerEvent[] {
    const out: TrainerEvent[] = [];
    for (let i = 0; i < n; i++) {
      const step = ++this.step;
      const r = this.random;
      const clean = 0.05 + 2.25 * Math.exp(-step / 2500) + 0.15 * Math.exp(-step / 30_000);
      const spike = r() < 0.002 ? 2 + 3 * r() : 1;
      const loss = clean * Math.exp((r() + r() + r() - 1.5) * 0.5) * spike;
      const pRight = Math.min(0.995, Math.max(0.08, 1 - loss / 2.5));
      let right = 0;
      for (let k = 0; k < BATCH_SIZE; k++) if (r() < pRight) right++;
      const point = {
        step,
        epoch: Math.floor((step - 1) / BATCHES_PER_EPOCH) + 1,
        batch: (step - 1) % BATCHES_PER_EPOCH,
        loss,
        accuracy: (100 * right) / BATCH_SIZE,
        learningRate: 0.01,
        samplesPerSec: 3000 + 300 * (r() - 0.5),
        time: time(step),
      };
      out.push({ runId: this.runId, seq: this.seq++, type: 'metrics:batch', point });
    }
    return out;
  }
}

/** A message sent while streaming: when, and how many points the run had after it. */
export interface Sent {
  wall: number;
  total: number;
}

/** The `/trainer` peer: takes every run the hub assigns and sends its points on request. */
export class FakeTrainer {
  private readonly runs = new Map<string, BenchRun>();
  private constructor(private readonly socket: Socket<HubToTrainerEvents, TrainerToHubEvents>) {
    socket.on('job:assign', (job: TrainerJob, ack) => {
      this.runs.set(job.runId, new BenchRun(job.runId, this.runs.size + 1));
      ack({ ok: true, data: { runId: job.runId } });
    });
  }

  /** Connects to the hub's trainer namespace, taking up to `concurrency` runs at once. */
  static async connect(url: string, concurrency = 4): Promise<FakeTrainer> {
    const socket: Socket<HubToTrainerEvents, TrainerToHubEvents> = io(
      new URL(TRAINER_NAMESPACE, url).toString(),
      {
        transports: ['websocket'],
        forceNew: true,
        reconnection: false,
        auth: {
          protocolVersion: PROTOCOL_VERSION,
          trainerId: 'bench-chart',
          backend: { name: 'wasm', device: 'bench', host: os.hostname() },
          concurrency,
          runs: [],
        },
      },
    );
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    return new FakeTrainer(socket);
  }

  /** Creates a run over the API and waits until the hub has assigned it here. */
  async createRun(url: string, name: string): Promise<string> {
    const { run } = await api<{ run: { id: string } }>(`${url}/api/runs`, 'POST', {
      name,
      hyperparams: { epochs: 60, batchSize: BATCH_SIZE },
    });
    return until(
      () => this.runs.has(run.id) && run.id,
      `run ${run.id} assigned to the fake trainer`,
      30_000,
    );
  }

  private async send(runId: string, events: TrainerEvent[]): Promise<number> {
    const result = await this.socket
      .timeout(120_000)
      .emitWithAck('trainer:events', { runId, events });
    if (!result.ok) throw new Error(`trainer:events refused: ${result.error} ${result.message}`);
    return result.data.storedSeq;
  }

  /** Sends `run:started` and `n` points as fast as the hub takes them; resolves once all are stored. */
  async preload(runId: string, n: number): Promise<void> {
    const run = this.runs.get(runId)!;
    const t0 = Date.now() - n * PRELOAD_MS_PER_STEP;
    const inFlight = new Set<Promise<number>>();
    const track = (p: Promise<number>) => {
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p)).catch(() => {});
    };
    track(this.send(runId, [run.started()]));
    while (run.points < n) {
      if (inFlight.size >= WINDOW) await Promise.race(inFlight);
      track(
        this.send(
          runId,
          run.next(Math.min(CHUNK, n - run.points), (step) => t0 + step * PRELOAD_MS_PER_STEP),
        ),
      );
    }
    await Promise.all(inFlight);
  }

  /**
   * Streams `rate` points/s for `seconds`, one message every `tickMs` (scheduled on absolute
   * times, so a late tick does not lower the rate); each point's `time` is its send time.
   */
  async stream(runId: string, rate: number, seconds: number, tickMs = 50): Promise<Sent[]> {
    const run = this.runs.get(runId)!;
    const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
    const ticks = Math.round((seconds * 1000) / tickMs);
    const sent: Sent[] = [];
    const acks: Promise<number>[] = [];
    const start = performance.now();
    for (let i = 0; i < ticks; i++) {
      const wait = start + i * tickMs - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const wall = Date.now();
      acks.push(
        this.send(
          runId,
          run.next(perTick, () => wall),
        ),
      );
      sent.push({ wall, total: run.points });
    }
    await Promise.all(acks);
    return sent;
  }

  /** Points sent so far for `runId`. */
  points(runId: string): number {
    return this.runs.get(runId)?.points ?? 0;
  }

  /** Disconnects; the hub marks the runs interrupted after its grace period. */
  close(): void {
    this.socket.close();
  }
}
