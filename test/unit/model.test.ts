/**
 * The model's shape and parameter count, the optimizers, and hyperparameter validation.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { createModel, nllLoss, PARAM_SPECS } from '../../server/trainer/model';
import { createOptimizer } from '../../server/trainer/optimizer';
import { hyperparamsSchema } from '../../server/trainer/config';
import { wasmFixture } from '../helpers/trainer';

before(async () => {
  await wasmFixture();
});

test("the model has the tutorial CNN's 21,840 trainable parameters in eight tensors", () => {
  const model = createModel(1);
  assert.equal(model.parameterCount(), 21_840);
  assert.deepEqual(
    [...model.params.values()].map((v) => v.shape),
    [[5, 5, 1, 10], [10], [5, 5, 10, 20], [20], [320, 50], [50], [50, 10], [10]],
  );
  assert.equal(PARAM_SPECS.length, 8);
  model.dispose();
});

test('forward gives log-probabilities [B,10] whose exponentials sum to one', () => {
  const model = createModel(2);
  const out = tf.tidy(() => {
    const x = tf.randomNormal([5, 28, 28, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
    const logp = model.forward(x);
    return {
      shape: logp.shape,
      sums: Array.from(tf.sum(tf.exp(logp), 1).dataSync()),
      max: tf.max(logp).dataSync()[0],
    };
  });
  assert.deepEqual(out.shape, [5, 10]);
  for (const s of out.sums) assert.ok(Math.abs(s - 1) < 1e-5, `row sums to ${s}`);
  assert.ok(out.max <= 0);
  model.dispose();
});

test('initialisation is seeded: same seed, same weights; another seed, other weights', () => {
  const [a, b, c] = [createModel(7), createModel(7), createModel(8)];
  const w = (m: ReturnType<typeof createModel>) =>
    Array.from(m.params.get('fc1.weight')!.dataSync().slice(0, 20));
  assert.deepEqual(w(a), w(b));
  assert.notDeepEqual(w(a), w(c));
  // PyTorch's default bound for fc1: 1/sqrt(320).
  const bound = 1 / Math.sqrt(320);
  assert.ok(Array.from(a.params.get('fc1.weight')!.dataSync()).every((v) => Math.abs(v) <= bound));
  [a, b, c].forEach((m) => m.dispose());
});

test('training mode applies dropout deterministically per seed; inference mode has none', () => {
  const model = createModel(3);
  const run = (seed?: number) =>
    tf.tidy(() =>
      Array.from(model.forward(tf.ones([2, 28, 28, 1]) as tf.Tensor4D, seed).dataSync()),
    );
  assert.deepEqual(run(), run());
  assert.deepEqual(run(5), run(5));
  assert.notDeepEqual(run(5), run(6));
  assert.notDeepEqual(run(5), run());
  model.dispose();
});

test('SGD with momentum follows v = mu*v + g, p = p - lr*v (PyTorch formulation)', () => {
  const p = tf.variable(tf.tensor1d([1, 2]), true, 'sgd-test-p');
  const opt = createOptimizer(new Map([['p', p]]), {
    ...hyperparamsSchema.parse({}),
    name: 'sgd',
    learningRate: 0.1,
    momentum: 0.5,
  });
  opt.apply({ [p.name]: tf.tensor1d([1, 1]) }); // v = 1, p = p - 0.1
  opt.apply({ [p.name]: tf.tensor1d([1, 1]) }); // v = 1.5, p = p - 0.15
  const got = Array.from(p.dataSync());
  assert.ok(Math.abs(got[0] - 0.75) < 1e-6 && Math.abs(got[1] - 1.75) < 1e-6, `got ${got}`);
  opt.learningRate = 1;
  opt.apply({ [p.name]: tf.tensor1d([0, 0]) }); // v = 0.75, p = p - 0.75
  assert.ok(Math.abs(p.dataSync()[0] - 0) < 1e-6);
  opt.dispose();
  p.dispose();
});

test("Adam takes a first step of size lr in the gradient's direction", () => {
  const p = tf.variable(tf.tensor1d([1, -1]), true, 'adam-test-p');
  const opt = createOptimizer(new Map([['p', p]]), {
    ...hyperparamsSchema.parse({}),
    name: 'adam',
    learningRate: 0.01,
  });
  opt.apply({ [p.name]: tf.tensor1d([3, -0.5]) });
  const got = Array.from(p.dataSync());
  assert.ok(Math.abs(got[0] - 0.99) < 1e-5 && Math.abs(got[1] + 0.99) < 1e-5, `got ${got}`);
  assert.equal(opt.state().step, 1);
  assert.equal(opt.state().tensors.size, 2);
  opt.dispose();
  p.dispose();
});

test("Adam's β₁, β₂ and ε are the run's: two steps match the update written out by hand", () => {
  const [beta1, beta2, epsilon, lr] = [0.5, 0.75, 0.1, 0.01];
  const p = tf.variable(tf.tensor1d([1]), true, 'adam-params-p');
  const opt = createOptimizer(new Map([['p', p]]), {
    ...hyperparamsSchema.parse({}),
    name: 'adam',
    learningRate: lr,
    beta1,
    beta2,
    epsilon,
  });
  let [m, v, x] = [0, 0, 1];
  for (const [t, g] of [
    [1, 2],
    [2, -1],
  ]) {
    opt.apply({ [p.name]: tf.tensor1d([g]) });
    m = beta1 * m + (1 - beta1) * g;
    v = beta2 * v + (1 - beta2) * g * g;
    x -= (lr / (1 - beta1 ** t)) * (m / (Math.sqrt(v) / Math.sqrt(1 - beta2 ** t) + epsilon));
  }
  assert.ok(Math.abs(p.dataSync()[0] - x) < 1e-6, `got ${p.dataSync()[0]}, by hand ${x}`);
  opt.dispose();
  p.dispose();
});

test('NLL loss of a uniform prediction is ln 10', () => {
  const loss = tf.tidy(
    () =>
      nllLoss(
        tf.fill([4, 10], Math.log(0.1)) as tf.Tensor2D,
        tf.oneHot([1, 2, 3, 4], 10) as tf.Tensor2D,
      ).dataSync()[0],
  );
  assert.ok(Math.abs(loss - Math.log(10)) < 1e-5);
});

test('hyperparameters default to the tutorial and reject absurd values with the field named', () => {
  assert.deepEqual(hyperparamsSchema.parse({}), {
    epochs: 1,
    batchSize: 32,
    learningRate: 0.01,
    momentum: 0.5,
    optimizer: 'sgd',
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
    seed: 1,
    trainLimit: null,
    testLimit: null,
  });
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ epochs: 0 }, 'epochs'],
    [{ epochs: 1.5 }, 'epochs'],
    [{ batchSize: -32 }, 'batchSize'],
    [{ batchSize: 1e9 }, 'batchSize'],
    [{ learningRate: 0 }, 'learningRate'],
    [{ learningRate: Number.NaN }, 'learningRate'],
    [{ learningRate: 1e6 }, 'learningRate'],
    [{ momentum: 1 }, 'momentum'],
    [{ beta1: 1 }, 'beta1'],
    [{ beta2: -0.1 }, 'beta2'],
    [{ epsilon: 0 }, 'epsilon'],
    [{ optimizer: 'rmsprop' }, 'optimizer'],
    [{ seed: -1 }, 'seed'],
    [{ trainLimit: 0 }, 'trainLimit'],
    [{ epochs: '3' }, 'epochs'],
  ];
  for (const [input, field] of bad) {
    const r = hyperparamsSchema.safeParse(input);
    assert.equal(r.success, false, JSON.stringify(input));
    assert.equal(r.error!.issues[0].path[0], field);
  }
  assert.equal('extra' in hyperparamsSchema.parse({ extra: 1 }), false);
});
