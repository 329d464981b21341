/**
 * Every native (oneDNN) kernel against the stock cpu kernel on random inputs: convolutions
 * forward (plain and fused) and both gradients, pooling forward and gradient, matrix products
 * with transposes, batches, broadcasting and fused bias/ReLU; odd sizes, strides, dilations,
 * every padding. Skipped with the reason where the addon is not built.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core's Node bundle has no gradients; the union package registers them.
import '@tensorflow/tfjs';
import { initNativeBackend } from '../server/trainer/backends/native';
import { createRng } from '../server/trainer/data/shuffle';
import { nativeSkipReason } from './helpers/native';

const skip = nativeSkipReason();
type Shape4 = [number, number, number, number];
type Pad =
  | 'valid'
  | 'same'
  | number
  | [[number, number], [number, number], [number, number], [number, number]];

const random = (shape: number[], seed: number) => {
  const rng = createRng(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng() * 2 - 1);
};

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    assert.ok(
      Number.isFinite(actual[i]) === Number.isFinite(expected[i]),
      `${what}[${i}]: ${actual[i]} vs ${expected[i]}`,
    );
    if (!Number.isFinite(expected[i])) continue;
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i])));
  }
  assert.ok(worst < 1e-4, `${what}: max relative error ${worst}`);
}

/** Runs `f` on the cpu backend and on native with the same inputs; compares every output. */
async function sameOnBoth(what: string, f: () => tf.Tensor[]): Promise<void> {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    return tf.tidy(() =>
      f().map((t) => ({ shape: t.shape, values: Float32Array.from(t.dataSync()) })),
    );
  };
  const ref = await run('cpu');
  const got = await run('native');
  assert.equal(got.length, ref.length);
  got.forEach((g, i) => {
    assert.deepEqual(g.shape, ref[i].shape, `${what} output ${i}: shape`);
    assertClose(g.values, ref[i].values, `${what} output ${i}`);
  });
}

before(async () => {
  if (!skip) await initNativeBackend(2);
});

interface ConvCase {
  name: string;
  x: Shape4;
  filter: Shape4;
  strides: number | [number, number];
  pad: Pad;
  dilations?: number;
}
const convCases: ConvCase[] = [
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
    name: 'same padding, odd kernel, odd sizes',
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
    name: 'asymmetric explicit padding',
    x: [2, 7, 6, 3],
    filter: [3, 2, 3, 4],
    strides: 1,
    pad: [
      [0, 0],
      [2, 0],
      [0, 1],
      [0, 0],
    ],
  },
  {
    name: 'stride 2 that leaves the last row unread',
    x: [2, 12, 12, 3],
    filter: [3, 3, 3, 4],
    strides: 2,
    pad: 'valid',
  },
  {
    name: 'unequal strides, same padding',
    x: [2, 11, 10, 3],
    filter: [3, 3, 3, 5],
    strides: [2, 3],
    pad: 'same',
  },
  {
    name: 'dilation 2',
    x: [2, 10, 10, 2],
    filter: [3, 3, 2, 3],
    strides: 1,
    pad: 'valid',
    dilations: 2,
  },
  {
    name: '1×1 kernel, many channels',
    x: [2, 5, 5, 17],
    filter: [1, 1, 17, 33],
    strides: 1,
    pad: 'valid',
  },
  {
    name: 'batch of one, kernel as large as the input',
    x: [1, 5, 5, 3],
    filter: [5, 5, 3, 7],
    strides: 1,
    pad: 'valid',
  },
];

for (const c of convCases) {
  test(`native convolution matches cpu, forward and gradients: ${c.name}`, { skip }, async () => {
    const seed = c.x.reduce((a, b) => a * 31 + b, 7);
    const x = random(c.x, seed);
    const w = random(c.filter, seed + 1);
    const bias = random([c.filter[3]], seed + 2);
    const dil = c.dilations ?? 1;
    await sameOnBoth('conv2d', () => {
      const xt = tf.tensor4d(x, c.x);
      const wt = tf.tensor4d(w, c.filter);
      const plain = tf.conv2d(xt, wt, c.strides, c.pad, 'NHWC', dil);
      const fused =
        (activation: 'relu' | 'linear') => (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
          tf.fused.conv2d({
            x: xx as tf.Tensor4D,
            filter: ww as tf.Tensor4D,
            bias: bb,
            strides: c.strides,
            pad: c.pad,
            dilations: dil,
            activation,
          });
      const dy = tf.tensor(random(plain.shape, seed + 3), plain.shape);
      const out: tf.Tensor[] = [
        plain,
        fused('relu')(xt, wt, tf.tensor1d(bias)),
        fused('linear')(xt, wt, tf.tensor1d(bias)),
      ];
      if (dil === 1) {
        // Gradients of the fused conv: Conv2DBackpropInput, Conv2DBackpropFilter, bias sum.
        out.push(
          ...tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
            tf.sum(tf.mul(fused('relu')(xx, ww, bb), dy)),
          )([xt, wt, tf.tensor1d(bias)]),
        );
        out.push(
          ...tf.grads((xx: tf.Tensor, ww: tf.Tensor) =>
            tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, c.strides, c.pad), dy)),
          )([xt, wt]),
        );
      }
      return out;
    });
  });
}

test(
  'the gradient kernels called directly, with the shapes conv2d gives them',
  { skip },
  async () => {
    const c = convCases[6];
    const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad as 'valid');
    const attrs = {
      strides: c.strides,
      pad: c.pad,
      dataFormat: 'NHWC',
      dimRoundingMode: undefined,
    };
    await sameOnBoth('backprop kernels', () => {
      const x = tf.tensor4d(random(c.x, 1), c.x);
      const filter = tf.tensor4d(random(c.filter, 2), c.filter);
      const dy = tf.tensor4d(random(info.outShape, 3), info.outShape);
      return [
        tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
          ...attrs,
          filterShape: c.filter,
        } as never) as tf.Tensor,
        tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, {
          ...attrs,
          inputShape: c.x,
        } as never) as tf.Tensor,
      ];
    });
  },
);

const poolCases: Array<{
  name: string;
  x: Shape4;
  size: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number;
  ties?: boolean;
}> = [
  { name: "the model's 2×2/2 after conv1", x: [8, 24, 24, 10], size: 2, strides: 2, pad: 'valid' },
  { name: '2×2/2 on odd sizes, same padding', x: [2, 7, 5, 3], size: 2, strides: 2, pad: 'same' },
  {
    name: '2×2/2 on odd sizes, valid: the last row and column get no gradient',
    x: [2, 7, 5, 3],
    size: 2,
    strides: 2,
    pad: 'valid',
  },
  { name: 'overlapping 3×3/1 same', x: [2, 6, 6, 4], size: 3, strides: 1, pad: 'same' },
  {
    name: '3×2 window, strides 2×1, explicit padding',
    x: [3, 9, 8, 2],
    size: [3, 2],
    strides: [2, 1],
    pad: 1,
  },
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
  test(`native max pooling matches cpu, forward and gradient: ${c.name}`, { skip }, async () => {
    const n = c.x.reduce((a, b) => a * b, 1);
    const x = c.ties
      ? Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0))
      : random(c.x, n);
    await sameOnBoth('maxPool', () => {
      const xt = tf.tensor4d(x, c.x);
      const y = tf.maxPool(xt, c.size, c.strides, c.pad);
      const dy = tf.tensor(random(y.shape, 5), y.shape);
      return [
        y,
        tf.grad((xx: tf.Tensor) =>
          tf.sum(tf.mul(tf.maxPool(xx as tf.Tensor4D, c.size, c.strides, c.pad), dy)),
        )(xt),
      ];
    });
  });
}

const matCases: Array<{
  name: string;
  a: number[];
  b: number[];
  ta?: boolean;
  tb?: boolean;
  forwardOnly?: boolean;
}> = [
  { name: 'fc1 of the model', a: [32, 320], b: [320, 50] },
  { name: 'odd sizes', a: [7, 13], b: [13, 5] },
  { name: 'transposed a', a: [13, 7], b: [13, 5], ta: true },
  { name: 'transposed b', a: [7, 13], b: [5, 13], tb: true },
  { name: 'both transposed', a: [13, 7], b: [5, 13], ta: true, tb: true },
  { name: 'a batch', a: [3, 4, 6], b: [3, 6, 5] },
  {
    name: 'a broadcast batch (forward only: TF.js has no gradient for it)',
    a: [2, 3, 4, 6],
    b: [6, 5],
    forwardOnly: true,
  },
  { name: 'vector times matrix', a: [1, 9], b: [9, 1] },
];

for (const c of matCases) {
  test(
    `native matrix products match cpu, plain, fused and gradients: ${c.name}`,
    { skip },
    async () => {
      const seed = c.a.length * 100 + c.b.reduce((x, y) => x * 7 + y, 1);
      const [a, b] = [random(c.a, seed), random(c.b, seed + 1)];
      const n = c.tb ? c.b.at(-2)! : c.b.at(-1)!;
      const bias = random([n], seed + 2);
      await sameOnBoth('matMul', () => {
        const at = tf.tensor(a, c.a);
        const bt = tf.tensor(b, c.b);
        const fused = (aa: tf.Tensor, bb: tf.Tensor, cc: tf.Tensor) =>
          tf.fused.matMul({
            a: aa,
            b: bb,
            transposeA: c.ta,
            transposeB: c.tb,
            bias: cc,
            activation: 'relu',
          });
        const y = fused(at, bt, tf.tensor1d(bias));
        const dy = tf.tensor(random(y.shape, seed + 3), y.shape);
        return [
          tf.matMul(at, bt, c.ta, c.tb),
          y,
          tf.fused.matMul({
            a: at,
            b: bt,
            transposeA: c.ta,
            transposeB: c.tb,
            bias: tf.tensor1d(bias),
          }),
          ...(c.forwardOnly
            ? []
            : tf.grads((aa: tf.Tensor, bb: tf.Tensor, cc: tf.Tensor) =>
                tf.sum(tf.mul(fused(aa, bb, cc), dy)),
              )([at, bt, tf.tensor1d(bias)])),
        ];
      });
    },
  );
}

test(
  'what native does not cover goes to the cpu kernels: NCHW, other activations, int32',
  { skip },
  async () => {
    await sameOnBoth('fallbacks', () => {
      const x = tf.tensor4d(random([2, 3, 6, 6], 1), [2, 3, 6, 6]);
      const w = tf.tensor4d(random([3, 3, 3, 4], 2), [3, 3, 3, 4]);
      const a = tf.tensor2d(random([4, 5], 3), [4, 5]);
      const b = tf.tensor2d(random([5, 3], 4), [5, 3]);
      return [
        tf.conv2d(x, w, 1, 'valid', 'NCHW'),
        tf.fused.conv2d({
          x: tf.transpose(x, [0, 2, 3, 1]) as tf.Tensor4D,
          filter: w,
          bias: tf.ones([4]),
          strides: 1,
          pad: 'same',
          activation: 'elu',
        }),
        tf.fused.matMul({ a, b, bias: tf.ones([4, 3]), activation: 'sigmoid' }),
        tf.cast(
          tf.matMul(
            tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'),
            tf.tensor2d([5, 6, 7, 8], [2, 2], 'int32'),
          ),
          'float32',
        ),
      ];
    });
  },
);

test('native kernels leave no tensors or backend data behind', { skip }, async () => {
  await tf.setBackend('native');
  const before = tf.memory().numTensors;
  const dataBefore = tf.engine().backend.numDataIds();
  tf.tidy(() => {
    const x = tf.tensor4d(random([4, 12, 12, 10], 1), [4, 12, 12, 10]);
    const w = tf.tensor4d(random([5, 5, 10, 20], 2), [5, 5, 10, 20]);
    const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor) =>
      tf.sum(
        tf.maxPool(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 1, 'valid'), 2, 2, 'valid'),
      ),
    )([x, w]);
    g.forEach((t) => t.dataSync());
  });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(tf.engine().backend.numDataIds(), dataBefore);
});

test(
  'the addon refuses buffers that do not match the sizes, with a clear error',
  { skip },
  async () => {
    const { loadNativeAddon } = await import('../server/trainer/native/addon');
    const addon = loadNativeAddon();
    const sizes = Int32Array.of(1, 4, 4, 1, 1, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 2, 2);
    assert.throws(
      () =>
        addon.convForward(
          new Float32Array(15),
          new Float32Array(9),
          null,
          new Float32Array(4),
          sizes,
          false,
        ),
      /x: expected 16 values, got 15/,
    );
    assert.throws(
      () =>
        addon.convForward(
          new Float32Array(16),
          new Float32Array(9),
          null,
          new Float32Array(3),
          sizes,
          false,
        ),
      /y: expected 4 values, got 3/,
    );
    assert.throws(
      () =>
        addon.matmul(
          new Float32Array(6),
          new Float32Array(6),
          null,
          new Float32Array(5),
          Int32Array.of(1, 1, 2, 3, 2, 0, 0),
          false,
        ),
      /c: expected 4 values, got 5/,
    );
    assert.throws(
      () =>
        addon.matmul(
          new Float32Array(6),
          new Float32Array(6),
          null,
          new Float32Array(4),
          Int32Array.of(2, 3, 1, 3, 2, 0, 0),
          false,
        ),
      /batches must match or be 1/,
    );
    assert.throws(
      () =>
        addon.maxPool(
          new Float32Array(16),
          new Float32Array(4),
          Int32Array.of(1, 4, 4, 1, 2, 2, 0, 2, 0, 0, 2, 2),
        ),
      /strides must be at least 1/,
    );
    // A valid call writes the convolution of ones with ones: each output is the window's size.
    const y = new Float32Array(4);
    addon.convForward(
      new Float32Array(16).fill(1),
      new Float32Array(9).fill(1),
      null,
      y,
      sizes,
      false,
    );
    assert.deepEqual([...y], [9, 9, 9, 9]);
  },
);

const binaryCases: Array<{ name: string; a: number[]; b: number[] }> = [
  { name: 'same shape', a: [3, 5, 7], b: [3, 5, 7] },
  { name: 'a scalar', a: [4, 6], b: [] },
  { name: 'bias over channels', a: [2, 5, 5, 10], b: [10] },
  { name: "Dropout2d's per-sample, per-channel mask", a: [4, 3, 3, 6], b: [4, 1, 1, 6] },
  { name: 'both sides broadcast', a: [3, 1, 5], b: [1, 4, 1] },
  { name: 'lower rank on the left', a: [5], b: [2, 3, 5] },
];

for (const c of binaryCases) {
  test(
    `native element-wise binary ops match cpu, with broadcasting: ${c.name}`,
    { skip },
    async () => {
      const [a, b] = [random(c.a, 1), random(c.b, 2).map((v) => v + (v >= 0 ? 0.5 : -0.5))];
      await sameOnBoth('binary', () => {
        const at = tf.tensor(a, c.a);
        const bt = tf.tensor(b, c.b);
        return [
          tf.add(at, bt),
          tf.sub(at, bt),
          tf.mul(at, bt),
          tf.div(at, bt),
          tf.maximum(at, bt),
          tf.minimum(at, bt),
        ];
      });
    },
  );
}

test('native unary ops and Step match cpu, NaN and zero included', { skip }, async () => {
  const values = Float32Array.from([...random([40], 3), 0, -0, NaN, 2.5, -3]);
  await sameOnBoth('unary', () => {
    const x = tf.tensor1d(values);
    const pos = tf.abs(x);
    return [
      tf.relu(x),
      tf.step(x),
      tf.step(x, 0.3),
      tf.neg(x),
      tf.exp(x),
      tf.log(pos),
      tf.sqrt(pos),
      tf.square(x),
      tf.abs(x),
    ];
  });
});

test(
  'native Sum over contiguous axes matches cpu, keepDims too; other axes fall back',
  { skip },
  async () => {
    const shape = [3, 4, 5, 6];
    const x = random(shape, 4);
    await sameOnBoth('sum', () => {
      const t = tf.tensor(x, shape);
      return [
        tf.sum(t),
        tf.sum(t, 0),
        tf.sum(t, [0, 1, 2]),
        tf.sum(t, [1, 2]),
        tf.sum(t, 3),
        tf.sum(t, -1, true),
        tf.sum(t, [1, 2], true),
        tf.sum(t, [0, 2]),
        tf.sum(tf.tensor1d([1, 2, 3], 'int32')).toFloat(),
      ];
    });
  },
);

for (const name of ['sgd', 'adam'] as const) {
  test(
    `the fused ${name} update on native equals the optimizer's plain ops on cpu over several steps`,
    { skip },
    async () => {
      const { createOptimizer } = await import('../server/trainer/optimizer');
      const shapes: Record<string, number[]> = { w: [5, 5, 3, 7], b: [7], fc: [33, 10] };
      const run = async (backend: string) => {
        await tf.setBackend(backend);
        assert.equal(
          tf.getKernel('LivetrainSgdMomentum', backend) !== undefined,
          backend === 'native',
          'the fused kernel exists on native only',
        );
        const params = new Map(
          Object.entries(shapes).map(([k, s], i) => [
            k,
            tf.variable(tf.tensor(random(s, i + 1), s), true, `${backend}-${name}-${k}`),
          ]),
        );
        const opt = createOptimizer(params, {
          name,
          learningRate: 0.05,
          momentum: 0.5,
          beta1: 0.9,
          beta2: 0.999,
          epsilon: 1e-8,
        });
        for (let step = 0; step < 4; step++) {
          tf.tidy(() => {
            const grads: Record<string, tf.Tensor> = {};
            for (const [k, p] of params)
              grads[p.name] = tf.tensor(random(p.shape, 100 * step + k.length), p.shape);
            opt.apply(grads);
          });
          opt.learningRate *= 0.9; // a learning rate that changes between steps reaches the kernel
        }
        const out = [...params.values(), ...opt.state().tensors.values()].map((t) =>
          Float32Array.from(t.dataSync()),
        );
        opt.dispose();
        params.forEach((p) => p.dispose());
        return out;
      };
      const ref = await run('cpu');
      const got = await run('native');
      got.forEach((values, i) => assertClose(values, ref[i], `${name} tensor ${i}`));
    },
  );
}

test(
  'values read out of a native tensor stay intact after it is disposed and kernels run again',
  { skip },
  async () => {
    await tf.setBackend('native');
    const x = tf.tensor4d(random([4, 12, 12, 10], 1), [4, 12, 12, 10]);
    const w = tf.tensor4d(random([5, 5, 10, 20], 2), [5, 5, 10, 20]);
    const y = tf.conv2d(x, w, 1, 'valid');
    const read = y.dataSync();
    const copy = Float32Array.from(read);
    y.dispose();
    for (let i = 0; i < 3; i++)
      tf.tidy(() => tf.relu(tf.conv2d(tf.neg(x), w, 1, 'valid')).dataSync());
    assert.deepEqual(read, copy, 'nothing wrote into an array that was handed out');
    tf.dispose([x, w]);
  },
);
