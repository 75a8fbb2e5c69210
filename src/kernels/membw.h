// Memory read bandwidth probe: how fast this machine can stream a large buffer from DRAM
// with all threads of a pool. Decode is bandwidth-bound, so `edgevl bench` reports decode
// speed as a fraction of this figure.
#pragma once
#include <cstddef>

#include "core/thread_pool.h"

namespace edgevl {

// Streams `bytes` (rounded down to a multiple of 4 KiB per thread, at least 1 MiB) with a
// SIMD sum on every thread of `pool`, best of `reps` passes after one warm-up pass, and
// returns GB/s (1e9 bytes per second). The buffer is allocated and touched here.
double measure_read_bandwidth_gbs(ThreadPool& pool, size_t bytes = size_t(256) << 20, int reps = 5);

}  // namespace edgevl
