/**
 * Conv2D, FusedConv2D (bias and ReLU fused, as oneDNN post-ops) and both convolution
 * gradients on the native backend: NHWC, any stride, dilation, padding and size. Other
 * activations, PReLU weights and NCHW go to the stock cpu kernels.
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
interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
  filterShape?: Shape4;
  inputShape?: Shape4;
}

function convInfo(
  xShape: Shape4,
  filterShape: Shape4,
  a: ConvAttrs,
): backend_util.Conv2DInfo | null {
  if ((a.dataFormat ?? 'NHWC') !== 'NHWC') return null;
  const info = backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    false,
    'channelsLast',
  );
  if (
    sizeOf(info.inShape) === 0 ||
    sizeOf(info.outShape) === 0 ||
    info.filterHeight * info.filterWidth === 0
  )
    return null;
  return info;
}

/** The addon's 17 sizes: n h w ci co kh kw sh sw dh dw padT padL padB padR ho wo. */
function sizes(info: backend_util.Conv2DInfo): Int32Array {
  const p = info.padInfo;
  return Int32Array.of(
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    p.top,
    p.left,
    p.bottom,
    p.right,
    info.outHeight,
    info.outWidth,
  );
}

function forward(args: Parameters<KernelFunc>[0], fused: boolean): TensorInfo | null {
  const b = args.backend as unknown as CpuStorageBackend;
  const { x, filter, bias, preluActivationWeights } = args.inputs as Record<
    string,
    TensorInfo | undefined
  >;
  const a = args.attrs as unknown as ConvAttrs;
  const activation = fused ? (a.activation ?? 'linear') : 'linear';
  if (preluActivationWeights || (activation !== 'linear' && activation !== 'relu')) return null;
  const xs = f32(b, x);
  const ws = f32(b, filter);
  if (!xs || !ws || x!.shape.length !== 4 || filter!.shape.length !== 4) return null;
  const info = convInfo(x!.shape as Shape4, filter!.shape as Shape4, a);
  if (!info) return null;
  let bs: Float32Array | null = null;
  if (bias) {
    bs = f32(b, bias);
    // A bias of any other shape broadcasts differently: the cpu kernel handles it.
    if (!bs || bs.length !== info.outChannels || bias.shape.at(-1) !== info.outChannels)
      return null;
  }
  const y = output(b, sizeOf(info.outShape));
  nativeAddon().convForward(xs, ws, bs, y, sizes(info), activation === 'relu');
  return b.makeTensorInfo(info.outShape, 'float32', y);
}

export const conv2DNative = withCpuFallback('Conv2D', (args) => forward(args, false));
export const fusedConv2DNative = withCpuFallback('FusedConv2D', (args) => forward(args, true));

export const conv2DBackpropInputNative = withCpuFallback('Conv2DBackpropInput', (args) => {
  const b = args.backend as unknown as CpuStorageBackend;
  const { dy, filter } = args.inputs as Record<string, TensorInfo>;
  const a = args.attrs as unknown as ConvAttrs;
  const dys = f32(b, dy);
  const ws = f32(b, filter);
  if (!dys || !ws || !a.inputShape || filter.shape.length !== 4) return null;
  const info = convInfo(a.inputShape, filter.shape as Shape4, a);
  if (!info || sizeOf(dy.shape) !== sizeOf(info.outShape)) return null;
  // Zeroed: input positions no output reaches get no gradient, and oneDNN leaves them alone.
  const dx = output(b, sizeOf(info.inShape), true);
  nativeAddon().convBackwardData(dys, ws, dx, sizes(info));
  return b.makeTensorInfo([...a.inputShape], 'float32', dx);
});

export const conv2DBackpropFilterNative = withCpuFallback('Conv2DBackpropFilter', (args) => {
  const b = args.backend as unknown as CpuStorageBackend;
  const { x, dy } = args.inputs as Record<string, TensorInfo>;
  const a = args.attrs as unknown as ConvAttrs;
  const xs = f32(b, x);
  const dys = f32(b, dy);
  if (!xs || !dys || !a.filterShape || x.shape.length !== 4) return null;
  const info = convInfo(x.shape as Shape4, a.filterShape, a);
  if (!info || sizeOf(dy.shape) !== sizeOf(info.outShape)) return null;
  const dw = output(b, sizeOf(a.filterShape));
  nativeAddon().convBackwardWeights(xs, dys, dw, sizes(info));
  return b.makeTensorInfo([...a.filterShape], 'float32', dw);
});

/** The kernel configs this file provides, by kernel name. */
export const NATIVE_CONV_KERNELS: ReadonlyArray<[string, KernelFunc]> = [
  ['Conv2D', conv2DNative],
  ['FusedConv2D', fusedConv2DNative],
  ['Conv2DBackpropInput', conv2DBackpropInputNative],
  ['Conv2DBackpropFilter', conv2DBackpropFilterNative],
];
