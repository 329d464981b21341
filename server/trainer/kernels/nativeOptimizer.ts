/**
 * Fused optimizer updates: one kernel per parameter instead of four (SGD with momentum) or
 * nine (Adam) element-wise ops, registered on the native backend only. The optimizer asks
 * {@link fusedSgdMomentum} / {@link fusedAdam} and uses plain ops where they return null (any
 * other backend), so the arithmetic and the checkpointed state are the same everywhere.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { f32, nativeAddon, output, type CpuStorageBackend } from './nativeCommon';

export const SGD_MOMENTUM_KERNEL = 'LivetrainSgdMomentum';
export const ADAM_KERNEL = 'LivetrainAdam';

const sgdMomentumNative: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as unknown as CpuStorageBackend;
  const { param, velocity, grad } = inputs as Record<string, TensorInfo>;
  const [p, v, g] = [f32(b, param), f32(b, velocity), f32(b, grad)];
  if (!p || !v || !g) throw new Error(`${SGD_MOMENTUM_KERNEL}: float32 tensors only`);
  const { lr, momentum } = attrs as unknown as { lr: number; momentum: number };
  const [pOut, vOut] = [output(b, p.length), output(b, p.length)];
  nativeAddon().sgdMomentum(p, v, g, pOut, vOut, lr, momentum);
  return [
    b.makeTensorInfo(param.shape, 'float32', pOut),
    b.makeTensorInfo(param.shape, 'float32', vOut),
  ];
};

const adamNative: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as unknown as CpuStorageBackend;
  const { param, m, v, grad } = inputs as Record<string, TensorInfo>;
  const [p, mv, vv, g] = [f32(b, param), f32(b, m), f32(b, v), f32(b, grad)];
  if (!p || !mv || !vv || !g) throw new Error(`${ADAM_KERNEL}: float32 tensors only`);
  const a = attrs as unknown as {
    beta1: number;
    beta2: number;
    stepSize: number;
    bias2: number;
    epsilon: number;
  };
  const outs = [output(b, p.length), output(b, p.length), output(b, p.length)];
  nativeAddon().adam(
    p,
    mv,
    vv,
    g,
    outs[0],
    outs[1],
    outs[2],
    Float64Array.of(a.beta1, a.beta2, a.stepSize, a.bias2, a.epsilon),
  );
  return outs.map((values) => b.makeTensorInfo(param.shape, 'float32', values));
};

export const NATIVE_OPTIMIZER_KERNELS: ReadonlyArray<[string, KernelFunc]> = [
  [SGD_MOMENTUM_KERNEL, sgdMomentumNative],
  [ADAM_KERNEL, adamNative],
];

const available = (name: string) => tf.getKernel(name, tf.getBackend()) !== undefined;

/** [new param, new velocity] in one kernel where the active backend has it; null otherwise. */
export function fusedSgdMomentum(
  param: tf.Tensor,
  velocity: tf.Tensor,
  grad: tf.Tensor,
  lr: number,
  momentum: number,
): [tf.Tensor, tf.Tensor] | null {
  if (!available(SGD_MOMENTUM_KERNEL) || grad.dtype !== 'float32') return null;
  return tf
    .engine()
    .runKernel(SGD_MOMENTUM_KERNEL, { param, velocity, grad }, { lr, momentum }) as unknown as [
    tf.Tensor,
    tf.Tensor,
  ];
}

/** [new param, new m, new v] in one kernel where the active backend has it; null otherwise. */
export function fusedAdam(
  param: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  grad: tf.Tensor,
  h: { beta1: number; beta2: number; stepSize: number; bias2: number; epsilon: number },
): [tf.Tensor, tf.Tensor, tf.Tensor] | null {
  if (!available(ADAM_KERNEL) || grad.dtype !== 'float32') return null;
  return tf.engine().runKernel(ADAM_KERNEL, { param, m, v, grad }, { ...h }) as unknown as [
    tf.Tensor,
    tf.Tensor,
    tf.Tensor,
  ];
}
