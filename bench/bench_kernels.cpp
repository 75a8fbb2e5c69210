// Kernel microbenchmarks (Google Benchmark): matvec (decode) throughput in GB/s of weights
// per weight type, matmul (prefill) in GFLOP/s, and the machine's read bandwidth.
//   build/bin/edgevl_bench_kernels [--benchmark_filter=Matvec]
// Weights are cycled through copies totalling >= 256 MiB, so each matvec reads from DRAM
// as decode does (a single small matrix would sit in the last-level cache).
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <vector>

#include "core/cpu_features.h"
#include "core/fp16.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/membw.h"
#include "kernels/kquant.h"
#include "kernels/qdot.h"
#include "kernels/quant.h"

using namespace edgevl;

namespace {

struct Weights {
  std::vector<std::vector<uint8_t>> copies;
  std::vector<WeightMatrix> mats;
};

Weights make_weights(DType t, int64_t N, int64_t K, size_t min_total) {
  std::mt19937 g(1);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  std::vector<float> row(K);
  Weights w;
  const size_t rb = dtype_row_bytes(t, K);
  const size_t bytes = rb * N;
  const size_t n_copies = std::max<size_t>(1, (min_total + bytes - 1) / bytes);
  std::vector<uint8_t> base(bytes);
  for (int64_t r = 0; r < N; ++r) {
    for (auto& v : row) v = nd(g);
    uint8_t* dst = base.data() + r * rb;
    switch (t) {
      case DType::F32: std::memcpy(dst, row.data(), rb); break;
      case DType::F16:
        for (int64_t k = 0; k < K; ++k) {
          uint16_t h = f32_to_f16(row[k]);
          std::memcpy(dst + 2 * k, &h, 2);
        }
        break;
      case DType::BF16:
        for (int64_t k = 0; k < K; ++k) {
          uint16_t h = f32_to_bf16(row[k]);
          std::memcpy(dst + 2 * k, &h, 2);
        }
        break;
      default: quantize_blocks(t, row.data(), dst, K); break;
    }
  }
  for (size_t c = 0; c < n_copies; ++c) {
    w.copies.push_back(base);
    WeightMatrix m;
    m.type = t;
    m.rows = N;
    m.cols = K;
    m.row_bytes = rb;
    m.data = w.copies.back().data();
    w.mats.push_back(m);
  }
  return w;
}

const DType kTypes[] = {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q5_K, DType::Q6_K};

// args: type index, N, K, threads
void BM_Matvec(benchmark::State& st) {
  const DType t = kTypes[st.range(0)];
  const int64_t N = st.range(1), K = st.range(2);
  ThreadPool pool(static_cast<int>(st.range(3)));
  Weights w = make_weights(t, N, K, size_t(256) << 20);
  std::vector<float> x(K, 0.5f), y(N);
  for (int64_t k = 0; k < K; ++k) x[k] = std::sin(0.1f * k);
  size_t i = 0;
  for (auto _ : st) {
    matmul(x.data(), 1, w.mats[i], nullptr, y.data(), pool);
    benchmark::DoNotOptimize(y.data());
    i = (i + 1) % w.mats.size();
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * w.mats[0].total_bytes()));
  st.SetLabel(std::string(dtype_name(t)) + " " + std::to_string(N) + "x" + std::to_string(K) + " t" + std::to_string(st.range(3)));
}

// The same kernel on a matrix that stays in L2 (128 rows), timed by CPU time: the kernels'
// compute ceiling, i.e. how far above DRAM bandwidth they could go. Single-threaded.
void BM_MatvecHot(benchmark::State& st) {
  const DType t = kTypes[st.range(0)];
  const int64_t N = 128, K = st.range(1);
  ThreadPool pool(1);
  Weights w = make_weights(t, N, K, 0);
  std::vector<float> x(K), y(N);
  for (int64_t k = 0; k < K; ++k) x[k] = std::sin(0.1f * k);
  for (auto _ : st) {
    matmul(x.data(), 1, w.mats[0], nullptr, y.data(), pool);
    benchmark::DoNotOptimize(y.data());
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * w.mats[0].total_bytes()));
  st.counters["Gweights/s"] = benchmark::Counter(double(N) * K * st.iterations() / 1e9, benchmark::Counter::kIsRate);
  st.SetLabel(std::string(dtype_name(t)) + " 128x" + std::to_string(K) + " in L2, t1");
}

// Prefill: M rows of activations at once; reports GFLOP/s.
void BM_Matmul(benchmark::State& st) {
  const DType t = kTypes[st.range(0)];
  const int64_t M = st.range(1), N = st.range(2), K = st.range(3);
  ThreadPool pool(static_cast<int>(st.range(4)));
  Weights w = make_weights(t, N, K, 0);
  std::vector<float> x(M * K), y(M * N);
  for (size_t k = 0; k < x.size(); ++k) x[k] = std::sin(0.01f * k);
  for (auto _ : st) {
    matmul(x.data(), M, w.mats[0], nullptr, y.data(), pool);
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * M * N * K * st.iterations() / 1e9, benchmark::Counter::kIsRate);
  st.SetLabel(std::string(dtype_name(t)) + " M=" + std::to_string(M) + " " + std::to_string(N) + "x" + std::to_string(K) + " t" +
              std::to_string(st.range(4)));
}

void BM_ReadBandwidth(benchmark::State& st) {
  ThreadPool pool(static_cast<int>(st.range(0)));
  double gbs = 0;
  for (auto _ : st) gbs = measure_read_bandwidth_gbs(pool);
  st.counters["GB/s"] = gbs;
  st.SetLabel("threads=" + std::to_string(st.range(0)) + " cpu: " + cpu_features().describe());
}

}  // namespace

BENCHMARK(BM_Matvec)
    ->ArgsProduct({{1, 3, 4}, {1536, 8960}, {1536}, {1, 2}})
    ->Args({0, 1536, 1536, 1})
    ->Args({2, 1536, 1536, 1})
    ->Args({3, 1536, 8960, 1})  // ffn_down of Qwen2-VL-2B: K = 8960
    ->Args({4, 1536, 8960, 1})
    ->ArgsProduct({{5, 6, 7}, {8960}, {1536}, {1, 2}})  // k-quants (Q4_K_M files mix Q4_K and Q6_K)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(BM_MatvecHot)->ArgsProduct({{0, 1, 2, 3, 4, 5, 6, 7}, {1536}})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Matmul)
    ->ArgsProduct({{1, 2, 3, 4}, {64}, {1536}, {1536}, {1, 2}})
    ->Args({3, 16, 1536, 1536, 1})  // below the int8 GEMM threshold (2x4 row tiles)
    ->Args({4, 16, 1536, 1536, 1})
    ->Args({3, 196, 8960, 1536, 2})  // ffn_gate of Qwen2-VL-2B over a 196-token prompt
    ->Args({4, 196, 8960, 1536, 2})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReadBandwidth)->Arg(1)->Arg(2)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
