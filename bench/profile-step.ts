/**
 * bench/profile-step: where one training step's time goes, kernel by kernel, on a backend
 * (default wasm), over `--steps` batches of the tutorial's batch size 32.
 *
 *   npm run bench:profile -- [--backend wasm|native|…] [--steps 200] [--batch-size 32]
 *
 * On native, LIVETRAIN_NATIVE_THREADS sets oneDNN's threads (default: one per core).
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { backendChoiceSchema, hyperparamsSchema } from '../server/trainer/config';
import { initBackend } from '../server/trainer/backend';
import { epochPermutation } from '../server/trainer/data/shuffle';
import { loadMnist } from '../server/trainer/data/mnist';
import { createModel } from '../server/trainer/model';
import { createOptimizer } from '../server/trainer/optimizer';
import { trainStep } from '../server/trainer/trainer';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    steps: { type: 'string', default: '200' },
    'batch-size': { type: 'string', default: '32' },
  },
});
const steps = Number(values.steps);
const batch = Number(values['batch-size']);

const data = await loadMnist({});
const backend = await initBackend(backendChoiceSchema.parse(values.backend), {
  allowSoftwareWebGpu: true,
});
const model = createModel(1);
const optimizer = createOptimizer(model.params, { ...hyperparamsSchema.parse({}), name: 'sgd' });
const order = epochPermutation(data.train.count, 1, 1);
const step = async (i: number) => {
  const m = trainStep(model, optimizer, data.train, order.subarray(i * batch, (i + 1) * batch), i);
  await m.data();
  m.dispose();
};
for (let i = 0; i < 20; i++) await step(i);

// Wall time without the profiler's overhead.
// CPU time too: on a shared machine it moves far less with the neighbours' load than wall time.
const t0 = performance.now();
const cpu0 = process.cpuUsage();
for (let i = 0; i < steps; i++) await step(i);
const wallPerStep = (performance.now() - t0) / steps;
const cpu = process.cpuUsage(cpu0);
const cpuPerStep = (cpu.user + cpu.system) / 1000 / steps;

const byKernel = new Map<string, { ms: number; calls: number }>();
const profileSteps = Math.min(steps, 50);
for (let i = 0; i < profileSteps; i++) {
  const info = await tf.profile(() => step(i) as unknown as tf.TensorContainer);
  for (const k of info.kernels) {
    const time = await k.kernelTimeMs;
    const ms = typeof time === 'number' ? time : 0;
    const entry = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    entry.ms += ms;
    entry.calls++;
    byKernel.set(k.name, entry);
  }
}
const rows = [...byKernel.entries()].map(([name, v]) => ({
  name,
  msPerStep: v.ms / profileSteps,
  callsPerStep: v.calls / profileSteps,
}));
rows.sort((a, b) => b.msPerStep - a.msPerStep);
const kernelTotal = rows.reduce((a, r) => a + r.msPerStep, 0);

console.log(
  `${backend.name} (${backend.device}), batch ${batch}: ${wallPerStep.toFixed(2)} ms per step = ${Math.round((batch * 1000) / wallPerStep).toLocaleString('en-US')} samples/s; ` +
    `${cpuPerStep.toFixed(2)} ms of CPU per step = ${Math.round((batch * 1000) / cpuPerStep).toLocaleString('en-US')} samples per CPU-second`,
);
console.log(
  `kernels account for ${kernelTotal.toFixed(2)} ms per step (profiled); the rest is JavaScript: batch assembly, tape, dispatch\n`,
);
console.log('kernel                        ms/step   share  calls/step');
for (const r of rows.slice(0, 25)) {
  console.log(
    `${r.name.padEnd(28)} ${r.msPerStep.toFixed(3).padStart(8)}  ${((100 * r.msPerStep) / kernelTotal).toFixed(1).padStart(5)} %  ${r.callsPerStep.toFixed(0).padStart(6)}`,
  );
}
model.dispose();
optimizer.dispose();
