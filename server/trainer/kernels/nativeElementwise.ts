/**
 * Element-wise arithmetic, ReLU/Step and Sum on the native backend. The cpu backend's versions
 * walk generic indices in JavaScript (and Sum transposes first); a training step makes dozens
 * of these calls, and they cost more than the convolutions until they are native. Float32
 * only; other dtypes, and sums over axes that are not one contiguous block, go to the cpu.
 */
import { backend_util, util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import {
  f32,
  nativeAddon,
  output,
  sizeOf,
  withCpuFallback,
  type CpuStorageBackend,
} from './nativeCommon';

/** The addon's op codes (native/src/common.h). */
const BINARY = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Maximum: 4, Minimum: 5 } as const;
const UNARY = { Relu: 0, Step: 1, Neg: 2, Exp: 3, Log: 4, Sqrt: 5, Square: 6, Abs: 7 } as const;

/**
 * The addon's sizes for a broadcast: the output's dims with each operand's element strides
 * (0 along broadcast dims), after merging dims that both operands walk contiguously.
 */
export function broadcastSizes(aShape: number[], bShape: number[], outShape: number[]): Int32Array {
  const rank = outShape.length;
  const stridesOf = (shape: number[]) => {
    const padded = [...new Array<number>(rank - shape.length).fill(1), ...shape];
    const strides = new Array<number>(rank);
    let s = 1;
    for (let d = rank - 1; d >= 0; d--) {
      strides[d] = padded[d] === 1 ? 0 : s;
      s *= padded[d];
    }
    return strides;
  };
  const [sa, sb] = [stridesOf(aShape), stridesOf(bShape)];
  const dims: Array<{ n: number; a: number; b: number }> = [];
  for (let d = 0; d < rank; d++) {
    if (outShape[d] === 1) continue;
    const last = dims.at(-1);
    // Merge d into the dim before it when both operands step over it contiguously.
    if (last && last.a === sa[d] * outShape[d] && last.b === sb[d] * outShape[d]) {
      last.n *= outShape[d];
      last.a = sa[d];
      last.b = sb[d];
    } else dims.push({ n: outShape[d], a: sa[d], b: sb[d] });
  }
  if (!dims.length) dims.push({ n: 1, a: 0, b: 0 });
  return Int32Array.from([
    dims.length,
    ...dims.map((d) => d.n),
    ...dims.map((d) => d.a),
    ...dims.map((d) => d.b),
  ]);
}

function binary(name: keyof typeof BINARY): KernelFunc {
  return withCpuFallback(name, ({ inputs, backend }) => {
    const b = backend as unknown as CpuStorageBackend;
    const { a, b: bt } = inputs as Record<string, TensorInfo>;
    const av = f32(b, a);
    const bv = f32(b, bt);
    if (!av || !bv) return null;
    const outShape = backend_util.assertAndGetBroadcastShape(a.shape, bt.shape);
    if (sizeOf(outShape) === 0) return null;
    const out = output(b, sizeOf(outShape));
    nativeAddon().binary(BINARY[name], av, bv, out, broadcastSizes(a.shape, bt.shape, outShape));
    return b.makeTensorInfo(outShape, 'float32', out);
  });
}

function unary(name: keyof typeof UNARY): KernelFunc {
  return withCpuFallback(name, ({ inputs, backend, attrs }) => {
    const b = backend as unknown as CpuStorageBackend;
    const { x } = inputs as Record<string, TensorInfo>;
    const xv = f32(b, x);
    if (!xv) return null;
    const y = output(b, xv.length);
    nativeAddon().unary(
      UNARY[name],
      xv,
      y,
      Number((attrs as { alpha?: number } | undefined)?.alpha ?? 0),
    );
    return b.makeTensorInfo(x.shape, 'float32', y);
  });
}

export const sumNative = withCpuFallback('Sum', ({ inputs, backend, attrs }) => {
  const b = backend as unknown as CpuStorageBackend;
  const { x } = inputs as Record<string, TensorInfo>;
  const xv = f32(b, x);
  if (!xv || xv.length === 0) return null;
  const { axis, keepDims } = attrs as unknown as { axis: number | number[]; keepDims: boolean };
  const axes = util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
  if (!axes.length || axes.some((ax, i) => ax !== axes[0] + i)) return null;
  const first = axes[0];
  const last = axes.at(-1)!;
  const outer = sizeOf(x.shape.slice(0, first));
  const mid = sizeOf(x.shape.slice(first, last + 1));
  const inner = sizeOf(x.shape.slice(last + 1));
  const out = output(b, outer * inner);
  nativeAddon().sumMiddle(xv, out, Int32Array.of(outer, mid, inner));
  const outShape = keepDims
    ? x.shape.map((n, d) => (axes.includes(d) ? 1 : n))
    : x.shape.filter((_, d) => !axes.includes(d));
  return b.makeTensorInfo(outShape, 'float32', out);
});

export const NATIVE_ELEMENTWISE_KERNELS: ReadonlyArray<[string, KernelFunc]> = [
  ...(Object.keys(BINARY) as Array<keyof typeof BINARY>).map((name): [string, KernelFunc] => [
    name,
    binary(name),
  ]),
  ...(Object.keys(UNARY) as Array<keyof typeof UNARY>).map((name): [string, KernelFunc] => [
    name,
    unary(name),
  ]),
  ['Sum', sumNative],
];
