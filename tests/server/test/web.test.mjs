// The web chat page in headless Chromium: pick an image, ask, watch the answer stream
// in, see the timings; a second turn reuses the server's cache.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { startServer, imagePath } from "./helpers.mjs";

const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
let server, context, profile;

before(async () => {
  assert.ok(existsSync(chromiumPath), `Chromium not found at ${chromiumPath} (bash scripts/setup.sh installs it, or set CHROMIUM)`);
  server = await startServer(["--max-tokens", "64"]);
  profile = mkdtempSync(path.join(os.tmpdir(), "edgevl-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
});
after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  assert.equal(await server.stop(), 0);
});

test("upload an image, ask, see streamed text and timings", { timeout: 60000 }, async () => {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(server.url + "/");
  assert.equal(await page.title(), "edgevl chat");
  await page.waitForFunction(() => document.getElementById("model-name").textContent === "tiny-qwen2-vl");

  await page.setInputFiles("#file-input", imagePath);
  await page.waitForSelector("#preview:not([hidden])");
  await page.fill("#max-tokens", "24");
  await page.fill("#prompt", "What is in the image?");
  await page.click("#send");

  const reply = page.locator(".msg.assistant").first();
  await reply.locator(".content").filter({ hasText: /\S/ }).waitFor({ timeout: 30000 });  // text appears while streaming
  await page.waitForSelector(".msg.assistant[data-done='1']", { timeout: 30000 });
  const text = await reply.locator(".content").textContent();
  assert.ok(text.trim().length > 0, "the answer is shown");
  const chunks = Number(await reply.getAttribute("data-chunks"));
  assert.ok(chunks >= 2, `streamed in ${chunks} pieces`);
  const stats = await reply.locator(".stats").textContent();
  assert.match(stats, /TTFT \d+ ms/);
  assert.match(stats, /tok\/s/);
  assert.match(stats, /image encode/);
  assert.equal(await page.locator(".msg.user img").count(), 1, "the sent image is shown in the conversation");

  // Turn 2, text only: the page sends the whole conversation, the server reuses its cache.
  await page.fill("#prompt", "What color is it?");
  await page.press("#prompt", "Enter");
  await page.waitForSelector(".msg.assistant:nth-of-type(4)[data-done='1']", { timeout: 30000 });
  const stats2 = await page.locator(".msg.assistant").nth(1).locator(".stats").textContent();
  const m = stats2.match(/cached (\d+) of (\d+) prompt tok/);
  assert.ok(m, stats2);
  assert.ok(Number(m[1]) > 196, `turn 2 reuses turn 1 (image included): ${stats2}`);
  assert.deepEqual(errors, []);
});
