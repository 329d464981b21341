/**
 * What the native kernels share: the addon they call, reading a tensor's Float32Array in
 * place from the cpu backend's storage (the `native` backend stores tensors as the cpu backend
 * does), and handing a call the native code does not cover to the stock cpu kernel.
 */
import {
  getKernel,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { NativeAddon } from '../native/addon';

/** The slice of tfjs-backend-cpu's MathBackendCPU the kernels use. */
export interface CpuStorageBackend {
  data: { get(dataId: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
  /** A recycled output array, where the backend pools them (stale contents unless `zeroed`). */
  allocFloat32?(length: number, zeroed?: boolean): Float32Array;
}

/** An output array of `length` floats for a kernel that writes every element (or asks `zeroed`). */
export function output(backend: CpuStorageBackend, length: number, zeroed = false): Float32Array {
  return backend.allocFloat32 ? backend.allocFloat32(length, zeroed) : new Float32Array(length);
}

let addon: NativeAddon | undefined;

/** Sets the addon the kernels call (the backend does it once it has loaded). */
export function useNativeAddon(a: NativeAddon): void {
  addon = a;
}

export function nativeAddon(): NativeAddon {
  if (!addon) throw new Error('the native addon is not loaded');
  return addon;
}

/** A float32 tensor's values, in place; null for anything else (the stock kernel takes it). */
export function f32(backend: CpuStorageBackend, t: TensorInfo | undefined): Float32Array | null {
  if (!t || t.dtype !== 'float32') return null;
  const values = backend.data.get(t.dataId).values;
  return values instanceof Float32Array ? values : null;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A kernel that runs `native` where it returns a result, and the stock cpu kernel otherwise. */
export function withCpuFallback(
  kernelName: string,
  native: (args: Parameters<KernelFunc>[0]) => TensorInfo | null,
): KernelFunc {
  let stock: KernelConfig | undefined;
  return (args) => {
    const out = native(args);
    if (out) return out;
    stock ??= getKernel(kernelName, 'cpu');
    if (!stock) throw new Error(`the cpu backend has no ${kernelName} kernel`);
    return stock.kernelFunc(args);
  };
}
