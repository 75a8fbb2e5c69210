// server/session_pool (conversation reuse, LRU eviction, busy sessions) and
// server/admission (the slot taken before a request body is read).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "admission.h"
#include "api_error.h"
#include "session_pool.h"
#include "test_util.h"

using namespace edgevl_server;

namespace {

struct TinyModel {
  edgevl_model* model = nullptr;
  TinyModel() {
    const std::string path = edgevl_test::fixture("tiny-qwen2-vl");
    edgevl_model_params mp = edgevl_model_default_params();
    mp.path = path.c_str();
    if (edgevl_model_load(&mp, &model) != EDGEVL_OK) model = nullptr;
  }
  ~TinyModel() { edgevl_model_free(model); }
};

ChatRequest request(std::vector<std::string> keys) {
  ChatRequest r;
  for (auto& k : keys) {
    ChatMessage m;
    m.key = k;
    r.messages.push_back(m);
  }
  return r;
}

edgevl_session_params small_params() {
  edgevl_session_params p = edgevl_session_default_params();
  p.max_context = 256;
  p.n_threads = 1;
  return p;
}

}  // namespace

TEST(ServerSessionPool, ReusesTheSessionHoldingTheLongestPrefix) {
  REQUIRE_FIXTURES();
  TinyModel tm;
  ASSERT_TRUE(tm.model) << edgevl_last_error();
  SessionPool pool(tm.model, small_params(), 3);
  Lease a = pool.acquire(request({"u1"}));
  ASSERT_TRUE(a.slot && a.slot->session);
  EXPECT_EQ(a.matched, 0u);
  edgevl_session* first = a.slot->session;
  pool.release(a, {"u1", "r1"});
  EXPECT_EQ(a.slot, nullptr);

  // A follow-up that extends the held conversation gets that session back.
  Lease b = pool.acquire(request({"u1", "r1", "u2"}));
  EXPECT_EQ(b.slot->session, first);
  EXPECT_EQ(b.matched, 2u);
  pool.release(b, {"u1", "r1", "u2", "r2"});

  // A different conversation gets a new session; the held one stays.
  Lease c = pool.acquire(request({"other"}));
  EXPECT_NE(c.slot->session, first);
  EXPECT_EQ(c.matched, 0u);
  pool.release(c, {"other", "x"});

  const PoolStats st = pool.stats();
  EXPECT_EQ(st.live, 2u);
  EXPECT_EQ(st.busy, 0u);
  EXPECT_EQ(st.created, 2u);
  EXPECT_EQ(st.hits, 1u);
  EXPECT_EQ(st.misses, 2u);
}

TEST(ServerSessionPool, EvictsTheLeastRecentlyUsedIdleSessionAndRefusesWhenAllAreBusy) {
  REQUIRE_FIXTURES();
  TinyModel tm;
  ASSERT_TRUE(tm.model);
  SessionPool pool(tm.model, small_params(), 2);
  Lease a = pool.acquire(request({"a"}));
  pool.release(a, {"a"});
  Lease b = pool.acquire(request({"b"}));
  pool.release(b, {"b"});
  // Touch "a" so that "b" is the least recently used.
  Lease a2 = pool.acquire(request({"a", "a2"}));
  EXPECT_EQ(a2.matched, 1u);
  pool.release(a2, {"a", "a2"});
  Lease c = pool.acquire(request({"c"}));
  EXPECT_EQ(pool.stats().evicted, 1u);
  // "a" survived: a request continuing it still matches.
  Lease a3 = pool.acquire(request({"a", "a2", "a3"}));
  EXPECT_EQ(a3.matched, 2u);
  // Both sessions are checked out now: a third conversation has no room.
  try {
    pool.acquire(request({"d"}));
    FAIL() << "expected 503";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 503);
    EXPECT_EQ(e.code, "no_free_session");
  }
  pool.abort_all();  // nothing runs: harmless
  pool.discard(c);
  EXPECT_EQ(c.slot, nullptr);
  EXPECT_EQ(pool.stats().live, 1u);
  pool.release(a3, {"a", "a2", "a3"});
}

TEST(ServerAdmission, RefusesBeyondItsSlotsAndFreesThemWithTheLastTicket) {
  Admission adm(2);
  Admission::Ticket t1 = adm.try_enter();
  Admission::Ticket t2 = adm.try_enter();
  ASSERT_TRUE(t1 && t2);
  EXPECT_FALSE(adm.try_enter());
  EXPECT_EQ(adm.in_use(), 2);
  Admission::Ticket copy = t1;  // e.g. held by the queued task as well as the handler
  t1.reset();
  EXPECT_FALSE(adm.try_enter());
  copy.reset();
  EXPECT_EQ(adm.in_use(), 1);
  EXPECT_TRUE(adm.try_enter());
}

TEST(ServerAdmission, ConcurrentEntriesNeverExceedTheSlots) {
  Admission adm(3);
  std::atomic<int> inside{0}, peak{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      for (int k = 0; k < 2000; ++k) {
        Admission::Ticket t = adm.try_enter();
        if (!t) continue;
        const int now = ++inside;
        int p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
        --inside;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_LE(peak.load(), 3);
  EXPECT_EQ(adm.in_use(), 0);
}
