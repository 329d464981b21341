/**
 * WebGPU backend: the adapter classifier, and the backend's conv-net gradients, and the model's
 * own train-step gradients (fused layers and loss), checked against the stock `cpu` backend. Without any WebGPU adapter the integration test skips, unless
 * LIVETRAIN_REQUIRE_SERVICES=1 says it must run.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core's Node bundle registers no gradient functions; the union package does, on import
// (as server/trainer/backend.ts relies on too).
import '@tensorflow/tfjs';
import {
  disposeWebGpuBackend,
  initWebGpuBackend,
  isRealGpuAdapter,
  probeWebGpu,
} from '../server/trainer/backends/webgpu';
import { softmaxNll } from '../server/trainer/loss';
import { createModel } from '../server/trainer/model';

describe('isRealGpuAdapter', () => {
  const software: Record<string, Record<string, string>> = {
    'llvmpipe via Dawn/OpenGL ES (measured here)': {
      vendor: '',
      architecture: '',
      device: 'llvmpipe-llvm-15-0-6-256-bits-',
      description: 'OpenGL version OpenGL ES 3.2 Mesa 22.3.6',
      isFallbackAdapter: 'false',
    },
    'lavapipe via Vulkan': {
      vendor: 'mesa',
      architecture: '',
      device: 'llvmpipe (LLVM 15.0.6, 256 bits)',
      description: 'Mesa 22.3.6 (LLVM 15.0.6)',
      adapterType: 'CPU',
    },
    'lavapipe by driver name only': {
      vendor: 'mesa',
      device: '',
      description: 'lavapipe',
      adapterType: '',
    },
    SwiftShader: {
      vendor: 'google',
      architecture: 'swiftshader',
      device: 'SwiftShader Device (Subzero)',
    },
    softpipe: { vendor: 'mesa', device: 'softpipe', description: 'OpenGL ES 3.2 Mesa 22.3.6' },
    'unnamed cpu adapter type': { vendor: 'unknown', device: 'something', adapterType: 'cpu' },
    'fallback adapter': { vendor: 'acme', device: 'acme-1', isFallbackAdapter: 'true' },
    'no information': { vendor: '', architecture: '', device: '', description: '' },
  };
  const real: Record<string, Record<string, string>> = {
    'NVIDIA via Vulkan': {
      vendor: 'nvidia',
      architecture: 'hopper',
      device: '',
      description: 'NVIDIA: 550.54.15 550.54.15.0',
      adapterType: 'discrete GPU',
    },
    'Intel integrated': {
      vendor: 'intel',
      architecture: 'gen-12lp',
      device: '',
      adapterType: 'integrated GPU',
    },
    'Apple via Metal': { vendor: 'apple', architecture: 'metal-3', device: '', description: '' },
    'AMD with description only': {
      vendor: '',
      device: '',
      description: 'AMD Radeon RX 7900 XTX (RADV NAVI31)',
    },
  };
  for (const [name, info] of Object.entries(software)) {
    test(`software: ${name}`, () => assert.equal(isRealGpuAdapter(info), false));
  }
  for (const [name, info] of Object.entries(real)) {
    test(`real GPU: ${name}`, () => assert.equal(isRealGpuAdapter(info), true));
  }
  test('undefined fields are tolerated', () => {
    assert.equal(
      isRealGpuAdapter({ vendor: 'nvidia', device: undefined, adapterType: undefined }),
      true,
    );
    assert.equal(isRealGpuAdapter({}), false);
  });
});

/** Deterministic standard normals (mulberry32 + Box–Muller) as a plain array. */
function normals(count: number, seed: number, scale = 1): number[] {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297;
  };
  return Array.from(
    { length: count },
    () => scale * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()),
  );
}

const BATCH = 4;
const INPUT = { x: normals(BATCH * 28 * 28, 1), labels: [3, 1, 4, 1] };
const PARAMS = {
  filter: normals(5 * 5 * 1 * 10, 2, 0.2),
  convBias: normals(10, 3, 0.1),
  dense: normals(12 * 12 * 10 * 10, 4, 0.03),
  denseBias: normals(10, 5, 0.1),
};

interface Results {
  loss: number[];
  grads: Record<string, number[]>;
}

/** Loss, parameter gradients and input gradient of conv→relu→maxPool→dense→logSoftmax on the active backend. */
async function convNetGradients(): Promise<Results> {
  const x = tf.tensor4d(INPUT.x, [BATCH, 28, 28, 1]);
  const onehot = tf.cast(tf.oneHot(tf.tensor1d(INPUT.labels, 'int32'), 10), 'float32');
  const vars = {
    filter: tf.variable(
      tf.tensor4d(PARAMS.filter, [5, 5, 1, 10]),
      true,
      `filter-${tf.getBackend()}`,
    ),
    convBias: tf.variable(tf.tensor1d(PARAMS.convBias), true, `convBias-${tf.getBackend()}`),
    dense: tf.variable(tf.tensor2d(PARAMS.dense, [1440, 10]), true, `dense-${tf.getBackend()}`),
    denseBias: tf.variable(tf.tensor1d(PARAMS.denseBias), true, `denseBias-${tf.getBackend()}`),
  };
  const lossOf = (input: tf.Tensor4D): tf.Scalar => {
    const conv = tf.relu(
      tf.add(tf.conv2d(input, vars.filter, 1, 'valid'), vars.convBias),
    ) as tf.Tensor4D;
    const pooled = tf.maxPool(conv, 2, 2, 'valid');
    const logits = tf.add(tf.matMul(tf.reshape(pooled, [BATCH, 1440]), vars.dense), vars.denseBias);
    return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1))) as tf.Scalar;
  };
  const { value, grads } = tf.variableGrads(() => lossOf(x));
  const inputGrad = tf.grad((input) => lossOf(input as tf.Tensor4D))(x);
  const out: Results = { loss: Array.from(await value.data()), grads: {} };
  for (const [name, grad] of Object.entries(grads))
    out.grads[name.replace(/-.*$/, '')] = Array.from(await grad.data());
  out.grads.input = Array.from(await inputGrad.data());
  tf.dispose([x, onehot, value, inputGrad, ...Object.values(grads), ...Object.values(vars)]);
  return out;
}

/** max |a − b| / max |b|: the error relative to the reference's scale. */
function relativeError(actual: number[], expected: number[]): number {
  assert.equal(actual.length, expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

/** The model's loss and parameter gradients through its fused layers and fused loss. */
async function modelGradients(): Promise<Results> {
  const model = createModel(7);
  const x = tf.tensor4d(INPUT.x, [BATCH, 28, 28, 1]);
  const onehot = tf.cast(tf.oneHot(tf.tensor1d(INPUT.labels, 'int32'), 10), 'float32');
  const { value, grads } = tf.variableGrads(() =>
    softmaxNll(model.logits(x), onehot as tf.Tensor2D),
  );
  const out: Results = { loss: Array.from(await value.data()), grads: {} };
  for (const [name, grad] of Object.entries(grads))
    out.grads[name.replace(/#.*$/, '')] = Array.from(await grad.data());
  tf.dispose([x, onehot, value, ...Object.values(grads)]);
  model.dispose();
  return out;
}

describe('webgpu backend', () => {
  after(() => {
    disposeWebGpuBackend();
  });

  test('conv net loss and gradients match the cpu backend', async (t) => {
    const required = process.env.LIVETRAIN_REQUIRE_SERVICES === '1';
    const probe = await probeWebGpu({ allowSoftware: true });
    if (!probe.ok) {
      if (required)
        assert.fail(
          `WebGPU required (LIVETRAIN_REQUIRE_SERVICES=1) but unavailable: ${probe.reason}`,
        );
      t.skip(`WebGPU unavailable: ${probe.reason}`);
      return;
    }
    let used;
    try {
      used = await initWebGpuBackend({ allowSoftware: true });
    } catch (error) {
      if (required) throw error;
      t.skip(
        `WebGPU found (${probe.device}) but could not be initialised: ${(error as Error).message}`,
      );
      return;
    }
    t.diagnostic(used.device);
    assert.equal(tf.getBackend(), 'webgpu');
    const gpu = await convNetGradients();

    assert.ok(await tf.setBackend('cpu'));
    const cpu = await convNetGradients();

    assert.ok(Number.isFinite(cpu.loss[0]));
    assert.ok(relativeError(gpu.loss, cpu.loss) < 1e-3, `loss ${gpu.loss} vs ${cpu.loss}`);
    assert.deepEqual(Object.keys(gpu.grads).sort(), [
      'convBias',
      'dense',
      'denseBias',
      'filter',
      'input',
    ]);
    const errors = Object.keys(cpu.grads).map(
      (name) => [name, relativeError(gpu.grads[name], cpu.grads[name])] as const,
    );
    t.diagnostic(
      `relative errors: ${errors.map(([name, error]) => `${name} ${error.toExponential(1)}`).join(', ')}`,
    );
    for (const [name, error] of errors) assert.ok(error < 1e-3, `${name}: relative error ${error}`);

    // The model's own train step: fused conv/dense layers and the fused loss.
    assert.ok(await tf.setBackend('webgpu'));
    const gpuModel = await modelGradients();
    assert.ok(await tf.setBackend('cpu'));
    const cpuModel = await modelGradients();
    assert.ok(Number.isFinite(cpuModel.loss[0]));
    assert.ok(
      relativeError(gpuModel.loss, cpuModel.loss) < 1e-3,
      `model loss ${gpuModel.loss} vs ${cpuModel.loss}`,
    );
    assert.equal(Object.keys(cpuModel.grads).length, 8, 'a gradient for every parameter');
    for (const name of Object.keys(cpuModel.grads)) {
      const error = relativeError(gpuModel.grads[name], cpuModel.grads[name]);
      assert.ok(error < 1e-3, `model ${name}: relative error ${error}`);
    }
  });

  test('refuses a software adapter unless allowed', async (t) => {
    const probe = await probeWebGpu();
    if (!probe.ok) {
      t.skip(`WebGPU unavailable: ${probe.reason}`);
      return;
    }
    if (probe.isRealGpu) {
      t.skip(`real GPU here (${probe.device}); nothing to refuse`);
      return;
    }
    assert.match(probe.reason ?? '', /software/);
    await assert.rejects(initWebGpuBackend(), /software adapter/);
  });
});
