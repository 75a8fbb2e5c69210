// smart_resize, config loading and the full Qwen2-VL preprocessing vs HF goldens.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "core/mmap_file.h"
#include "core/npy.h"
#include "core/timer.h"
#include "test_util.h"
#include "vision/image.h"
#include "vision/preprocess.h"
#include "vision/resize.h"

using namespace edgevl;
using edgevl_test::fixture;

namespace {

// SHA-256 (FIPS 180-4), only to check the manifest's digests of pixel_values.
std::string sha256_hex(const uint8_t* data, size_t len) {
  static const uint32_t K[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
      0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
      0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
      0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
      0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
      0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
      0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
      0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2};
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  auto rotr = [](uint32_t x, int n) { return (x >> n) | (x << (32 - n)); };
  auto block = [&](const uint8_t* p) {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i)
      w[i] = (uint32_t(p[4 * i]) << 24) | (uint32_t(p[4 * i + 1]) << 16) |
             (uint32_t(p[4 * i + 2]) << 8) | p[4 * i + 3];
    for (int i = 16; i < 64; ++i) {
      uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; ++i) {
      uint32_t t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
      uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
  };
  size_t full = len / 64 * 64;
  for (size_t i = 0; i < full; i += 64) block(data + i);
  uint8_t tail[128] = {0};
  size_t rem = len - full;
  if (rem) std::memcpy(tail, data + full, rem);
  tail[rem] = 0x80;
  size_t tl = rem + 1 + 8 <= 64 ? 64 : 128;
  uint64_t bits = static_cast<uint64_t>(len) * 8;
  for (int i = 0; i < 8; ++i) tail[tl - 1 - i] = static_cast<uint8_t>(bits >> (8 * i));
  for (size_t i = 0; i < tl; i += 64) block(tail + i);
  char out[65];
  for (int i = 0; i < 8; ++i) std::snprintf(out + 8 * i, 9, "%08x", h[i]);
  return out;
}

nlohmann::json load_json(const std::string& path) { return nlohmann::json::parse(read_text_file(path)); }

ImageU8 from_npy(const std::string& path) {
  NpyArray a = load_npy(path);
  ImageU8 im;
  im.height = static_cast<int>(a.shape.at(0));
  im.width = static_cast<int>(a.shape.at(1));
  im.rgb = a.as_u8();
  return im;
}

const nlohmann::json* manifest_entry(const nlohmann::json& m, const std::string& file) {
  for (const auto& f : m["files"])
    if (f["file"] == file) return &f;
  return nullptr;
}

void expect_grid(const PixelPatches& p, const std::string& case_name) {
  std::vector<int64_t> g = load_npy(fixture("preprocess/" + case_name + ".image_grid_thw.npy")).as_i64();
  ASSERT_EQ(g.size(), 3u);
  EXPECT_EQ(p.grid_t, g[0]) << case_name;
  EXPECT_EQ(p.grid_h, g[1]) << case_name;
  EXPECT_EQ(p.grid_w, g[2]) << case_name;
}

}  // namespace

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(reinterpret_cast<const uint8_t*>("abc"), 3),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(nullptr, 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const char* m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(sha256_hex(reinterpret_cast<const uint8_t*>(m), std::strlen(m)),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(SmartResize, AllGoldenCases) {
  REQUIRE_FIXTURES();
  nlohmann::json cases = load_json(fixture("preprocess/smart_resize_cases.json"));
  ASSERT_EQ(cases.size(), 18u);
  for (const auto& c : cases) {
    const int h = c["height"], w = c["width"], f = c["factor"];
    const int64_t mn = c["min_pixels"], mx = c["max_pixels"];
    if (c.contains("error")) {
      EXPECT_THROW(smart_resize(h, w, f, mn, mx), Error) << c.dump();
      continue;
    }
    SmartSize s = smart_resize(h, w, f, mn, mx);
    EXPECT_EQ(s.height, c["out_height"].get<int>()) << c.dump();
    EXPECT_EQ(s.width, c["out_width"].get<int>()) << c.dump();
  }
}

TEST(SmartResize, ErrorsAndRounding) {
  EXPECT_EQ(smart_resize(70, 70, 28, 3136, 12845056).height, 56);  // 2.5 -> 2 (ties to even)
  EXPECT_EQ(smart_resize(98, 98, 28, 3136, 12845056).height, 112); // 3.5 -> 4
  for (auto hw : {std::pair<int, int>{27, 100}, {100, 27}, {0, 50}, {-5, 50}}) {
    try {
      smart_resize(hw.first, hw.second, 28, 3136, 12845056);
      ADD_FAILURE() << hw.first << "x" << hw.second;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    }
  }
  EXPECT_THROW(smart_resize(28, 28 * 201, 28, 3136, 1LL << 40), Error);  // aspect 201
  EXPECT_NO_THROW(smart_resize(28, 28 * 200, 28, 3136, 1LL << 40));      // aspect 200 is fine
  EXPECT_THROW(smart_resize(100, 100, 0, 3136, 12845056), Error);
  EXPECT_THROW(smart_resize(100, 100, 28, 5000, 4000), Error);
}

TEST(PreprocessConfig, LoadsFixtureAndRejectsBadFields) {
  REQUIRE_FIXTURES();
  for (const char* m : {"tiny-qwen2-vl", "tiny-qwen2.5-vl"}) {
    PreprocessConfig c = PreprocessConfig::load(fixture(std::string(m) + "/preprocessor_config.json"));
    PreprocessConfig d;
    EXPECT_EQ(c.min_pixels, 3136);
    EXPECT_EQ(c.max_pixels, 12845056);
    EXPECT_EQ(c.patch_size, 14);
    EXPECT_EQ(c.merge_size, 2);
    EXPECT_EQ(c.temporal_patch_size, 2);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(c.mean[i], d.mean[i]);  // the float literals round like numpy's float32()
      EXPECT_EQ(c.std[i], d.std[i]);
    }
    EXPECT_EQ(c.rescale_factor, 0.00392156862745098);
  }
  const std::string dir = edgevl_test::temp_dir();
  auto write = [&](const std::string& name, const std::string& text) {
    std::string p = dir + "/" + name;
    write_file_atomic(p, text.data(), text.size());
    return p;
  };
  auto expect_format_error = [](const std::string& path, const std::string& field) {
    try {
      PreprocessConfig::load(path);
      ADD_FAILURE() << path;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kFormat) << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  expect_format_error(write("pc1.json", "{\"patch_size\": \"14\"}"), "patch_size");
  expect_format_error(write("pc2.json", "{\"image_mean\": [0.5, 0.5]}"), "image_mean");
  expect_format_error(write("pc3.json", "{\"max_pixels\": 10, \"min_pixels\": 100}"), "min_pixels");
  expect_format_error(write("pc4.json", "{not json"), "JSON");
  expect_format_error(write("pc5.json", "{\"image_std\": [0.5, 0, 0.5]}"), "image_std");
  PreprocessConfig s = PreprocessConfig::load(
      write("pc6.json", "{\"size\": {\"shortest_edge\": 100, \"longest_edge\": 200704}}"));
  EXPECT_EQ(s.min_pixels, 100);
  EXPECT_EQ(s.max_pixels, 200704);
  EXPECT_THROW(PreprocessConfig::load(dir + "/nope.json"), Error);
}

// Full pipeline vs HF pixel_values. The sq392 cases start from the stored PNGs.
TEST(Preprocess, PixelValuesMatchHf) {
  REQUIRE_FIXTURES();
  struct Case {
    const char* name;
    const char* image;
  };
  for (const Case& c : {Case{"demo_native", "images/demo.png"}, Case{"tall_native", "images/tall.png"},
                        Case{"demo_sq392", "images/demo_sq392.png"},
                        Case{"tall_sq392", "images/tall_sq392.png"}}) {
    ImageU8 img = decode_image_file(fixture(c.image));
    PreprocessConfig cfg;
    PixelPatches p = preprocess_image(img, cfg);
    NpyArray ref = load_npy(fixture(std::string("preprocess/") + c.name + ".pixel_values.npy"));
    ASSERT_EQ(ref.shape.size(), 2u);
    ASSERT_EQ(p.n_patches(), ref.shape[0]) << c.name;
    ASSERT_EQ(p.patch_dim, ref.shape[1]) << c.name;
    expect_grid(p, c.name);
    EXPECT_EQ(p.n_merged_tokens(), p.n_patches() / 4);
    const float md = edgevl_test::max_abs_diff(p.data, ref.as_f32());
    std::printf("[ pixels   ] %-12s %d x %d: max abs diff %g, bit-identical: %s\n", c.name,
                p.n_patches(), p.patch_dim, md,
                std::memcmp(p.data.data(), ref.bytes.data(), ref.bytes.size()) == 0 ? "yes" : "no");
    EXPECT_LE(md, 1e-6f) << c.name;
  }
}

TEST(Preprocess, TokenCountsFromReadme) {
  REQUIRE_FIXTURES();
  ImageU8 demo = decode_image_file(fixture("images/demo.png"));
  PixelPatches p = preprocess_image(demo, PreprocessConfig{});
  EXPECT_EQ(p.n_patches(), 3404);
  EXPECT_EQ(p.n_merged_tokens(), 851);
  ImageU8 tall = decode_image_file(fixture("images/tall.png"));
  EXPECT_EQ(preprocess_image(tall, PreprocessConfig{}).n_merged_tokens(), 216);
}

// On-device mode from the original PNG: pad + cv resize inside the pipeline must give
// the sq392 goldens.
TEST(Preprocess, FixedSize392FromOriginal) {
  REQUIRE_FIXTURES();
  for (const char* c : {"demo", "tall"}) {
    ImageU8 img = decode_image_file(fixture(std::string("images/") + c + ".png"));
    PreprocessConfig cfg;
    cfg.fixed_size = 392;
    ImageU8 resized = resize_for_model(img, cfg);
    ImageU8 ref_u8 = from_npy(fixture(std::string("preprocess/") + c + "_sq392.resized_uint8.npy"));
    EXPECT_EQ(resized.rgb, ref_u8.rgb) << c;
    PixelPatches p = preprocess_image(img, cfg);
    NpyArray ref = load_npy(fixture(std::string("preprocess/") + c + "_sq392.pixel_values.npy"));
    const float md = edgevl_test::max_abs_diff(p.data, ref.as_f32());
    std::printf("[ fixed392 ] %s.png -> pixel_values: max abs diff %g\n", c, md);
    EXPECT_LE(md, 1e-6f) << c;
    expect_grid(p, std::string(c) + "_sq392");
  }
  PreprocessConfig bad;
  bad.fixed_size = 400;  // not a multiple of 28
  EXPECT_THROW(resize_for_model(decode_image_file(fixture("images/tall.png")), bad), Error);
}

// The two branch cases store the resized uint8, the grid and a digest of pixel_values.
TEST(Preprocess, ResizeBranchesMatchDigests) {
  REQUIRE_FIXTURES();
  nlohmann::json m = load_json(fixture("preprocess/manifest.json"));
  struct Case {
    const char* name;
    const char* image;
    int64_t min_pixels, max_pixels;
  };
  for (const Case& c : {Case{"demo_max256tok", "images/demo.png", 3136, 200704},
                        Case{"tall_min_up", "images/tall.png", 401408, 12845056}}) {
    const nlohmann::json* e = manifest_entry(m, std::string(c.name) + ".image_grid_thw.npy");
    ASSERT_NE(e, nullptr) << c.name;
    EXPECT_EQ((*e)["min_pixels"].get<int64_t>(), c.min_pixels);
    EXPECT_EQ((*e)["max_pixels"].get<int64_t>(), c.max_pixels);
    PreprocessConfig cfg;
    cfg.min_pixels = c.min_pixels;
    cfg.max_pixels = c.max_pixels;
    ImageU8 img = decode_image_file(fixture(c.image));
    ImageU8 resized = resize_for_model(img, cfg);
    ImageU8 ref_u8 = from_npy(fixture(std::string("preprocess/") + c.name + ".resized_uint8.npy"));
    EXPECT_EQ(resized.width, ref_u8.width);
    EXPECT_EQ(resized.height, ref_u8.height);
    EXPECT_EQ(resized.rgb, ref_u8.rgb) << c.name;
    PixelPatches p = patchify_image(resized, cfg);
    expect_grid(p, c.name);
    EXPECT_EQ(p.n_patches(), (*e)["pixel_values_shape"][0].get<int>());
    EXPECT_EQ(p.patch_dim, (*e)["pixel_values_shape"][1].get<int>());
    EXPECT_EQ(sha256_hex(reinterpret_cast<const uint8_t*>(p.data.data()), p.data.size() * 4),
              (*e)["pixel_values_sha256_f32le"].get<std::string>())
        << c.name;
  }
}

TEST(Preprocess, RowAndColumnLayout) {
  // A 28x28 image whose pixel value encodes its position: check the 2x2-merge row order
  // and the (channel, temporal, y, x) column order on raw values.
  std::vector<uint8_t> px(28 * 28 * 3);
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x)
      for (int c = 0; c < 3; ++c) px[(y * 28 + x) * 3 + c] = static_cast<uint8_t>(c == 0 ? y : c == 1 ? x : 200);
  PreprocessConfig cfg;
  cfg.mean[0] = cfg.mean[1] = cfg.mean[2] = 0.f;
  cfg.std[0] = cfg.std[1] = cfg.std[2] = 1.f;
  cfg.rescale_factor = 1.0;
  cfg.min_pixels = 28 * 28;
  PixelPatches p = patchify_image(image_from_rgb(px.data(), px.size(), 28, 28), cfg);
  ASSERT_EQ(p.n_patches(), 4);
  ASSERT_EQ(p.patch_dim, 1176);
  for (int r = 0; r < 4; ++r) {
    const int mh = r / 2, mw = r % 2;
    const float* row = &p.data[r * 1176];
    for (int t = 0; t < 2; ++t)
      for (int y = 0; y < 14; ++y)
        for (int x = 0; x < 14; ++x) {
          ASSERT_EQ(row[0 * 392 + t * 196 + y * 14 + x], mh * 14 + y);
          ASSERT_EQ(row[1 * 392 + t * 196 + y * 14 + x], mw * 14 + x);
          ASSERT_EQ(row[2 * 392 + t * 196 + y * 14 + x], 200);
        }
  }
}

TEST(Preprocess, Timing) {
  REQUIRE_FIXTURES();
  ImageU8 demo = decode_image_file(fixture("images/demo.png"));
  PreprocessConfig cfg;
  PixelPatches warm = preprocess_image(demo, cfg);
  const int reps = 5;
  double best_native = 1e9, best_resize = 1e9, best_fixed = 1e9;
  cfg.fixed_size = 0;
  for (int i = 0; i < reps; ++i) {
    double t0 = now_ms();
    ImageU8 r = resize_for_model(demo, cfg);
    double t1 = now_ms();
    PixelPatches p = patchify_image(r, cfg);
    double t2 = now_ms();
    best_resize = std::min(best_resize, t1 - t0);
    best_native = std::min(best_native, t2 - t0);
  }
  PreprocessConfig fixed;
  fixed.fixed_size = 392;
  for (int i = 0; i < reps; ++i) {
    double t0 = now_ms();
    PixelPatches p = preprocess_image(demo, fixed);
    best_fixed = std::min(best_fixed, now_ms() - t0);
  }
  std::printf("[ timing   ] 1024x640 native (-> 1036x644, 3404 patches): %.2f ms (resize %.2f ms); "
              "fixed 392: %.2f ms\n",
              best_native, best_resize, best_fixed);
  EXPECT_GT(warm.n_patches(), 0);
}
