// Batched matrix products over oneDNN's matmul primitive. Transposes are strides on the
// operands' memory descriptors, so nothing is copied; a batch of one is broadcast.
#include <memory>
#include <unordered_map>
#include "common.h"

namespace lt {
using namespace dnnl;
using dt = memory::data_type;

std::string MatMulShape::key() const {
  std::string out;
  for (int64_t v : {batchA, batchB, m, k, n, int64_t(transA), int64_t(transB)}) out += std::to_string(v) + ",";
  return out;
}

namespace {
struct Entry {
  dnnl::matmul prim;
  memory a, b, bias, c;
  bool hasBias;
};

/** A [batch, rows, cols] operand stored as [batch, rows, cols] or, transposed, [batch, cols, rows]. */
memory::desc operand(int64_t batch, int64_t rows, int64_t cols, bool transposed) {
  memory::dims strides = transposed ? memory::dims{rows * cols, 1, rows} : memory::dims{rows * cols, cols, 1};
  return memory::desc({batch, rows, cols}, dt::f32, strides);
}
}  // namespace

void matmul(const MatMulShape& s, const float* a, const float* b, const float* bias, float* c, bool relu) {
  static std::unordered_map<std::string, std::unique_ptr<Entry>> cache;
  std::string key = s.key() + (bias ? "b" : "") + (relu ? "r" : "");
  auto& entry = cache[key];
  if (!entry) {
    int64_t batch = std::max(s.batchA, s.batchB);
    memory::desc aMd = operand(s.batchA, s.m, s.k, s.transA);
    memory::desc bMd = operand(s.batchB, s.k, s.n, s.transB);
    memory::desc cMd = operand(batch, s.m, s.n, false);
    memory::desc biasMd({1, 1, s.n}, dt::f32, memory::dims{s.n, s.n, 1});
    auto d = bias ? matmul::desc(aMd, bMd, biasMd, cMd) : matmul::desc(aMd, bMd, cMd);
    primitive_attr attr;
    if (relu) {
      post_ops ops;
      ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
      attr.set_post_ops(ops);
    }
    matmul::primitive_desc pd(d, attr, engine());
    entry.reset(new Entry{dnnl::matmul(pd), memory(aMd, engine(), nullptr), memory(bMd, engine(), nullptr),
                          memory(biasMd, engine(), nullptr), memory(cMd, engine(), nullptr), bias != nullptr});
  }
  Entry& e = *entry;
  e.a.set_data_handle(const_cast<float*>(a));
  e.b.set_data_handle(const_cast<float*>(b));
  e.c.set_data_handle(c);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, e.a}, {DNNL_ARG_WEIGHTS, e.b}, {DNNL_ARG_DST, e.c}};
  if (e.hasBias) {
    e.bias.set_data_handle(const_cast<float*>(bias));
    args.emplace(DNNL_ARG_BIAS, e.bias);
  }
  e.prim.execute(stream(), args);
  stream().wait();
}

}  // namespace lt
