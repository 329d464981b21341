/**
 * The `native` TF.js backend: tfjs-backend-cpu's storage and kernels, with the kernels where
 * a training step's time goes (convolutions and their gradients, pooling, matrix products)
 * replaced by oneDNN through the optional addon (server/trainer/native). Tensors are the cpu
 * backend's Float32Arrays; the addon reads and writes them in place.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { loadNativeAddon } from '../native/addon';
import { BufferPool } from './nativeBufferPool';
import { useNativeAddon } from '../kernels/nativeCommon';
import { NATIVE_CONV_KERNELS } from '../kernels/nativeConv';
import { NATIVE_ELEMENTWISE_KERNELS } from '../kernels/nativeElementwise';
import { NATIVE_LOSS_KERNELS } from '../kernels/nativeLoss';
import { NATIVE_MATMUL_KERNELS } from '../kernels/nativeMatMul';
import { NATIVE_OPTIMIZER_KERNELS } from '../kernels/nativeOptimizer';
import { NATIVE_RELU_BIAS_KERNELS } from '../kernels/nativeReluBiasGrad';
import { NATIVE_POOL_KERNELS } from '../kernels/nativePool';

export const NATIVE_BACKEND = 'native';

/** The kernels the addon provides; every other kernel is the cpu backend's. */
export const NATIVE_KERNELS: ReadonlyArray<readonly [string, tf.KernelFunc]> = [
  ...NATIVE_CONV_KERNELS,
  ...NATIVE_MATMUL_KERNELS,
  ...NATIVE_POOL_KERNELS,
  ...NATIVE_ELEMENTWISE_KERNELS,
  ...NATIVE_OPTIMIZER_KERNELS,
  ...NATIVE_LOSS_KERNELS,
  ...NATIVE_RELU_BIAS_KERNELS,
];

type DataId = object;

/**
 * The cpu backend under its own name, so that TF.js keeps the two apart, with the native
 * kernels' output arrays recycled through a {@link BufferPool}.
 */
class NativeBackend extends MathBackendCPU {
  readonly pool = new BufferPool();

  constructor() {
    super();
    // The cpu backend greets its first tensor with advice to install tfjs-node, on stderr:
    // wrong advice here, and noise beside the one backend line.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  /** An output array for a native kernel (stale contents unless `zeroed`). */
  allocFloat32(length: number, zeroed = false): Float32Array {
    return this.pool.take(length, zeroed);
  }

  override write(
    values: tf.backend_util.BackendValues,
    shape: number[],
    dtype: tf.DataType,
  ): DataId {
    this.pool.stored(values);
    return super.write(values, shape, dtype);
  }

  override move(
    dataId: DataId,
    values: tf.backend_util.BackendValues,
    shape: number[],
    dtype: tf.DataType,
    refCount: number,
  ): void {
    this.pool.stored(values);
    super.move(dataId, values, shape, dtype, refCount);
  }

  override readSync(dataId: DataId): tf.backend_util.BackendValues {
    const values = super.readSync(dataId);
    this.pool.exposed(values);
    return values;
  }

  override async read(dataId: DataId): Promise<tf.backend_util.BackendValues> {
    return this.readSync(dataId);
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    const released = super.disposeData(dataId, force);
    if (released && values !== undefined && !this.data.has(dataId)) this.pool.released(values);
    return released;
  }
}

/** OpenMP threads for oneDNN: `LIVETRAIN_NATIVE_THREADS`, else one per core. */
export function nativeThreads(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.LIVETRAIN_NATIVE_THREADS;
  if (raw === undefined || raw === '') return os.availableParallelism();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1024) {
    throw new Error(`LIVETRAIN_NATIVE_THREADS must be a whole number from 1 to 1024, got "${raw}"`);
  }
  return n;
}

function register(): void {
  if (tf.findBackendFactory(NATIVE_BACKEND)) return;
  // Lowest priority: TF.js never picks it by itself; chooseBackend() asks for it by name.
  tf.registerBackend(NATIVE_BACKEND, () => new NativeBackend(), -1);
  const native = new Map(NATIVE_KERNELS);
  for (const config of tf.getKernelsForBackend('cpu')) {
    if (native.has(config.kernelName)) continue;
    tf.registerKernel({ ...config, backendName: NATIVE_BACKEND });
  }
  for (const [kernelName, kernelFunc] of native)
    tf.registerKernel({ kernelName, backendName: NATIVE_BACKEND, kernelFunc });
}

/**
 * Loads the addon, registers the backend and makes it the active one; returns the device
 * line (`oneDNN 2.6.3 (avx512_core), 2 threads`). Throws NativeAddonUnavailable where the
 * addon cannot load.
 */
export async function initNativeBackend(threads = nativeThreads()): Promise<string> {
  const addon = loadNativeAddon();
  addon.setThreads(threads);
  useNativeAddon(addon);
  register();
  if (!(await tf.setBackend(NATIVE_BACKEND)))
    throw new Error(`tf.setBackend('${NATIVE_BACKEND}') failed`);
  await tf.ready();
  const info = addon.info();
  return `oneDNN ${info.dnnl} (${info.isa}), ${threads} thread${threads === 1 ? '' : 's'}`;
}
