// Convolutions over oneDNN. Activations stay in TF.js's NHWC; filters arrive in HWIO and are
// reordered into the layout oneDNN picks for the primitive ("any"): filters are small, and a
// blocked filter lets oneDNN use its direct jit kernels instead of gemm on plain layouts.
// Primitives and their memory objects are cached by shape; each call only swaps data handles.
#include <algorithm>
#include <memory>
#include <unordered_map>
#include "common.h"

namespace lt {
using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

std::string ConvShape::key() const {
  std::string k;
  for (int64_t v : {n, h, w, ci, co, kh, kw, sh, sw, dh, dw, padT, padL, padB, padR, ho, wo}) k += std::to_string(v) + ",";
  return k;
}

namespace {

memory::desc act(int64_t n, int64_t c, int64_t h, int64_t w, tag t = tag::nhwc) { return memory::desc({n, c, h, w}, dt::f32, t); }

/**
 * The input's NHWC view: where the last rows or columns are never reached (a valid
 * convolution whose stride does not divide the size), oneDNN would need negative padding;
 * the view leaves them out instead, keeping the full tensor's strides.
 */
memory::desc input(const ConvShape& s) {
  int64_t usedH = std::min(s.h, (s.ho - 1) * s.sh + (s.kh - 1) * s.dh + 1 - s.padT);
  int64_t usedW = std::min(s.w, (s.wo - 1) * s.sw + (s.kw - 1) * s.dw + 1 - s.padL);
  return memory::desc({s.n, s.ci, usedH, usedW}, dt::f32, memory::dims{s.h * s.w * s.ci, 1, s.w * s.ci, s.ci});
}
memory::desc filt(const ConvShape& s, tag t) { return memory::desc({s.co, s.ci, s.kh, s.kw}, dt::f32, t); }

struct Geometry {
  memory::dims strides, dilates, padL, padR;
};
Geometry geometry(const ConvShape& s) {
  // oneDNN wants the right/bottom padding that makes its output size equal ours exactly.
  int64_t padB = std::max<int64_t>(0, (s.ho - 1) * s.sh + (s.kh - 1) * s.dh + 1 - s.h - s.padT);
  int64_t padR = std::max<int64_t>(0, (s.wo - 1) * s.sw + (s.kw - 1) * s.dw + 1 - s.w - s.padL);
  return {{s.sh, s.sw}, {s.dh - 1, s.dw - 1}, {s.padT, s.padL}, {padB, padR}};
}

convolution_forward::primitive_desc forwardHint(const ConvShape& s) {
  Geometry g = geometry(s);
  convolution_forward::desc d(prop_kind::forward_training, algorithm::convolution_direct, input(s),
                              filt(s, tag::any), act(s.n, s.co, s.ho, s.wo), g.strides, g.dilates, g.padL, g.padR);
  return convolution_forward::primitive_desc(d, engine());
}

/** A filter in HWIO order, reordered into what a primitive wants (cached with it). */
struct Filter {
  memory user, prim;
  std::unique_ptr<reorder> toPrim, fromPrim;
  Filter(const ConvShape& s, const memory::desc& want) : user(filt(s, tag::hwio), engine(), nullptr) {
    if (want == user.get_desc()) {
      prim = user;
    } else {
      prim = memory(want, engine());
      toPrim = std::make_unique<reorder>(user, prim);
      fromPrim = std::make_unique<reorder>(prim, user);
    }
  }
  memory& in(const float* data) {
    user.set_data_handle(const_cast<float*>(data));
    if (toPrim) toPrim->execute(stream(), user, prim);
    return prim;
  }
  void out(float* data) {
    user.set_data_handle(data);
    if (fromPrim) fromPrim->execute(stream(), prim, user);
  }
};

struct Fwd {
  convolution_forward prim;
  memory src, bias, dst;
  Filter filter;
  bool hasBias;
};

struct BwdData {
  convolution_backward_data prim;
  memory diffDst, diffSrc;
  Filter filter;
};

struct BwdWeights {
  convolution_backward_weights prim;
  memory src, diffDst;
  Filter filter;
};

template <typename T>
using Cache = std::unordered_map<std::string, std::unique_ptr<T>>;

}  // namespace

void convForward(const ConvShape& s, const float* x, const float* w, const float* bias, float* y, bool relu) {
  static Cache<Fwd> cache;
  std::string key = s.key() + (bias ? "b" : "") + (relu ? "r" : "");
  auto& entry = cache[key];
  if (!entry) {
    Geometry g = geometry(s);
    memory::desc biasMd({s.co}, dt::f32, tag::x);
    auto d = bias ? convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, input(s),
                                              filt(s, tag::any), biasMd, act(s.n, s.co, s.ho, s.wo), g.strides, g.dilates, g.padL, g.padR)
                  : convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, input(s),
                                              filt(s, tag::any), act(s.n, s.co, s.ho, s.wo), g.strides, g.dilates, g.padL, g.padR);
    primitive_attr attr;
    if (relu) {
      post_ops ops;
      ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
      attr.set_post_ops(ops);
    }
    convolution_forward::primitive_desc pd(d, attr, engine());
    entry.reset(new Fwd{convolution_forward(pd), memory(pd.src_desc(), engine(), nullptr), memory(biasMd, engine(), nullptr),
                        memory(pd.dst_desc(), engine(), nullptr), Filter(s, pd.weights_desc()), bias != nullptr});
  }
  Fwd& f = *entry;
  f.src.set_data_handle(const_cast<float*>(x));
  f.dst.set_data_handle(y);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, f.src}, {DNNL_ARG_WEIGHTS, f.filter.in(w)}, {DNNL_ARG_DST, f.dst}};
  if (f.hasBias) {
    f.bias.set_data_handle(const_cast<float*>(bias));
    args.emplace(DNNL_ARG_BIAS, f.bias);
  }
  f.prim.execute(stream(), args);
  stream().wait();
}

void convBackwardData(const ConvShape& s, const float* dy, const float* w, float* dx) {
  static Cache<BwdData> cache;
  auto& entry = cache[s.key()];
  if (!entry) {
    Geometry g = geometry(s);
    convolution_backward_data::desc d(algorithm::convolution_direct, input(s), filt(s, tag::any),
                                      act(s.n, s.co, s.ho, s.wo), g.strides, g.dilates, g.padL, g.padR);
    convolution_backward_data::primitive_desc pd(d, engine(), forwardHint(s));
    entry.reset(new BwdData{convolution_backward_data(pd), memory(pd.diff_dst_desc(), engine(), nullptr),
                            memory(pd.diff_src_desc(), engine(), nullptr), Filter(s, pd.weights_desc())});
  }
  BwdData& b = *entry;
  b.diffDst.set_data_handle(const_cast<float*>(dy));
  b.diffSrc.set_data_handle(dx);
  b.prim.execute(stream(), {{DNNL_ARG_DIFF_DST, b.diffDst}, {DNNL_ARG_WEIGHTS, b.filter.in(w)}, {DNNL_ARG_DIFF_SRC, b.diffSrc}});
  stream().wait();
}

void convBackwardWeights(const ConvShape& s, const float* x, const float* dy, float* dw) {
  static Cache<BwdWeights> cache;
  auto& entry = cache[s.key()];
  if (!entry) {
    Geometry g = geometry(s);
    convolution_backward_weights::desc d(algorithm::convolution_direct, input(s), filt(s, tag::any),
                                         act(s.n, s.co, s.ho, s.wo), g.strides, g.dilates, g.padL, g.padR);
    convolution_backward_weights::primitive_desc pd(d, engine(), forwardHint(s));
    entry.reset(new BwdWeights{convolution_backward_weights(pd), memory(pd.src_desc(), engine(), nullptr),
                               memory(pd.diff_dst_desc(), engine(), nullptr), Filter(s, pd.diff_weights_desc())});
  }
  BwdWeights& b = *entry;
  b.src.set_data_handle(const_cast<float*>(x));
  b.diffDst.set_data_handle(const_cast<float*>(dy));
  b.prim.execute(stream(), {{DNNL_ARG_SRC, b.src}, {DNNL_ARG_DIFF_DST, b.diffDst}, {DNNL_ARG_DIFF_WEIGHTS, b.filter.prim}});
  b.filter.out(dw);
  stream().wait();
}

}  // namespace lt
