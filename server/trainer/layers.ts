/**
 * The model's convolution and dense layers with bias + ReLU, as single ops with their own
 * gradient. The forward pass is the backend's own FusedConv2D / _FusedMatMul kernel, exactly
 * as `tf.fused.conv2d` / `tf.fused.matMul` run it. The gradient is the stock one, except that
 * the ReLU mask and the bias gradient (dy·step(y), then its sum per channel: three kernel calls)
 * are one native kernel on the native backend; elsewhere they stay those stock ops.
 */
import * as tf from '@tensorflow/tfjs-core';
import { RELU_BIAS_GRAD_KERNEL } from './kernels/nativeReluBiasGrad';

/** dy·step(y) (ReLU's gradient; dy itself without ReLU) and its sum over all but the last axis. */
function reluBiasGrad(dy: tf.Tensor, y: tf.Tensor, relu: boolean): [tf.Tensor, tf.Tensor] {
  if (
    relu &&
    dy.dtype === 'float32' &&
    tf.getKernel(RELU_BIAS_GRAD_KERNEL, tf.getBackend()) !== undefined
  ) {
    return tf.engine().runKernel(RELU_BIAS_GRAD_KERNEL, { dy, y }) as unknown as [
      tf.Tensor,
      tf.Tensor,
    ];
  }
  const dyAct = relu ? tf.mul(dy, tf.step(y)) : dy;
  const axes = dy.shape.slice(0, -1).map((_, i) => i);
  return [dyAct, tf.sum(dyAct, axes)];
}

type Saved = [tf.Tensor, tf.Tensor, tf.Tensor];

/**
 * A strided NHWC convolution with bias and optional ReLU: x [B,H,W,Ci], filter [kh,kw,Ci,Co].
 * With `inputIsData` no gradient flows to x (the images of the first layer): a custom op's
 * gradients are computed together, and the input gradient would be a wasted convolution.
 */
export function conv2dBias(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D,
  strides: number,
  pad: 'valid' | 'same',
  relu: boolean,
  inputIsData = false,
): tf.Tensor4D {
  const attrs = { strides, pad, dataFormat: 'NHWC' as const };
  const run = (kernel: string, inputs: tf.NamedTensorMap, extra: tf.NamedAttrMap) =>
    tf.engine().runKernel(kernel, inputs, { ...attrs, ...extra }) as tf.Tensor;
  const forward = (xi: tf.Tensor, w: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const y = run(
      'FusedConv2D',
      { x: xi, filter: w, bias: b },
      { dilations: [1, 1], activation: relu ? 'relu' : 'linear' },
    );
    save([xi, w, y]);
    return {
      value: y as tf.Tensor4D,
      gradFunc: (dy: tf.Tensor4D, [sx, sw, sy]: Saved) => {
        const [dyAct, dBias] = reluBiasGrad(dy, sy, relu);
        const dw = run('Conv2DBackpropFilter', { x: sx, dy: dyAct }, { filterShape: sw.shape });
        if (inputIsData) return [dw, dBias];
        const dx = run('Conv2DBackpropInput', { dy: dyAct, filter: sw }, { inputShape: sx.shape });
        return [dx, dw, dBias];
      },
    };
  };
  type CustomFn = Parameters<typeof tf.customGrad<tf.Tensor4D>>[0];
  if (inputIsData) {
    const op = tf.customGrad(((w: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) =>
      forward(x, w, b, save)) as unknown as CustomFn);
    return op(filter, bias);
  }
  const op = tf.customGrad(forward as unknown as CustomFn);
  return op(x, filter, bias);
}

/** a [M,K] · b [K,N] + bias [N], with optional ReLU. */
export function denseBias(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  bias: tf.Tensor1D,
  relu: boolean,
): tf.Tensor2D {
  const op = tf.customGrad(((
    ai: tf.Tensor2D,
    bi: tf.Tensor2D,
    c: tf.Tensor1D,
    save: tf.GradSaveFunc,
  ) => {
    const [m, n] = [ai.shape[0], bi.shape[1]];
    const y3 = tf
      .engine()
      .runKernel(
        '_FusedMatMul',
        { a: tf.reshape(ai, [1, ...ai.shape]), b: tf.reshape(bi, [1, ...bi.shape]), bias: c },
        { transposeA: false, transposeB: false, activation: relu ? 'relu' : 'linear' },
      ) as tf.Tensor3D;
    const y = tf.reshape(y3, [m, n]) as tf.Tensor2D;
    save([ai, bi, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor2D, [sa, sb, sy]: Saved) => {
        const [dyAct, dBias] = reluBiasGrad(dy, sy, relu);
        return [tf.matMul(dyAct, sb, false, true), tf.matMul(sa, dyAct, true, false), dBias];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad<tf.Tensor2D>>[0]);
  return op(a, b, bias);
}
