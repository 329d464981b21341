/**
 * Loads the optional oneDNN addon (`build/Release/livetrain_native.node`, built by
 * `npm run build:native`). Nothing is loaded until {@link loadNativeAddon} is called; a missing
 * build or a missing `libdnnl.so.2` becomes a {@link NativeAddonUnavailable} with a few words
 * for the backend report and the loader's full message.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's functions: Float32Arrays are read and written in place, sizes are Int32Arrays. */
export interface NativeAddon {
  convForward(
    x: Float32Array,
    filter: Float32Array,
    bias: Float32Array | null,
    y: Float32Array,
    sizes: Int32Array,
    relu: boolean,
  ): void;
  convBackwardData(
    dy: Float32Array,
    filter: Float32Array,
    dx: Float32Array,
    sizes: Int32Array,
  ): void;
  convBackwardWeights(x: Float32Array, dy: Float32Array, dw: Float32Array, sizes: Int32Array): void;
  matmul(
    a: Float32Array,
    b: Float32Array,
    bias: Float32Array | null,
    c: Float32Array,
    sizes: Int32Array,
    relu: boolean,
  ): void;
  maxPool(x: Float32Array, y: Float32Array, sizes: Int32Array): void;
  maxPoolGrad(x: Float32Array, dy: Float32Array, dx: Float32Array, sizes: Int32Array): void;
  /** out = a ∘ b; sizes = [rank, shape…, a's element strides…, b's element strides…] (0 = broadcast). */
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array, sizes: Int32Array): void;
  unary(op: number, x: Float32Array, y: Float32Array, alpha: number): void;
  /** out[o,i] = Σ_m x[o,m,i]; sizes = [outer, mid, inner]. */
  sumMiddle(x: Float32Array, out: Float32Array, sizes: Int32Array): void;
  sgdMomentum(
    p: Float32Array,
    v: Float32Array,
    g: Float32Array,
    pOut: Float32Array,
    vOut: Float32Array,
    lr: number,
    momentum: number,
  ): void;
  /** hyper = [beta1, beta2, stepSize, bias2, epsilon]. */
  adam(
    p: Float32Array,
    m: Float32Array,
    v: Float32Array,
    g: Float32Array,
    pOut: Float32Array,
    mOut: Float32Array,
    vOut: Float32Array,
    hyper: Float64Array,
  ): void;
  /** loss[0] = −(1/rows)·Σ targets·log_softmax(logits), row-wise; sizes = [rows, cols]. */
  softmaxNll(
    logits: Float32Array,
    targets: Float32Array,
    loss: Float32Array,
    sizes: Int32Array,
  ): void;
  /** dx = dy/rows · (softmax(logits)·Σ_row targets − targets); sizes = [rows, cols]. */
  softmaxNllGrad(
    logits: Float32Array,
    targets: Float32Array,
    dy: number,
    dx: Float32Array,
    sizes: Int32Array,
  ): void;
  /** dyAct = dy·step(y); dBias[c] = Σ_rows dyAct[·, c]; sizes = [rows, channels]. */
  reluBiasGrad(
    dy: Float32Array,
    y: Float32Array,
    dyAct: Float32Array,
    dBias: Float32Array,
    sizes: Int32Array,
  ): void;
  setThreads(threads: number): void;
  info(): { dnnl: string; isa: string; threads: number };
}

/** The addon cannot be used here: `reason` in a few words, the message in full. */
export class NativeAddonUnavailable extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'NativeAddonUnavailable';
  }
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** Where node-gyp puts the addon. */
export const NATIVE_ADDON_PATH = path.join(HERE, 'build', 'Release', 'livetrain_native.node');

let loaded: NativeAddon | undefined;

/** The addon, loaded once; throws {@link NativeAddonUnavailable} where it cannot load. */
export function loadNativeAddon(): NativeAddon {
  if (loaded) return loaded;
  if (!existsSync(NATIVE_ADDON_PATH)) {
    throw new NativeAddonUnavailable(
      'addon not built',
      `${NATIVE_ADDON_PATH} does not exist: install libdnnl-dev and a C++ compiler, then run npm run build:native`,
    );
  }
  // OpenMP threads that spin between kernels steal the core the JavaScript between kernels
  // needs; libgomp reads this once, when it loads with the addon.
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  try {
    loaded = createRequire(import.meta.url)(NATIVE_ADDON_PATH) as NativeAddon;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const reason = /libdnnl/.test(message) ? 'libdnnl not installed' : 'addon did not load';
    throw new NativeAddonUnavailable(reason, message);
  }
  return loaded;
}
