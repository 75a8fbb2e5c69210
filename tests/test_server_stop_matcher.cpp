// server/stop_matcher: stop sequences over a token stream, and UTF-8 sanitising.
#include <gtest/gtest.h>

#include "stop_matcher.h"

using namespace edgevl_server;

TEST(ServerStopMatcher, NoStopsPassesEverythingThrough) {
  StopMatcher m({});
  EXPECT_EQ(m.push("Hello"), "Hello");
  EXPECT_EQ(m.push(" world"), " world");
  EXPECT_EQ(m.flush(), "");
  EXPECT_FALSE(m.stopped());
}

TEST(ServerStopMatcher, StopSplitAcrossPiecesIsNeverShown) {
  StopMatcher m({"\n\nUser:"});
  std::string shown = m.push("Hi there");
  shown += m.push("\n\nUs");  // could be the start of the stop sequence: held back
  EXPECT_EQ(shown, "Hi there");
  shown += m.push("er: more");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(shown, "Hi there");
  EXPECT_EQ(m.push("ignored"), "");
  EXPECT_EQ(m.flush(), "");
}

TEST(ServerStopMatcher, HeldTextIsReleasedWhenItCannotBeAStop) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.push("abcST"), "abc");
  EXPECT_EQ(m.push("x"), "STx");
  EXPECT_EQ(m.push("ST"), "");
  EXPECT_EQ(m.flush(), "ST");  // the end of the reply: nothing can complete it any more
  EXPECT_FALSE(m.stopped());
}

TEST(ServerStopMatcher, EarliestOfSeveralStopsWins) {
  StopMatcher m({"cd", "b"});
  EXPECT_EQ(m.push("abcd"), "a");
  EXPECT_TRUE(m.stopped());
}

TEST(ServerStopMatcher, NeverSplitsAUtf8Character) {
  // "é" is C3 A9; a stop beginning with A9 must not make the matcher release C3 alone.
  StopMatcher m({"\xA9z"});
  const std::string out = m.push("caf\xC3\xA9");
  for (size_t i = 0; i < out.size(); ++i) {
    if (static_cast<unsigned char>(out[i]) == 0xC3) {
      EXPECT_LT(i + 1, out.size()) << "a lead byte without its continuation";
    }
  }
  EXPECT_EQ(out + m.flush(), "caf\xC3\xA9");
}

TEST(ServerStopMatcher, SanitizeReplacesInvalidUtf8) {
  EXPECT_EQ(sanitize_utf8("ok"), "ok");
  EXPECT_EQ(sanitize_utf8("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(sanitize_utf8("bad\xFFx"), "bad\xEF\xBF\xBDx");
  EXPECT_EQ(sanitize_utf8("cut\xC3"), "cut\xEF\xBF\xBD");
}
