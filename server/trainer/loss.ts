/**
 * The training loss as one op with its own gradient: mean NLL of the targets under
 * log_softmax(logits), the same value as `nllLoss(tf.logSoftmax(logits), targets)`.
 *
 * Autodiff through the composed form records about a dozen kernels (log-softmax's max, sub,
 * exp, sum, log, sub, then mul, sum, mean, neg) and as many again for the gradient, and at this
 * model's size each call costs more than its arithmetic. The gradient has a closed form,
 * dy/B · (softmax(logits)·Σtargets − targets), so on the native backend each direction is one
 * kernel, and on every other backend (wasm, webgpu, cpu) the forward stays the stock ops and
 * the gradient is that closed form in a handful of stock ops.
 *
 * The targets are data, not parameters: no gradient flows into them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SOFTMAX_NLL_GRAD_KERNEL, SOFTMAX_NLL_KERNEL } from './kernels/nativeLoss';
import { nllLoss } from './model';

function hasNativeKernels(logits: tf.Tensor, targets: tf.Tensor): boolean {
  return (
    logits.dtype === 'float32' &&
    targets.dtype === 'float32' &&
    tf.getKernel(SOFTMAX_NLL_KERNEL, tf.getBackend()) !== undefined
  );
}

/** Mean over rows of −Σ targets · log_softmax(logits), for logits and targets [B, C]. */
export function softmaxNll(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  if (logits.rank !== 2 || logits.shape.join() !== targets.shape.join())
    throw new Error(
      `softmaxNll: logits and targets must both be [rows, classes], got [${logits.shape}] and [${targets.shape}]`,
    );
  const native = hasNativeKernels(logits, targets);
  const op = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    if (native) {
      save([x]);
      return {
        value: tf.engine().runKernel(SOFTMAX_NLL_KERNEL, { logits: x, targets }) as tf.Scalar,
        gradFunc: (dy: tf.Scalar, [saved]: tf.Tensor[]) =>
          tf.engine().runKernel(SOFTMAX_NLL_GRAD_KERNEL, {
            logits: saved,
            targets,
            dy,
          }) as tf.Tensor,
      };
    }
    const logProbs = tf.logSoftmax(x) as tf.Tensor2D;
    save([logProbs]);
    return {
      value: nllLoss(logProbs, targets),
      gradFunc: (dy: tf.Scalar, [lp]: tf.Tensor[]) =>
        tf.mul(
          tf.sub(tf.mul(tf.exp(lp), tf.sum(targets, 1, true)), targets),
          tf.div(dy, x.shape[0]),
        ),
    };
  }) as unknown as Parameters<typeof tf.customGrad<tf.Scalar>>[0]);
  return op(logits) as tf.Scalar;
}
