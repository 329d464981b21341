/**
 * The tutorial's CNN, written with TF.js ops and variables (a hand-written train step is
 * faster per epoch than the Layers API's `model.fit` on the same backend; docs/benchmarks.md):
 *
 *   conv 1→10 k5 → max-pool 2 → ReLU; conv 10→20 k5 → Dropout2d(0.5) → max-pool 2 → ReLU;
 *   flatten 320; dense 320→50 → ReLU → dropout 0.5; dense 50→10; log-softmax.
 *
 * Tensors are NHWC. ReLU commutes with max-pooling and with Dropout2d's non-negative
 * per-channel scaling, so the ReLUs are fused into the convolutions and Dropout2d is applied
 * after pooling (on 4×4 instead of 8×8 maps): the same function and gradients, fewer ops.
 * The layers (./layers) stay fused while gradients are recorded, where `tf.fused` splits them
 * into separate conv, add and ReLU ops.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRng, mixSeed } from './data/shuffle';
import { conv2dBias, denseBias } from './layers';

/** Parameter names and shapes, in a fixed order (checkpoints rely on it). */
export const PARAM_SPECS = [
  { name: 'conv1.weight', shape: [5, 5, 1, 10], fanIn: 25 },
  { name: 'conv1.bias', shape: [10], fanIn: 25 },
  { name: 'conv2.weight', shape: [5, 5, 10, 20], fanIn: 250 },
  { name: 'conv2.bias', shape: [20], fanIn: 250 },
  { name: 'fc1.weight', shape: [320, 50], fanIn: 320 },
  { name: 'fc1.bias', shape: [50], fanIn: 320 },
  { name: 'fc2.weight', shape: [50, 10], fanIn: 50 },
  { name: 'fc2.bias', shape: [10], fanIn: 50 },
] as const;

export type ParamName = (typeof PARAM_SPECS)[number]['name'];

export interface Model {
  readonly params: ReadonlyMap<ParamName, tf.Variable>;
  /** Log-probabilities [B,10] for images [B,28,28,1]; `dropoutSeed` set = training mode. */
  forward(x: tf.Tensor4D, dropoutSeed?: number): tf.Tensor2D;
  /** The logits [B,10] that `forward` normalises (the training step's fused loss takes these). */
  logits(x: tf.Tensor4D, dropoutSeed?: number): tf.Tensor2D;
  parameterCount(): number;
  dispose(): void;
}

/**
 * Creates the model with PyTorch's default initialisation (kaiming-uniform with a=√5, i.e.
 * U(±1/√fan_in) for weights and biases), seeded so that runs are reproducible.
 */
export function createModel(seed: number): Model {
  const rng = createRng(mixSeed(seed, 0x5eed));
  const params = new Map<ParamName, tf.Variable>();
  for (const spec of PARAM_SPECS) {
    const bound = 1 / Math.sqrt(spec.fanIn);
    const size = spec.shape.reduce((a: number, b: number) => a * b, 1);
    const values = new Float32Array(size);
    for (let i = 0; i < size; i++) values[i] = (rng() * 2 - 1) * bound;
    const name = `${spec.name}#${uniqueId()}`;
    // tidy() frees the initial tensor; variables survive it.
    params.set(
      spec.name,
      tf.tidy(() => tf.variable(tf.tensor(values, [...spec.shape]), true, name)),
    );
  }
  const p = (name: ParamName) => params.get(name)!;

  function logits(x: tf.Tensor4D, dropoutSeed?: number): tf.Tensor2D {
    return tf.tidy((): tf.Tensor2D => {
      const training = dropoutSeed !== undefined;
      const conv = (input: tf.Tensor4D, layer: 'conv1' | 'conv2') =>
        conv2dBias(
          input,
          p(`${layer}.weight`) as tf.Tensor4D,
          p(`${layer}.bias`) as tf.Tensor1D,
          1,
          'valid',
          true,
          layer === 'conv1', // its input is the images: no gradient needed
        );
      let h = conv(x, 'conv1');
      h = tf.maxPool(h, 2, 2, 'valid');
      h = conv(h, 'conv2');
      h = tf.maxPool(h, 2, 2, 'valid');
      if (training) {
        // Dropout2d: zero whole channels per sample (noise shape [B,1,1,C]).
        h = tf.dropout(
          h,
          0.5,
          [h.shape[0], 1, 1, h.shape[3]],
          mixSeed(dropoutSeed, 1),
        ) as tf.Tensor4D;
      }
      let f: tf.Tensor2D = tf.reshape(h, [h.shape[0], 320]);
      f = denseBias(f, p('fc1.weight') as tf.Tensor2D, p('fc1.bias') as tf.Tensor1D, true);
      if (training) f = tf.dropout(f, 0.5, undefined, mixSeed(dropoutSeed, 2)) as tf.Tensor2D;
      return denseBias(f, p('fc2.weight') as tf.Tensor2D, p('fc2.bias') as tf.Tensor1D, false);
    });
  }

  function forward(x: tf.Tensor4D, dropoutSeed?: number): tf.Tensor2D {
    return tf.tidy(() => tf.logSoftmax(logits(x, dropoutSeed)) as tf.Tensor2D);
  }

  return {
    params,
    forward,
    logits,
    parameterCount: () => [...params.values()].reduce((n, v) => n + v.size, 0),
    dispose: () => params.forEach((v) => v.dispose()),
  };
}

let nextId = 0;
function uniqueId(): number {
  return nextId++;
}

/** Mean negative log-likelihood of one-hot targets [B,10] under log-probabilities [B,10]. */
export function nllLoss(logProbs: tf.Tensor2D, oneHot: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(logProbs, oneHot), 1))) as tf.Scalar);
}

/** Copies saved weights (keyed by parameter name, e.g. from a checkpoint) into the model. */
export function setWeights(
  model: Model,
  tensors: ReadonlyMap<string, { values: Float32Array }>,
): void {
  for (const [name, variable] of model.params) {
    const entry = tensors.get(name);
    if (!entry) throw new Error(`checkpoint has no tensor ${name}`);
    if (entry.values.length !== variable.size)
      throw new Error(
        `checkpoint tensor ${name} has ${entry.values.length} values, expected ${variable.size}`,
      );
    tf.tidy(() => variable.assign(tf.tensor(entry.values, variable.shape)));
  }
}
