/* Writes test vectors for edgevl's block-quantization references from ggml itself
 * (tests/data/kquants, read by tests/test_kquant_vectors.cpp). Built and run by
 * scripts/gen_kquant_vectors.sh against a llama.cpp checkout kept OUTSIDE this repo; it
 * uses only ggml's public API: ggml_quantize_chunk() to make blocks from fixed
 * pseudo-random inputs and the type traits' to_float() for ggml's dequantized values.
 *
 * Per type T: T.blocks (the raw ggml blocks of 4 rows x 512 values) and T.f32 (ggml's
 * dequantization of them, little-endian float32). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml.h"

enum { ROWS = 4, COLS = 512 };

static uint32_t rng = 12345u;
static float next_uniform(void) { /* xorshift32 -> [-1, 1) */
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return (float)(rng >> 8) / 8388608.0f - 1.0f;
}

static int write_file(const char* dir, const char* name, const char* ext, const void* p, size_t n) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
  FILE* f = fopen(path, "wb");
  if (!f || fwrite(p, 1, n, f) != n) {
    fprintf(stderr, "cannot write %s\n", path);
    return 1;
  }
  fclose(f);
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
    return 2;
  }
  static float x[ROWS * COLS], y[ROWS * COLS];
  for (int i = 0; i < ROWS * COLS; ++i) {
    /* Mixed magnitudes per 32-value group so scales and mins take many values. */
    const float g = (float)(1 + (i / 32) % 7) * 0.25f;
    x[i] = next_uniform() * g;
  }
  for (int i = 0; i < 32; ++i) x[64 + i] = 0.0f;              /* an all-zero sub-block */
  for (int i = 0; i < 32; ++i) x[COLS + 128 + i] = 0.5f + 0.01f * i; /* positive-only */
  for (int i = 0; i < 32; ++i) x[2 * COLS + 256 + i] = -0.3f - 0.02f * i; /* negative-only */
  x[3 * COLS + 7] = 40.0f;                                     /* an outlier */

  const enum ggml_type types[] = {GGML_TYPE_Q4_0, GGML_TYPE_Q4_1, GGML_TYPE_Q5_0, GGML_TYPE_Q5_1, GGML_TYPE_Q8_0,
                                  GGML_TYPE_Q2_K, GGML_TYPE_Q3_K, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K};
  for (size_t t = 0; t < sizeof types / sizeof types[0]; ++t) {
    const enum ggml_type type = types[t];
    const size_t bytes = ggml_row_size(type, COLS) * ROWS;
    void* q = malloc(bytes);
    ggml_quantize_init(type);
    const size_t n = ggml_quantize_chunk(type, x, q, 0, ROWS, COLS, NULL);
    if (n != bytes) {
      fprintf(stderr, "%s: %zu bytes, expected %zu\n", ggml_type_name(type), n, bytes);
      return 1;
    }
    ggml_get_type_traits(type)->to_float(q, y, ROWS * COLS);
    if (write_file(argv[1], ggml_type_name(type), "blocks", q, bytes) ||
        write_file(argv[1], ggml_type_name(type), "f32", y, sizeof y))
      return 1;
    printf("%s: %zu bytes of blocks\n", ggml_type_name(type), bytes);
    free(q);
  }
  return 0;
}
