/**
 * bench/longrun: opening long runs. For each run length (a 10,000-point reference, then 1 M and
 * 2 M by default), a hub in its own process (SQLite) takes a run from a hand-written trainer that
 * streams the points as fast as the hub acknowledges them (a loss curve with one planted
 * spike), then socket.io clients open it:
 *   - one `run:watch`: bytes (binary columns + JSON) and time;
 *   - 100 watchers at once: how many succeed, the wall time, the hub's RSS growth;
 *   - `run:series` for a 1,000-step window at 20 places, 1,000 columns: time per answer (the
 *     hub's part of a zoom; bench:chart measures request → drawn in Chromium);
 *   - the snapshot's numbers as binary columns against the JSON objects protocol 1 sent.
 * A benchmark, not a test: it prints figures and ratios against the reference.
 *
 *   npm run bench:longrun -- [--points 1000000,2000000] [--watchers 100]
 */
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { io, type Socket } from 'socket.io-client';
import { z } from 'zod';
import {
  columnBytes,
  fromBucketColumns,
  fromPointColumns,
  toPointColumns,
} from '../server/columns';
import {
  PROTOCOL_VERSION,
  TRAINER_NAMESPACE,
  type Result,
  type RunSnapshot,
  type SeriesRange,
  type WirePoint,
} from '../server/protocol';
import { runMain } from '../server/trainer/runMain';
import { cleanupAll, installCleanup, nextMessage, removeDir, ROOT, tempDir } from './lib/children';
import { spread } from './lib/chartStats';
import { int, table } from './lib/histogram';
import { hubMessageSchema } from './lib/messages';

const flags = z
  .object({
    points: z
      .string()
      .regex(/^\d+(,\d+)*$/, 'a comma-separated list like 1000000,2000000')
      .transform((s) => s.split(',').map(Number))
      .pipe(z.array(z.number().int().min(10_000).max(2_000_000))),
    watchers: z.coerce.number().int().min(1).max(1000),
  })
  .parse(
    parseArgs({
      options: {
        points: { type: 'string', default: '1000000,2000000' },
        watchers: { type: 'string', default: '100' },
      },
    }).values,
  );

const REFERENCE = 10_000;
const PER_MESSAGE = 2000;
const IN_FLIGHT = 4;
const PER_EPOCH = 2000;
const SPIKE_AT = 777_777;
const CONFUSION = Array.from({ length: 10 }, (_, i) =>
  Array.from({ length: 10 }, (_, j) => (i === j ? 960 : 4)),
);

const ms = (x: number) =>
  Number.isFinite(x) ? `${x < 10 ? x.toFixed(1) : Math.round(x)} ms` : '–';
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;

/** The seq of a step's point: run:started is seq 1, and each epoch end's results take one seq. */
const seqOf = (step: number) => 1 + step + Math.floor((step - 1) / PER_EPOCH);

function point(step: number): WirePoint {
  const noise = (((step * 2654435761) >>> 0) % 1000) / 1000;
  return {
    seq: seqOf(step),
    step,
    epoch: Math.ceil(step / PER_EPOCH),
    batch: (step - 1) % PER_EPOCH,
    loss: step === SPIKE_AT ? 40 : 2.3 / Math.sqrt(step) + 0.05 * noise,
    accuracy: 60 + 40 * (1 - 1 / Math.sqrt(step)),
    learningRate: 0.01,
    samplesPerSec: 2400 + 100 * noise,
    time: 1_700_000_000_000 + step * 13,
  };
}

function connect(
  url: string,
  namespace = '/',
  auth: Record<string, unknown> = { protocolVersion: PROTOCOL_VERSION },
): Promise<Socket> {
  const socket = io(new URL(namespace, url).toString(), {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    auth,
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

async function browser(url: string, name: string): Promise<Socket> {
  const s = await connect(url);
  const hello = (await s.timeout(30_000).emitWithAck('hello', { name })) as Result<unknown>;
  if (!hello.ok) throw new Error(`hello: ${hello.message}`);
  return s;
}

/** Bytes a message carries: its binary attachments and the JSON around them. */
function messageBytes(value: unknown): number {
  // `this[k]` is the value before toJSON (a Buffer would otherwise be counted as a JSON array).
  const json = JSON.stringify(value, function (this: Record<string, unknown>, k, v) {
    const raw = this[k];
    return ArrayBuffer.isView(raw) || raw instanceof ArrayBuffer ? 0 : v;
  });
  return columnBytes(value) + json.length;
}

interface Figures {
  points: number;
  ingestSec: number;
  watchMs: number;
  watchBytes: number;
  crowdOk: number;
  crowdMs: number;
  rssGrowth: number;
  rangeP50: number;
  rangeP95: number;
  rangeKinds: string;
}

async function scenario(points: number): Promise<Figures> {
  const dir = await tempDir('longrun-');
  const hub = fork(`${ROOT}/bench/lib/hubProcess.ts`, ['--dir', dir, '--sample-ms', '100'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let rss = 0;
  hub.on('message', (m) => {
    const parsed = hubMessageSchema.safeParse(m);
    if (parsed.success && parsed.data.kind === 'stats') rss = parsed.data.rss;
  });
  try {
    const { url } = (await nextMessage(
      hub,
      hubMessageSchema,
      'hub ready',
      60_000,
      (m) => m.kind === 'ready',
    )) as { url: string };
    const ada = await browser(url, 'Ada');
    const trainer = await connect(url, TRAINER_NAMESPACE, {
      protocolVersion: PROTOCOL_VERSION,
      trainerId: 'longrun',
      backend: { name: 'wasm', device: 'bench', host: 'bench' },
      concurrency: 1,
    });
    const job = new Promise<string>((resolve) =>
      trainer.once(
        'job:assign',
        (j: { runId: string }, ack: (r: unknown) => void) => (
          ack({ ok: true, data: { runId: j.runId } }),
          resolve(j.runId)
        ),
      ),
    );
    const epochs = Math.ceil(points / PER_EPOCH);
    const started = (await ada.timeout(30_000).emitWithAck('run:start', {
      name: `long ${points}`,
      hyperparams: { epochs, batchSize: 30 },
    })) as Result<unknown>;
    if (!started.ok) throw new Error(`run:start: ${started.message}`);
    const runId = await job;
    process.stderr.write(`[${int(points)}] streaming…`);
    const t0 = performance.now();
    let next = 1;
    const send = async (): Promise<void> => {
      while (next <= points) {
        const from = next;
        next = Math.min(points + 1, next + PER_MESSAGE);
        const events = [];
        for (let step = from; step < next; step++) {
          const { seq, ...p } = point(step);
          events.push({ runId, seq, type: 'metrics:batch', point: p });
          // Every epoch's results too (1,000 of them at 2 M points): the snapshot carries them all.
          if (step % PER_EPOCH === 0)
            events.push({
              runId,
              seq: seqOf(step) + 1,
              type: 'metrics:epoch',
              summary: {
                epoch: step / PER_EPOCH,
                step,
                trainLoss: 0.1,
                trainAccuracy: 97,
                testLoss: 0.12,
                testAccuracy: 96.5,
                confusion: CONFUSION,
                samplesPerSec: 2400,
                trainMs: 25_000,
                evalMs: 5000,
              },
            });
        }
        if (from === 1)
          events.unshift({
            runId,
            seq: 1,
            type: 'run:started',
            time: Date.now(),
            startStep: 0,
            parameterCount: 21_840,
            hyperparams: {
              epochs,
              batchSize: 30,
              learningRate: 0.01,
              momentum: 0.5,
              optimizer: 'sgd',
              beta1: 0.9,
              beta2: 0.999,
              epsilon: 1e-8,
              seed: 1,
              trainLimit: null,
              testLimit: null,
            },
            backend: { name: 'wasm', device: 'bench', host: 'bench' },
            trainSize: 60_000,
            testSize: 10_000,
            batchesPerEpoch: PER_EPOCH,
            totalSteps: epochs * PER_EPOCH,
          });
        const r = (await trainer
          .timeout(120_000)
          .emitWithAck('trainer:events', { runId, events })) as Result<{ storedSeq: number }>;
        if (!r.ok) throw new Error(`trainer:events: ${r.message}`);
        if (from % 200_000 < PER_MESSAGE) process.stderr.write(` ${int(from)}`);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, send));
    const ingestSec = (performance.now() - t0) / 1000;
    process.stderr.write(` done in ${ingestSec.toFixed(0)} s\n`);
    // The first open also makes sure the run's buckets exist (here they were kept at ingest).
    await ada.timeout(120_000).emitWithAck('run:watch', { runId });
    await ada.timeout(30_000).emitWithAck('run:unwatch', { runId });
    await new Promise((r) => setTimeout(r, 1200)); // past the snapshot cache: a cold open
    const w0 = performance.now();
    const watched = (await ada
      .timeout(120_000)
      .emitWithAck('run:watch', { runId })) as Result<RunSnapshot>;
    const watchMs = performance.now() - w0;
    if (!watched.ok) throw new Error(`run:watch: ${watched.message}`);
    const watchBytes = messageBytes(watched.data);
    const held =
      (watched.data.series.head ? fromPointColumns(watched.data.series.head).length : 0) +
      (watched.data.series.overview
        ? fromBucketColumns(watched.data.series.overview).reduce((n, b) => n + b.count, 0)
        : 0) +
      fromPointColumns(watched.data.series.tail).length;
    if (held !== points) throw new Error(`the snapshot holds ${held} points, the run ${points}`);

    // A crowd opening the run at once.
    const crowd = await Promise.all(
      Array.from({ length: flags.watchers }, (_, i) => browser(url, `w${i}`)),
    );
    await new Promise((r) => setTimeout(r, 1200));
    const rssBefore = rss;
    let rssMax = rss;
    const sampler = setInterval(() => (rssMax = Math.max(rssMax, rss)), 50);
    const c0 = performance.now();
    const answers = await Promise.all(
      crowd.map((s) =>
        (
          s.timeout(120_000).emitWithAck('run:watch', { runId }) as Promise<Result<RunSnapshot>>
        ).catch((e: Error) => ({ ok: false as const, message: e.message })),
      ),
    );
    const crowdMs = performance.now() - c0;
    await new Promise((r) => setTimeout(r, 500));
    clearInterval(sampler);
    const crowdOk = answers.filter((a) => a.ok).length;
    for (const s of crowd) s.close();

    // Zooming: a 1,000-step window at 20 places.
    const times: number[] = [];
    const kinds = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const from = Math.floor(((i + 0.5) / 20) * (points - 1000));
      const r0 = performance.now();
      const r = (await ada.timeout(30_000).emitWithAck('run:series', {
        runId,
        series: 'loss',
        fromStep: from,
        toStep: from + 999,
        columns: 1000,
      })) as Result<SeriesRange>;
      times.push(performance.now() - r0);
      if (!r.ok) throw new Error(`run:series: ${r.message}`);
      kinds.add(r.data.kind);
    }
    ada.close();
    trainer.close();
    return {
      points,
      ingestSec,
      watchMs,
      watchBytes,
      crowdOk,
      crowdMs,
      rssGrowth: rssMax - rssBefore,
      rangeP50: spread(times).p50,
      rangeP95: spread(times).p95,
      rangeKinds: [...kinds].join('+'),
    };
  } finally {
    hub.send({ kind: 'stop' });
    await new Promise((r) => setTimeout(r, 1500));
    if (hub.exitCode === null) hub.kill('SIGKILL');
    await removeDir(dir);
  }
}

/** Binary columns against protocol 1's JSON objects, for `n` points: bytes, encode and decode time. */
function encodings(n: number): string[] {
  const points = Array.from({ length: n }, (_, i) => point(i + 1));
  const time = (f: () => unknown) => {
    const reps = Math.max(3, Math.round(200_000 / n));
    f();
    const t = performance.now();
    for (let i = 0; i < reps; i++) f();
    return (performance.now() - t) / reps;
  };
  const json = JSON.stringify(points);
  const packed = toPointColumns(points);
  const bytes = columnBytes(packed) + JSON.stringify({ ...packed, data: 0 }).length;
  const text = JSON.stringify(toPointColumns(points, 'text'));
  return [
    int(n),
    int(json.length),
    int(bytes),
    `${(json.length / bytes).toFixed(2)}×`,
    int(text.length),
    `${(json.length / text.length).toFixed(2)}×`,
    ms(time(() => JSON.stringify(points))),
    ms(time(() => toPointColumns(points))),
    ms(time(() => JSON.stringify(toPointColumns(points, 'text')))),
    ms(time(() => JSON.parse(json))),
    ms(time(() => fromPointColumns(packed))),
    ms(time(() => fromPointColumns(JSON.parse(text)))),
  ];
}

async function main(): Promise<number> {
  installCleanup();
  const results: Figures[] = [];
  for (const n of [REFERENCE, ...flags.points]) results.push(await scenario(n));
  await cleanupAll();
  const ref = results[0];
  process.stdout.write(
    `\nbench/longrun: a fake trainer streams each run into a hub (own process, SQLite); ${flags.watchers} watchers open it at once; reference ${int(REFERENCE)} points\n\n`,
  );
  process.stdout.write(
    table(
      [
        'points',
        'ingest',
        'run:watch',
        'bytes',
        `${flags.watchers} watchers ok`,
        'wall',
        'hub RSS +',
        'range p50',
        'range p95',
        'range answer',
      ],
      results.map((r) => [
        int(r.points),
        `${r.ingestSec.toFixed(0)} s`,
        `${ms(r.watchMs)} (${(r.watchMs / ref.watchMs).toFixed(1)}×)`,
        `${mb(r.watchBytes)} (${(r.watchBytes / ref.watchBytes).toFixed(1)}×)`,
        `${r.crowdOk}/${flags.watchers}`,
        ms(r.crowdMs),
        mb(r.rssGrowth),
        ms(r.rangeP50),
        ms(r.rangeP95),
        r.rangeKinds,
      ]),
      new Set([0, 1, 2, 3, 4, 5, 6, 7, 8]),
    ),
  );
  const last = results[results.length - 1];
  process.stdout.write(
    `\ngoals at ${int(last.points)} points: run:watch < 1 MB and < 300 ms → ${mb(last.watchBytes)}, ${ms(last.watchMs)}: ${last.watchBytes < 1e6 && last.watchMs < 300 ? 'MET' : 'MISSED'}; ${flags.watchers} watchers within 3 s, RSS growth < 200 MB → ${last.crowdOk}/${flags.watchers} in ${ms(last.crowdMs)}, ${mb(last.rssGrowth)}: ${last.crowdOk === flags.watchers && last.crowdMs < 3000 && last.rssGrowth < 200e6 ? 'MET' : 'MISSED'}\n`,
  );
  process.stdout.write(
    "\nbinary columns against protocol 1's JSON objects (points; times per message, this process)\n\n",
  );
  process.stdout.write(
    '(binary: snapshots and ranges; base64 text in JSON: live frames, one pre-encoded WebSocket frame per room)\n\n',
  );
  process.stdout.write(
    table(
      [
        'points',
        'JSON bytes',
        'binary bytes',
        'ratio',
        'base64 text bytes',
        'ratio',
        'JSON encode',
        'binary encode',
        'text encode',
        'JSON decode',
        'binary decode',
        'text decode',
      ],
      [50, 2048, 100_000].map(encodings),
      new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
    ),
  );
  return 0;
}

runMain(main);
