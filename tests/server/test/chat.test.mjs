// A conversation about an image through the official openai client: a streamed first
// turn, a non-streamed follow-up that must reuse the session's KV cache (only the new
// message is prefilled), greedy determinism, and stop sequences.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startServer, imageDataUri, metrics } from "./helpers.mjs";

let server, client;
const firstUser = {
  role: "user",
  content: [
    { type: "image_url", image_url: { url: imageDataUri() } },
    { type: "text", text: "What is in the image?" },
  ],
};
let first = null;  // { text, usage }

before(async () => {
  server = await startServer(["--max-sessions", "4", "--parallel", "1"]);
  client = new OpenAI({ baseURL: server.url + "/v1", apiKey: "unused", maxRetries: 0 });
});
after(async () => {
  const code = await server.stop();
  assert.equal(code, 0, "server exits cleanly on SIGTERM");
});

test("models and health", async () => {
  const models = await client.models.list();
  assert.equal(models.data.length, 1);
  assert.equal(models.data[0].id, "tiny-qwen2-vl");
  const h = await (await fetch(server.url + "/health")).json();
  assert.equal(h.status, "ok");
});

test("streamed answer about an image", async () => {
  const stream = await client.chat.completions.create({
    model: "tiny-qwen2-vl",
    messages: [firstUser],
    max_tokens: 12,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "", deltas = 0, finish = null, usage = null, roleSeen = false, timings = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, "chat.completion.chunk");
    assert.match(chunk.id, /^chatcmpl-/);
    if (chunk.usage) usage = chunk.usage;
    if (chunk.timings) timings = chunk.timings;
    const c = chunk.choices[0];
    if (!c) continue;
    if (c.delta.role) roleSeen = c.delta.role === "assistant";
    if (c.delta.content) {
      text += c.delta.content;
      ++deltas;
    }
    if (c.finish_reason) finish = c.finish_reason;
  }
  assert.ok(roleSeen, "the first chunk names the assistant role");
  assert.ok(deltas >= 2, `streamed in pieces (got ${deltas})`);
  assert.ok(text.length > 0);
  assert.ok(["stop", "length"].includes(finish));
  assert.ok(usage, "include_usage gives a usage chunk");
  assert.ok(usage.completion_tokens >= 1 && usage.completion_tokens <= 12);
  assert.ok(usage.prompt_tokens > 196, "the 392x392 image alone is 196 tokens");
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  assert.equal(usage.prompt_tokens_details.cached_tokens, 0, "a new conversation has nothing cached");
  assert.ok(timings && timings.images === 1 && timings.image_tokens === 196, JSON.stringify(timings));
  first = { text, usage };
});

test("non-streamed follow-up prefills only the new message", async () => {
  assert.ok(first, "needs the first turn");
  const r = await client.chat.completions.create({
    model: "tiny-qwen2-vl",
    messages: [firstUser, { role: "assistant", content: first.text }, { role: "user", content: "What color is it?" }],
    max_tokens: 8,
    temperature: 0,
  });
  assert.equal(r.object, "chat.completion");
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(typeof r.choices[0].message.content, "string");
  assert.ok(["stop", "length"].includes(r.choices[0].finish_reason));
  const u = r.usage;
  const cached = u.prompt_tokens_details.cached_tokens;
  const held = first.usage.prompt_tokens + first.usage.completion_tokens;
  // Everything of turn 1 is reused (the last generated token may still need its KV row).
  assert.ok(cached >= held - 1, `cached ${cached} of turn 1's ${held}`);
  const prefilled = u.prompt_tokens - cached;
  assert.ok(prefilled > 0 && prefilled < 30, `only the new message is prefilled (${prefilled} tokens)`);
  assert.equal(r.timings.images, 0, "the image is not encoded again");
  const m = await metrics(server.url);
  assert.ok(m.cache.hits >= 1);
  assert.ok(m.tokens.cached >= cached);
});

test("a client-added assistant turn after a cached reply is inserted, not answered", async () => {
  assert.ok(first);
  // The session that holds [firstUser, reply] is reused; the extra assistant message is
  // inserted as it is, then the user message gets the reply.
  const base = [firstUser, { role: "assistant", content: first.text }];
  const warm = await client.chat.completions.create({
    model: "m", messages: [...base, { role: "user", content: "Again?" }], max_tokens: 4, temperature: 0,
  });
  const held = warm.usage.prompt_tokens + warm.usage.completion_tokens;
  const r = await client.chat.completions.create({
    model: "m",
    messages: [
      ...base,
      { role: "user", content: "Again?" },
      { role: "assistant", content: warm.choices[0].message.content },
      { role: "assistant", content: "(a note the client added)" },
      { role: "user", content: "And now?" },
    ],
    max_tokens: 4,
    temperature: 0,
  });
  assert.ok(r.usage.prompt_tokens_details.cached_tokens >= held - 1, JSON.stringify(r.usage));
  assert.ok(r.usage.prompt_tokens - r.usage.prompt_tokens_details.cached_tokens < 40);
  assert.ok(r.choices[0].message.content.length > 0);
});

test("greedy is deterministic and stop sequences are cut from the output", async () => {
  const ask = (extra) =>
    client.chat.completions.create({ model: "m", messages: [firstUser], max_tokens: 12, temperature: 0, ...extra });
  const a = await ask({});
  assert.equal(a.choices[0].message.content, first.text, "same greedy reply as the streamed one");
  const full = a.choices[0].message.content;
  assert.ok(full.length >= 4, "needs some text to cut");
  const chars = Array.from(full);  // code points: never split a surrogate pair
  const at = Math.floor(chars.length / 2);
  const stop = chars.slice(at, at + 2).join("");
  const b = await ask({ stop: [stop, "\u0000never"] });
  assert.equal(b.choices[0].message.content, full.slice(0, full.indexOf(stop)));
  assert.equal(b.choices[0].finish_reason, "stop");
  // Streamed too: the held-back text never shows the stop sequence.
  const s = await ask({ stop, stream: true });
  let text = "";
  for await (const chunk of s) text += chunk.choices[0]?.delta?.content ?? "";
  assert.equal(text, full.slice(0, full.indexOf(stop)));
});

test("system prompt and a replayed multi-turn history", async () => {
  // A conversation the server has never seen: the whole history goes in one prefill.
  const r = await client.chat.completions.create({
    model: "m",
    messages: [
      { role: "system", content: "You describe images." },
      firstUser,
      { role: "assistant", content: "A picture." },
      { role: "user", content: [{ type: "text", text: "More detail, " }, { type: "text", text: "please." }] },
    ],
    max_tokens: 5,
    temperature: 0,
  });
  assert.equal(r.usage.prompt_tokens_details.cached_tokens, 0);
  assert.ok(r.usage.prompt_tokens > 196);
  assert.equal(r.timings.images, 1);
  // Its follow-up then finds that session.
  const r2 = await client.chat.completions.create({
    model: "m",
    messages: [
      { role: "system", content: "You describe images." },
      firstUser,
      { role: "assistant", content: "A picture." },
      { role: "user", content: [{ type: "text", text: "More detail, " }, { type: "text", text: "please." }] },
      { role: "assistant", content: r.choices[0].message.content },
      { role: "user", content: "Thanks." },
    ],
    max_tokens: 5,
    temperature: 0,
  });
  assert.ok(r2.usage.prompt_tokens_details.cached_tokens >= r.usage.total_tokens - 1, JSON.stringify(r2.usage));
  // A system prompt is part of the conversation's identity: another one does not match.
  const other = await client.chat.completions.create({
    model: "m",
    messages: [{ role: "system", content: "You are terse." }, ...r2Messages(r)],
    max_tokens: 2,
    temperature: 0,
  });
  assert.equal(other.usage.prompt_tokens_details.cached_tokens, 0);
  // Two system messages: the first replaces the default prompt, the second is a turn.
  const two = await client.chat.completions.create({
    model: "m",
    messages: [{ role: "system", content: "A." }, { role: "system", content: "B." }, { role: "user", content: "hi" }],
    max_tokens: 2,
    temperature: 0,
  });
  const one = await client.chat.completions.create({
    model: "m",
    messages: [{ role: "system", content: "A." }, { role: "user", content: "hi" }],
    max_tokens: 2,
    temperature: 0,
  });
  // "<|im_start|>system\nB.<|im_end|>\n" is 7 tokens (151644 8948 198 33 13 151645 198).
  assert.equal(two.usage.prompt_tokens - one.usage.prompt_tokens, 7);
});

function r2Messages(r) {
  return [
    firstUser,
    { role: "assistant", content: "A picture." },
    { role: "user", content: [{ type: "text", text: "More detail, " }, { type: "text", text: "please." }] },
    { role: "assistant", content: r.choices[0].message.content },
    { role: "user", content: "Thanks." },
  ];
}
