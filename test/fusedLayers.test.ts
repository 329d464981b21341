/**
 * The model's fused layers (server/trainer/layers.ts) against the stock unfused ops
 * (conv2d/matMul + add + relu) on the cpu backend: values and the gradients of every input, on
 * random shapes (odd sizes, strides, both paddings, with and without ReLU); stock-op form on
 * cpu, the native ReLU/bias gradient kernel on native (skipped with the reason where the addon
 * is not built). The images of a first layer get no gradient.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core's Node bundle has no gradients; the union package registers them.
import '@tensorflow/tfjs';
import { initNativeBackend } from '../server/trainer/backends/native';
import { createRng } from '../server/trainer/data/shuffle';
import { RELU_BIAS_GRAD_KERNEL } from '../server/trainer/kernels/nativeReluBiasGrad';
import { conv2dBias, denseBias } from '../server/trainer/layers';
import { nativeSkipReason } from './helpers/native';

const skip = nativeSkipReason();

const random = (shape: number[], seed: number) => {
  const rng = createRng(seed);
  const values = Float32Array.from(
    { length: shape.reduce((a, b) => a * b, 1) },
    () => rng() * 2 - 1,
  );
  return tf.tensor(values, shape);
};

type Result = Array<{ shape: number[]; values: Float32Array }>;

/** Output and gradients of sum(output · r) for a random r, with respect to every input. */
function valueAndGrads(
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: tf.Tensor[],
  seed: number,
): Result {
  return tf.tidy(() => {
    const y = f(...inputs);
    const r = random(y.shape, seed);
    const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), r)))(inputs);
    return [y, ...grads].map((t) => ({ shape: t.shape, values: Float32Array.from(t.dataSync()) }));
  });
}

function assertSame(got: Result, want: Result, what: string): void {
  assert.equal(got.length, want.length, `${what}: outputs`);
  got.forEach((g, i) => {
    assert.deepEqual(g.shape, want[i].shape, `${what} output ${i}: shape`);
    let worst = 0;
    g.values.forEach((v, k) => {
      worst = Math.max(
        worst,
        Math.abs(v - want[i].values[k]) / Math.max(1, Math.abs(want[i].values[k])),
      );
    });
    assert.ok(worst < 1e-4, `${what} output ${i}: max relative error ${worst}`);
  });
}

const CONV_CASES = [
  { x: [3, 9, 7, 2], w: [3, 2, 2, 5], strides: 1, pad: 'valid' as const, relu: true },
  { x: [2, 11, 10, 3], w: [5, 5, 3, 4], strides: 2, pad: 'same' as const, relu: true },
  { x: [1, 6, 6, 1], w: [1, 1, 1, 3], strides: 1, pad: 'same' as const, relu: false },
  { x: [32, 28, 28, 1], w: [5, 5, 1, 10], strides: 1, pad: 'valid' as const, relu: true },
];
const DENSE_CASES = [
  { m: 7, k: 13, n: 5, relu: true },
  { m: 32, k: 320, n: 50, relu: true },
  { m: 1, k: 3, n: 10, relu: false },
];

async function compareAll(backend: string): Promise<void> {
  for (const [i, c] of CONV_CASES.entries()) {
    const make = () => [random(c.x, i + 1), random(c.w, i + 11), random([c.w[3]], i + 21)];
    const unfused = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => {
      const y = tf.add(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.strides, c.pad), b);
      return c.relu ? tf.relu(y) : y;
    };
    const fused = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
      conv2dBias(x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D, c.strides, c.pad, c.relu);
    await tf.setBackend('cpu');
    const want = valueAndGrads(unfused, make(), 99);
    await tf.setBackend(backend);
    assertSame(valueAndGrads(fused, make(), 99), want, `${backend} conv ${JSON.stringify(c)}`);
    // With the input as data: the same output and weight gradients, none for the input.
    const [x] = make();
    const dataFused = (w: tf.Tensor, b: tf.Tensor) =>
      conv2dBias(
        x as tf.Tensor4D,
        w as tf.Tensor4D,
        b as tf.Tensor1D,
        c.strides,
        c.pad,
        c.relu,
        true,
      );
    const got = valueAndGrads(dataFused, make().slice(1), 99);
    assertSame(got, [want[0], want[2], want[3]], `${backend} conv on data ${JSON.stringify(c)}`);
  }
  for (const [i, c] of DENSE_CASES.entries()) {
    const make = () => [
      random([c.m, c.k], i + 31),
      random([c.k, c.n], i + 41),
      random([c.n], i + 51),
    ];
    const unfused = (a: tf.Tensor, b: tf.Tensor, bias: tf.Tensor) => {
      const y = tf.add(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D), bias);
      return c.relu ? tf.relu(y) : y;
    };
    const fused = (a: tf.Tensor, b: tf.Tensor, bias: tf.Tensor) =>
      denseBias(a as tf.Tensor2D, b as tf.Tensor2D, bias as tf.Tensor1D, c.relu);
    await tf.setBackend('cpu');
    const want = valueAndGrads(unfused, make(), 98);
    await tf.setBackend(backend);
    assertSame(valueAndGrads(fused, make(), 98), want, `${backend} dense ${JSON.stringify(c)}`);
  }
}

test('fused conv and dense layers equal the unfused ops on cpu, values and gradients', async () => {
  await compareAll('cpu');
});

test(
  'on native the layers equal the unfused cpu ops and use the ReLU/bias gradient kernel',
  { skip },
  async () => {
    await initNativeBackend(1);
    await compareAll('native');
    const info = await tf.profile(() => {
      valueAndGrads(
        (x, w, b) =>
          conv2dBias(x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D, 1, 'valid', true),
        [random([2, 8, 8, 3], 1), random([3, 3, 3, 4], 2), random([4], 3)],
        4,
      );
    });
    const names = info.kernels.map((k) => k.name);
    assert.ok(names.includes(RELU_BIAS_GRAD_KERNEL), `the native gradient kernel ran: ${names}`);
    assert.ok(!names.includes('Step'), `no stock ReLU gradient ran: ${names}`);
  },
);
