/**
 * bench/train-throughput: training samples/s per backend at batch 32 and 128, the cost of
 * streaming events, and — where Debian's python3-torch is installed — the same model in
 * PyTorch in this invocation, with our/PyTorch ratios. A benchmark, not a test.
 *
 *   npm run bench:train -- [--steps N] [--full] [--backends native,wasm,cpu,webgpu] [--no-torch]
 *
 * native (1 and 2 oneDNN threads), wasm and PyTorch (1 and 2 threads) are measured in
 * `--repeat` rounds (default 3), each once per round in turn, so that a busy neighbour hurts
 * all alike; each figure is the median of its rounds, and the ratios take the best thread
 * count of each side. The streaming comparison interleaves its two setups the same way.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { hyperparamsSchema, type BackendName } from '../server/trainer/config';
import { initBackend } from '../server/trainer/backend';
import { loadNativeAddon } from '../server/trainer/native/addon';
import { loadMnist, type MnistData } from '../server/trainer/data/mnist';
import type { BackendInfo, EventSink, TrainerEvent } from '../server/trainer/events';
import { createTrainer } from '../server/trainer/trainer';

const { values: args } = parseArgs({
  options: {
    steps: { type: 'string', default: '400' },
    full: { type: 'boolean', default: false },
    repeat: { type: 'string', default: '3' },
    backends: { type: 'string', default: 'native,wasm,cpu,webgpu,tensorflow-gpu,tensorflow' },
    'no-torch': { type: 'boolean', default: false },
  },
});
const repeat = Number(args.repeat);
const ROOT = path.resolve(import.meta.dirname, '..');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** Steps per measurement: slow backends get fewer, so the bench finishes. */
function stepsFor(backend: BackendName, batch: number): number {
  if (args.full) return Math.ceil(60000 / batch);
  const base = Number(args.steps);
  const scale = backend === 'cpu' ? 0.02 : backend === 'webgpu' ? 0.1 : 1;
  return Math.max(5, Math.round((base * scale * 32) / batch));
}

const nullSink: EventSink = { write() {} };

/** A consumer that serialises every event and takes 20 ms per write, like a slow network. */
function slowSerialisingSink(): EventSink {
  return {
    async write(events: readonly TrainerEvent[]) {
      JSON.stringify(events);
      await new Promise((r) => setTimeout(r, 20));
    },
  };
}

/** samples/s of wall time, and per second of CPU time (all threads; less moved by a busy box). */
interface Rate {
  wall: number;
  cpu: number;
}

/** Trains `steps` batches; the training loop's rate (evaluation excluded). */
async function measureRate(
  data: MnistData,
  backend: BackendInfo,
  batchSize: number,
  steps: number,
  sink: EventSink,
): Promise<Rate> {
  const hp = hyperparamsSchema.parse({
    epochs: 1,
    batchSize,
    trainLimit: steps * batchSize,
    testLimit: 10,
  });
  const trainer = createTrainer(
    {
      runId: 'bench',
      hyperparams: hp,
      data,
      backend,
      checkpointDir: null,
      reporting: { evalTrainSet: false },
    },
    sink,
  );
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  const result = await trainer.run();
  const evalMs = result.epochs[0]?.evalMs ?? 0;
  const wallMs = performance.now() - started - evalMs;
  const cpu = process.cpuUsage(cpu0);
  // Evaluation ran on one thread for about evalMs; take it off the CPU time as well.
  const cpuMs = (cpu.user + cpu.system) / 1000 - evalMs;
  return { wall: (steps * batchSize * 1000) / wallMs, cpu: (steps * batchSize * 1000) / cpuMs };
}

async function measure(
  data: MnistData,
  backend: BackendInfo,
  batchSize: number,
  steps: number,
  sink: EventSink,
): Promise<number> {
  return (await measureRate(data, backend, batchSize, steps, sink)).wall;
}

function torchAvailable(): boolean {
  if (args['no-torch']) return false;
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function torchRun(batch: number, threads: number, steps: number): Rate {
  const out = execFileSync(
    '/usr/bin/python3',
    [
      path.join(ROOT, 'bench/pytorch/mnist_ref.py'),
      '--batch-size',
      String(batch),
      '--threads',
      String(threads),
      '--steps',
      String(steps),
    ],
    { env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' }, encoding: 'utf8' },
  );
  const line = JSON.parse(out.trim().split('\n').at(-1)!) as {
    samplesPerSec: number;
    samplesPerCpuSec: number;
  };
  return { wall: line.samplesPerSec, cpu: line.samplesPerCpuSec };
}

/** One thing measured: a TF.js backend (native at a thread count) or PyTorch at a thread count. */
interface Contender {
  label: string;
  run(batch: number, steps: number): Promise<Rate>;
}

/**
 * native, wasm and PyTorch in rounds (each measured once per round, in turn), so that a busy
 * neighbour slows all of them alike; the figure for each is the median of its rounds.
 */
async function interleaved(
  data: MnistData,
  infos: Map<BackendName, BackendInfo>,
  torch: boolean,
): Promise<void> {
  const contenders: Contender[] = [];
  const tfjs = (name: BackendName, threads?: number): Contender => ({
    label: threads ? `${name} ${threads}t` : name,
    async run(batch, steps) {
      await tf.setBackend(name);
      if (threads) loadNativeAddon().setThreads(threads);
      return measureRate(data, infos.get(name)!, batch, steps, nullSink);
    },
  });
  if (infos.has('native')) contenders.push(tfjs('native', 1), tfjs('native', 2));
  if (infos.has('wasm')) contenders.push(tfjs('wasm'));
  if (torch)
    for (const threads of [1, 2])
      contenders.push({
        label: `pytorch ${threads}t`,
        run: async (batch, steps) => torchRun(batch, threads, steps),
      });
  for (const batch of [32, 128]) {
    const steps = stepsFor('wasm', batch);
    for (const c of contenders)
      if (!c.label.startsWith('pytorch')) await c.run(batch, Math.min(steps, 20)); // warm-up
    const runs = new Map(contenders.map((c) => [c.label, [] as Rate[]]));
    for (let round = 0; round < repeat; round++)
      for (const c of contenders) runs.get(c.label)!.push(await c.run(batch, steps));
    const of = (label: string, key: keyof Rate) => median(runs.get(label)!.map((r) => r[key]));
    const best = (prefix: string, key: keyof Rate) =>
      Math.max(
        0,
        ...contenders.filter((c) => c.label.startsWith(prefix)).map((c) => of(c.label, key)),
      );
    console.log(
      `\nbatch ${batch}, ${steps} steps per run, ${repeat} rounds (samples/s of wall time; per CPU-second, all threads):`,
    );
    for (const c of contenders) {
      const r = runs.get(c.label)!;
      console.log(
        `  ${c.label.padEnd(11)} ${fmt(of(c.label, 'wall')).padStart(6)} samples/s (${r.map((x) => fmt(x.wall)).join(' / ')}); ` +
          `${fmt(of(c.label, 'cpu')).padStart(6)} per CPU-second`,
      );
    }
    if (best('pytorch', 'wall')) {
      const ratio = (n: string, key: keyof Rate) =>
        (best(n, key) / best('pytorch', key)).toFixed(2);
      const names = ['native', 'wasm'].filter((n) => infos.has(n as BackendName));
      console.log(
        `  against PyTorch, best of 1 and 2 threads each: ${names.map((n) => `${n} ${ratio(n, 'wall')}× (wall), ${ratio(n, 'cpu')}× (per CPU-second)`).join('; ')}`,
      );
    }
  }
}

async function main(): Promise<void> {
  const data = await loadMnist({});
  const wanted = args.backends.split(',') as BackendName[];
  const infos = new Map<BackendName, BackendInfo>();
  // wasm last so that it stays the active backend for the streaming comparison.
  for (const name of [
    ...wanted.filter((b) => b !== 'wasm'),
    ...(wanted.includes('wasm') ? ['wasm' as const] : []),
  ]) {
    try {
      infos.set(name, await initBackend(name, { allowSoftwareWebGpu: true }));
    } catch (error) {
      console.log(`${name.padEnd(15)} unavailable: ${(error as Error).message.split('\n')[0]}`);
      continue;
    }
    console.log(`${name.padEnd(15)} ${infos.get(name)!.device}`);
  }
  // Backends other than native and wasm: one run each, one after the other.
  for (const [name, backend] of infos) {
    if (name === 'native' || name === 'wasm') continue;
    await tf.setBackend(name);
    for (const batch of [32, 128]) {
      const steps = stepsFor(name, batch);
      await measure(data, backend, batch, Math.min(steps, 20), nullSink);
      console.log(
        `${name.padEnd(15)} batch ${String(batch).padStart(3)}: ${fmt(await measure(data, backend, batch, steps, nullSink)).padStart(6)} samples/s  (${steps} steps)`,
      );
    }
  }
  const torch = torchAvailable();
  if (torch)
    console.log(
      '\nPyTorch: Debian python3-torch, OMP_WAIT_POLICY=PASSIVE (bench/pytorch/mnist_ref.py).',
    );
  else
    console.log(
      '\nPyTorch not measured: /usr/bin/python3 has no torch (apt-get install python3-torch) or --no-torch given.',
    );
  await interleaved(data, infos, torch);

  if (infos.has('wasm')) {
    await tf.setBackend('wasm');
    const backend = infos.get('wasm')!;
    const steps = stepsFor('wasm', 32);
    const plain: number[] = [];
    const streamed: number[] = [];
    for (let i = 0; i < repeat; i++) {
      plain.push(await measure(data, backend, 32, steps, nullSink));
      streamed.push(await measure(data, backend, 32, steps, slowSerialisingSink()));
    }
    const [a, b] = [median(plain), median(streamed)];
    console.log(
      `\nstreaming overhead, wasm batch 32: no consumer ${fmt(a)} samples/s, slow JSON consumer (20 ms/write) ${fmt(b)} samples/s: ${(((a - b) / a) * 100).toFixed(1)} % slower`,
    );
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
