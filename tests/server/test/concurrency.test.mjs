// Many clients at once: every request is answered or cleanly refused (429 + JSON), in
// bounded time; a client that hangs up mid-stream stops its generation; the server
// stays healthy.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startServer, postJson, metrics, idleMetrics } from "./helpers.mjs";

let server;
const PARALLEL = 2, QUEUE = 4;

before(async () => {
  server = await startServer(["--parallel", String(PARALLEL), "--max-queue", String(QUEUE), "--max-sessions", "8", "--max-context", "4096"]);
});
after(async () => {
  assert.equal(await server.stop(), 0);
});

test("8 clients x 3 turns: answered or refused with 429, within bounds", { timeout: 90000 }, async () => {
  const CLIENTS = 8, TURNS = 3;
  const statuses = [];
  const t0 = performance.now();
  async function client(k) {
    const oa = new OpenAI({ baseURL: server.url + "/v1", apiKey: "unused", maxRetries: 0, timeout: 60000 });
    const messages = [];
    for (let turn = 0; turn < TURNS; ++turn) {
      messages.push({ role: "user", content: `client ${k} turn ${turn}: tell me something` });
      const stream = (k + turn) % 2 === 0;
      try {
        let text = "";
        if (stream) {
          const s = await oa.chat.completions.create({ model: "m", messages, max_tokens: 16, temperature: 0.7, seed: k, stream: true });
          for await (const chunk of s) text += chunk.choices[0]?.delta?.content ?? "";
        } else {
          const r = await oa.chat.completions.create({ model: "m", messages, max_tokens: 16, temperature: 0.7, seed: k });
          text = r.choices[0].message.content;
          assert.ok(r.usage.completion_tokens >= 1);
        }
        assert.ok(text.length > 0);
        messages.push({ role: "assistant", content: text });
        statuses.push(200);
      } catch (e) {
        // The only acceptable failure is a clean refusal.
        assert.equal(e.status, 429, String(e));
        assert.equal(e.code, "queue_full");
        assert.equal(e.error?.type, "rate_limit_error");
        messages.pop();
        statuses.push(429);
        await new Promise((r) => setTimeout(r, 50 + 50 * k));
      }
    }
  }
  await Promise.all(Array.from({ length: CLIENTS }, (_, k) => client(k)));
  const seconds = (performance.now() - t0) / 1000;
  const ok = statuses.filter((s) => s === 200).length;
  const refused = statuses.filter((s) => s === 429).length;
  assert.equal(ok + refused, CLIENTS * TURNS);
  assert.ok(ok >= CLIENTS, `at least ${CLIENTS} answered (got ${ok}, ${refused} refused)`);
  const m = await idleMetrics(server.url);
  assert.equal(m.requests.by_status["429"] ?? 0, refused, "the server counted the same refusals");
  assert.equal(m.queue.running, 0);
  assert.equal(m.queue.depth, 0);
  console.log(
    `concurrency: ${ok} answered, ${refused} refused in ${seconds.toFixed(2)} s = ${(ok / seconds).toFixed(1)} answered req/s; ` +
      `TTFT p50 ${m.ttft_ms.p50} ms p95 ${m.ttft_ms.p95} ms; latency p50 ${m.latency_ms.p50} ms p95 ${m.latency_ms.p95} ms; ` +
      `cache hits ${m.cache.hits}`,
  );
});

test("burst past the queue: the excess gets 429 at once", { timeout: 60000 }, async () => {
  const N = PARALLEL + QUEUE + 6;
  const t0 = performance.now();
  const results = await Promise.all(
    Array.from({ length: N }, (_, i) => postJson(server.url, { messages: [{ role: "user", content: "burst " + i }], max_tokens: 256 })),
  );
  const refused = results.filter((r) => r.status === 429);
  const ok = results.filter((r) => r.status === 200);
  assert.equal(ok.length + refused.length, N, results.map((r) => r.status).join(","));
  assert.ok(refused.length >= 1, "some requests are refused");
  assert.ok(ok.length >= PARALLEL, "the admitted ones are served");
  for (const r of refused) {
    assert.equal(r.json.error.code, "queue_full");
    assert.equal(r.headers.get("retry-after"), "1");
  }
  assert.ok(performance.now() - t0 < 50000);
});

test("a client that disconnects mid-stream stops its generation", { timeout: 60000 }, async () => {
  const before = await metrics(server.url);
  const controller = new AbortController();
  const res = await fetch(server.url + "/v1/chat/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: "a very long story" }], max_tokens: 3000, stream: true }),
    signal: controller.signal,
  });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  let got = 0;
  while (got < 3) {
    const { value, done } = await reader.read();
    if (done) break;
    got += new TextDecoder().decode(value).split("data: ").length - 1;
  }
  controller.abort();
  // The generation must end long before 3000 tokens.
  let m;
  for (let i = 0; i < 200; ++i) {
    m = await metrics(server.url);
    if (m.completions.client_aborts > before.completions.client_aborts && m.queue.running === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(m.completions.client_aborts > before.completions.client_aborts, "counted as a client abort");
  assert.equal(m.queue.running, 0, "nothing left running");
  const generated = m.tokens.completion - before.tokens.completion;
  assert.ok(generated < 3000, `stopped early (${generated} tokens)`);
  // And the server is fine.
  const r = await postJson(server.url, { messages: [{ role: "user", content: "still ok?" }], max_tokens: 4 });
  assert.equal(r.status, 200);
});
