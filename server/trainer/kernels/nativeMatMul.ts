/**
 * BatchMatMul and _FusedMatMul (bias and ReLU fused) on the native backend: any rank ≥ 2,
 * transposes as strides, a batch of one broadcast. Other activations, PReLU weights and batch
 * broadcasts oneDNN's matmul does not express go to the stock cpu kernels.
 */
import { backend_util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import {
  f32,
  nativeAddon,
  output,
  sizeOf,
  withCpuFallback,
  type CpuStorageBackend,
} from './nativeCommon';

interface MatMulAttrs {
  transposeA?: boolean;
  transposeB?: boolean;
  activation?: string;
}

function matmul(args: Parameters<KernelFunc>[0], fused: boolean): TensorInfo | null {
  const b = args.backend as unknown as CpuStorageBackend;
  const {
    a: at,
    b: bt,
    bias,
    preluActivationWeights,
  } = args.inputs as Record<string, TensorInfo | undefined>;
  const attrs = args.attrs as unknown as MatMulAttrs;
  const activation = fused ? (attrs.activation ?? 'linear') : 'linear';
  if (preluActivationWeights || (activation !== 'linear' && activation !== 'relu')) return null;
  const as = f32(b, at);
  const bs = f32(b, bt);
  if (!as || !bs || at!.shape.length < 2 || bt!.shape.length < 2) return null;
  const [ra, ca] = at!.shape.slice(-2);
  const [rb, cb] = bt!.shape.slice(-2);
  const transA = attrs.transposeA ?? false;
  const transB = attrs.transposeB ?? false;
  const [m, k] = transA ? [ca, ra] : [ra, ca];
  const [k2, n] = transB ? [cb, rb] : [rb, cb];
  if (k !== k2 || m === 0 || n === 0 || k === 0) return null;
  const outerA = at!.shape.slice(0, -2);
  const outerB = bt!.shape.slice(0, -2);
  let outer: number[];
  try {
    outer = backend_util.assertAndGetBroadcastShape(outerA, outerB);
  } catch {
    return null; // the stock kernel raises TF.js's own error
  }
  const [batchA, batchB, batch] = [sizeOf(outerA), sizeOf(outerB), sizeOf(outer)];
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return null;
  let biasValues: Float32Array | null = null;
  if (bias) {
    biasValues = f32(b, bias);
    if (!biasValues || biasValues.length !== n || bias.shape.at(-1) !== n) return null;
  }
  const c = output(b, batch * m * n);
  nativeAddon().matmul(
    as,
    bs,
    biasValues,
    c,
    Int32Array.of(batchA, batchB, m, k, n, transA ? 1 : 0, transB ? 1 : 0),
    activation === 'relu',
  );
  return b.makeTensorInfo([...outer, m, n], 'float32', c);
}

export const batchMatMulNative = withCpuFallback('BatchMatMul', (args) => matmul(args, false));
export const fusedMatMulNative = withCpuFallback('_FusedMatMul', (args) => matmul(args, true));

export const NATIVE_MATMUL_KERNELS: ReadonlyArray<[string, KernelFunc]> = [
  ['BatchMatMul', batchMatMulNative],
  ['_FusedMatMul', fusedMatMulNative],
];
