/**
 * Fast convolution gradients for the wasm backend.
 *
 * tfjs-backend-wasm 4.22 registers no `Conv2DBackpropFilter` kernel (training a conv layer
 * throws) and its `Conv2DBackpropInput` is a naive loop. For stride-1 NHWC convolutions both
 * gradients are themselves convolutions, which XNNPACK (wasm's `Conv2D`) runs fast:
 *
 * - filter gradient: dW[i,j,ci,co] = Σ_{n,p,q} x[n,p+i,q+j,ci]·dy[n,p,q,co], i.e. a valid
 *   convolution of x transposed to [Ci,H,W,N] with dy transposed to [Ho,Wo,N,Co] as the
 *   filter, giving [Ci,kh,kw,Co], transposed back to [kh,kw,Ci,Co];
 * - input gradient: a full convolution of dy (zero-padded by k-1-pad) with the spatially
 *   flipped filter whose in/out channels are swapped.
 *
 * Other cases (strides > 1, NCHW) use a plain loop (filter) or wasm's stock kernel (input).
 * The kernels compose wasm's own registered kernels, disposing every intermediate.
 */
import {
  backend_util,
  getKernel,
  registerKernel,
  unregisterKernel,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
  type TypedArray,
} from '@tensorflow/tfjs-core';

/** The slice of the wasm backend these kernels use (its class is not exported). */
interface WasmBackendLike {
  makeOutput(
    shape: number[],
    dtype: 'float32',
    memoryOffset?: number,
    values?: TypedArray,
  ): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
  readSync(dataId: object): unknown;
}

type Pad = 'valid' | 'same' | number | backend_util.ExplicitPadding;

interface FilterGradAttrs {
  strides: [number, number] | number;
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

interface InputGradAttrs {
  strides: [number, number] | number;
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

const BACKEND = 'wasm';
let stockInputGrad: KernelConfig | undefined;

/** Runs another registered wasm kernel directly, as backends do internally. */
function run(
  name: string,
  backend: WasmBackendLike,
  inputs: Record<string, TensorInfo>,
  attrs: NamedAttrMap,
): TensorInfo {
  const kernel = getKernel(name, BACKEND);
  if (!kernel) throw new Error(`wasm backend has no ${name} kernel`);
  return kernel.kernelFunc({ inputs, attrs, backend: backend as never }) as TensorInfo;
}

function free(backend: WasmBackendLike, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

function convInfoFor(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  attrs: {
    strides: [number, number] | number;
    pad: Pad;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  },
): backend_util.Conv2DInfo {
  return backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    backend_util.convertConv2DDataFormat(attrs.dataFormat),
  );
}

function isFastCase(info: backend_util.Conv2DInfo): boolean {
  return info.strideHeight === 1 && info.strideWidth === 1 && info.dataFormat === 'channelsLast';
}

/** Zero-pads an NHWC tensor spatially; returns the input itself when there is nothing to pad. */
function padSpatial(
  backend: WasmBackendLike,
  x: TensorInfo,
  top: number,
  bottom: number,
  left: number,
  right: number,
): TensorInfo {
  if (top === 0 && bottom === 0 && left === 0 && right === 0) return x;
  const paddings = [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
  return run('PadV2', backend, { x }, { paddings, constantValue: 0 } as unknown as NamedAttrMap);
}

/** dW via one XNNPACK convolution (stride 1, NHWC). */
export const conv2DBackpropFilterWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as unknown as WasmBackendLike;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as FilterGradAttrs;
  const info = convInfoFor(x.shape as [number, number, number, number], a.filterShape, a);
  if (!isFastCase(info)) return filterGradLoop(b, x, dy, info);
  const { top, bottom, left, right } = info.padInfo;
  // Positions past the output's reach contribute nothing; crop them so the "filter" fits exactly.
  const usedH = info.outHeight + info.filterHeight - 1;
  const usedW = info.outWidth + info.filterWidth - 1;
  const padded = padSpatial(b, x, top, Math.max(0, bottom), left, Math.max(0, right));
  let xs = padded;
  if (padded.shape[1] !== usedH || padded.shape[2] !== usedW) {
    xs = run('Slice', b, { x: padded }, {
      begin: [0, 0, 0, 0],
      size: [padded.shape[0], usedH, usedW, padded.shape[3]],
    } as unknown as NamedAttrMap);
  }
  const xT = run('Transpose', b, { x: xs }, { perm: [3, 1, 2, 0] }); // [Ci,H,W,N]
  const dyT = run('Transpose', b, { x: dy }, { perm: [1, 2, 0, 3] }); // [Ho,Wo,N,Co]
  const conv = run('Conv2D', b, { x: xT, filter: dyT }, {
    strides: [1, 1],
    pad: 'valid',
    dataFormat: 'NHWC',
    dilations: [1, 1],
    dimRoundingMode: undefined,
  } as unknown as NamedAttrMap); // [Ci,kh,kw,Co]
  const out = run('Transpose', b, { x: conv }, { perm: [1, 2, 0, 3] }); // [kh,kw,Ci,Co]
  free(b, xT, dyT, conv);
  if (xs !== padded) free(b, xs);
  if (padded !== x) free(b, padded);
  return out;
};

/** dx via one XNNPACK convolution with the flipped, channel-swapped filter (stride 1, NHWC). */
export const conv2DBackpropInputWasm: KernelFunc = (args) => {
  const b = args.backend as unknown as WasmBackendLike;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = args.attrs as unknown as InputGradAttrs;
  const info = convInfoFor(a.inputShape, filter.shape as [number, number, number, number], a);
  const padTop = info.filterHeight - 1 - info.padInfo.top;
  const padLeft = info.filterWidth - 1 - info.padInfo.left;
  const padBottom = info.inHeight - info.outHeight - padTop + info.filterHeight - 1;
  const padRight = info.inWidth - info.outWidth - padLeft + info.filterWidth - 1;
  if (!isFastCase(info) || Math.min(padTop, padLeft, padBottom, padRight) < 0) {
    if (!stockInputGrad) throw new Error('stock wasm Conv2DBackpropInput is not available');
    return stockInputGrad.kernelFunc(args);
  }
  const flipped = run('Reverse', b, { x: filter }, { dims: [0, 1] });
  const swapped = run('Transpose', b, { x: flipped }, { perm: [0, 1, 3, 2] }); // [kh,kw,Co,Ci]
  const dyPadded = padSpatial(b, dy, padTop, padBottom, padLeft, padRight);
  const out = run('Conv2D', b, { x: dyPadded, filter: swapped }, {
    strides: [1, 1],
    pad: 'valid',
    dataFormat: 'NHWC',
    dilations: [1, 1],
    dimRoundingMode: undefined,
  } as unknown as NamedAttrMap);
  free(b, flipped, swapped);
  if (dyPadded !== dy) free(b, dyPadded);
  return out;
};

/** General filter gradient as a plain loop: any stride, padding and data format. */
function filterGradLoop(
  b: WasmBackendLike,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const xv = b.readSync(x.dataId) as Float32Array;
  const dyv = b.readSync(dy.dataId) as Float32Array;
  const {
    batchSize: N,
    inHeight: H,
    inWidth: W,
    inChannels: Ci,
    outHeight: Ho,
    outWidth: Wo,
    outChannels: Co,
  } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const last = info.dataFormat === 'channelsLast';
  const xi = (n: number, h: number, w: number, c: number) =>
    last ? ((n * H + h) * W + w) * Ci + c : ((n * Ci + c) * H + h) * W + w;
  const yi = (n: number, h: number, w: number, c: number) =>
    last ? ((n * Ho + h) * Wo + w) * Co + c : ((n * Co + c) * Ho + h) * Wo + w;
  const out = new Float32Array(kh * kw * Ci * Co);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let ci = 0; ci < Ci; ci++) {
        for (let co = 0; co < Co; co++) {
          let sum = 0;
          for (let n = 0; n < N; n++) {
            for (let p = 0; p < Ho; p++) {
              const h = p * sh + i - info.padInfo.top;
              if (h < 0 || h >= H) continue;
              for (let q = 0; q < Wo; q++) {
                const w = q * sw + j - info.padInfo.left;
                if (w < 0 || w >= W) continue;
                sum += xv[xi(n, h, w, ci)] * dyv[yi(n, p, q, co)];
              }
            }
          }
          out[((i * kw + j) * Ci + ci) * Co + co] = sum;
        }
      }
    }
  }
  return b.makeOutput([kh, kw, Ci, Co], 'float32', undefined, out);
}

/**
 * Registers the fast conv gradients on the wasm backend. Call after `setBackend('wasm')` has
 * resolved (so the stock kernels' setup has run); calling it twice is harmless.
 */
export function installWasmConvGradients(): void {
  const current = getKernel('Conv2DBackpropInput', BACKEND);
  if (current && current.kernelFunc !== conv2DBackpropInputWasm) stockInputGrad = current;
  for (const [name, kernelFunc] of [
    ['Conv2DBackpropFilter', conv2DBackpropFilterWasm],
    ['Conv2DBackpropInput', conv2DBackpropInputWasm],
  ] as const) {
    if (getKernel(name, BACKEND)) unregisterKernel(name, BACKEND);
    registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc });
  }
}
