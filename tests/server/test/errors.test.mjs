// Hostile and broken input: every case gets a 4xx with an OpenAI-style error body, and
// the server keeps serving.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import http from "node:http";
import OpenAI from "openai";
import { startServer, postJson, imageDataUri, fixtures, imagePath, idleMetrics } from "./helpers.mjs";

let server;
const imagesDir = path.join(fixtures, "images");
const user = (content) => ({ messages: [{ role: "user", content }], max_tokens: 4 });
const imagePart = (url) => ({ type: "image_url", image_url: { url } });

before(async () => {
  server = await startServer([
    "--max-context", "320", "--max-images", "2", "--max-body-mb", "1", "--allow-local-images", imagesDir,
  ]);
});
after(async () => {
  assert.equal(await server.stop(), 0);
});

async function expectError(body, status, code) {
  const r = await postJson(server.url, body);
  assert.equal(r.status, status, `status for ${code}: ${r.text.slice(0, 300)}`);
  assert.ok(r.json && r.json.error, "an error object: " + r.text.slice(0, 200));
  assert.equal(typeof r.json.error.message, "string");
  assert.ok(r.json.error.message.length > 0);
  assert.equal(r.json.error.code, code, r.json.error.message);
  if (status < 500 && status !== 429) assert.equal(r.json.error.type, "invalid_request_error");
  return r.json.error;
}

test("malformed JSON and wrong shapes", async () => {
  await expectError("{\"messages\": [", 400, "invalid_json");
  await expectError("[1, 2]", 400, "invalid_json");
  await expectError("", 400, "invalid_json");
  await expectError({ model: "x" }, 400, "missing_field");
  await expectError({ messages: "hello" }, 400, "invalid_type");
  await expectError({ messages: [] }, 400, "invalid_value");
  await expectError({ messages: [42] }, 400, "invalid_type");
  await expectError({ messages: [{ content: "hi" }] }, 400, "missing_field");
  await expectError({ messages: [{ role: "wizard", content: "hi" }] }, 400, "invalid_role");
  await expectError({ messages: [{ role: 7, content: "hi" }] }, 400, "invalid_type");
  await expectError({ messages: [{ role: "user", content: 12 }] }, 400, "invalid_type");
  await expectError({ messages: [{ role: "user" }] }, 400, "missing_field");
  await expectError({ messages: [{ role: "system", content: "only a system prompt" }] }, 400, "invalid_value");
  await expectError({ messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "hello" }] }, 400, "invalid_value");
  await expectError(user([{ type: "audio", audio: "..." }]), 400, "invalid_value");
  await expectError(user([{ type: "text", text: 5 }]), 400, "invalid_value");
});

test("out-of-range and mistyped parameters", async () => {
  const base = user("hi");
  await expectError({ ...base, temperature: "hot" }, 400, "invalid_type");
  await expectError({ ...base, temperature: 7 }, 400, "invalid_value");
  await expectError({ ...base, top_p: 0 }, 400, "invalid_value");
  await expectError({ ...base, max_tokens: -1 }, 400, "invalid_value");
  await expectError({ ...base, max_tokens: "10" }, 400, "invalid_type");
  await expectError({ ...base, max_tokens: 1e9 }, 400, "invalid_value");
  await expectError({ ...base, stream: "yes" }, 400, "invalid_type");
  await expectError({ ...base, stop: ["a", "b", "c", "d", "e"] }, 400, "invalid_value");
  await expectError({ ...base, stop: 3 }, 400, "invalid_type");
  await expectError({ ...base, n: 2 }, 400, "invalid_value");
  await expectError({ ...base, seed: 1.5 }, 400, "invalid_type");
});

test("bad images", async () => {
  await expectError(user([imagePart("data:image/png;base64,@@not*base64@@")]), 400, "invalid_base64");
  await expectError(user([imagePart("data:image/png;base64,iVBORw0KGgo=x")]), 400, "invalid_base64");
  const text = Buffer.from("this is just some text, not a picture").toString("base64");
  await expectError(user([imagePart("data:image/png;base64," + text)]), 400, "invalid_image");
  // A PNG signature followed by garbage passes the sniff; the runtime's decoder refuses it.
  const fake = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 7)]);
  await expectError(user([imagePart("data:image/png;base64," + fake.toString("base64"))]), 400, "invalid_image");
  await expectError(user([imagePart("data:image/png,rawbytes")]), 400, "invalid_image_url");
  await expectError(user([imagePart("https://example.com/cat.png")]), 400, "invalid_image_url");
  await expectError(user([{ type: "image_url", image_url: {} }]), 400, "invalid_value");
  const three = [imagePart(imageDataUri()), imagePart(imageDataUri()), imagePart(imageDataUri()), { type: "text", text: "hi" }];
  await expectError(user(three), 400, "too_many_images");
  await expectError(
    { messages: [{ role: "system", content: [imagePart(imageDataUri())] }, { role: "user", content: "hi" }] },
    400,
    "invalid_value",
  );
});

test("images too small for the model, and images over the token budget", async () => {
  const onePixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
  const e = await expectError(user([imagePart("data:image/png;base64," + onePixel)]), 400, "invalid_request");
  assert.match(e.message, /28/);
  // demo.jpg is 851 tokens at its size; with --max-context 320 the budget is 160.
  const r = await postJson(server.url, user([imagePart(imageDataUri(path.join(imagesDir, "demo.jpg"))), { type: "text", text: "hi" }]));
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.timings.image_tokens > 0 && r.json.timings.image_tokens <= 160, JSON.stringify(r.json.timings));
});

test("a large body with curl -d's form content type is still read as JSON", async () => {
  const big = await postJson(server.url, JSON.stringify({ ...user("hi"), padding: "z".repeat(50000) }), {
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  assert.equal(big.status, 200, big.text);
});

test("local image paths stay inside --allow-local-images", async () => {
  const ok = await postJson(server.url, user([imagePart("file://" + imagePath), { type: "text", text: "hi" }]));
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.timings.images, 1);
  const rel = await postJson(server.url, user([imagePart("demo_sq392.png"), { type: "text", text: "hi" }]));
  assert.equal(rel.status, 200, rel.text);
  // One identical answer for every refused path: outside, missing, forbidden alike (no
  // oracle for which files exist).
  const missing = await expectError(user([imagePart(path.join(imagesDir, "no-such.png"))]), 400, "image_unavailable");
  for (const p of [path.join(imagesDir, "../tiny-qwen2-vl/config.json"), "file:///etc/passwd", "../../../../../../etc/hostname", "/etc/hostname"]) {
    const err = await expectError(user([imagePart(p)]), 400, "image_unavailable");
    assert.equal(err.message, missing.message, p);
    assert.doesNotMatch(err.message, /tiny-qwen2-vl|etc/, "the error does not echo paths");
  }
});

test("huge bodies are refused", async () => {
  const big = JSON.stringify(user("x".repeat(2 * 1024 * 1024)));
  const r = await postJson(server.url, big);
  assert.equal(r.status, 413);
  assert.equal(r.json.error.code, "request_too_large");
});

test("a prompt over the context is context_length_exceeded", async () => {
  const long = Array.from({ length: 600 }, (_, i) => "word" + i).join(" ");
  const e = await expectError(user(long), 400, "context_length_exceeded");
  assert.ok(e.message.length > 0);
  // The official client surfaces it as a BadRequestError with the same code.
  const client = new OpenAI({ baseURL: server.url + "/v1", apiKey: "unused", maxRetries: 0 });
  await assert.rejects(
    client.chat.completions.create({ model: "m", messages: [{ role: "user", content: long }], stream: true }),
    (err) => err.status === 400 && err.code === "context_length_exceeded",
  );
});

// node:http, because fetch does not let a caller set Host.
function rawPost(headers, body = JSON.stringify(user("hi"))) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port: server.port, path: "/v1/chat/completions", method: "POST", headers },
      (res) => {
        let data = "";
        res.on("data", (d) => (data += d));
        res.on("end", () => resolve({ status: res.statusCode, json: JSON.parse(data) }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

test("other sites' pages and rebound host names are refused", async () => {
  const cross = await rawPost({ Origin: "http://evil.example", "Content-Type": "text/plain" });
  assert.equal(cross.status, 403);
  assert.equal(cross.json.error.code, "forbidden_origin");
  const rebound = await rawPost({ Host: "evil.example:" + server.port });
  assert.equal(rebound.status, 403);
  const same = await rawPost({ Origin: `http://127.0.0.1:${server.port}` });
  assert.equal(same.status, 200);
  const local = await rawPost({ Host: `localhost:${server.port}` });
  assert.equal(local.status, 200);
});

test("unknown routes are JSON 404s", async () => {
  const r = await fetch(server.url + "/v1/nothing", { method: "POST", body: "{}" });
  assert.equal(r.status, 404);
  assert.equal((await r.json()).error.code, "not_found");
});

test("the server is still fine after all that", async () => {
  const r = await postJson(server.url, user("Still there?"));
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.choices[0].message.content.length > 0);
  const m = await idleMetrics(server.url);
  assert.ok(m.requests.by_status["400"] >= 20, JSON.stringify(m.requests));
  assert.ok(m.requests.by_status["200"] >= 3);
  assert.equal(m.queue.running, 0);
  assert.equal(m.sessions.busy, 0);
});
