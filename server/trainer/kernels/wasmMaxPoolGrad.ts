/**
 * MaxPoolGrad for the wasm backend as a plain loop over wasm memory.
 *
 * wasm's stock MaxPoolGrad took a fifth of each training step of the tutorial CNN
 * (`npm run bench:profile`; docs/benchmarks.md); routing each output gradient to the position of
 * its window's first maximum, reading the heap in place, takes a fraction of that. Same
 * semantics as the cpu backend: ties go to the first maximum in window order; NHWC only.
 */
import {
  backend_util,
  getKernel,
  registerKernel,
  unregisterKernel,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

interface WasmHeapBackend {
  typedArrayFromHeap(info: TensorInfo): Float32Array;
  makeOutput(
    shape: number[],
    dtype: 'float32',
    memoryOffset?: number,
    values?: Float32Array,
  ): TensorInfo;
}

interface MaxPoolGradAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const BACKEND = 'wasm';

export const maxPoolGradWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as unknown as WasmHeapBackend;
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  const a = attrs as unknown as MaxPoolGradAttrs;
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  const {
    batchSize: N,
    inHeight: H,
    inWidth: W,
    inChannels: C,
    outHeight: Ho,
    outWidth: Wo,
  } = info;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // Views into wasm memory: valid until the next allocation, so read everything first.
  const x = b.typedArrayFromHeap(input);
  const g = b.typedArrayFromHeap(dy);
  const dx = new Float32Array(N * H * W * C);
  if (fh === 2 && fw === 2 && sh === 2 && sw === 2 && top === 0 && left === 0) {
    pool2x2(x, g, dx, N, H, W, C, Ho, Wo);
    return b.makeOutput(input.shape, 'float32', undefined, dx);
  }
  const bestVal = new Float32Array(C);
  const bestIdx = new Int32Array(C);
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < Ho; oy++) {
      for (let ox = 0; ox < Wo; ox++) {
        bestVal.fill(-Infinity);
        bestIdx.fill(-1);
        for (let fy = 0; fy < fh; fy++) {
          const iy = oy * sh - top + fy;
          if (iy < 0 || iy >= H) continue;
          for (let fx = 0; fx < fw; fx++) {
            const ix = ox * sw - left + fx;
            if (ix < 0 || ix >= W) continue;
            const base = ((n * H + iy) * W + ix) * C;
            for (let c = 0; c < C; c++) {
              const v = x[base + c];
              if (v > bestVal[c]) {
                bestVal[c] = v;
                bestIdx[c] = base + c;
              }
            }
          }
        }
        const out = ((n * Ho + oy) * Wo + ox) * C;
        for (let c = 0; c < C; c++) if (bestIdx[c] >= 0) dx[bestIdx[c]] += g[out + c];
      }
    }
  }
  return b.makeOutput(input.shape, 'float32', undefined, dx);
};

/** The tutorial's 2×2, stride-2 pooling, unrolled (window order: TL, TR, BL, BR). */
function pool2x2(
  x: Float32Array,
  g: Float32Array,
  dx: Float32Array,
  N: number,
  H: number,
  W: number,
  C: number,
  Ho: number,
  Wo: number,
): void {
  const row = W * C;
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < Ho; oy++) {
      const iy = 2 * oy;
      const bottomOk = iy + 1 < H;
      for (let ox = 0; ox < Wo; ox++) {
        const ix = 2 * ox;
        const rightOk = ix + 1 < W;
        const tl = ((n * H + iy) * W + ix) * C;
        const out = ((n * Ho + oy) * Wo + ox) * C;
        for (let c = 0; c < C; c++) {
          let at = -1;
          let best = -Infinity;
          let v = x[tl + c];
          if (v > best) {
            at = tl + c;
            best = v;
          }
          if (rightOk && (v = x[tl + C + c]) > best) {
            at = tl + C + c;
            best = v;
          }
          if (bottomOk && (v = x[tl + row + c]) > best) {
            at = tl + row + c;
            best = v;
          }
          if (bottomOk && rightOk && x[tl + row + C + c] > best) at = tl + row + C + c;
          if (at >= 0) dx[at] += g[out + c];
        }
      }
    }
  }
}

/** Registers the loop kernel on wasm; call after `setBackend('wasm')` resolved. Idempotent. */
export function installWasmMaxPoolGrad(): void {
  const current = getKernel('MaxPoolGrad', BACKEND);
  if (current) unregisterKernel('MaxPoolGrad', BACKEND);
  registerKernel({ kernelName: 'MaxPoolGrad', backendName: BACKEND, kernelFunc: maxPoolGradWasm });
}
