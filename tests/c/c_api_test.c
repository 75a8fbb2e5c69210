#define _DEFAULT_SOURCE
/* The C API exercised from C99: every function, good and bad calls. Prints one line per
 * check and ends with "N passed, M failed". Needs ../shared/fixtures (or EDGEVL_FIXTURES). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edgevl.h"

static int g_pass = 0, g_fail = 0;

#define CHECK(cond, ...)                                       \
  do {                                                         \
    if (cond) {                                                \
      ++g_pass;                                                \
    } else {                                                   \
      ++g_fail;                                                \
      printf("FAIL %s:%d: %s -- ", __FILE__, __LINE__, #cond); \
      printf(__VA_ARGS__);                                     \
      printf(" [last error: %s]\n", edgevl_last_error());      \
    }                                                          \
  } while (0)

static char g_fixtures[1024];

static const char* fx(const char* rel) {
  static char buf[8][1200];
  static int k = 0;
  char* b = buf[k++ % 8];
  snprintf(b, 1200, "%s/%s", g_fixtures, rel);
  return b;
}

/* Collects what a run produced. */
typedef struct {
  int32_t tokens[4096];
  int n_tokens;
  int n_waiting;
  int finished, errored;
  char finish_reason[32];
  char text[65536];
  size_t text_len;
  float logits[151936];
  int n_logits;
  float hidden[4096];
  int n_hidden;
  edgevl_status error_status;
  int stop_after; /* >0: return 1 after this many tokens */
  edgevl_perf perf;
} Collector;

static int collect(const edgevl_result* r, void* user) {
  Collector* c = (Collector*)user;
  switch (r->state) {
    case EDGEVL_STATE_NORMAL:
    case EDGEVL_STATE_WAITING:
      if (r->state == EDGEVL_STATE_WAITING) c->n_waiting++;
      if (r->token_id >= 0 && c->n_tokens < 4096) c->tokens[c->n_tokens++] = r->token_id;
      if (c->stop_after > 0 && c->n_tokens >= c->stop_after) return 1;
      return 0;
    case EDGEVL_STATE_FINISH:
      c->finished = 1;
      snprintf(c->finish_reason, sizeof c->finish_reason, "%s", r->finish_reason ? r->finish_reason : "");
      c->text_len = r->text_len < sizeof c->text ? r->text_len : sizeof c->text - 1;
      memcpy(c->text, r->text, c->text_len);
      if (r->logits) {
        c->n_logits = r->n_logits;
        memcpy(c->logits, r->logits, sizeof(float) * (size_t)r->n_logits);
      }
      if (r->hidden) {
        c->n_hidden = r->n_hidden;
        memcpy(c->hidden, r->hidden, sizeof(float) * (size_t)r->n_hidden);
      }
      if (r->perf) c->perf = *r->perf;
      return 0;
    case EDGEVL_STATE_ERROR:
      c->errored = 1;
      c->error_status = r->status;
      return 0;
  }
  return 0;
}

static Collector* new_collector(void) { return (Collector*)calloc(1, sizeof(Collector)); }

static edgevl_status ask(edgevl_session* s, const char* text, const char* image, int max_new, Collector* c) {
  edgevl_part parts[2];
  size_t n = 0;
  if (image) parts[n++] = edgevl_part_image_file(image);
  parts[n++] = edgevl_part_text(text);
  edgevl_message m = {EDGEVL_ROLE_USER, parts, n};
  edgevl_run_params rp = edgevl_run_default_params();
  rp.max_new_tokens = max_new;
  rp.ignore_eos = 1;
  return edgevl_run(s, &m, &rp, collect, c);
}

static edgevl_session* new_session(edgevl_model* model, int max_context, edgevl_overflow_policy policy) {
  edgevl_session_params sp = edgevl_session_default_params();
  sp.max_context = max_context;
  sp.overflow = policy;
  sp.n_threads = 2;
  sp.image_fixed_size = 392; /* 196 image tokens */
  edgevl_session* s = NULL;
  edgevl_status st = edgevl_session_create(model, &sp, &s);
  CHECK(st == EDGEVL_OK && s != NULL, "session_create: %s", edgevl_status_name(st));
  return s;
}

static int same_tokens(const Collector* a, const Collector* b) {
  return a->n_tokens == b->n_tokens && memcmp(a->tokens, b->tokens, sizeof(int32_t) * (size_t)a->n_tokens) == 0;
}

static void test_bad_calls(edgevl_model* model) {
  edgevl_model* m = NULL;
  edgevl_model_params mp = edgevl_model_default_params();
  CHECK(edgevl_model_load(NULL, &m) == EDGEVL_ERR_INVALID_ARGUMENT, "null params");
  CHECK(edgevl_model_load(&mp, NULL) == EDGEVL_ERR_INVALID_ARGUMENT, "null out");
  CHECK(edgevl_model_load(&mp, &m) == EDGEVL_ERR_INVALID_ARGUMENT && m == NULL, "empty path");
  mp.path = "/nonexistent/model";
  CHECK(edgevl_model_load(&mp, &m) == EDGEVL_ERR_IO && m == NULL, "missing dir");
  CHECK(strstr(edgevl_last_error(), "/nonexistent/model") != NULL, "error names the path: %s", edgevl_last_error());
  mp.struct_size = 3;
  CHECK(edgevl_model_load(&mp, &m) == EDGEVL_ERR_INVALID_ARGUMENT, "wrong struct size");

  edgevl_session* s = NULL;
  edgevl_session_params sp = edgevl_session_default_params();
  CHECK(edgevl_session_create(NULL, &sp, &s) == EDGEVL_ERR_INVALID_ARGUMENT, "null model");
  sp.max_context = 0;
  CHECK(edgevl_session_create(model, &sp, &s) == EDGEVL_ERR_INVALID_ARGUMENT && s == NULL, "max_context 0");
  sp = edgevl_session_default_params();
  sp.sampling.top_p = 2.0f;
  CHECK(edgevl_session_create(model, &sp, &s) == EDGEVL_ERR_INVALID_ARGUMENT, "top_p 2");
  sp = edgevl_session_default_params();
  sp.image_fixed_size = 100;
  CHECK(edgevl_session_create(model, &sp, &s) == EDGEVL_ERR_INVALID_ARGUMENT, "fixed size not multiple of 28");
  sp = edgevl_session_default_params();
  sp.struct_size = 0;
  CHECK(edgevl_session_create(model, &sp, &s) == EDGEVL_ERR_INVALID_ARGUMENT, "session struct size");

  CHECK(edgevl_run(NULL, NULL, NULL, NULL, NULL) == EDGEVL_ERR_INVALID_ARGUMENT, "run null session");
  CHECK(edgevl_run_async(NULL, NULL, NULL, NULL, NULL) == EDGEVL_ERR_INVALID_ARGUMENT, "run_async null");
  CHECK(edgevl_wait(NULL) == EDGEVL_ERR_INVALID_ARGUMENT, "wait null");
  CHECK(edgevl_abort(NULL) == EDGEVL_ERR_INVALID_ARGUMENT, "abort null");
  CHECK(edgevl_is_running(NULL) == 0, "is_running null");
  CHECK(edgevl_clear(NULL, 1) == EDGEVL_ERR_INVALID_ARGUMENT, "clear null");
  CHECK(edgevl_kv_size(NULL, NULL, NULL) == EDGEVL_ERR_INVALID_ARGUMENT, "kv_size null");
  CHECK(edgevl_remove_turns(NULL, 0, 1) == EDGEVL_ERR_INVALID_ARGUMENT, "remove_turns null");
  CHECK(edgevl_set_chat_template(NULL, NULL, NULL, NULL) == EDGEVL_ERR_INVALID_ARGUMENT, "template null");
  CHECK(edgevl_session_save(NULL, "x") == EDGEVL_ERR_INVALID_ARGUMENT, "save null");
  CHECK(edgevl_session_load(NULL, "x") == EDGEVL_ERR_INVALID_ARGUMENT, "load null");
  CHECK(edgevl_get_perf(NULL, NULL, NULL) == EDGEVL_ERR_INVALID_ARGUMENT, "perf null");
  CHECK(edgevl_prepare_image(NULL, NULL) == EDGEVL_ERR_INVALID_ARGUMENT, "prepare null");
  edgevl_model_free(NULL);
  edgevl_session_free(NULL);

  s = new_session(model, 1024, EDGEVL_OVERFLOW_ERROR);
  edgevl_message bad_role = {(edgevl_role)9, NULL, 0};
  CHECK(edgevl_run(s, &bad_role, NULL, NULL, NULL) == EDGEVL_ERR_INVALID_ARGUMENT, "bad role");
  edgevl_run_params rp = edgevl_run_default_params();
  rp.struct_size = 1;
  edgevl_part p = edgevl_part_text("hi");
  edgevl_message mp_msg = {EDGEVL_ROLE_USER, &p, 1};
  CHECK(edgevl_run(s, &mp_msg, &rp, NULL, NULL) == EDGEVL_ERR_INVALID_ARGUMENT, "run params struct size");
  edgevl_part bad_utf8 = edgevl_part_text("caf\xc3");
  edgevl_message mb = {EDGEVL_ROLE_USER, &bad_utf8, 1};
  Collector* c = new_collector();
  CHECK(edgevl_run(s, &mb, NULL, collect, c) == EDGEVL_ERR_INVALID_ARGUMENT && c->errored, "invalid utf-8");
  edgevl_part img = edgevl_part_image_file("/nonexistent.png");
  edgevl_message mi = {EDGEVL_ROLE_USER, &img, 1};
  CHECK(edgevl_run(s, &mi, NULL, NULL, NULL) == EDGEVL_ERR_IO, "missing image: %s", edgevl_last_error());
  static const uint8_t junk[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  edgevl_part jp = edgevl_part_image_bytes(junk, sizeof junk);
  edgevl_message mj = {EDGEVL_ROLE_USER, &jp, 1};
  CHECK(edgevl_run(s, &mj, NULL, NULL, NULL) == EDGEVL_ERR_FORMAT, "junk image bytes");
  edgevl_part tag = edgevl_part_tagged_text("<image>What is it?");
  edgevl_message mt = {EDGEVL_ROLE_USER, &tag, 1};
  CHECK(edgevl_run(s, &mt, NULL, NULL, NULL) == EDGEVL_ERR_INVALID_ARGUMENT, "tag without image");
  int32_t badtok = 99999999;
  edgevl_part tp = edgevl_part_tokens(&badtok, 1);
  edgevl_message mtok = {EDGEVL_ROLE_USER, &tp, 1};
  CHECK(edgevl_run(s, &mtok, NULL, NULL, NULL) == EDGEVL_ERR_INVALID_ARGUMENT, "token out of range");
  CHECK(edgevl_remove_turns(s, 0, 1) == EDGEVL_ERR_INVALID_ARGUMENT, "remove turns out of range");
  CHECK(edgevl_session_load(s, "/nonexistent.session") == EDGEVL_ERR_IO, "load missing file");
  int64_t used = -1;
  edgevl_kv_size(s, &used, NULL);
  CHECK(used == 0, "failed runs left the session empty (kv=%lld)", (long long)used);
  /* ...and it still works. */
  memset(c, 0, sizeof *c);
  CHECK(ask(s, "Hello", NULL, 4, c) == EDGEVL_OK && c->n_tokens == 4, "usable after errors");
  free(c);
  edgevl_session_free(s);
}

static void test_multiturn_and_clear(edgevl_model* model) {
  edgevl_session* s = new_session(model, 2048, EDGEVL_OVERFLOW_ERROR);
  Collector* c = new_collector();
  CHECK(ask(s, "Describe this image.", fx("images/demo.jpg"), 8, c) == EDGEVL_OK, "turn 1");
  CHECK(c->finished && c->n_tokens == 8 && strcmp(c->finish_reason, "length") == 0, "turn 1 finished: %d tokens, %s", c->n_tokens, c->finish_reason);
  CHECK(c->perf.image_tokens == 196 && c->perf.images_encoded == 1, "196 image tokens, encoded once (%lld)", (long long)c->perf.image_tokens);
  int64_t kv1, cap;
  edgevl_kv_size(s, &kv1, &cap);
  CHECK(cap == 2048 && kv1 > 196, "kv after turn 1 = %lld", (long long)kv1);
  memset(c, 0, sizeof *c);
  CHECK(ask(s, "What color is it?", NULL, 8, c) == EDGEVL_OK && c->n_tokens == 8, "turn 2");
  CHECK(c->perf.prefill_tokens < 30, "turn 2 prefilled only the new tokens (%lld)", (long long)c->perf.prefill_tokens);
  int32_t turns = 0;
  edgevl_turn_count(s, &turns);
  CHECK(turns == 2, "two turns (%d)", turns);
  /* keep_history = 0: the conversation is unchanged afterwards. */
  int64_t kv2;
  edgevl_kv_size(s, &kv2, NULL);
  edgevl_part q = edgevl_part_text("A question to forget.");
  edgevl_message m = {EDGEVL_ROLE_USER, &q, 1};
  edgevl_run_params rp = edgevl_run_default_params();
  rp.keep_history = 0;
  rp.max_new_tokens = 4;
  memset(c, 0, sizeof *c);
  CHECK(edgevl_run(s, &m, &rp, collect, c) == EDGEVL_OK && c->n_tokens > 0, "keep_history=0 run");
  int64_t kv3;
  edgevl_kv_size(s, &kv3, NULL);
  edgevl_turn_count(s, &turns);
  CHECK(kv3 <= kv2 + 3 && turns == 2, "history unchanged (kv %lld -> %lld, turns %d)", (long long)kv2, (long long)kv3, turns);
  /* The same image again: found in the embedding cache. */
  memset(c, 0, sizeof *c);
  CHECK(ask(s, "Again?", fx("images/demo.jpg"), 2, c) == EDGEVL_OK && c->perf.images == 1 && c->perf.images_encoded == 0,
        "image cache hit (encoded %d)", c->perf.images_encoded);
  /* Clear keeping the system prompt, then dropping it. */
  CHECK(edgevl_clear(s, 1) == EDGEVL_OK, "clear keep system");
  int64_t kvs;
  edgevl_kv_size(s, &kvs, NULL);
  CHECK(kvs > 5 && kvs < 40, "system prompt kept (%lld tokens)", (long long)kvs);
  edgevl_turn_count(s, &turns);
  CHECK(turns == 0, "no turns after clear");
  CHECK(edgevl_clear(s, 0) == EDGEVL_OK, "clear all");
  edgevl_kv_size(s, &kvs, NULL);
  CHECK(kvs == 0, "empty after clear(0)");
  edgevl_perf last, total;
  CHECK(edgevl_get_perf(s, &last, &total) == EDGEVL_OK && total.decode_tokens >= 8 + 8 + 2, "perf totals (%lld)", (long long)total.decode_tokens);
  CHECK(total.model_load_ms > 0 && last.peak_rss_bytes > 0, "load ms and peak rss reported");
  free(c);
  edgevl_session_free(s);
}

static void test_modes_and_stop(edgevl_model* model) {
  edgevl_session* s = new_session(model, 1024, EDGEVL_OVERFLOW_ERROR);
  Collector* logits = new_collector();
  edgevl_part q = edgevl_part_text("Hello! Tell me a short story.");
  edgevl_message m = {EDGEVL_ROLE_USER, &q, 1};
  edgevl_run_params rp = edgevl_run_default_params();
  rp.mode = EDGEVL_MODE_LOGITS;
  rp.keep_history = 0;
  CHECK(edgevl_run(s, &m, &rp, collect, logits) == EDGEVL_OK && logits->n_logits == 151936, "logits mode (%d)", logits->n_logits);
  int best = 0;
  for (int i = 1; i < logits->n_logits; ++i)
    if (logits->logits[i] > logits->logits[best]) best = i;
  Collector* hidden = new_collector();
  rp.mode = EDGEVL_MODE_HIDDEN_STATE;
  CHECK(edgevl_run(s, &m, &rp, collect, hidden) == EDGEVL_OK && hidden->n_hidden == 64, "hidden mode (%d)", hidden->n_hidden);
  Collector* gen = new_collector();
  CHECK(ask(s, "Hello! Tell me a short story.", NULL, 3, gen) == EDGEVL_OK, "generate");
  CHECK(gen->n_tokens == 3 && gen->tokens[0] == best, "argmax of logits mode = first greedy token (%d vs %d)", best, gen->tokens[0]);
  /* The callback stops generation. */
  Collector* stop = new_collector();
  stop->stop_after = 3;
  CHECK(ask(s, "Go on.", NULL, 50, stop) == EDGEVL_OK, "callback stop run");
  CHECK(stop->n_tokens == 3 && strcmp(stop->finish_reason, "aborted") == 0, "stopped after 3 (%d, %s)", stop->n_tokens, stop->finish_reason);
  free(logits);
  free(hidden);
  free(gen);
  free(stop);
  edgevl_session_free(s);
}

typedef struct {
  edgevl_session* s;
} AbortArg;

static void* abort_later(void* p) {
  AbortArg* a = (AbortArg*)p;
  usleep(100 * 1000);
  edgevl_abort(a->s);
  return NULL;
}

static void test_async_abort(edgevl_model* model) {
  edgevl_session* s = new_session(model, 4096, EDGEVL_OVERFLOW_ERROR);
  Collector* c = new_collector();
  edgevl_part q = edgevl_part_text("Write forever.");
  edgevl_message m = {EDGEVL_ROLE_USER, &q, 1};
  edgevl_run_params rp = edgevl_run_default_params();
  rp.max_new_tokens = 3500;
  rp.ignore_eos = 1;
  CHECK(edgevl_run_async(s, &m, &rp, collect, c) == EDGEVL_OK, "run_async");
  CHECK(edgevl_is_running(s) == 1, "is_running");
  CHECK(edgevl_run(s, &m, &rp, NULL, NULL) == EDGEVL_ERR_BUSY, "run while running -> BUSY");
  CHECK(edgevl_clear(s, 1) == EDGEVL_ERR_BUSY, "clear while running -> BUSY");
  pthread_t t;
  AbortArg a = {s};
  pthread_create(&t, NULL, abort_later, &a);
  /* Issue 10: an aborted run ends with ABORTED and leaves no turn behind. */
  CHECK(edgevl_wait(s) == EDGEVL_ERR_ABORTED, "wait -> ABORTED");
  pthread_join(t, NULL);
  CHECK(edgevl_is_running(s) == 0, "not running after wait");
  CHECK(c->errored && c->error_status == EDGEVL_ERR_ABORTED && c->n_tokens < 3500, "aborted from another thread (%d tokens, status %d)",
        c->n_tokens, (int)c->error_status);
  /* Usable afterwards. */
  memset(c, 0, sizeof *c);
  CHECK(ask(s, "Short.", NULL, 2, c) == EDGEVL_OK && c->n_tokens == 2, "usable after abort");
  free(c);
  /* Freeing a session while it runs aborts and joins. */
  Collector* c2 = new_collector();
  CHECK(edgevl_run_async(s, &m, &rp, collect, c2) == EDGEVL_OK, "second async");
  edgevl_session_free(s);
  free(c2);
}

static void test_save_load(edgevl_model* model) {
  const char* path = "/tmp/edgevl_c_api_test.session";
  edgevl_session* a = new_session(model, 2048, EDGEVL_OVERFLOW_ERROR);
  Collector* c = new_collector();
  CHECK(ask(a, "Describe this image.", fx("images/tall.png"), 6, c) == EDGEVL_OK, "A turn 1");
  memset(c, 0, sizeof *c);
  CHECK(ask(a, "What color is it?", NULL, 6, c) == EDGEVL_OK, "A turn 2");
  CHECK(edgevl_session_save(a, path) == EDGEVL_OK, "save");
  edgevl_session* b = new_session(model, 2048, EDGEVL_OVERFLOW_ERROR);
  CHECK(edgevl_session_load(b, path) == EDGEVL_OK, "load");
  int64_t ka, kb;
  edgevl_kv_size(a, &ka, NULL);
  edgevl_kv_size(b, &kb, NULL);
  int32_t ta, tb;
  edgevl_turn_count(a, &ta);
  edgevl_turn_count(b, &tb);
  CHECK(ta == tb && ta == 2, "turns restored (%d, %d)", ta, tb);
  Collector* ra = new_collector();
  Collector* rb = new_collector();
  CHECK(ask(a, "And the shape?", NULL, 12, ra) == EDGEVL_OK, "A turn 3");
  CHECK(ask(b, "And the shape?", NULL, 12, rb) == EDGEVL_OK, "B turn 3");
  CHECK(same_tokens(ra, rb), "loaded session continues identically");
  CHECK(rb->perf.images_encoded == 0, "no re-encoding after load");
  /* A corrupted file is refused and leaves the session as it was. */
  FILE* f = fopen(path, "r+b");
  if (f) {
    fseek(f, 100, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
  }
  int64_t kb2;
  edgevl_kv_size(b, &kb2, NULL);
  CHECK(edgevl_session_load(b, path) == EDGEVL_ERR_FORMAT, "corrupt file refused: %s", edgevl_last_error());
  int64_t kb3;
  edgevl_kv_size(b, &kb3, NULL);
  CHECK(kb3 == kb2, "session unchanged by a failed load");
  unlink(path);
  free(c);
  free(ra);
  free(rb);
  edgevl_session_free(a);
  edgevl_session_free(b);
}

static void test_overflow(edgevl_model* model) {
  /* Error policy: a turn that does not fit is refused with the counts; the session stays usable. */
  edgevl_session* s = new_session(model, 260, EDGEVL_OVERFLOW_ERROR);
  Collector* c = new_collector();
  CHECK(ask(s, "Describe.", fx("images/demo.jpg"), 4, c) == EDGEVL_OK, "fits");
  int64_t kv;
  edgevl_kv_size(s, &kv, NULL);
  memset(c, 0, sizeof *c);
  CHECK(ask(s, "Describe.", fx("images/tall.png"), 4, c) == EDGEVL_ERR_CONTEXT_OVERFLOW && c->errored, "overflow error");
  CHECK(strstr(edgevl_last_error(), "260") != NULL, "message gives the context size: %s", edgevl_last_error());
  int64_t kv2;
  edgevl_kv_size(s, &kv2, NULL);
  CHECK(kv2 == kv, "unchanged after overflow");
  memset(c, 0, sizeof *c);
  CHECK(ask(s, "Short?", NULL, 2, c) == EDGEVL_OK, "still usable");
  edgevl_session_free(s);

  /* DropOldest: A evicts turn 1 (with the image) to fit turn 4. Reference R never held
   * turn 1. Replies are empty (max_new 0) so both histories are token-identical. */
  /* Size A's context from a probe so that turns 1-3 fit and turn 4 does not. */
  edgevl_session* probe = new_session(model, 4096, EDGEVL_OVERFLOW_ERROR);
  memset(c, 0, sizeof *c);
  ask(probe, "Describe this image.", fx("images/demo.jpg"), 0, c);
  ask(probe, "Tell me more about the colours.", NULL, 0, c);
  ask(probe, "And the light?", NULL, 0, c);
  int64_t probe_kv;
  edgevl_kv_size(probe, &probe_kv, NULL);
  edgevl_session_free(probe);
  edgevl_session* A = new_session(model, (int)probe_kv + 16, EDGEVL_OVERFLOW_DROP_OLDEST);
  edgevl_session* R = new_session(model, 4096, EDGEVL_OVERFLOW_ERROR);
  CHECK(ask(A, "Describe this image.", fx("images/demo.jpg"), 0, c) == EDGEVL_OK, "A t1");
  CHECK(ask(A, "Tell me more about the colours.", NULL, 0, c) == EDGEVL_OK, "A t2");
  CHECK(ask(R, "Tell me more about the colours.", NULL, 0, c) == EDGEVL_OK, "R t2");
  CHECK(ask(A, "And the light?", NULL, 0, c) == EDGEVL_OK, "A t3");
  CHECK(ask(R, "And the light?", NULL, 0, c) == EDGEVL_OK, "R t3");
  int32_t turns;
  edgevl_turn_count(A, &turns);
  CHECK(turns == 3, "A has 3 turns before overflow (%d)", turns);
  Collector* ra = new_collector();
  Collector* rr = new_collector();
  CHECK(ask(A, "Please write a long answer about the whole picture now.", NULL, 10, ra) == EDGEVL_OK, "A t4 evicts");
  CHECK(ask(R, "Please write a long answer about the whole picture now.", NULL, 10, rr) == EDGEVL_OK, "R t4");
  edgevl_turn_count(A, &turns);
  CHECK(turns == 3, "A dropped one turn (%d)", turns);
  CHECK(same_tokens(ra, rr), "after eviction A answers exactly as a session that never saw turn 1");
  /* remove_turns: drop A's first remaining turn; R does the same; both continue alike. */
  CHECK(edgevl_remove_turns(A, 0, 1) == EDGEVL_OK, "remove_turns");
  CHECK(edgevl_remove_turns(R, 0, 1) == EDGEVL_OK, "remove_turns R");
  memset(ra, 0, sizeof *ra);
  memset(rr, 0, sizeof *rr);
  CHECK(ask(A, "Summarise.", NULL, 6, ra) == EDGEVL_OK && ask(R, "Summarise.", NULL, 6, rr) == EDGEVL_OK, "after remove");
  CHECK(same_tokens(ra, rr), "identical after remove_turns");
  free(c);
  free(ra);
  free(rr);
  edgevl_session_free(A);
  edgevl_session_free(R);
}

static void test_template_and_prepare(edgevl_model* model) {
  edgevl_session* s = new_session(model, 1024, EDGEVL_OVERFLOW_ERROR);
  CHECK(edgevl_set_chat_template(s, "<|im_start|>system\nYou describe pictures.<|im_end|>\n", NULL, NULL) == EDGEVL_OK, "set template");
  CHECK(edgevl_set_chat_template(s, "bad \xff utf8", NULL, NULL) == EDGEVL_ERR_INVALID_ARGUMENT, "template utf-8 checked");
  edgevl_part img = edgevl_part_image_file(fx("images/tall.jpg"));
  CHECK(edgevl_prepare_image(s, &img) == EDGEVL_OK, "prepare_image");
  Collector* c = new_collector();
  CHECK(ask(s, "What is it?", fx("images/tall.jpg"), 2, c) == EDGEVL_OK, "run with prepared image");
  CHECK(c->perf.images == 1 && c->perf.images_encoded == 0, "prepared image was not encoded again (%d)", c->perf.images_encoded);
  edgevl_model_info info = edgevl_model_info_default();
  CHECK(edgevl_model_get_info(model, &info) == EDGEVL_OK && info.hidden_size == 64 && info.vocab_size == 151936, "model info");
  CHECK(strcmp(edgevl_version(), "0.1.0") == 0, "version");
  CHECK(strcmp(edgevl_status_name(EDGEVL_ERR_BUSY), "busy") == 0, "status name");
  free(c);
  edgevl_session_free(s);
}

int main(void) {
  const char* env = getenv("EDGEVL_FIXTURES");
  snprintf(g_fixtures, sizeof g_fixtures, "%s", env && *env ? env : EDGEVL_FIXTURES_DIR);
  edgevl_model_params mp = edgevl_model_default_params();
  mp.path = fx("tiny-qwen2-vl");
  edgevl_model* model = NULL;
  edgevl_status st = edgevl_model_load(&mp, &model);
  CHECK(st == EDGEVL_OK, "load %s (fixtures missing? set EDGEVL_FIXTURES)", mp.path);
  if (st != EDGEVL_OK) {
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return 1;
  }
  test_bad_calls(model);
  test_multiturn_and_clear(model);
  test_modes_and_stop(model);
  test_async_abort(model);
  test_save_load(model);
  test_overflow(model);
  test_template_and_prepare(model);
  edgevl_model_free(model);
  printf("%d passed, %d failed\n", g_pass, g_fail);
  return g_fail ? 1 : 0;
}
