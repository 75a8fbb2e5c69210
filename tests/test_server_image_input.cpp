// server/image_input: data URIs and local image paths. Every refused local path must
// get the same answer (no oracle for which paths exist), and no symlink or ".." may lead
// out of the allowed directory.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "api_error.h"
#include "image_input.h"

using namespace edgevl_server;

namespace {

const std::string kPng = std::string("\x89PNG\r\n\x1a\n", 8) + "rest-of-a-png";

struct TempTree {
  std::string root, allowed;
  TempTree() {
    char tmpl[] = "/tmp/edgevl_image_input_XXXXXX";
    root = mkdtemp(tmpl);
    allowed = root + "/allowed";
    mkdir(allowed.c_str(), 0755);
    mkdir((allowed + "/sub").c_str(), 0755);
    write(allowed + "/a.png", kPng);
    write(allowed + "/sub/b.png", kPng);
    write(root + "/secret.png", kPng);
    symlink((root + "/secret.png").c_str(), (allowed + "/link-out.png").c_str());
    symlink((allowed + "/a.png").c_str(), (allowed + "/link-in.png").c_str());
    symlink(root.c_str(), (allowed + "/dirlink").c_str());
    mkfifo((allowed + "/fifo.png").c_str(), 0644);
  }
  ~TempTree() { std::system(("rm -rf '" + root + "'").c_str()); }
  static void write(const std::string& p, const std::string& data) { std::ofstream(p, std::ios::binary) << data; }
  ImageLimits limits() const {
    ImageLimits l;
    l.local_dir = allowed;
    l.local_dir_given = allowed;
    l.max_bytes = 1 << 20;
    return l;
  }
};

ApiError error_of(const std::string& url, const ImageLimits& l) {
  try {
    load_image_url(url, l, "messages[0].content[0]");
  } catch (const ApiError& e) {
    return e;
  }
  return ApiError(0, "no error", "");
}

}  // namespace

TEST(ServerImageInput, LocalFilesInsideTheDirectoryLoad) {
  TempTree t;
  for (const std::string& url : {t.allowed + "/a.png", std::string("a.png"), std::string("sub/b.png"), "file://" + t.allowed + "/sub/b.png",
                                 std::string("./sub//b.png")}) {
    auto img = load_image_url(url, t.limits(), "p");
    ASSERT_TRUE(img) << url;
    EXPECT_EQ(std::string(img->bytes.begin(), img->bytes.end()), kPng) << url;
    EXPECT_EQ(img->sha256.size(), 64u);
  }
}

// Issue 10: a missing path got 400 image_not_found and an outside one 403: a client
// could probe which files exist. Now every refusal is the same error.
TEST(ServerImageInput, EveryRejectedPathGetsOneIdenticalErrorNoExistenceOracle) {
  TempTree t;
  const ApiError ref = error_of(t.allowed + "/missing.png", t.limits());
  EXPECT_EQ(ref.status, 400);
  EXPECT_EQ(ref.code, "image_unavailable");
  for (const std::string& url : {
           t.root + "/secret.png",             // exists, outside
           t.allowed + "/../secret.png",       // exists, outside through ".."
           std::string("../secret.png"),       // relative, outside
           std::string("/etc/passwd"),         // exists, elsewhere
           std::string("/no/such/file.png"),   // does not exist anywhere
           t.allowed + "/link-out.png",        // symlink to outside
           t.allowed + "/link-in.png",         // symlink at all
           t.allowed + "/dirlink/secret.png",  // through a symlinked directory
           t.allowed + "/sub",                 // a directory
           t.allowed + "/fifo.png",            // not a regular file (and must not block)
           std::string("file://") + t.root + "/secret.png",
       }) {
    const ApiError e = error_of(url, t.limits());
    EXPECT_EQ(e.status, ref.status) << url;
    EXPECT_EQ(e.code, ref.code) << url;
    EXPECT_STREQ(e.what(), ref.what()) << url;
    EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos) << "the error must not echo the path";
  }
}

TEST(ServerImageInput, LocalPathsOffByDefault) {
  TempTree t;
  ImageLimits l = t.limits();
  l.local_dir.clear();
  l.local_dir_given.clear();
  EXPECT_EQ(error_of(t.allowed + "/a.png", l).code, "local_images_disabled");
}

TEST(ServerImageInput, DataUrisAndRemoteUrls) {
  ImageLimits l;
  l.max_bytes = 1 << 20;
  // "\x89PNG\r\n\x1a\n" + "xy" in base64.
  auto img = load_image_url("data:image/png;base64,iVBORw0KGgp4eQ==", l, "p");
  ASSERT_TRUE(img);
  EXPECT_EQ(img->bytes.size(), 10u);
  EXPECT_EQ(error_of("data:image/png;base64,!!!", l).code, "invalid_base64");
  EXPECT_EQ(error_of("data:image/png,raw", l).code, "invalid_image_url");
  EXPECT_EQ(error_of("data:image/png;base64,aGVsbG8=", l).code, "invalid_image");  // "hello"
  EXPECT_EQ(error_of("https://example.com/a.png", l).code, "invalid_image_url");
  l.max_bytes = 4;
  EXPECT_EQ(error_of("data:image/png;base64,iVBORw0KGgp4eQ==", l).code, "image_too_large");
}
