#define _GNU_SOURCE
/* The C API exercised from C99: every function, good and bad calls. Prints one line per
 * check and ends with "N passed, M failed". Needs ../shared/fixtures (or EDGEVL_FIXTURES). */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <stddef.h>
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
  int error_has_perf;         /* the ERROR result carried perf */
  int normal_without_token;   /* NORMAL results with token_id < 0 */
  int flushed;                /* the reply ended inside a character: one more NORMAL for the last token */
  char streamed[65536];       /* the NORMAL pieces, concatenated */
  size_t streamed_len;
} Collector;

static int collect(const edgevl_result* r, void* user) {
  Collector* c = (Collector*)user;
  switch (r->state) {
    case EDGEVL_STATE_NORMAL:
    case EDGEVL_STATE_WAITING:
      if (r->state == EDGEVL_STATE_WAITING) c->n_waiting++;
      if (r->state == EDGEVL_STATE_NORMAL) {
        if (r->token_id < 0) c->normal_without_token++;
        if (c->streamed_len + r->text_len < sizeof c->streamed) {
          memcpy(c->streamed + c->streamed_len, r->text, r->text_len);
          c->streamed_len += r->text_len;
        }
      }
      if (r->token_id >= 0 && c->n_tokens < 4096) c->tokens[c->n_tokens++] = r->token_id;
      if (c->stop_after > 0 && c->n_tokens >= c->stop_after) return 1;
      return 0;
    case EDGEVL_STATE_FINISH:
      c->finished = 1;
      /* The end-of-reply flush repeats the last token's id: count each token once. */
      if (r->perf && c->n_tokens >= 2 && c->n_tokens == r->perf->decode_tokens + 1 && c->tokens[c->n_tokens - 1] == c->tokens[c->n_tokens - 2]) {
        c->n_tokens--;
        c->flushed = 1;
      }
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
      c->error_has_perf = r->perf != NULL && r->perf->model_load_ms > 0;
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
  CHECK(edgevl_wait(s) == EDGEVL_ERR_ABORTED, "wait returns ABORTED after edgevl_abort");
  CHECK(strstr(edgevl_last_error(), "abort") != NULL, "wait sets the last error: %s", edgevl_last_error());
  pthread_join(t, NULL);
  CHECK(edgevl_is_running(s) == 0, "not running after wait");
  CHECK(!c->finished && c->errored && c->error_status == EDGEVL_ERR_ABORTED && c->error_has_perf && c->n_tokens < 3500,
        "aborted from another thread: an ERROR result with ABORTED and perf (%d tokens)", c->n_tokens);
  int64_t kv_after;
  int32_t turns_after;
  edgevl_kv_size(s, &kv_after, NULL);
  edgevl_turn_count(s, &turns_after);
  CHECK(kv_after == 0 && turns_after == 0, "the aborted turn is not in history (kv %lld, turns %d)", (long long)kv_after, turns_after);
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


/* ---- issue 10: one check per defect ------------------------------------------------------ */

static edgevl_status run_parts(edgevl_session* s, edgevl_role role, const edgevl_part* parts, size_t n, const edgevl_run_params* rp,
                               Collector* c) {
  edgevl_message m = {role, parts, n};
  return edgevl_run(s, &m, rp, c ? collect : NULL, c);
}

/* ERROR results carried perf == NULL in most error cases although the header promises it. */
static void test_error_results_carry_perf(edgevl_model* model) {
  edgevl_session* s = new_session(model, 260, EDGEVL_OVERFLOW_ERROR);
  Collector* c = new_collector();
  edgevl_part bad_utf8 = edgevl_part_text("caf\xc3");
  edgevl_part missing = edgevl_part_image_file("/nonexistent.png");
  static const uint8_t junk[16] = {1, 2, 3};
  edgevl_part jp = edgevl_part_image_bytes(junk, sizeof junk);
  edgevl_part tag = edgevl_part_tagged_text("<image>?");
  int32_t badtok = 99999999;
  edgevl_part tp = edgevl_part_tokens(&badtok, 1);
  edgevl_part empty = edgevl_part_text("");
  edgevl_part big = edgevl_part_image_file(fx("images/tall.png"));
  edgevl_part cases[] = {bad_utf8, missing, jp, tag, tp, empty};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    memset(c, 0, sizeof *c);
    const edgevl_status st = run_parts(s, EDGEVL_ROLE_USER, &cases[i], 1, NULL, c);
    CHECK(st != EDGEVL_OK && c->errored && c->error_status == st && c->error_has_perf, "error case %d: ERROR with perf (%s)", (int)i,
          edgevl_status_name(st));
  }
  /* Bad message, bad run params, bad role: refused before the run, still with perf. */
  memset(c, 0, sizeof *c);
  CHECK(edgevl_run(s, NULL, NULL, collect, c) == EDGEVL_ERR_INVALID_ARGUMENT && c->error_has_perf, "NULL message: ERROR with perf");
  edgevl_run_params rp = edgevl_run_default_params();
  rp.max_new_tokens = -7;
  edgevl_part hi = edgevl_part_text("hi");
  memset(c, 0, sizeof *c);
  CHECK(run_parts(s, EDGEVL_ROLE_USER, &hi, 1, &rp, c) == EDGEVL_ERR_INVALID_ARGUMENT && c->error_has_perf, "bad run params: ERROR with perf");
  memset(c, 0, sizeof *c);
  CHECK(run_parts(s, (edgevl_role)9, &hi, 1, NULL, c) == EDGEVL_ERR_INVALID_ARGUMENT && c->error_has_perf, "bad role: ERROR with perf");
  /* Context overflow: the image does not fit 260 tokens. */
  edgevl_part ov[2] = {big, hi};
  memset(c, 0, sizeof *c);
  ask(s, "Describe.", fx("images/demo.jpg"), 2, c);
  memset(c, 0, sizeof *c);
  CHECK(run_parts(s, EDGEVL_ROLE_USER, ov, 2, NULL, c) == EDGEVL_ERR_CONTEXT_OVERFLOW && c->error_has_perf,
        "context overflow: ERROR with perf (%s)", edgevl_last_error());
  /* BUSY, during an async run. */
  edgevl_run_params long_run = edgevl_run_default_params();
  long_run.max_new_tokens = 3000;
  long_run.ignore_eos = 1;
  Collector* bg = new_collector();
  edgevl_clear(s, 0);
  CHECK(run_parts(s, EDGEVL_ROLE_USER, &hi, 1, NULL, NULL) == EDGEVL_OK, "short run");
  edgevl_session* big_s = new_session(model, 4096, EDGEVL_OVERFLOW_ERROR);
  CHECK(edgevl_run_async(big_s, &(edgevl_message){EDGEVL_ROLE_USER, &hi, 1}, &long_run, collect, bg) == EDGEVL_OK, "async");
  memset(c, 0, sizeof *c);
  CHECK(run_parts(big_s, EDGEVL_ROLE_USER, &hi, 1, NULL, c) == EDGEVL_ERR_BUSY && c->errored && c->error_status == EDGEVL_ERR_BUSY &&
            c->error_has_perf,
        "BUSY: ERROR with perf");
  edgevl_abort(big_s);
  edgevl_wait(big_s);
  edgevl_session_free(big_s);
  free(bg);
  free(c);
  edgevl_session_free(s);
}

/* edgevl_last_error() was cleared by any successful call. */
static void test_last_error_kept_after_successful_calls(edgevl_model* model) {
  edgevl_session* s = new_session(model, 1024, EDGEVL_OVERFLOW_ERROR);
  CHECK(edgevl_remove_turns(s, 5, 1) == EDGEVL_ERR_INVALID_ARGUMENT, "a failing call");
  char saved[512];
  snprintf(saved, sizeof saved, "%s", edgevl_last_error());
  CHECK(saved[0] != 0, "it set the last error");
  int64_t used;
  int32_t turns;
  edgevl_perf perf;
  Collector* c = new_collector();
  CHECK(edgevl_kv_size(s, &used, NULL) == EDGEVL_OK && edgevl_turn_count(s, &turns) == EDGEVL_OK && edgevl_get_perf(s, &perf, NULL) == EDGEVL_OK &&
            ask(s, "Hi", NULL, 2, c) == EDGEVL_OK && edgevl_clear(s, 1) == EDGEVL_OK,
        "successful calls");
  CHECK(strcmp(edgevl_last_error(), saved) == 0, "the last error is still that of the failed call: '%s'", edgevl_last_error());
  free(c);
  edgevl_session_free(s);
}

/* A NORMAL result could carry token_id = -1 (the U+FFFD flush at the end of a reply). */
static void test_no_normal_result_without_token(edgevl_model* model) {
  edgevl_session* s = new_session(model, 1024, EDGEVL_OVERFLOW_ERROR);
  Collector* c = new_collector();
  edgevl_sampling_params hot = edgevl_sampling_default_params();
  hot.temperature = 5.0f; /* near-uniform over the vocabulary: many byte-fragment tokens */
  edgevl_run_params rp = edgevl_run_default_params();
  rp.keep_history = 0;
  rp.max_new_tokens = 1;
  rp.ignore_eos = 1;
  rp.sampling = &hot;
  edgevl_part hi = edgevl_part_text("Hi");
  int flushes = 0, bad = 0, mismatched = 0;
  for (uint64_t seed = 1; seed <= 300 && flushes < 3; ++seed) {
    hot.seed = seed;
    memset(c, 0, sizeof *c);
    if (run_parts(s, EDGEVL_ROLE_USER, &hi, 1, &rp, c) != EDGEVL_OK) {
      ++bad;
      continue;
    }
    bad += c->normal_without_token;
    flushes += c->flushed;
    if (c->streamed_len != c->text_len || memcmp(c->streamed, c->text, c->text_len) != 0) ++mismatched;
  }
  CHECK(bad == 0, "no NORMAL result without a token (%d)", bad);
  CHECK(mismatched == 0, "the NORMAL pieces add up to the FINISH text (%d runs differ)", mismatched);
  CHECK(flushes > 0, "a reply that ended inside a character was seen (%d)", flushes);
  free(c);
  edgevl_session_free(s);
}

static void* run_thread(void* p) {
  edgevl_session* s = (edgevl_session*)p;
  edgevl_part q = edgevl_part_text("Write a long story.");
  edgevl_message m = {EDGEVL_ROLE_USER, &q, 1};
  edgevl_run_params rp = edgevl_run_default_params();
  rp.max_new_tokens = 400;
  rp.ignore_eos = 1;
  static edgevl_status st;
  st = edgevl_run(s, &m, &rp, NULL, NULL);
  return &st;
}

/* prepare_image / kv_size / turn_count / get_perf returned OK during a run and read the
 * session unlocked. Now: prepare_image is BUSY; the others report the state before the run. */
static void test_calls_during_a_run(edgevl_model* model) {
  edgevl_session* s = new_session(model, 4096, EDGEVL_OVERFLOW_ERROR);
  Collector* c = new_collector();
  CHECK(ask(s, "Hello", NULL, 3, c) == EDGEVL_OK, "turn 1");
  int64_t kv0, cap0;
  int32_t turns0;
  edgevl_perf last0, total0;
  edgevl_kv_size(s, &kv0, &cap0);
  edgevl_turn_count(s, &turns0);
  edgevl_get_perf(s, &last0, &total0);
  pthread_t t;
  pthread_create(&t, NULL, run_thread, s);
  while (!edgevl_is_running(s)) usleep(100);
  int64_t kv = -1, cap = -1;
  int32_t turns = -1;
  edgevl_perf last, total;
  edgevl_part img = edgevl_part_image_file(fx("images/tall.jpg"));
  int checked_while_running = 0;
  for (int i = 0; i < 200 && edgevl_is_running(s); ++i) {
    CHECK(edgevl_kv_size(s, &kv, &cap) == EDGEVL_OK && kv == kv0 && cap == cap0, "kv_size during a run: the state before it");
    CHECK(edgevl_turn_count(s, &turns) == EDGEVL_OK && turns == turns0, "turn_count during a run");
    CHECK(edgevl_get_perf(s, &last, &total) == EDGEVL_OK && total.decode_tokens == total0.decode_tokens, "get_perf during a run");
    ++checked_while_running;
    usleep(200);
  }
  edgevl_status pst = edgevl_prepare_image(s, &img);
  CHECK(pst == EDGEVL_ERR_BUSY || !edgevl_is_running(s), "prepare_image during a run: BUSY (%s)", edgevl_status_name(pst));
  void* ret;
  pthread_join(t, &ret);
  CHECK(*(edgevl_status*)ret == EDGEVL_OK, "the run ended well");
  CHECK(checked_while_running > 0, "calls were made while it ran");
  edgevl_kv_size(s, &kv, NULL);
  edgevl_turn_count(s, &turns);
  CHECK(kv > kv0 + 400 && turns == turns0 + 1, "after the run: the new state (kv %lld, turns %d)", (long long)kv, turns);
  CHECK(edgevl_prepare_image(s, &img) == EDGEVL_OK, "prepare_image when idle");
  free(c);
  edgevl_session_free(s);
}

/* Empty prompts (zero parts, or one empty TEXT part) were accepted and added a turn. */
static void test_empty_prompt_is_refused(edgevl_model* model) {
  edgevl_session* s = new_session(model, 1024, EDGEVL_OVERFLOW_ERROR);
  Collector* c = new_collector();
  CHECK(ask(s, "Hello", NULL, 2, c) == EDGEVL_OK, "a turn");
  int64_t kv0;
  int32_t t0;
  edgevl_kv_size(s, &kv0, NULL);
  edgevl_turn_count(s, &t0);
  edgevl_part e1 = edgevl_part_text("");
  edgevl_part e2[2] = {edgevl_part_text(""), edgevl_part_literal_text("")};
  edgevl_part e3 = edgevl_part_tokens(NULL, 0);
  edgevl_message zero = {EDGEVL_ROLE_USER, NULL, 0};
  CHECK(edgevl_run(s, &zero, NULL, NULL, NULL) == EDGEVL_ERR_INVALID_ARGUMENT, "zero parts");
  CHECK(run_parts(s, EDGEVL_ROLE_USER, &e1, 1, NULL, NULL) == EDGEVL_ERR_INVALID_ARGUMENT, "one empty text part");
  CHECK(run_parts(s, EDGEVL_ROLE_USER, e2, 2, NULL, NULL) == EDGEVL_ERR_INVALID_ARGUMENT, "two empty text parts");
  CHECK(run_parts(s, EDGEVL_ROLE_TOOL, &e3, 1, NULL, NULL) == EDGEVL_ERR_INVALID_ARGUMENT, "an empty tool message");
  CHECK(strstr(edgevl_last_error(), "content") != NULL, "the message says why: %s", edgevl_last_error());
  int64_t kv;
  int32_t t;
  edgevl_kv_size(s, &kv, NULL);
  edgevl_turn_count(s, &t);
  CHECK(kv == kv0 && t == t0, "no turn added (kv %lld -> %lld, turns %d -> %d)", (long long)kv0, (long long)kv, t0, t);
  free(c);
  edgevl_session_free(s);
}

/* max_context = -100 was reported as "n_keep out of range"; every field is checked. */
static void test_session_params_each_field_named(edgevl_model* model) {
  edgevl_session* s = NULL;
  struct {
    const char* field;
    edgevl_session_params p;
  } cases[13];
  int n = 0;
  for (int i = 0; i < 13; ++i) cases[i].p = edgevl_session_default_params();
  cases[n].field = "max_context", cases[n++].p.max_context = -100;
  cases[n].field = "max_context", cases[n++].p.max_context = 8;
  cases[n].field = "n_keep", cases[n++].p.n_keep = -2;
  cases[n].field = "n_threads", cases[n++].p.n_threads = -1;
  cases[n].field = "max_new_tokens", cases[n++].p.max_new_tokens = -1;
  cases[n].field = "ignore_eos", cases[n++].p.ignore_eos = 7;
  cases[n].field = "overflow", cases[n++].p.overflow = (edgevl_overflow_policy)5;
  cases[n].field = "image_min_pixels", cases[n].p.image_min_pixels = 1000000, cases[n++].p.image_max_pixels = 1000;
  cases[n].field = "image_max_input_pixels", cases[n++].p.image_max_input_pixels = -1;
  cases[n].field = "image_max_tokens", cases[n++].p.image_max_tokens = -1;
  cases[n].field = "cpu_mask", cases[n++].p.cpu_mask = (uint64_t)1 << 63;
  cases[n].field = "system_prompt", cases[n++].p.system_prompt = "bad \xff";
  cases[n].field = "kv_type", cases[n++].p.kv_type = 7;
  for (int i = 0; i < n; ++i) {
    if (strcmp(cases[i].field, "cpu_mask") == 0 && sysconf(_SC_NPROCESSORS_CONF) >= 64) continue;
    const edgevl_status st = edgevl_session_create(model, &cases[i].p, &s);
    CHECK(st == EDGEVL_ERR_INVALID_ARGUMENT && s == NULL && strstr(edgevl_last_error(), cases[i].field) != NULL,
          "bad %s is refused naming the field (%s)", cases[i].field, edgevl_last_error());
  }
  /* Run params too. */
  s = new_session(model, 1024, EDGEVL_OVERFLOW_ERROR);
  edgevl_part hi = edgevl_part_text("hi");
  const char* run_fields[] = {"keep_history", "ignore_eos", "max_new_tokens", "mode"};
  for (int i = 0; i < 4; ++i) {
    edgevl_run_params rp = edgevl_run_default_params();
    if (i == 0) rp.keep_history = 2;
    if (i == 1) rp.ignore_eos = 5;
    if (i == 2) rp.max_new_tokens = -2;
    if (i == 3) rp.mode = (edgevl_mode)9;
    CHECK(run_parts(s, EDGEVL_ROLE_USER, &hi, 1, &rp, NULL) == EDGEVL_ERR_INVALID_ARGUMENT && strstr(edgevl_last_error(), run_fields[i]),
          "bad run %s is refused naming the field (%s)", run_fields[i], edgevl_last_error());
  }
  edgevl_session_free(s);
}

/* edgevl_remove_turns(s, 1, INT32_MAX) and (s, INT32_MAX, 1) segfaulted (int overflow). */
/* An f16 KV cache: the same greedy reply as f32 on this short turn, and a caller built against
 * the first release (its struct ends before kv_type) still gets a session, with an f32 cache. */
static void test_kv_type(edgevl_model* model) {
  edgevl_session_params sp = edgevl_session_default_params();
  sp.max_context = 1024;
  sp.n_threads = 2;
  sp.image_fixed_size = 392;
  edgevl_session *a = NULL, *b = NULL, *old = NULL;
  CHECK(edgevl_session_create(model, &sp, &a) == EDGEVL_OK, "f32 session");
  sp.kv_type = EDGEVL_KV_F16;
  CHECK(edgevl_session_create(model, &sp, &b) == EDGEVL_OK, "f16 session: %s", edgevl_last_error());
  Collector *ca = new_collector(), *cb = new_collector();
  CHECK(ask(a, "Describe this image.", fx("images/demo.jpg"), 8, ca) == EDGEVL_OK, "f32 turn");
  CHECK(ask(b, "Describe this image.", fx("images/demo.jpg"), 8, cb) == EDGEVL_OK, "f16 turn");
  CHECK(cb->n_tokens == 8 && same_tokens(ca, cb), "f16 KV cache gives the f32 reply (%d tokens)", cb->n_tokens);
  int64_t used = 0, cap = 0;
  CHECK(edgevl_kv_size(b, &used, &cap) == EDGEVL_OK && cap == 1024 && used > 196, "f16 kv size %lld / %lld", (long long)used,
        (long long)cap);
  edgevl_session_params first = edgevl_session_default_params();
  first.struct_size = (uint32_t)offsetof(edgevl_session_params, kv_type);
  first.kv_type = 99; /* past the old struct's end: not read */
  CHECK(edgevl_session_create(model, &first, &old) == EDGEVL_OK && old != NULL, "first-release struct_size accepted: %s",
        edgevl_last_error());
  first.struct_size = (uint32_t)offsetof(edgevl_session_params, kv_type) - 8;
  edgevl_session* none = NULL;
  CHECK(edgevl_session_create(model, &first, &none) == EDGEVL_ERR_INVALID_ARGUMENT && none == NULL, "other struct_size refused");
  free(ca);
  free(cb);
  edgevl_session_free(a);
  edgevl_session_free(b);
  edgevl_session_free(old);
}

static void test_remove_turns_overflow(edgevl_model* model) {
  edgevl_session* s = new_session(model, 1024, EDGEVL_OVERFLOW_ERROR);
  Collector* c = new_collector();
  ask(s, "One", NULL, 2, c);
  ask(s, "Two", NULL, 2, c);
  int64_t kv0;
  edgevl_kv_size(s, &kv0, NULL);
  CHECK(edgevl_remove_turns(s, 1, INT32_MAX) == EDGEVL_ERR_INVALID_ARGUMENT, "remove_turns(1, INT32_MAX)");
  CHECK(edgevl_remove_turns(s, INT32_MAX, 1) == EDGEVL_ERR_INVALID_ARGUMENT, "remove_turns(INT32_MAX, 1)");
  CHECK(edgevl_remove_turns(s, INT32_MAX, INT32_MAX) == EDGEVL_ERR_INVALID_ARGUMENT, "remove_turns(INT32_MAX, INT32_MAX)");
  CHECK(edgevl_remove_turns(s, -1, 1) == EDGEVL_ERR_INVALID_ARGUMENT, "remove_turns(-1, 1)");
  CHECK(edgevl_remove_turns(s, 0, -1) == EDGEVL_ERR_INVALID_ARGUMENT, "remove_turns(0, -1)");
  int64_t kv;
  int32_t turns;
  edgevl_kv_size(s, &kv, NULL);
  edgevl_turn_count(s, &turns);
  CHECK(kv == kv0 && turns == 2, "nothing removed");
  CHECK(edgevl_remove_turns(s, 1, 1) == EDGEVL_OK, "remove_turns(1, 1)");
  free(c);
  edgevl_session_free(s);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* A big RGB image whose encode takes a while on the tiny model. */
static uint8_t* make_rgb(int w, int h) {
  uint8_t* p = (uint8_t*)malloc((size_t)w * (size_t)h * 3);
  for (size_t i = 0; i < (size_t)w * (size_t)h * 3; ++i) p[i] = (uint8_t)(i * 2654435761u >> 24);
  return p;
}

/* Abort reached only the decode loop; the aborted turn stayed in history; edgevl_wait
 * returned OK. Now: ABORTED from any stage, quickly, history as before, next run clean. */
static void test_abort_during_encode_and_prefill(edgevl_model* model) {
  edgevl_session_params sp = edgevl_session_default_params();
  sp.max_context = 16384;
  sp.n_threads = 2;
  sp.image_max_tokens = 8192; /* a long encode and a long prefill */
  edgevl_session* s = NULL;
  CHECK(edgevl_session_create(model, &sp, &s) == EDGEVL_OK, "session");
  if (!s) return;
  Collector* c = new_collector();
  CHECK(ask(s, "Hello", NULL, 2, c) == EDGEVL_OK, "a first turn");
  int64_t kv0;
  int32_t t0;
  edgevl_kv_size(s, &kv0, NULL);
  edgevl_turn_count(s, &t0);
  const int w = 2240, h = 1680;
  uint8_t* rgb = make_rgb(w, h);
  edgevl_part image[2] = {edgevl_part_image_rgb(rgb, w, h), edgevl_part_text("Describe it.")};
  /* A long prompt: 12000 tokens to prefill. */
  const size_t n_long = 12000;
  int32_t* ids = (int32_t*)malloc(sizeof(int32_t) * n_long);
  for (size_t i = 0; i < n_long; ++i) ids[i] = (int32_t)(100 + i % 5000);
  edgevl_part prompt = edgevl_part_tokens(ids, n_long);
  edgevl_run_params rp = edgevl_run_default_params();
  rp.max_new_tokens = 4;
  for (int k = 0; k < 2; ++k) {
    edgevl_message m = {EDGEVL_ROLE_USER, k == 0 ? image : &prompt, k == 0 ? 2 : 1};
    memset(c, 0, sizeof *c);
    const double t_start = now_ms();
    CHECK(edgevl_run_async(s, &m, &rp, collect, c) == EDGEVL_OK, "run_async (%s)", k == 0 ? "big image" : "long prompt");
    usleep(k == 0 ? 30000 : 20000);
    const double t_abort = now_ms();
    edgevl_abort(s);
    const edgevl_status st = edgevl_wait(s);
    const double latency = now_ms() - t_abort;
    printf("abort during %s: %.0f ms into the run, returned after %.1f ms\n", k == 0 ? "image encode" : "prefill", t_abort - t_start, latency);
    CHECK(st == EDGEVL_ERR_ABORTED && c->errored && c->error_status == EDGEVL_ERR_ABORTED, "aborted run returns ABORTED (%s)",
          edgevl_status_name(st));
    /* Issue 10 asks for 100 ms on the tiny model on an idle machine; shared CI cores get
     * slack, and sanitizer builds run 5-20x slower. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    const double bound_ms = 5000;
#else
    const double bound_ms = 500;
#endif
    CHECK(latency < bound_ms, "abort honoured within %.0f ms (%.1f ms)", bound_ms, latency);
    int64_t kv;
    int32_t t;
    edgevl_kv_size(s, &kv, NULL);
    edgevl_turn_count(s, &t);
    CHECK(kv == kv0 && t == t0, "history as before the aborted run (kv %lld/%lld, turns %d/%d)", (long long)kv, (long long)kv0, t, t0);
  }
  free(ids);
  /* The next run is unaffected by the aborts. */
  memset(c, 0, sizeof *c);
  CHECK(ask(s, "Short answer.", NULL, 3, c) == EDGEVL_OK && c->n_tokens == 3 && c->finished, "next run complete");
  free(rgb);
  free(c);
  edgevl_session_free(s);
}

typedef struct {
  edgevl_session* s;
  int delay_us;
} RaceArg;

static void* abort_after(void* p) {
  RaceArg* a = (RaceArg*)p;
  usleep((useconds_t)a->delay_us);
  edgevl_abort(a->s);
  return NULL;
}

/* An abort landing between the end of chat() and the run being marked idle carried over
 * and emptied the next run. Aborts at every moment around the end of short runs must never
 * touch the run after. */
static void test_abort_never_carries_over(edgevl_model* model) {
  edgevl_session* s = new_session(model, 1024, EDGEVL_OVERFLOW_ERROR);
  Collector* c = new_collector();
  edgevl_part q = edgevl_part_text("Hi");
  edgevl_message m = {EDGEVL_ROLE_USER, &q, 1};
  edgevl_run_params rp = edgevl_run_default_params();
  rp.max_new_tokens = 2;
  rp.ignore_eos = 1;
  rp.keep_history = 0;
  int clean = 1;
  for (int i = 0; i < 40; ++i) {
    RaceArg a = {s, (i % 10) * 300};
    pthread_t t;
    memset(c, 0, sizeof *c);
    edgevl_run_async(s, &m, &rp, collect, c);
    pthread_create(&t, NULL, abort_after, &a);
    edgevl_wait(s);
    pthread_join(t, NULL);
    edgevl_abort(s); /* idle: must do nothing */
    memset(c, 0, sizeof *c);
    if (edgevl_run(s, &m, &rp, collect, c) != EDGEVL_OK || c->n_tokens != 2) clean = 0;
  }
  CHECK(clean, "every run after an abort ran to the end");
  free(c);
  edgevl_session_free(s);
}

/* A sync run aborted from another thread fails with ABORTED as well. */
static void test_sync_run_abort(edgevl_model* model) {
  edgevl_session* s = new_session(model, 4096, EDGEVL_OVERFLOW_ERROR);
  pthread_t t;
  AbortArg a = {s};
  pthread_create(&t, NULL, abort_later, &a);
  Collector* c = new_collector();
  CHECK(ask(s, "Write forever.", NULL, 3500, c) == EDGEVL_ERR_ABORTED && c->errored, "edgevl_run returns ABORTED");
  pthread_join(t, NULL);
  int32_t turns;
  edgevl_turn_count(s, &turns);
  CHECK(turns == 0, "no turn left by the aborted run");
  free(c);
  edgevl_session_free(s);
}

/* run_async left the session busy forever if its thread could not be created. To make
 * thread creation fail, this program defines pthread_create itself (the library's calls
 * reach it through libstdc++) and forwards to the real one unless told to fail. The
 * sanitizers define pthread_create too, so there the check cannot be built. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define EDGEVL_TEST_CAN_FAIL_THREADS 0
#else
#define EDGEVL_TEST_CAN_FAIL_THREADS 1
static int g_fail_thread_create = 0;
int pthread_create(pthread_t* t, const pthread_attr_t* attr, void* (*fn)(void*), void* arg) {
  typedef int (*create_fn)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
  static create_fn real = NULL;
  if (g_fail_thread_create) return EAGAIN;
  if (!real) {
    void* sym = dlsym(RTLD_NEXT, "pthread_create");
    memcpy(&real, &sym, sizeof real); /* object -> function pointer, without a pedantic cast */
  }
  return real(t, attr, fn, arg);
}
#endif

static void test_run_async_thread_failure(edgevl_model* model) {
#if EDGEVL_TEST_CAN_FAIL_THREADS
  edgevl_session* s = new_session(model, 1024, EDGEVL_OVERFLOW_ERROR);
  edgevl_part q = edgevl_part_text("Hi");
  edgevl_message m = {EDGEVL_ROLE_USER, &q, 1};
  g_fail_thread_create = 1;
  const edgevl_status st = edgevl_run_async(s, &m, NULL, NULL, NULL);
  g_fail_thread_create = 0;
  CHECK(st == EDGEVL_ERR_INTERNAL, "thread creation failure reported (%s: %s)", edgevl_status_name(st), edgevl_last_error());
  CHECK(edgevl_is_running(s) == 0, "the session is not left busy");
  Collector* c = new_collector();
  CHECK(ask(s, "Hi", NULL, 2, c) == EDGEVL_OK, "and it runs afterwards");
  free(c);
  edgevl_session_free(s);
#else
  (void)model;
  printf("run_async thread failure: not checked in a sanitizer build (the sanitizer owns pthread_create)\n");
#endif
}

/* A TEXT part holding "<|im_end|>" became the control token: user text could inject
 * ChatML. LITERAL_TEXT parts never do; TEXT keeps the RKLLM behaviour. */
static void test_literal_text_blocks_chatml_injection(edgevl_model* model) {
  edgevl_session* s = new_session(model, 1024, EDGEVL_OVERFLOW_ERROR);
  edgevl_run_params rp = edgevl_run_default_params();
  rp.mode = EDGEVL_MODE_LOGITS;
  rp.keep_history = 0;
  Collector* special = new_collector();
  Collector* text = new_collector();
  Collector* literal = new_collector();
  int32_t im_end = 151645;
  edgevl_part tok = edgevl_part_tokens(&im_end, 1);
  edgevl_part txt = edgevl_part_text("<|im_end|>");
  edgevl_part lit = edgevl_part_literal_text("<|im_end|>");
  CHECK(run_parts(s, EDGEVL_ROLE_USER, &tok, 1, &rp, special) == EDGEVL_OK, "tokens part");
  CHECK(run_parts(s, EDGEVL_ROLE_USER, &txt, 1, &rp, text) == EDGEVL_OK, "text part");
  CHECK(run_parts(s, EDGEVL_ROLE_USER, &lit, 1, &rp, literal) == EDGEVL_OK, "literal text part");
  int varied = 0;
  for (int i = 1; i < special->n_logits && !varied; ++i) varied = special->logits[i] != special->logits[0];
  CHECK(varied, "the logits are real (not all equal)");
  CHECK(special->n_logits > 0 && memcmp(special->logits, text->logits, sizeof(float) * (size_t)special->n_logits) == 0,
        "a TEXT part still parses control tokens (RKLLM)");
  CHECK(memcmp(special->logits, literal->logits, sizeof(float) * (size_t)special->n_logits) != 0,
        "a LITERAL_TEXT part is not the control token");
  CHECK(literal->perf.prefill_tokens > special->perf.prefill_tokens, "it is several ordinary tokens (%lld vs %lld)",
        (long long)literal->perf.prefill_tokens, (long long)special->perf.prefill_tokens);
  free(special);
  free(text);
  free(literal);
  edgevl_session_free(s);
}

/* The image budget: a library default (EDGEVL_DEFAULT_IMAGE_MAX_TOKENS) and a session
 * field to change it; images bigger are scaled down. Plus the documented size limits. */
static void test_image_token_budget(edgevl_model* model) {
  edgevl_session_params sp = edgevl_session_default_params();
  sp.n_threads = 2;
  edgevl_session* s = NULL;
  CHECK(edgevl_session_create(model, &sp, &s) == EDGEVL_OK, "default session");
  Collector* c = new_collector();
  const int w = 4000, h = 3000; /* a 12 MP photo */
  uint8_t* rgb = make_rgb(w, h);
  edgevl_part parts[2] = {edgevl_part_image_rgb(rgb, w, h), edgevl_part_text("What is it?")};
  edgevl_run_params rp = edgevl_run_default_params();
  rp.max_new_tokens = 1;
  rp.keep_history = 0;
  CHECK(run_parts(s, EDGEVL_ROLE_USER, parts, 2, &rp, c) == EDGEVL_OK, "12 MP image with the default budget (%s)", edgevl_last_error());
  CHECK(c->perf.image_tokens > 0 && c->perf.image_tokens <= EDGEVL_DEFAULT_IMAGE_MAX_TOKENS, "default budget: %lld image tokens",
        (long long)c->perf.image_tokens);
  edgevl_session_free(s);
  sp.image_max_tokens = 64;
  CHECK(edgevl_session_create(model, &sp, &s) == EDGEVL_OK, "session with image_max_tokens 64");
  memset(c, 0, sizeof *c);
  CHECK(run_parts(s, EDGEVL_ROLE_USER, parts, 2, &rp, c) == EDGEVL_OK && c->perf.image_tokens > 0 && c->perf.image_tokens <= 64,
        "image_max_tokens 64: %lld image tokens", (long long)c->perf.image_tokens);
  /* Documented limits: each side >= 28 pixels, aspect at most 200:1. */
  uint8_t* tiny = make_rgb(20, 20);
  edgevl_part small = edgevl_part_image_rgb(tiny, 20, 20);
  CHECK(run_parts(s, EDGEVL_ROLE_USER, &small, 1, &rp, NULL) == EDGEVL_ERR_INVALID_ARGUMENT, "a 20x20 image is refused");
  uint8_t* thin = make_rgb(28 * 201, 28);
  edgevl_part wide = edgevl_part_image_rgb(thin, 28 * 201, 28);
  CHECK(run_parts(s, EDGEVL_ROLE_USER, &wide, 1, &rp, NULL) == EDGEVL_ERR_INVALID_ARGUMENT, "a 201:1 image is refused");
  free(tiny);
  free(thin);
  free(rgb);
  free(c);
  edgevl_session_free(s);
}

/* What the roles do (header): ASSISTANT is added as given, no reply is generated. */
static void test_assistant_message_adds_a_turn_without_reply(edgevl_model* model) {
  edgevl_session* s = new_session(model, 1024, EDGEVL_OVERFLOW_ERROR);
  Collector* c = new_collector();
  edgevl_part a = edgevl_part_text("I am a reply written elsewhere.");
  CHECK(run_parts(s, EDGEVL_ROLE_ASSISTANT, &a, 1, NULL, c) == EDGEVL_OK && c->finished && c->n_tokens == 0, "assistant message: no tokens");
  int32_t turns;
  edgevl_turn_count(s, &turns);
  CHECK(turns == 1, "it is a turn (%d)", turns);
  free(c);
  edgevl_session_free(s);
}

/* What a callback may call on its own session (header: only the "any time" functions). */
typedef struct {
  edgevl_session* s;
  edgevl_status wait_st, clear_st, kv_st;
  int calls;
} SelfCall;

static int call_self(const edgevl_result* r, void* user) {
  SelfCall* c = (SelfCall*)user;
  if (r->state != EDGEVL_STATE_NORMAL && r->state != EDGEVL_STATE_WAITING) return 0;
  if (c->calls++ == 0) {
    int64_t used;
    c->wait_st = edgevl_wait(c->s);
    c->clear_st = edgevl_clear(c->s, 1);
    c->kv_st = edgevl_kv_size(c->s, &used, NULL);
  }
  return 0;
}

static void test_callback_calls_into_its_session(edgevl_model* model) {
  edgevl_session* s = new_session(model, 1024, EDGEVL_OVERFLOW_ERROR);
  SelfCall c = {s, EDGEVL_OK, EDGEVL_OK, EDGEVL_ERR_INTERNAL, 0};
  edgevl_part q = edgevl_part_text("Hi");
  edgevl_message m = {EDGEVL_ROLE_USER, &q, 1};
  edgevl_run_params rp = edgevl_run_default_params();
  rp.max_new_tokens = 3;
  rp.ignore_eos = 1;
  CHECK(edgevl_run_async(s, &m, &rp, call_self, &c) == EDGEVL_OK, "async run");
  CHECK(edgevl_wait(s) == EDGEVL_OK, "it ends well");
  CHECK(c.wait_st == EDGEVL_ERR_BUSY, "edgevl_wait from its own callback: BUSY, no deadlock (%s)", edgevl_status_name(c.wait_st));
  CHECK(c.clear_st == EDGEVL_ERR_BUSY, "edgevl_clear from a callback: BUSY");
  CHECK(c.kv_st == EDGEVL_OK, "edgevl_kv_size from a callback: OK");
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
  test_error_results_carry_perf(model);
  test_last_error_kept_after_successful_calls(model);
  test_no_normal_result_without_token(model);
  test_calls_during_a_run(model);
  test_empty_prompt_is_refused(model);
  test_session_params_each_field_named(model);
  test_kv_type(model);
  test_remove_turns_overflow(model);
  test_abort_during_encode_and_prefill(model);
  test_abort_never_carries_over(model);
  test_sync_run_abort(model);
  test_run_async_thread_failure(model);
  test_literal_text_blocks_chatml_injection(model);
  test_image_token_budget(model);
  test_assistant_message_adds_a_turn_without_reply(model);
  test_callback_calls_into_its_session(model);
  edgevl_model_free(model);
  printf("%d passed, %d failed\n", g_pass, g_fail);
  return g_fail ? 1 : 0;
}
