/**
 * MaxPool and MaxPoolGrad on the native backend (NHWC, any window, stride and padding);
 * the gradient goes to each window's first maximum, as on the cpu backend.
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

type Shape4 = [number, number, number, number];
interface PoolAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function poolInfo(
  shape: number[],
  a: PoolAttrs,
): { info: backend_util.Conv2DInfo; sizes: Int32Array } | null {
  if (shape.length !== 4) return null;
  const info = backend_util.computePool2DInfo(
    shape as Shape4,
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  if (sizeOf(info.inShape) === 0 || sizeOf(info.outShape) === 0) return null;
  const sizes = Int32Array.of(
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
    info.outHeight,
    info.outWidth,
  );
  return { info, sizes };
}

export const maxPoolNative = withCpuFallback('MaxPool', (args) => {
  const b = args.backend as unknown as CpuStorageBackend;
  const { x } = args.inputs as Record<string, TensorInfo>;
  const xs = f32(b, x);
  const pool = xs && poolInfo(x.shape, args.attrs as unknown as PoolAttrs);
  if (!xs || !pool) return null;
  const y = output(b, sizeOf(pool.info.outShape));
  nativeAddon().maxPool(xs, y, pool.sizes);
  return b.makeTensorInfo(pool.info.outShape, 'float32', y);
});

export const maxPoolGradNative = withCpuFallback('MaxPoolGrad', (args) => {
  const b = args.backend as unknown as CpuStorageBackend;
  const { dy, input } = args.inputs as Record<string, TensorInfo>;
  const xs = f32(b, input);
  const dys = f32(b, dy);
  const pool = xs && dys && poolInfo(input.shape, args.attrs as unknown as PoolAttrs);
  if (!xs || !dys || !pool || dys.length !== sizeOf(pool.info.outShape)) return null;
  const dx = output(b, xs.length);
  nativeAddon().maxPoolGrad(xs, dys, dx, pool.sizes);
  return b.makeTensorInfo(input.shape, 'float32', dx);
});

export const NATIVE_POOL_KERNELS: ReadonlyArray<[string, KernelFunc]> = [
  ['MaxPool', maxPoolNative],
  ['MaxPoolGrad', maxPoolGradNative],
];
