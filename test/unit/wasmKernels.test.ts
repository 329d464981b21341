/**
 * The wasm conv-gradient kernels against the stock cpu kernels on random inputs.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '../../server/trainer/backend';
import { createRng } from '../../server/trainer/data/shuffle';

type Shape4 = [number, number, number, number];
interface Case {
  name: string;
  x: Shape4;
  filter: Shape4;
  strides: number;
  pad: 'valid' | 'same' | number;
}

const cases: Case[] = [
  {
    name: 'conv1 of the model',
    x: [8, 28, 28, 1],
    filter: [5, 5, 1, 10],
    strides: 1,
    pad: 'valid',
  },
  {
    name: 'conv2 of the model',
    x: [8, 12, 12, 10],
    filter: [5, 5, 10, 20],
    strides: 1,
    pad: 'valid',
  },
  {
    name: 'same padding, odd kernel',
    x: [3, 9, 7, 4],
    filter: [3, 3, 4, 6],
    strides: 1,
    pad: 'same',
  },
  {
    name: 'same padding, even kernel',
    x: [2, 8, 8, 3],
    filter: [4, 2, 3, 5],
    strides: 1,
    pad: 'same',
  },
  { name: 'explicit padding', x: [2, 6, 6, 2], filter: [3, 3, 2, 3], strides: 1, pad: 1 },
  {
    name: 'stride 2 (fallback path)',
    x: [2, 11, 11, 3],
    filter: [3, 3, 3, 4],
    strides: 2,
    pad: 'valid',
  },
  { name: 'batch of one', x: [1, 28, 28, 1], filter: [5, 5, 1, 10], strides: 1, pad: 'valid' },
];

function randomArray(n: number, rng: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng() * 2 - 1;
  return a;
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Runs conv forward + both gradient kernels on the active backend; returns plain arrays. */
function gradients(
  c: Case,
  xData: Float32Array,
  fData: Float32Array,
  dyData: Float32Array,
  dyShape: Shape4,
) {
  return tf.tidy(() => {
    const x = tf.tensor4d(xData, c.x);
    const filter = tf.tensor4d(fData, c.filter);
    const dy = tf.tensor4d(dyData, dyShape);
    const attrs = {
      strides: c.strides,
      pad: c.pad,
      dataFormat: 'NHWC',
      dimRoundingMode: undefined,
    };
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
      ...attrs,
      filterShape: c.filter,
    } as never) as tf.Tensor;
    const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, {
      ...attrs,
      inputShape: c.x,
    } as never) as tf.Tensor;
    return {
      dw: Float32Array.from(dw.dataSync()),
      dx: Float32Array.from(dx.dataSync()),
      dwShape: dw.shape,
      dxShape: dx.shape,
    };
  });
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i]));
    worst = Math.max(worst, err);
  }
  assert.ok(worst < 1e-4, `${what}: max relative error ${worst}`);
}

before(async () => {
  await initBackend('wasm');
});

for (const c of cases) {
  test(`wasm conv gradients match the cpu kernels: ${c.name}`, async () => {
    const rng = createRng(c.x.reduce((a, b) => a * 31 + b, 7));
    const dyShape = (() => {
      const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad);
      return info.outShape as Shape4;
    })();
    const xData = randomArray(size(c.x), rng);
    const fData = randomArray(size(c.filter), rng);
    const dyData = randomArray(size(dyShape), rng);

    await tf.setBackend('cpu');
    const ref = gradients(c, xData, fData, dyData, dyShape);
    await tf.setBackend('wasm');
    const got = gradients(c, xData, fData, dyData, dyShape);

    assert.deepEqual(got.dwShape, ref.dwShape);
    assert.deepEqual(got.dxShape, ref.dxShape);
    assertClose(got.dw, ref.dw, 'filter gradient');
    assertClose(got.dx, ref.dx, 'input gradient');
  });
}

test('wasm gradient kernels leave no tensors or backend data behind', async () => {
  await tf.setBackend('wasm');
  const c = cases[1];
  const rng = createRng(3);
  const before = tf.memory().numTensors;
  const dataBefore = tf.engine().backend.numDataIds();
  gradients(
    c,
    randomArray(size(c.x), rng),
    randomArray(size(c.filter), rng),
    randomArray(8 * 8 * 8 * 20, rng),
    [8, 8, 8, 20],
  );
  assert.equal(tf.memory().numTensors, before);
  assert.equal(tf.engine().backend.numDataIds(), dataBefore);
});

test('tf.grad of a conv layer on wasm equals the cpu backend', async () => {
  const rng = createRng(11);
  const xData = randomArray(4 * 28 * 28, rng);
  const fData = randomArray(5 * 5 * 10, rng);
  const run = () =>
    tf.tidy(() => {
      const x = tf.tensor4d(xData, [4, 28, 28, 1]);
      const f = tf.tensor4d(fData, [5, 5, 1, 10]);
      const g = tf.grads((xx: tf.Tensor, ff: tf.Tensor) =>
        tf.sum(
          tf.square(
            tf.fused.conv2d({
              x: xx as tf.Tensor4D,
              filter: ff as tf.Tensor4D,
              strides: 1,
              pad: 'valid',
              activation: 'relu',
              bias: tf.ones([10]),
            }),
          ),
        ),
      )([x, f]);
      return g.map((t) => Float32Array.from(t.dataSync()));
    });
  await tf.setBackend('cpu');
  const ref = run();
  await tf.setBackend('wasm');
  const got = run();
  assertClose(got[0], ref[0], 'dx');
  assertClose(got[1], ref[1], 'dfilter');
});

const poolCases: Array<{
  name: string;
  x: Shape4;
  size: number;
  strides: number;
  pad: 'valid' | 'same';
  ties?: boolean;
}> = [
  {
    name: "the model's 2×2/2 pooling after conv1",
    x: [8, 24, 24, 10],
    size: 2,
    strides: 2,
    pad: 'valid',
  },
  {
    name: "the model's 2×2/2 pooling after conv2",
    x: [8, 8, 8, 20],
    size: 2,
    strides: 2,
    pad: 'valid',
  },
  {
    name: '2×2/2 on an odd size with same padding',
    x: [2, 7, 5, 3],
    size: 2,
    strides: 2,
    pad: 'same',
  },
  { name: 'overlapping 3×3/1 same', x: [2, 6, 6, 4], size: 3, strides: 1, pad: 'same' },
  { name: '3×3/2 valid', x: [3, 9, 9, 2], size: 3, strides: 2, pad: 'valid' },
  {
    name: 'ties go to the first maximum',
    x: [2, 6, 6, 3],
    size: 2,
    strides: 2,
    pad: 'valid',
    ties: true,
  },
];

for (const c of poolCases) {
  test(`wasm MaxPoolGrad matches the cpu backend: ${c.name}`, async () => {
    const rng = createRng(size(c.x));
    const xData = c.ties
      ? Float32Array.from({ length: size(c.x) }, (_, i) => (i % 3 === 0 ? 1 : 0))
      : randomArray(size(c.x), rng);
    const grad = async (backend: string) => {
      await tf.setBackend(backend);
      return tf.tidy(() => {
        const x = tf.tensor4d(xData, c.x);
        const dyShape = tf.maxPool(x, c.size, c.strides, c.pad).shape;
        const dy = tf.tensor4d(randomArray(size(dyShape), createRng(99)), dyShape as Shape4);
        const g = tf.grad((xx: tf.Tensor) =>
          tf.sum(tf.mul(tf.maxPool(xx as tf.Tensor4D, c.size, c.strides, c.pad), dy)),
        )(x);
        return Float32Array.from(g.dataSync());
      });
    };
    const ref = await grad('cpu');
    const got = await grad('wasm');
    assertClose(got, ref, 'MaxPoolGrad');
  });
}
