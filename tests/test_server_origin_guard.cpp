// server/origin_guard: the exact loopback check that stops DNS rebinding and cross-site
// requests.
#include <gtest/gtest.h>

#include "origin_guard.h"

using namespace edgevl_server;

TEST(ServerOriginGuard, LoopbackHostsAreRealAddresses) {
  for (const char* h : {"127.0.0.1", "127.1.2.3", "127.255.255.255", "localhost", "LocalHost", "::1", "0:0:0:0:0:0:0:1"})
    EXPECT_TRUE(is_loopback_host(h)) << h;
  for (const char* h : {"127.attacker.example", "127.0.0.1.attacker.example", "127.", "127.0.0", "127.0.0.256", "128.0.0.1",
                        "0x7f.0.0.1", "localhost.attacker.example", "attacker-localhost", "::2", "::ffff:8.8.8.8", "", "10.0.0.1"})
    EXPECT_FALSE(is_loopback_host(h)) << h;
}

TEST(ServerOriginGuard, HostHeaderParsing) {
  EXPECT_EQ(host_of_header("127.0.0.1:8080"), "127.0.0.1");
  EXPECT_EQ(host_of_header("[::1]:8080"), "::1");
  EXPECT_EQ(host_of_header("[::1]"), "::1");
  EXPECT_EQ(host_of_header("localhost"), "localhost");
  EXPECT_EQ(host_of_header("::1"), "::1");
  EXPECT_EQ(host_of_header("127.0.0.1:80x"), "");
  EXPECT_EQ(host_of_header("[::1"), "");
  EXPECT_EQ(host_of_header("[::1]x"), "");
}

// Issue 10: "Host: 127.attacker.example" got 200 because any Host starting "127." passed.
TEST(ServerOriginGuard, HostStartingWith127IsNotLoopbackAttack) {
  OriginPolicy loopback;
  EXPECT_NE(check_origin(loopback, "127.attacker.example", ""), "");
  EXPECT_NE(check_origin(loopback, "127.attacker.example:8080", ""), "");
  EXPECT_NE(check_origin(loopback, "localhost.attacker.example:8080", ""), "");
  EXPECT_EQ(check_origin(loopback, "127.0.0.1:8080", ""), "");
  EXPECT_EQ(check_origin(loopback, "[::1]:8080", ""), "");
  EXPECT_EQ(check_origin(loopback, "localhost:8080", ""), "");
  EXPECT_EQ(check_origin(loopback, "", ""), "");  // HTTP/1.0 clients send no Host
}

TEST(ServerOriginGuard, OriginMustBeTheServersOwnPage) {
  OriginPolicy loopback;
  EXPECT_EQ(check_origin(loopback, "127.0.0.1:8080", "http://127.0.0.1:8080"), "");
  EXPECT_NE(check_origin(loopback, "127.0.0.1:8080", "http://evil.example"), "");
  EXPECT_NE(check_origin(loopback, "127.0.0.1:8080", "http://127.0.0.1:9999"), "");
  OriginPolicy open;
  open.loopback_only = false;
  EXPECT_EQ(check_origin(open, "myhost.lan:8080", ""), "");
  EXPECT_EQ(check_origin(open, "myhost.lan:8080", "http://myhost.lan:8080"), "");
  EXPECT_NE(check_origin(open, "myhost.lan:8080", "http://evil.example"), "");
}
