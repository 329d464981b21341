/**
 * TF.js's WebGPU backend in Node, through Dawn (the `webgpu` npm package).
 *
 * Nothing happens at import time: Dawn's native module and `@tensorflow/tfjs-backend-webgpu`
 * are loaded by the first call. Adapter search, in order:
 *   1. Dawn's defaults (Vulkan on Linux): the path a real GPU takes.
 *   2. `backend=opengles` at the `compatibility` feature level, with `EGL_PLATFORM=surfaceless`:
 *      on a machine without a GPU this finds Mesa's llvmpipe, a CPU posing as a GPU.
 * `isRealGpuAdapter` tells the two kinds apart; software is accepted only when asked for.
 *
 * Process exit: Dawn keeps no handle open, so Node exits by itself once the event loop is
 * empty, with or without `disposeWebGpuBackend()`.
 *
 * Callers: read tensors with `await t.data()`; `dataSync()` throws on this backend in Node
 * (tfjs-backend-webgpu's synchronous read path needs `OffscreenCanvas`). Gradients need
 * `@tensorflow/tfjs` imported once (tfjs-core's Node bundle registers none).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

/** What an adapter search found. `adapterInfo` holds the adapter's info fields as strings. */
export interface WebGpuProbe {
  ok: boolean;
  device: string;
  isRealGpu: boolean;
  reason?: string;
  adapterInfo?: Record<string, string>;
  /** Which way of asking Dawn found the adapter (`default`, `opengles-compat`). */
  attempt?: string;
}

export interface WebGpuOptions {
  /** Accept a software adapter (llvmpipe, SwiftShader…) in `initWebGpuBackend`. Default false. */
  allowSoftware?: boolean;
  /**
   * Ask Dawn only this way (an `attempt` a probe reported): the other ways are not tried, so
   * they print nothing (Dawn logs each failed backend to stderr itself, e.g. a missing Vulkan).
   */
  only?: string;
}

/** One way of asking Dawn for an adapter. */
interface Attempt {
  name: string;
  /** Options for `create()` of the `webgpu` package (Dawn's `key=value` toggles). */
  dawnOptions: string[];
  request: GPURequestAdapterOptions;
  /** How the device string names the path. */
  via: string;
}

const ATTEMPTS: readonly Attempt[] = [
  {
    name: 'default',
    dawnOptions: [],
    request: { powerPreference: 'high-performance' },
    via: 'Dawn',
  },
  {
    name: 'opengles-compat',
    dawnOptions: ['backend=opengles'],
    // `featureLevel` is newer than some @webgpu/types releases; Dawn reads it.
    request: {
      powerPreference: 'high-performance',
      featureLevel: 'compatibility',
    } as GPURequestAdapterOptions,
    via: 'Dawn/OpenGL ES, compatibility mode',
  },
];

const SOFTWARE_PATTERN =
  /llvmpipe|lavapipe|swiftshader|softpipe|software rasterizer|microsoft basic render/i;

/**
 * Pure: whether adapter info describes a real GPU. Software renderers (llvmpipe, lavapipe,
 * SwiftShader, softpipe), a `cpu` adapter type, a fallback adapter, or no information at all
 * count as not real.
 */
export function isRealGpuAdapter(info: Record<string, string | undefined>): boolean {
  const fields = ['vendor', 'architecture', 'device', 'description', 'adapterType'] as const;
  const text = fields.map((key) => info[key] ?? '').join(' ');
  if (text.trim() === '') return false;
  if (SOFTWARE_PATTERN.test(text)) return false;
  const adapterType = (info.adapterType ?? '').trim().toLowerCase();
  if (adapterType === 'cpu' || adapterType.startsWith('cpu')) return false;
  if ((info.isFallbackAdapter ?? '').toLowerCase() === 'true') return false;
  return true;
}

type DawnModule = typeof import('webgpu');
interface Found {
  probe: WebGpuProbe;
  adapter?: GPUAdapter;
  gpu?: GPU;
}

let dawn: Promise<DawnModule> | null = null;
const gpus = new Map<string, GPU>();
let active: { probe: WebGpuProbe; device: GPUDevice } | null = null;
let initialising: Promise<WebGpuProbe> | null = null;

/** Dawn's GL path needs these; set only where the caller has not chosen otherwise. */
function setDawnEnvironment(): void {
  process.env.EGL_PLATFORM ??= 'surfaceless';
  if (!process.env.XDG_RUNTIME_DIR) {
    const dir = mkdtempSync(join(tmpdir(), 'livetrain-xdg-'));
    process.env.XDG_RUNTIME_DIR = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
}

function loadDawn(): Promise<DawnModule> {
  if (!dawn) {
    setDawnEnvironment();
    dawn = import('webgpu');
  }
  return dawn;
}

async function gpuFor(attempt: Attempt): Promise<GPU> {
  let gpu = gpus.get(attempt.name);
  if (!gpu) {
    gpu = (await loadDawn()).create(attempt.dawnOptions);
    gpus.set(attempt.name, gpu);
  }
  return gpu;
}

/** Copies the adapter info's fields (own and prototype getters) as strings. */
function readAdapterInfo(adapter: GPUAdapter): Record<string, string> {
  const info = adapter.info as unknown as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (
    let proto: object | null = info;
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key === 'constructor' || key in out) continue;
      const value = info[key];
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
        out[key] = String(value);
      }
    }
  }
  return out;
}

function describe(info: Record<string, string>, attempt: Attempt, real: boolean): string {
  const name = (info.device ?? '').replace(/-+$/, '') || info.vendor || 'unknown adapter';
  const details = info.description ? ` (${info.description})` : '';
  return `WebGPU: ${name}${details} via ${attempt.via} (${real ? 'GPU' : 'software'})`;
}

async function findAdapter(only?: string): Promise<Found> {
  const failures: string[] = [];
  for (const attempt of ATTEMPTS.filter((a) => only === undefined || a.name === only)) {
    let gpu: GPU;
    let adapter: GPUAdapter | null;
    try {
      gpu = await gpuFor(attempt);
      adapter = await gpu.requestAdapter(attempt.request);
    } catch (error) {
      failures.push(`${attempt.name}: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    if (!adapter) {
      failures.push(`${attempt.name}: no adapter`);
      continue;
    }
    const adapterInfo = readAdapterInfo(adapter);
    const isRealGpu = isRealGpuAdapter(adapterInfo);
    return {
      adapter,
      gpu,
      probe: {
        ok: true,
        device: describe(adapterInfo, attempt, isRealGpu),
        isRealGpu,
        adapterInfo,
        attempt: attempt.name,
      },
    };
  }
  const reason = `no WebGPU adapter (${failures.join('; ')})`;
  return { probe: { ok: false, device: 'WebGPU: none', isRealGpu: false, reason } };
}

/** Adds the refusal reason to a software probe when software is not allowed. */
function withPolicy(probe: WebGpuProbe, opts: WebGpuOptions): WebGpuProbe {
  if (probe.ok && !probe.isRealGpu && !opts.allowSoftware) {
    return { ...probe, reason: 'software adapter only; pass allowSoftware to use it' };
  }
  return probe;
}

/** Creates navigator.gpu via Dawn, requests an adapter, and returns what it is, without registering anything. */
export async function probeWebGpu(opts: WebGpuOptions = {}): Promise<WebGpuProbe> {
  if (active) return withPolicy(active.probe, opts);
  try {
    return withPolicy((await findAdapter(opts.only)).probe, opts);
  } catch (error) {
    // Dawn's native module failed to load (unsupported platform, missing shared library).
    const message = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      device: 'WebGPU: none',
      isRealGpu: false,
      reason: `cannot load Dawn: ${message}`,
    };
  }
}

/** Every numeric limit the adapter reports, so the device gets the adapter's full limits. */
function adapterLimits(adapter: GPUAdapter): Record<string, number> {
  const limits = adapter.limits as unknown as Record<string, unknown>;
  const out: Record<string, number> = {};
  for (
    let proto: object | null = limits;
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      const value = limits[key];
      if (typeof value === 'number' && !(key in out)) out[key] = value;
    }
  }
  return out;
}

/** The limits tfjs-backend-webgpu's own factory asks for; the retry if Dawn rejects one of ours. */
const TFJS_LIMITS = [
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
] as const;

async function requestDevice(adapter: GPUAdapter): Promise<GPUDevice> {
  const requiredFeatures: GPUFeatureName[] = adapter.features.has('timestamp-query')
    ? ['timestamp-query']
    : [];
  const all = adapterLimits(adapter);
  try {
    return await adapter.requestDevice({ requiredFeatures, requiredLimits: all });
  } catch {
    const some = Object.fromEntries(TFJS_LIMITS.map((key) => [key, all[key]]));
    return adapter.requestDevice({ requiredFeatures, requiredLimits: some });
  }
}

/** Puts Dawn's WebGPU globals and `navigator.gpu` where tfjs-backend-webgpu looks for them. */
function installGlobals(globals: object, gpu: GPU): void {
  for (const [key, value] of Object.entries(globals)) {
    if (!(key in globalThis))
      Object.defineProperty(globalThis, key, { value, configurable: true, writable: true });
  }
  const scope = globalThis as { navigator?: { gpu?: GPU } };
  if (!scope.navigator) {
    Object.defineProperty(globalThis, 'navigator', {
      value: { gpu },
      configurable: true,
      writable: true,
    });
  } else if (!scope.navigator.gpu) {
    Object.defineProperty(scope.navigator, 'gpu', { value: gpu, configurable: true });
  }
}

async function init(opts: WebGpuOptions): Promise<WebGpuProbe> {
  const { probe, adapter, gpu } = await findAdapter(opts.only);
  if (!probe.ok || !adapter || !gpu)
    throw new Error(`WebGPU backend unavailable: ${probe.reason ?? 'no adapter'}`);
  if (!probe.isRealGpu && !opts.allowSoftware) {
    throw new Error(
      `WebGPU backend refused: ${probe.device} is a software adapter (allowSoftware is off)`,
    );
  }
  const device = await requestDevice(adapter);
  installGlobals((await loadDawn()).globals, gpu);
  // Imported only now: on import it registers its own factory if navigator.gpu exists, and
  // that factory asks for a core-level adapter, which the software path does not have.
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  const info = adapter.info;
  tf.registerBackend('webgpu', () => new WebGPUBackend(device, info), 3);
  if (!(await tf.setBackend('webgpu'))) {
    device.destroy();
    throw new Error(`WebGPU backend failed to start on ${probe.device}`);
  }
  active = { probe, device };
  return probe;
}

/** Registers and activates TF.js backend 'webgpu' on that adapter (full adapter limits requested). Throws a clear Error if no adapter. Returns the probe. */
export async function initWebGpuBackend(opts: WebGpuOptions = {}): Promise<WebGpuProbe> {
  if (active) {
    if (!active.probe.isRealGpu && !opts.allowSoftware) {
      throw new Error(
        `WebGPU backend refused: ${active.probe.device} is a software adapter (allowSoftware is off)`,
      );
    }
    await tf.setBackend('webgpu');
    return active.probe;
  }
  initialising ??= init(opts).finally(() => {
    initialising = null;
  });
  return initialising;
}

/** Removes the 'webgpu' backend and destroys its device. Optional: the process exits without it. */
export function disposeWebGpuBackend(): void {
  if (!active) return;
  // findBackend would initialise a registered-but-unused backend; check the factory instead.
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  active.device.destroy();
  active = null;
}
