/**
 * bench/train-throughput: training samples/s per backend at batch 32 and 128, the cost of
 * streaming events, and — where Debian's python3-torch is installed — the same model in
 * PyTorch in this invocation, with our/PyTorch ratios. A benchmark, not a test.
 *
 *   npm run bench:train -- [--steps N] [--full] [--backends native,wasm,cpu,webgpu] [--no-torch]
 *
 * native and wasm figures are the median of `--repeat` runs (default 3); native is measured
 * with 1 and 2 oneDNN threads. The streaming comparison interleaves its two setups so that a
 * busy neighbour hurts both alike.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
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

/** Trains `steps` batches; returns samples/s of the training loop (wall clock, evaluation excluded). */
async function measure(data: MnistData, backend: BackendInfo, batchSize: number, steps: number, sink: EventSink): Promise<number> {
  const hp = hyperparamsSchema.parse({ epochs: 1, batchSize, trainLimit: steps * batchSize, testLimit: 10 });
  const trainer = createTrainer(
    { runId: 'bench', hyperparams: hp, data, backend, checkpointDir: null, reporting: { evalTrainSet: false } },
    sink,
  );
  const started = performance.now();
  const result = await trainer.run();
  const wallMs = performance.now() - started - (result.epochs[0]?.evalMs ?? 0);
  return (steps * batchSize * 1000) / wallMs;
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

function torchRun(batch: number, threads: number, steps: number): number {
  const out = execFileSync('/usr/bin/python3', [path.join(ROOT, 'bench/pytorch/mnist_ref.py'), '--batch-size', String(batch),
    '--threads', String(threads), '--steps', String(steps)], { env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' }, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!).samplesPerSec;
}

async function main(): Promise<void> {
  const data = await loadMnist({});
  const wanted = args.backends.split(',') as BackendName[];
  const results = new Map<string, number>();
  // wasm last so that it stays the active backend for the streaming comparison.
  for (const name of [...wanted.filter((b) => b !== 'wasm'), ...(wanted.includes('wasm') ? ['wasm' as const] : [])]) {
    let backend: BackendInfo;
    try {
      backend = await initBackend(name, { allowSoftwareWebGpu: true });
    } catch (error) {
      console.log(`${name.padEnd(15)} unavailable: ${(error as Error).message.split('\n')[0]}`);
      continue;
    }
    // native: 1 and 2 oneDNN threads, the best of the two as the backend's figure.
    const threadCounts = name === 'native' ? [1, 2] : [0];
    for (const batch of [32, 128]) {
      const steps = stepsFor(name, batch);
      let best = 0;
      for (const threads of threadCounts) {
        if (threads) loadNativeAddon().setThreads(threads);
        const runs: number[] = [];
        await measure(data, backend, batch, Math.min(steps, 20), nullSink); // warm-up
        for (let i = 0; i < (name === 'wasm' || name === 'native' ? repeat : 1); i++) runs.push(await measure(data, backend, batch, steps, nullSink));
        const sps = median(runs);
        best = Math.max(best, sps);
        const label = threads ? `${name} ${threads}t` : name;
        const device = threads ? backend.device.replace(/\d+ threads?$/, `${threads} thread${threads === 1 ? '' : 's'}`) : backend.device;
        console.log(`${label.padEnd(15)} batch ${String(batch).padStart(3)}: ${fmt(sps).padStart(6)} samples/s  (${steps} steps, ${runs.map(fmt).join(' / ')})  ${device}`);
      }
      results.set(`${name}/${batch}`, best);
    }
  }

  if (results.has('wasm/32')) {
    const backend = await initBackend('wasm');
    const steps = stepsFor('wasm', 32);
    const plain: number[] = [];
    const streamed: number[] = [];
    for (let i = 0; i < repeat; i++) {
      plain.push(await measure(data, backend, 32, steps, nullSink));
      streamed.push(await measure(data, backend, 32, steps, slowSerialisingSink()));
    }
    const [a, b] = [median(plain), median(streamed)];
    console.log(`\nstreaming overhead, wasm batch 32: no consumer ${fmt(a)} samples/s, slow JSON consumer (20 ms/write) ${fmt(b)} samples/s: ${(((a - b) / a) * 100).toFixed(1)} % slower`);
  }

  if (torchAvailable()) {
    console.log('\nPyTorch (Debian python3-torch, OMP_WAIT_POLICY=PASSIVE), best of 1 and 2 threads:');
    for (const batch of [32, 128]) {
      const steps = stepsFor('wasm', batch);
      const t1 = median(Array.from({ length: repeat }, () => torchRun(batch, 1, steps)));
      const t2 = median(Array.from({ length: repeat }, () => torchRun(batch, 2, steps)));
      const best = Math.max(t1, t2);
      const ratios = ['native', 'wasm'].flatMap((name) => {
        const ours = results.get(`${name}/${batch}`);
        return ours ? [`${name}/PyTorch = ${(ours / best).toFixed(2)}×`] : [];
      });
      console.log(`pytorch         batch ${String(batch).padStart(3)}: ${fmt(best).padStart(6)} samples/s  (1 thread ${fmt(t1)}, 2 threads ${fmt(t2)})` +
        (ratios.length ? `  → ${ratios.join(', ')}` : ''));
    }
  } else {
    console.log('\nPyTorch not measured: /usr/bin/python3 has no torch (apt-get install python3-torch) or --no-torch given.');
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
