/**
 * Backend selection: the best TF.js backend that works on this machine, or the one asked
 * for. Best first: tfjs-node-gpu (CUDA), tfjs-node, WebGPU on a real GPU adapter, wasm, cpu.
 * Nothing is imported or initialised until {@link initBackend} is called.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { BACKENDS, type BackendChoice, type BackendName } from './config';
import type { BackendInfo } from './events';
import { installWasmConvGradients } from './kernels/wasmConvGrads';
import { installWasmMaxPoolGrad } from './kernels/wasmMaxPoolGrad';

export interface InitBackendOptions {
  /** Accept a software WebGPU adapter (llvmpipe) when `webgpu` is asked for explicitly. */
  allowSoftwareWebGpu?: boolean;
  /** Called with one line per backend that was tried and skipped. */
  log?: (line: string) => void;
}

/** Thrown when the requested backend cannot run here. */
export class BackendUnavailableError extends Error {
  constructor(readonly backend: BackendName, reason: string) {
    super(`backend "${backend}" is not available: ${reason}`);
    this.name = 'BackendUnavailableError';
  }
}

type Attempt = () => Promise<string>;

async function importOptional(name: string): Promise<void> {
  // A variable specifier keeps bundlers and tsc from resolving optional packages.
  const specifier: string = name;
  await import(specifier);
}

async function activate(tfName: string): Promise<void> {
  const ok = await tf.setBackend(tfName);
  if (!ok) throw new Error(`tf.setBackend('${tfName}') failed`);
  await tf.ready();
}

const attempts: Record<BackendName, (opts: InitBackendOptions) => Promise<string>> = {
  'tensorflow-gpu': async () => {
    await importOptional('@tensorflow/tfjs-node-gpu');
    await activate('tensorflow');
    return 'TensorFlow C library with CUDA (tfjs-node-gpu)';
  },
  tensorflow: async () => {
    await importOptional('@tensorflow/tfjs-node');
    await activate('tensorflow');
    return `TensorFlow C library on CPU (tfjs-node), ${os.cpus().length} cores`;
  },
  webgpu: async (opts) => {
    const { initWebGpuBackend } = await import('./backends/webgpu');
    const probe = await initWebGpuBackend({ allowSoftware: opts.allowSoftwareWebGpu });
    return probe.device;
  },
  wasm: async () => {
    await import('@tensorflow/tfjs-backend-wasm');
    await activate('wasm');
    installWasmConvGradients();
    installWasmMaxPoolGrad();
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    return `WebAssembly${simd ? ' SIMD' : ''} (XNNPACK), 1 thread`;
  },
  cpu: async () => {
    await import('@tensorflow/tfjs-backend-cpu');
    await activate('cpu');
    return 'plain JavaScript (tfjs-backend-cpu)';
  },
};

/**
 * Initialises and activates a backend. With `auto`, tries each in order of preference and
 * returns the first that works; WebGPU counts only on a real GPU adapter.
 */
export async function initBackend(choice: BackendChoice, opts: InitBackendOptions = {}): Promise<BackendInfo> {
  // tfjs-core's Node bundle carries no gradient definitions; the union package registers them
  // (into tfjs' global registry, shared with tfjs-core) as a side effect of being imported.
  await import('@tensorflow/tfjs');
  const order: readonly BackendName[] = choice === 'auto' ? BACKENDS : [choice];
  const failures: string[] = [];
  for (const name of order) {
    const attempt: Attempt = () => attempts[name](choice === 'auto' ? { ...opts, allowSoftwareWebGpu: false } : opts);
    try {
      const device = await attempt();
      return { name, device, host: os.hostname() };
    } catch (error) {
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      if (choice !== 'auto') throw new BackendUnavailableError(name, reason);
      failures.push(`${name}: ${reason}`);
      opts.log?.(`backend ${name} skipped: ${reason}`);
    }
  }
  throw new Error(`no TF.js backend could be initialised:\n${failures.join('\n')}`);
}
