// Starts `edgevl serve` on a free port of 127.0.0.1 for a test file and stops it after.
import { spawn } from "node:child_process";
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "../../..");
export const fixtures = process.env.EDGEVL_FIXTURES || path.resolve(repoRoot, "../shared/fixtures");
export const binary = process.env.EDGEVL_BIN || path.resolve(repoRoot, "build/bin/edgevl");
export const modelDir = path.join(fixtures, "tiny-qwen2-vl");
export const imagePath = path.join(fixtures, "images/demo_sq392.png");

export function imageDataUri(file = imagePath) {
  const mime = file.endsWith(".png") ? "image/png" : "image/jpeg";
  return `data:${mime};base64,` + readFileSync(file).toString("base64");
}

// Resolves to { url, port, proc, stop(), output() } once the server prints its address
// and answers /health.
// host: the address to bind (the tests connect through 127.0.0.1 either way).
export async function startServer(extraArgs = [], { timeoutMs = 30000, host = "127.0.0.1", env = process.env } = {}) {
  if (!existsSync(binary)) throw new Error(`edgevl binary not found at ${binary} (build first, or set EDGEVL_BIN)`);
  if (!existsSync(modelDir)) throw new Error(`tiny model not found at ${modelDir} (set EDGEVL_FIXTURES)`);
  const args = ["serve", "--model", modelDir, "--host", host, "--port", "0", ...extraArgs];
  const proc = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"], env });
  let log = "";
  proc.stdout.on("data", (d) => (log += d));
  proc.stderr.on("data", (d) => (log += d));
  const killOnExit = () => proc.kill("SIGKILL");
  process.on("exit", killOnExit);

  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("server did not start:\n" + log)), timeoutMs);
    const check = () => {
      const m = log.match(/listening on http:\/\/[^ ]*:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stdout.on("data", check);
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${log}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; ++i) {
    try {
      const r = await fetch(url + "/health");
      if (r.ok) break;
    } catch {}
    if (i > 100) throw new Error("no /health answer:\n" + log);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    proc,
    output: () => log,
    async stop() {
      process.off("exit", killOnExit);
      if (proc.exitCode !== null) return proc.exitCode;
      const exited = new Promise((r) => proc.on("exit", (code, sig) => r(code ?? sig)));
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 10000);
      const code = await exited;
      clearTimeout(t);
      if (code !== 0 || process.env.EDGEVL_SERVER_LOG) console.error(`--- server output (exit ${code}) ---\n${log}`);
      return code;
    },
  };
}

export async function postJson(url, body, init = {}) {
  const res = await fetch(url + "/v1/chat/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...init,
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json, text, headers: res.headers };
}

export async function metrics(url) {
  return (await fetch(url + "/metrics")).json();
}

// Metrics once no generation is running (a worker finishes its bookkeeping just after
// the reply is sent).
export async function idleMetrics(url, timeoutMs = 5000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const m = await metrics(url);
    if ((m.queue.running === 0 && m.queue.depth === 0 && m.sessions.busy === 0) || Date.now() > end) return m;
    await new Promise((r) => setTimeout(r, 20));
  }
}
