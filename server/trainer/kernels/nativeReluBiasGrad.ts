/**
 * The gradient through a bias + ReLU as one native kernel (dy·step(y) and its per-channel sum),
 * for the layers in server/trainer/layers.ts: registered on the native backend only; elsewhere
 * the layers compose the same arithmetic from stock ops.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { f32, nativeAddon, output, type CpuStorageBackend } from './nativeCommon';

export const RELU_BIAS_GRAD_KERNEL = 'LivetrainReluBiasGrad';

/** Inputs dy and y of one shape [..., C]; outputs dy·step(y) (that shape) and its sum [C]. */
const reluBiasGradNative: KernelFunc = ({ inputs, backend }) => {
  const b = backend as unknown as CpuStorageBackend;
  const { dy, y } = inputs as Record<string, TensorInfo>;
  const [dyv, yv] = [f32(b, dy), f32(b, y)];
  if (!dyv || !yv) throw new Error(`${RELU_BIAS_GRAD_KERNEL}: float32 tensors only`);
  if (dy.shape.join() !== y.shape.join() || y.shape.length < 1)
    throw new Error(
      `${RELU_BIAS_GRAD_KERNEL}: dy and y must have one shape, got [${dy.shape}] and [${y.shape}]`,
    );
  const channels = y.shape[y.shape.length - 1];
  const dyAct = output(b, yv.length);
  const dBias = output(b, channels);
  nativeAddon().reluBiasGrad(dyv, yv, dyAct, dBias, Int32Array.of(yv.length / channels, channels));
  return [
    b.makeTensorInfo(y.shape, 'float32', dyAct),
    b.makeTensorInfo([channels], 'float32', dBias),
  ];
};

export const NATIVE_RELU_BIAS_KERNELS: ReadonlyArray<[string, KernelFunc]> = [
  [RELU_BIAS_GRAD_KERNEL, reluBiasGradNative],
];
