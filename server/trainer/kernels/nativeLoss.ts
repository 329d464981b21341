/**
 * Log-softmax + NLL as one native kernel each way, for {@link softmaxNll}: registered on the
 * native backend only, under names no other backend knows, so the op takes its composed form
 * everywhere else.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { f32, nativeAddon, output, type CpuStorageBackend } from './nativeCommon';

export const SOFTMAX_NLL_KERNEL = 'LivetrainSoftmaxNll';
export const SOFTMAX_NLL_GRAD_KERNEL = 'LivetrainSoftmaxNllGrad';

function operands(b: CpuStorageBackend, kernel: string, logits: TensorInfo, targets: TensorInfo) {
  const [x, t] = [f32(b, logits), f32(b, targets)];
  if (!x || !t) throw new Error(`${kernel}: float32 tensors only`);
  if (logits.shape.length !== 2 || logits.shape.join() !== targets.shape.join())
    throw new Error(
      `${kernel}: logits and targets must both be [rows, classes], got [${logits.shape}] and [${targets.shape}]`,
    );
  return { x, t, sizes: Int32Array.from(logits.shape) };
}

const softmaxNllNative: KernelFunc = ({ inputs, backend }) => {
  const b = backend as unknown as CpuStorageBackend;
  const { logits, targets } = inputs as Record<string, TensorInfo>;
  const { x, t, sizes } = operands(b, SOFTMAX_NLL_KERNEL, logits, targets);
  const loss = output(b, 1);
  nativeAddon().softmaxNll(x, t, loss, sizes);
  return b.makeTensorInfo([], 'float32', loss);
};

const softmaxNllGradNative: KernelFunc = ({ inputs, backend }) => {
  const b = backend as unknown as CpuStorageBackend;
  const { logits, targets, dy } = inputs as Record<string, TensorInfo>;
  const { x, t, sizes } = operands(b, SOFTMAX_NLL_GRAD_KERNEL, logits, targets);
  const dyv = f32(b, dy);
  if (!dyv || dyv.length !== 1) throw new Error(`${SOFTMAX_NLL_GRAD_KERNEL}: dy must be a scalar`);
  const dx = output(b, x.length);
  nativeAddon().softmaxNllGrad(x, t, dyv[0], dx, sizes);
  return b.makeTensorInfo(logits.shape, 'float32', dx);
};

export const NATIVE_LOSS_KERNELS: ReadonlyArray<[string, KernelFunc]> = [
  [SOFTMAX_NLL_KERNEL, softmaxNllNative],
  [SOFTMAX_NLL_GRAD_KERNEL, softmaxNllGradNative],
];
