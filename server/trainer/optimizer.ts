/**
 * SGD with momentum (PyTorch's formulation: v ← μv + g; p ← p − lr·v) and Adam, written
 * out so that the learning rate can change between batches and the slot variables can be
 * checkpointed and restored for an exact resume.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { OptimizerName } from './config';
import { fusedAdam, fusedSgdMomentum } from './kernels/nativeOptimizer';

export interface Optimizer {
  readonly name: OptimizerName;
  learningRate: number;
  /** Applies one update from `grads`, keyed by variable name (as `tf.variableGrads` returns them). */
  apply(grads: Record<string, tf.Tensor>): void;
  /** Slot variables and counters, keyed `slot/param`, for checkpoints. */
  state(): { tensors: Map<string, tf.Tensor>; step: number };
  load(state: { tensors: Map<string, Float32Array>; step: number }): void;
  dispose(): void;
}

export interface OptimizerOptions {
  name: OptimizerName;
  learningRate: number;
  /** SGD's momentum μ. */
  momentum: number;
  /** Adam's decay rates and ε (PyTorch's defaults: 0.9, 0.999, 1e-8). */
  beta1: number;
  beta2: number;
  epsilon: number;
}

export function createOptimizer(
  params: ReadonlyMap<string, tf.Variable>,
  opts: OptimizerOptions,
): Optimizer {
  const slotNames = opts.name === 'sgd' ? ['momentum'] : ['m', 'v'];
  const slots = new Map<string, tf.Variable>();
  for (const [name, param] of params) {
    for (const slot of slotNames)
      slots.set(
        `${slot}/${name}`,
        tf.tidy(() => tf.variable(tf.zerosLike(param), false)),
      );
  }
  let step = 0;
  const slot = (s: string, name: string) => slots.get(`${s}/${name}`)!;

  const optimizer: Optimizer = {
    name: opts.name,
    learningRate: opts.learningRate,
    apply(grads) {
      step++;
      tf.tidy(() => {
        if (opts.name === 'sgd') {
          const lr = tf.scalar(optimizer.learningRate);
          const mu = tf.scalar(opts.momentum);
          for (const [name, param] of params) {
            const g = grads[param.name];
            if (!g) continue;
            const v = slot('momentum', name);
            // One kernel instead of four where the backend has it (native).
            const fused = fusedSgdMomentum(param, v, g, optimizer.learningRate, opts.momentum);
            if (fused) {
              param.assign(fused[0]);
              v.assign(fused[1]);
              continue;
            }
            const nv = tf.add(tf.mul(v, mu), g);
            v.assign(nv);
            param.assign(tf.sub(param, tf.mul(nv, lr)));
          }
        } else {
          const { beta1, beta2, epsilon } = opts;
          const b1 = tf.scalar(beta1);
          const b2 = tf.scalar(beta2);
          const c1 = tf.scalar(1 - beta1);
          const c2 = tf.scalar(1 - beta2);
          const stepSize = tf.scalar(optimizer.learningRate / (1 - beta1 ** step));
          const bias2 = tf.scalar(Math.sqrt(1 - beta2 ** step));
          const eps = tf.scalar(epsilon);
          for (const [name, param] of params) {
            const g = grads[param.name];
            if (!g) continue;
            const m = slot('m', name);
            const v = slot('v', name);
            const fused = fusedAdam(param, m, v, g, {
              beta1,
              beta2,
              epsilon,
              stepSize: optimizer.learningRate / (1 - beta1 ** step),
              bias2: Math.sqrt(1 - beta2 ** step),
            });
            if (fused) {
              param.assign(fused[0]);
              m.assign(fused[1]);
              v.assign(fused[2]);
              continue;
            }
            const nm = tf.add(tf.mul(m, b1), tf.mul(g, c1));
            const nv = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), c2));
            m.assign(nm);
            v.assign(nv);
            const denom = tf.add(tf.div(tf.sqrt(nv), bias2), eps);
            param.assign(tf.sub(param, tf.mul(tf.div(nm, denom), stepSize)));
          }
        }
      });
    },
    state: () => ({ tensors: new Map(slots), step }),
    load(state) {
      for (const [key, variable] of slots) {
        const values = state.tensors.get(key);
        if (!values) throw new Error(`checkpoint has no optimizer slot ${key}`);
        if (values.length !== variable.size)
          throw new Error(
            `optimizer slot ${key}: expected ${variable.size} values, got ${values.length}`,
          );
        tf.tidy(() => variable.assign(tf.tensor(values, variable.shape)));
      }
      step = state.step;
    },
    dispose: () => slots.forEach((v) => v.dispose()),
  };
  return optimizer;
}
