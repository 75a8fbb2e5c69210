/*
 * edgevl.h — the C API of edgevl, an on-device runtime for multimodal multi-turn
 * dialogue with Qwen2-VL / Qwen2.5-VL on CPUs.
 *
 * Example (error handling shortened):
 *
 *   #include "edgevl.h"
 *
 *   static int on_result(const edgevl_result* r, void* user) {
 *     if (r->state == EDGEVL_STATE_NORMAL) fwrite(r->text, 1, r->text_len, stdout);
 *     if (r->state == EDGEVL_STATE_FINISH) printf("\n[%.1f tok/s]\n", r->perf->decode_tokens_per_s);
 *     if (r->state == EDGEVL_STATE_ERROR) fprintf(stderr, "error: %s\n", r->error);
 *     return 0;                                  // non-zero stops generation
 *   }
 *
 *   int main(void) {
 *     edgevl_model_params mp = edgevl_model_default_params();
 *     mp.path = "Qwen2-VL-2B-Instruct";          // a Hugging Face model directory
 *     edgevl_model* model;
 *     if (edgevl_model_load(&mp, &model) != EDGEVL_OK) { puts(edgevl_last_error()); return 1; }
 *
 *     edgevl_session_params sp = edgevl_session_default_params();
 *     sp.max_context = 4096;
 *     edgevl_session* s;
 *     edgevl_session_create(model, &sp, &s);
 *
 *     edgevl_part parts[2] = {edgevl_part_image_file("photo.jpg"), edgevl_part_text("What is in the image?")};
 *     edgevl_message msg = {EDGEVL_ROLE_USER, parts, 2};
 *     edgevl_run(s, &msg, NULL, on_result, NULL);          // turn 1
 *
 *     edgevl_part q = edgevl_part_text("And what colour is it?");
 *     edgevl_message msg2 = {EDGEVL_ROLE_USER, &q, 1};
 *     edgevl_run(s, &msg2, NULL, on_result, NULL);         // turn 2 reuses the KV cache
 *
 *     edgevl_session_free(s);
 *     edgevl_model_free(model);
 *   }
 *
 * Thread safety:
 *   - An edgevl_model is read-only after edgevl_model_load: any number of sessions on any
 *     threads may share it. Free it only after every session made from it is freed.
 *   - An edgevl_session is one conversation. Calls that use it (run, run_async, clear,
 *     remove_turns, set_chat_template, prepare_image, session_save, session_load) claim
 *     it for their duration: a second such call from any thread meanwhile, including one
 *     during an async run, returns EDGEVL_ERR_BUSY and changes nothing.
 *   - Safe from any thread at any time, also during a run: edgevl_abort, edgevl_is_running,
 *     edgevl_kv_size, edgevl_turn_count and edgevl_get_perf. The last three report the
 *     state as of the end of the last call that used the session (during a run: the
 *     state before it).
 *   - edgevl_wait and edgevl_session_free are for the thread that owns the session (not
 *     for callbacks); edgevl_session_free must not race with another call into it.
 *   - Callbacks run on the thread that generates (the caller's for edgevl_run, an internal
 *     thread for edgevl_run_async). A callback may call only the "any time" functions
 *     above on its own session; anything else returns EDGEVL_ERR_BUSY.
 *   - edgevl_last_error() is per thread: it describes the last failed call on that thread
 *     (successful calls leave it as it was).
 *
 * Failures and history: a run that fails (any ERROR result, EDGEVL_ERR_ABORTED included)
 * leaves the conversation (every message and reply, the turn count) exactly as before the
 * call: the failed or aborted turn is not in history. The KV cache holds at most what it
 * held before (less only when turns evicted for the run were put back; the next run
 * recomputes them). Every other failing call changes nothing.
 *
 * Sizes are owned by the runtime: the number of image tokens, the image tags, the embedding
 * width and the position ids are computed from the model, never supplied by the caller.
 *
 * Every function returns a status; no function aborts the process on bad input. Structs
 * with a struct_size field must be obtained from the *_default_params() functions (which
 * set struct_size), so that old binaries keep working when fields are added.
 */
#ifndef EDGEVL_H
#define EDGEVL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EDGEVL_API_VERSION 1

/* Image tokens one image may take when edgevl_session_params.image_max_tokens is 0. */
#define EDGEVL_DEFAULT_IMAGE_MAX_TOKENS 1024

/* ---- status and errors ---------------------------------------------------------------- */

typedef enum edgevl_status {
  EDGEVL_OK = 0,
  EDGEVL_ERR_INVALID_ARGUMENT = 1, /* null handle, wrong struct_size, out-of-range parameter */
  EDGEVL_ERR_IO = 2,               /* a file could not be opened, read or written */
  EDGEVL_ERR_FORMAT = 3,           /* a model, image or session file is malformed */
  EDGEVL_ERR_UNSUPPORTED = 4,      /* valid but not supported (architecture, tensor type) */
  EDGEVL_ERR_CONTEXT_OVERFLOW = 5, /* the turn does not fit and the policy is EDGEVL_OVERFLOW_ERROR */
  EDGEVL_ERR_ABORTED = 6,          /* stopped by edgevl_abort() */
  EDGEVL_ERR_BUSY = 7,             /* the session is already running */
  EDGEVL_ERR_INTERNAL = 8
} edgevl_status;

/* Message of the last failed call on this thread ("" if none). Successful calls do not
 * clear it. The pointer is valid until the next call into edgevl on this thread. */
const char* edgevl_last_error(void);
const char* edgevl_status_name(edgevl_status s);
/* Library version, e.g. "0.1.0". */
const char* edgevl_version(void);

/* ---- model ----------------------------------------------------------------------------- */

typedef struct edgevl_model edgevl_model;

typedef struct edgevl_model_params {
  uint32_t struct_size;
  const char* path;        /* a Hugging Face model directory, or a text-model .gguf file */
  const char* mmproj_path; /* with a .gguf: the vision (mmproj) .gguf; NULL otherwise */
  int32_t n_threads;       /* unused, kept for compatibility (0..1024): threads are set per session */
} edgevl_model_params;

edgevl_model_params edgevl_model_default_params(void);
/* Sessions of the model frame their messages as the model's own chat template does
 * (tokenizer.chat_template in a .gguf; chat_template.jinja, chat_template.json or
 * tokenizer_config.json in a directory), rendered with a small Jinja subset. A model
 * without one uses the built-in ChatML; one whose template cannot be used (outside the
 * subset, or not renderable turn by turn) also does, after one warning line on stderr
 * ("edgevl: warning: ..."); the load still succeeds. README "Chat templates" has details. */
edgevl_status edgevl_model_load(const edgevl_model_params* params, edgevl_model** out_model);
void edgevl_model_free(edgevl_model* model); /* NULL is fine */

typedef struct edgevl_model_info {
  uint32_t struct_size;
  const char* architecture; /* e.g. "Qwen2VLForConditionalGeneration" */
  int32_t hidden_size;      /* width of token and image embeddings */
  int32_t vocab_size;
  int32_t num_layers;
  int32_t max_position_embeddings;
  double load_ms;
} edgevl_model_info;

edgevl_model_info edgevl_model_info_default(void);
edgevl_status edgevl_model_get_info(const edgevl_model* model, edgevl_model_info* out);

/* ---- session --------------------------------------------------------------------------- */

typedef struct edgevl_session edgevl_session;

typedef struct edgevl_sampling_params {
  float temperature;       /* 0: greedy; must be >= 0 */
  int32_t top_k;           /* 0: off; must be >= 0 */
  float top_p;             /* 1: off; must be in (0, 1] */
  float repeat_penalty;    /* 1: off; must be > 0 */
  float frequency_penalty; /* 0: off */
  float presence_penalty;  /* 0: off */
  int32_t penalty_last_n;  /* tokens the penalties look back over; >= 0 */
  uint64_t seed;
} edgevl_sampling_params;

typedef enum edgevl_overflow_policy {
  EDGEVL_OVERFLOW_ERROR = 0,      /* refuse the turn with EDGEVL_ERR_CONTEXT_OVERFLOW (token counts in the message) */
  EDGEVL_OVERFLOW_DROP_OLDEST = 1 /* drop the oldest whole turns after the first n_keep tokens, then continue */
} edgevl_overflow_policy;

/* Every field is checked by edgevl_session_create; an out-of-range value is refused with
 * EDGEVL_ERR_INVALID_ARGUMENT and a message naming the field.
 *
 * Images: each side must be at least patch x merge pixels (28 = 14 x 2; 32 for Qwen3-VL) and the longer side
 * at most 200 times the shorter; others are refused with EDGEVL_ERR_INVALID_ARGUMENT
 * (with image_fixed_size the image is padded to a square first, so any aspect works).
 * Before it is encoded, an image is scaled down (aspect kept) to its pixel budget: at most
 * image_max_tokens tokens (one token per 28 x 28 pixels, 32 x 32 for Qwen3-VL; by default
 * EDGEVL_DEFAULT_IMAGE_MAX_TOKENS) and at most image_max_pixels, never below
 * image_min_pixels. An image whose tokens do not fit the remaining context is refused with
 * EDGEVL_ERR_CONTEXT_OVERFLOW (the message gives the numbers) before any encoding work. */
/* Element type of a session's KV cache (edgevl_session_params.kv_type). Per token it takes
 * 2 x layers x kv_heads x head_dim elements: 56 KiB in f32 and 28 KiB in f16 for Qwen2-VL-2B. */
typedef enum edgevl_kv_type { EDGEVL_KV_F32 = 0, EDGEVL_KV_F16 = 1 } edgevl_kv_type;

typedef struct edgevl_session_params {
  uint32_t struct_size;
  int32_t max_context;        /* KV cache size in tokens, 16..1048576 (default 4096) */
  int32_t n_keep;             /* tokens never evicted, 0..max_context; -1 = the system prompt (default) */
  edgevl_overflow_policy overflow;
  int32_t n_threads;          /* 0 = all cores; at most 1024 */
  uint64_t cpu_mask;          /* bit i = may run on CPU i; 0 = no pinning */
  edgevl_sampling_params sampling;
  int32_t max_new_tokens;     /* per reply, 0..1048576 (default 512) */
  int32_t ignore_eos;         /* 0 or 1; 1: do not stop at <|im_end|> */
  const char* system_prompt;  /* UTF-8 (copied), framed as the model's template frames a system message;
                                 NULL = the model's default: "You are a helpful assistant." (Qwen2-VL,
                                 Qwen2.5-VL), no system block (Qwen3-VL) */
  int32_t image_fixed_size;   /* >0: on-device preprocessing, pad to square + resize to N x N; N a multiple of
                                 patch x merge size (28; 32 for Qwen3-VL, e.g. 448) */
  int64_t image_min_pixels;   /* 0 = the model's preprocessor_config.json */
  int64_t image_max_pixels;   /* 0 = the model's preprocessor_config.json, capped by the token budget below;
                                 >0: this cap replaces the default budget (an image_max_tokens set here still applies) */
  int64_t image_max_input_pixels; /* decoded images larger than this are refused; 0 = the default, 64 Mpx */
  int64_t image_max_tokens;   /* tokens one image may take, 0..max_context; 0 = the library default
                                 (EDGEVL_DEFAULT_IMAGE_MAX_TOKENS), unless image_max_pixels is set. Raise
                                 it for more detail on big images, at the cost of encode time and memory. */
  int32_t kv_type;            /* EDGEVL_KV_F32 (default) or EDGEVL_KV_F16: the KV cache stores keys and values
                                 as 16-bit floats, half its memory, each rounded to f16 (llama.cpp's default).
                                 Added after the first release: a struct_size without this field is accepted
                                 and means EDGEVL_KV_F32. */
} edgevl_session_params;

edgevl_session_params edgevl_session_default_params(void);
edgevl_sampling_params edgevl_sampling_default_params(void);
edgevl_status edgevl_session_create(const edgevl_model* model, const edgevl_session_params* params, edgevl_session** out_session);
void edgevl_session_free(edgevl_session* session); /* aborts and waits for a running generation; NULL is fine */

/* ---- inputs ---------------------------------------------------------------------------- */

/* What each role does in edgevl_run:
 *   USER       framed as a user turn; the assistant's reply is generated.
 *   TOOL       framed as the model's template frames a tool message (a tool's output; ChatML: a
 *              "tool" turn, Qwen3-VL: a user turn in <tool_response> tags); the reply is generated.
 *   SYSTEM     as the first message of a conversation: replaces the session's system prompt.
 *              Later: added as a system turn. No reply is generated. Text only.
 *   ASSISTANT  added as a finished assistant turn as given (e.g. a reply written elsewhere);
 *              no reply is generated.
 * A USER or TOOL message needs content: no parts, or only empty text/token parts, is
 * refused with EDGEVL_ERR_INVALID_ARGUMENT and adds no turn. */
typedef enum edgevl_role { EDGEVL_ROLE_SYSTEM = 0, EDGEVL_ROLE_USER = 1, EDGEVL_ROLE_ASSISTANT = 2, EDGEVL_ROLE_TOOL = 3 } edgevl_role;

typedef enum edgevl_part_type {
  EDGEVL_PART_TEXT = 0,        /* text: UTF-8. Special-token strings in it (e.g. "<|im_end|>") become those
                                  control tokens, as in RKLLM; "<image>" tags are NOT special here (use
                                  image parts). For text from users, use EDGEVL_PART_LITERAL_TEXT. */
  EDGEVL_PART_TAGGED_TEXT = 1, /* text with "<image>" tags, each taking the next image part in order */
  EDGEVL_PART_IMAGE_FILE = 2,  /* path: a JPEG/PNG/BMP/GIF file */
  EDGEVL_PART_IMAGE_BYTES = 3, /* data/size: an encoded image in memory */
  EDGEVL_PART_IMAGE_RGB = 4,   /* data: width*height*3 bytes of RGB8, row-major */
  EDGEVL_PART_TOKENS = 5,      /* tokens/n_tokens: token ids, inserted as they are */
  EDGEVL_PART_EMBEDDINGS = 6,  /* embeddings: n_embeddings rows of hidden_size floats;
                                  positions: optional 3*n_embeddings ids (t row, h row, w row) relative to
                                  the part's start; NULL = consecutive text positions */
  EDGEVL_PART_LITERAL_TEXT = 7 /* text: UTF-8 taken literally: special-token strings such as "<|im_end|>"
                                  are tokenized as ordinary text, never as control tokens, so user input
                                  cannot close its turn or open another */
} edgevl_part_type;

typedef struct edgevl_part {
  edgevl_part_type type;
  const char* text;
  const char* path;
  const uint8_t* data;
  size_t size;
  int32_t width, height;
  const int32_t* tokens;
  size_t n_tokens;
  const float* embeddings;
  size_t n_embeddings;
  const int32_t* positions;
} edgevl_part;

typedef struct edgevl_message {
  edgevl_role role;
  const edgevl_part* parts;
  size_t n_parts;
} edgevl_message;

/* Convenience constructors (the strings/buffers are borrowed, not copied). */
edgevl_part edgevl_part_text(const char* text);
edgevl_part edgevl_part_literal_text(const char* text);
edgevl_part edgevl_part_tagged_text(const char* text);
edgevl_part edgevl_part_image_file(const char* path);
edgevl_part edgevl_part_image_bytes(const uint8_t* data, size_t size);
edgevl_part edgevl_part_image_rgb(const uint8_t* rgb, int32_t width, int32_t height);
edgevl_part edgevl_part_tokens(const int32_t* tokens, size_t n_tokens);
edgevl_part edgevl_part_embeddings(const float* embeddings, size_t n_rows, const int32_t* positions);

/* ---- running ----------------------------------------------------------------------------- */

typedef enum edgevl_mode {
  EDGEVL_MODE_GENERATE = 0,    /* stream the assistant's reply */
  EDGEVL_MODE_LOGITS = 1,      /* prefill only; the FINISH result carries the last position's logits */
  EDGEVL_MODE_HIDDEN_STATE = 2 /* prefill only; the FINISH result carries the last position's final hidden state */
} edgevl_mode;

typedef struct edgevl_run_params {
  uint32_t struct_size;
  edgevl_mode mode;
  int32_t keep_history;                  /* 1 (default): the turn stays in the conversation; 0: forgotten after the run */
  int32_t max_new_tokens;                /* -1: the session's */
  int32_t ignore_eos;                    /* -1: the session's */
  const edgevl_sampling_params* sampling; /* NULL: the session's */
} edgevl_run_params;

edgevl_run_params edgevl_run_default_params(void);

typedef enum edgevl_state {
  EDGEVL_STATE_NORMAL = 0,  /* text holds complete UTF-8 characters for token_id (>= 0). When a reply
                               ends inside an incomplete character, one more NORMAL result for the last
                               token carries the held-back bytes as U+FFFD. */
  EDGEVL_STATE_WAITING = 1, /* token_id produced bytes of an incomplete character, held back */
  EDGEVL_STATE_FINISH = 2,  /* the run ended normally; perf (and logits/hidden in those modes) are set */
  EDGEVL_STATE_ERROR = 3    /* the run failed (EDGEVL_ERR_ABORTED included); status, error and perf are set */
} edgevl_state;

typedef struct edgevl_perf {
  double model_load_ms;
  double image_encode_ms;      /* preprocessing + vision tower for this run (0 if cached) */
  int32_t images, images_encoded;
  int64_t prefill_tokens;      /* tokens prefilled this run (only what was new) */
  int64_t image_tokens;
  double prefill_ms;
  double ttft_ms;              /* from the call to the first generated token */
  int64_t decode_tokens;
  double decode_ms;
  double prefill_tokens_per_s, decode_tokens_per_s;
  int64_t kv_tokens;           /* KV cache fill after the run */
  int64_t peak_rss_bytes;      /* VmHWM of the process */
} edgevl_perf;

typedef struct edgevl_result {
  edgevl_state state;
  const char* text;       /* NORMAL: the piece; FINISH: the whole reply. Not NUL-terminated-safe: use text_len */
  size_t text_len;
  int32_t token_id;       /* NORMAL/WAITING: the token; otherwise -1 */
  const char* finish_reason; /* FINISH: "stop", "length", "context_full", "aborted" */
  const float* logits;    /* FINISH in EDGEVL_MODE_LOGITS: n_logits values */
  int32_t n_logits;
  const float* hidden;    /* FINISH in EDGEVL_MODE_HIDDEN_STATE: n_hidden values */
  int32_t n_hidden;
  edgevl_status status;   /* ERROR: why */
  const char* error;      /* ERROR: message */
  const edgevl_perf* perf; /* FINISH: this run's figures; ERROR: what was measured before the failure
                              (zeros for stages not reached), kv_tokens = the KV cache fill kept */
} edgevl_result;

/* Every pointer in a result (text, finish_reason, logits, hidden, error, perf) is valid only
 * during the callback call that receives it: copy what you keep.
 * Return non-zero to stop generating: the run then FINISHes normally with reason "aborted"
 * and the reply so far stays in history (unlike edgevl_abort, which fails the run). */
typedef int (*edgevl_callback)(const edgevl_result* result, void* user_data);

/* Runs one message synchronously; the callback may be NULL. On any failure (BUSY and bad
 * arguments included) the callback also gets one ERROR result and the conversation is as
 * it was before the call. */
edgevl_status edgevl_run(edgevl_session* session, const edgevl_message* message, const edgevl_run_params* params,
                         edgevl_callback callback, void* user_data);
/* Starts the same work on an internal thread and returns at once; the message and its
 * buffers are copied. Use edgevl_wait to join it and get its status. If it returns an
 * error, nothing was started and the callback is not called. */
edgevl_status edgevl_run_async(edgevl_session* session, const edgevl_message* message, const edgevl_run_params* params,
                               edgevl_callback callback, void* user_data);
/* Waits for the last edgevl_run_async and returns its status (EDGEVL_OK if there was none);
 * on failure edgevl_last_error() on the calling thread gives the run's message. */
edgevl_status edgevl_wait(edgevl_session* session);
/* 1 while a call is using the session (a run, or e.g. edgevl_clear), else 0. */
int edgevl_is_running(const edgevl_session* session);
/* Stops the run in progress soon, at whatever stage it is (image encoding, prefill or
 * decoding): that run then fails with EDGEVL_ERR_ABORTED (from edgevl_run / edgevl_wait,
 * and as its ERROR result) and leaves history as it was before it. With no run in
 * progress it does nothing; it never affects a later run. Safe from any thread. */
edgevl_status edgevl_abort(edgevl_session* session);

/* Starts encoding an image now (e.g. while the user types), so a later message with the
 * same image finds its embedding ready: time to first token drops by the encode time.
 * Returns once the image is decoded; the encoding continues in the background. Returns
 * EDGEVL_ERR_BUSY during a run. */
edgevl_status edgevl_prepare_image(edgevl_session* session, const edgevl_part* image_part);

/* ---- conversation state ------------------------------------------------------------------ */

/* Forgets the conversation; keep_system = 1 keeps the system prompt in the KV cache. */
edgevl_status edgevl_clear(edgevl_session* session, int keep_system);
/* Tokens in the KV cache (out_used) and its capacity (out_capacity); either may be NULL. */
edgevl_status edgevl_kv_size(const edgevl_session* session, int64_t* out_used, int64_t* out_capacity);
/* Number of completed turns (user message + reply) in the conversation. */
edgevl_status edgevl_turn_count(const edgevl_session* session, int32_t* out_turns);
/* Removes turns [first, first + count) (0 = the oldest); later turns move back in position.
 * first and count must be >= 0 and the range within the turn count, else
 * EDGEVL_ERR_INVALID_ARGUMENT and nothing changes. */
edgevl_status edgevl_remove_turns(edgevl_session* session, int32_t first, int32_t count);
/* RKLLM-style template: system prompt, text before each user message, text after it.
 * NULL for any argument keeps the model's own (from its chat template, else ChatML). Clears
 * the conversation. */
edgevl_status edgevl_set_chat_template(edgevl_session* session, const char* system_prompt, const char* prompt_prefix,
                                       const char* prompt_postfix);
/* Saves the conversation (tokens, positions, image embeddings, template) to a versioned
 * file, written atomically; load restores it into a session of the same model. */
edgevl_status edgevl_session_save(const edgevl_session* session, const char* path);
edgevl_status edgevl_session_load(edgevl_session* session, const char* path);
/* Totals over the session's life and the last successful run (failed runs are not
 * counted; their figures come with their ERROR result). */
edgevl_status edgevl_get_perf(const edgevl_session* session, edgevl_perf* out_last_run, edgevl_perf* out_total);

#ifdef __cplusplus
}
#endif

#endif /* EDGEVL_H */
