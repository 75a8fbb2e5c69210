// Token-exactness against the Hugging Face goldens (../shared/fixtures/tiny-qwen2-vl):
// through the HTTP server, turn 1 and turn 2 of the demo_sq392 case must give the
// reference greedy replies and prompt lengths, both when turn 2 continues the cached
// session and when the server rebuilds the whole history in a fresh session (which checks
// that its ChatML framing of a replayed history is exactly the chat template's).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import OpenAI from "openai";
import { startServer, imageDataUri, modelDir } from "./helpers.mjs";

const golden = JSON.parse(readFileSync(path.join(modelDir, "golden/manifest.json"), "utf8")).cases.demo_sq392;
let server, client;

before(async () => {
  server = await startServer([]);
  client = new OpenAI({ baseURL: server.url + "/v1", apiKey: "unused", maxRetries: 0 });
});
after(async () => {
  assert.equal(await server.stop(), 0);
});

const u1 = {
  role: "user",
  content: [
    { type: "image_url", image_url: { url: imageDataUri() } },
    { type: "text", text: "Describe this image." },
  ],
};
const u2 = { role: "user", content: "What color is it?" };
const ask = (messages) => client.chat.completions.create({ model: "m", messages, max_tokens: 16, temperature: 0 });

test("turn 1, turn 2 from the cache, turn 2 rebuilt: all equal the HF goldens", async () => {
  const t1 = await ask([u1]);
  assert.equal(t1.usage.prompt_tokens, golden.turn1.seq_len);
  assert.equal(t1.usage.completion_tokens, 16);
  assert.equal(t1.choices[0].message.content, golden.turn1.greedy_text);

  const history = [u1, { role: "assistant", content: t1.choices[0].message.content }, u2];
  const cached = await ask(history);
  assert.equal(cached.choices[0].message.content, golden.turn2.greedy_text);
  assert.equal(cached.usage.prompt_tokens, golden.turn2.seq_len);
  // Cached: turn 1's prompt and 15 of its 16 replies (the last one's KV row is written
  // when it is fed back); prefilled: that token + the 15 suffix tokens.
  assert.equal(cached.usage.prompt_tokens_details.cached_tokens, golden.turn1.seq_len + 15);
  assert.equal(cached.usage.prompt_tokens - cached.usage.prompt_tokens_details.cached_tokens, 1 + golden.turn2.appended_suffix_ids.length);

  const rebuilt = await ask(history);  // the cached session has moved on: a fresh one replays
  assert.equal(rebuilt.usage.prompt_tokens_details.cached_tokens, 0);
  assert.equal(rebuilt.usage.prompt_tokens, golden.turn2.seq_len);
  assert.equal(rebuilt.choices[0].message.content, golden.turn2.greedy_text);
});
