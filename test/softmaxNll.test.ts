/**
 * The fused log-softmax + NLL loss (server/trainer/loss.ts) against the unfused formulation
 * `nllLoss(tf.logSoftmax(logits), targets)` on the stock cpu backend: values and gradients, on
 * random logits (large ones too), one-hot and soft targets, odd shapes; composed form on cpu,
 * native kernels on native (skipped with the reason where the addon is not built).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core's Node bundle has no gradients; the union package registers them.
import '@tensorflow/tfjs';
import { initNativeBackend } from '../server/trainer/backends/native';
import { createRng } from '../server/trainer/data/shuffle';
import { SOFTMAX_NLL_KERNEL } from '../server/trainer/kernels/nativeLoss';
import { softmaxNll } from '../server/trainer/loss';
import { nllLoss } from '../server/trainer/model';
import { nativeSkipReason } from './helpers/native';

const skip = nativeSkipReason();

interface Case {
  rows: number;
  cols: number;
  scale: number;
  soft: boolean;
  seed: number;
}
const CASES: Case[] = [
  { rows: 32, cols: 10, scale: 3, soft: false, seed: 1 },
  { rows: 1, cols: 2, scale: 1, soft: false, seed: 2 },
  { rows: 7, cols: 13, scale: 60, soft: false, seed: 3 },
  { rows: 5, cols: 10, scale: 2, soft: true, seed: 4 },
  { rows: 128, cols: 10, scale: 10, soft: false, seed: 5 },
];

function inputs(c: Case): { logits: Float32Array; targets: Float32Array } {
  const rng = createRng(c.seed);
  const logits = Float32Array.from({ length: c.rows * c.cols }, () => (rng() * 2 - 1) * c.scale);
  const targets = new Float32Array(c.rows * c.cols);
  for (let r = 0; r < c.rows; r++) {
    if (c.soft) {
      // Rows that do not sum to 1, so the Σtargets term of the gradient is exercised.
      for (let k = 0; k < c.cols; k++) targets[r * c.cols + k] = rng();
    } else targets[r * c.cols + Math.floor(rng() * c.cols)] = 1;
  }
  return { logits, targets };
}

/** Loss and d loss / d logits of `loss` for one case, on the active backend. */
function lossAndGrad(
  c: Case,
  loss: (logits: tf.Tensor2D, targets: tf.Tensor2D) => tf.Scalar,
): { value: number; grad: Float32Array } {
  const { logits, targets } = inputs(c);
  return tf.tidy(() => {
    const x = tf.tensor2d(logits, [c.rows, c.cols]);
    const t = tf.tensor2d(targets, [c.rows, c.cols]);
    const { value, grad } = tf.valueAndGrad((l: tf.Tensor) => loss(l as tf.Tensor2D, t))(x);
    return { value: value.dataSync()[0], grad: Float32Array.from(grad.dataSync()) };
  });
}

const unfused = (logits: tf.Tensor2D, targets: tf.Tensor2D) =>
  nllLoss(tf.logSoftmax(logits) as tf.Tensor2D, targets);

function assertSame(
  got: { value: number; grad: Float32Array },
  want: { value: number; grad: Float32Array },
  what: string,
): void {
  const close = (a: number, b: number) => Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b));
  assert.ok(close(got.value, want.value), `${what}: loss ${got.value} vs ${want.value}`);
  assert.equal(got.grad.length, want.grad.length);
  got.grad.forEach((g, i) =>
    assert.ok(close(g, want.grad[i]), `${what}: grad[${i}] ${g} vs ${want.grad[i]}`),
  );
}

async function reference(c: Case) {
  await tf.setBackend('cpu');
  return lossAndGrad(c, unfused);
}

test('softmaxNll on cpu (composed form) equals nllLoss(logSoftmax) in value and gradient', async () => {
  for (const c of CASES) {
    const want = await reference(c);
    assert.ok(Number.isFinite(want.value) && want.value > 0, 'the reference loss is a real loss');
    assertSame(lossAndGrad(c, softmaxNll), want, `cpu ${JSON.stringify(c)}`);
  }
});

test('softmaxNll refuses logits and targets of different shapes, saying which', async () => {
  await tf.setBackend('cpu');
  assert.throws(
    () => softmaxNll(tf.zeros([2, 10]) as tf.Tensor2D, tf.zeros([2, 9]) as tf.Tensor2D),
    /logits and targets must both be \[rows, classes\], got \[2,10\] and \[2,9\]/,
  );
});

test(
  'on native, softmaxNll runs the native kernels and equals the unfused cpu loss',
  { skip },
  async () => {
    await initNativeBackend(1);
    assert.ok(tf.getKernel(SOFTMAX_NLL_KERNEL, 'native'), 'the fused kernel is registered');
    assert.equal(tf.getKernel(SOFTMAX_NLL_KERNEL, 'cpu'), undefined, 'and only on native');
    for (const c of CASES) {
      const want = await reference(c);
      await tf.setBackend('native');
      const kernels: string[] = [];
      const info = await tf.profile(() => {
        const got = lossAndGrad(c, softmaxNll);
        assertSame(got, want, `native ${JSON.stringify(c)}`);
      });
      for (const k of info.kernels) kernels.push(k.name);
      assert.ok(kernels.includes(SOFTMAX_NLL_KERNEL), `the forward ran natively: ${kernels}`);
      assert.ok(
        kernels.includes(`${SOFTMAX_NLL_KERNEL}Grad`),
        `the gradient ran natively: ${kernels}`,
      );
      assert.ok(!kernels.includes('Exp'), `no composed ops ran: ${kernels}`);
    }
  },
);
