/**
 * Backend selection: the best TF.js backend that works on this machine, or the one asked
 * for. Best first: tfjs-node-gpu (CUDA), tfjs-node, WebGPU on a real GPU adapter, native
 * (oneDNN through the optional addon), wasm, cpu.
 * Nothing is imported or initialised until {@link chooseBackend} (or {@link initBackend}) is
 * called; {@link describeBackendChoice} is the one line a trainer prints about it.
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
  /**
   * Called with the full detail of each backend that was tried and skipped, Dawn's own
   * messages included (what `--verbose` shows); nothing else is printed.
   */
  log?: (line: string) => void;
}

/** A backend that was tried and not used. */
export interface SkippedBackend {
  name: BackendName;
  /** A few words: `not installed`, `no GPU adapter: software only`. */
  reason: string;
}

/** The backend in use, and why the better ones were not. */
export interface ChosenBackend {
  backend: BackendInfo;
  skipped: SkippedBackend[];
}

/** Thrown when the requested backend cannot run here. */
export class BackendUnavailableError extends Error {
  constructor(
    readonly backend: BackendName,
    reason: string,
  ) {
    super(`backend "${backend}" is not available: ${reason}`);
    this.name = 'BackendUnavailableError';
  }
}

/** A backend that cannot be used here: `reason` in a few words, the message in full. */
class Skip extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** The few words for an error thrown while a backend was tried. */
function shortReason(error: unknown): string {
  if (error instanceof Skip) return error.reason;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ERR_MODULE_NOT_FOUND' || /Cannot find (package|module)/.test(message))
    return 'not installed';
  const first = message.split('\n')[0];
  return first.length > 80 ? `${first.slice(0, 77)}…` : first;
}

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

/**
 * WebGPU: the adapter search runs in a child process first (Dawn prints to fd 2 while it
 * searches; see webgpuChildProbe.ts); WebGPU starts here only on an adapter it will use.
 */
async function tryWebGpu(opts: InitBackendOptions): Promise<string> {
  const { probeWebGpuInChild } = await import('./backends/webgpuChildProbe');
  const { probe, output } = await probeWebGpuInChild();
  for (const line of output.split('\n').filter((l) => l.trim()))
    opts.log?.(`webgpu: dawn: ${line}`);
  if (!probe.ok) {
    const reason = /cannot load Dawn/.test(probe.reason ?? '')
      ? 'Dawn did not load'
      : 'no GPU adapter';
    throw new Skip(reason, probe.reason ?? 'no WebGPU adapter');
  }
  if (!probe.isRealGpu && !opts.allowSoftwareWebGpu) {
    throw new Skip(
      'no GPU adapter: software only',
      `${probe.device} is a software adapter, used only when software GPUs are allowed`,
    );
  }
  const { initWebGpuBackend } = await import('./backends/webgpu');
  const used = await initWebGpuBackend({
    allowSoftware: opts.allowSoftwareWebGpu,
    only: probe.attempt,
  });
  return used.device;
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
  webgpu: tryWebGpu,
  native: async () => {
    const { initNativeBackend } = await import('./backends/native');
    const { NativeAddonUnavailable } = await import('./native/addon');
    try {
      return await initNativeBackend();
    } catch (error) {
      if (error instanceof NativeAddonUnavailable) throw new Skip(error.reason, error.message);
      throw error;
    }
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
 * Initialises and activates a backend, and says why better ones were not used. With `auto`,
 * tries each in order of preference and keeps the first that works; WebGPU counts only on a
 * real GPU adapter. A backend asked for by name that cannot run throws
 * {@link BackendUnavailableError}.
 */
export async function chooseBackend(
  choice: BackendChoice,
  opts: InitBackendOptions = {},
): Promise<ChosenBackend> {
  // tfjs-core's Node bundle carries no gradient definitions; the union package registers them
  // (into tfjs' global registry, shared with tfjs-core) as a side effect of being imported.
  await import('@tensorflow/tfjs');
  const order: readonly BackendName[] = choice === 'auto' ? BACKENDS : [choice];
  const skipped: SkippedBackend[] = [];
  const failures: string[] = [];
  for (const name of order) {
    try {
      const device = await attempts[name](
        choice === 'auto' ? { ...opts, allowSoftwareWebGpu: false } : opts,
      );
      return { backend: { name, device, host: os.hostname() }, skipped };
    } catch (error) {
      const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
      if (choice !== 'auto') throw new BackendUnavailableError(name, message);
      skipped.push({ name, reason: shortReason(error) });
      failures.push(`${name}: ${message}`);
      opts.log?.(`${name} skipped: ${message}`);
    }
  }
  throw new Error(`no TF.js backend could be initialised:\n${failures.join('\n')}`);
}

/** {@link chooseBackend} for callers that need only the backend. */
export async function initBackend(
  choice: BackendChoice,
  opts: InitBackendOptions = {},
): Promise<BackendInfo> {
  return (await chooseBackend(choice, opts)).backend;
}

/**
 * The one line a trainer prints about its backend: `wasm (WebAssembly SIMD (XNNPACK), 1 thread);
 * not tensorflow-gpu/tensorflow (not installed), not webgpu (no GPU adapter: software only)`.
 * Neighbours skipped for the same reason are named together.
 */
export function describeBackendChoice(chosen: ChosenBackend): string {
  const groups: Array<{ names: string[]; reason: string }> = [];
  for (const { name, reason } of chosen.skipped) {
    const last = groups.at(-1);
    if (last && last.reason === reason) last.names.push(name);
    else groups.push({ names: [name], reason });
  }
  const used = `${chosen.backend.name} (${chosen.backend.device})`;
  if (!groups.length) return used;
  return `${used}; ${groups.map((g) => `not ${g.names.join('/')} (${g.reason})`).join(', ')}`;
}
