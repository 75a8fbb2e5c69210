// edgevl web chat: the conversation lives here, in the page, and every turn sends it
// whole as OpenAI `messages`. The server recognises the part it has already seen and
// prefills only the new message (see the "cached" figure under each reply).
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  messages: [],      // OpenAI messages sent so far (with the assistant replies)
  image: null,       // data URL of the image waiting to go with the next message
  controller: null,  // AbortController of the running request
};

function setStatus(text) { $("status").textContent = text; }

function addMessage(role, text, imageUrl) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  const label = document.createElement("div");
  label.className = "role";
  label.textContent = role;
  div.appendChild(label);
  if (imageUrl) {
    const img = document.createElement("img");
    img.src = imageUrl;
    img.alt = "attached image";
    div.appendChild(img);
  }
  const content = document.createElement("div");
  content.className = "content";
  content.textContent = text;  // textContent, never innerHTML: model output is not markup
  div.appendChild(content);
  $("messages").appendChild(div);
  div.scrollIntoView({ block: "end" });
  return div;
}

// ---- image picking and dropping --------------------------------------------------------

function setImage(file) {
  if (!file) return;
  if (!/^image\/(png|jpeg|gif|bmp)$/.test(file.type)) {
    setStatus("not a PNG, JPEG, GIF or BMP image: " + file.name);
    return;
  }
  const reader = new FileReader();
  reader.onload = () => {
    state.image = reader.result;
    $("preview").src = state.image;
    $("preview").hidden = false;
    $("clear-image").hidden = false;
    $("drop-hint").textContent = file.name;
    setStatus("image ready: " + file.name + " (" + Math.round(file.size / 1024) + " KiB)");
  };
  reader.readAsDataURL(file);
}

function clearImage() {
  state.image = null;
  $("preview").hidden = true;
  $("preview").removeAttribute("src");
  $("clear-image").hidden = true;
  $("drop-hint").textContent = "Drop an image or";
  $("file-input").value = "";
}

$("file-input").addEventListener("change", (e) => setImage(e.target.files[0]));
$("clear-image").addEventListener("click", clearImage);
const zone = document.body;
zone.addEventListener("dragover", (e) => { e.preventDefault(); $("drop-zone").classList.add("over"); });
zone.addEventListener("dragleave", () => $("drop-zone").classList.remove("over"));
zone.addEventListener("drop", (e) => {
  e.preventDefault();
  $("drop-zone").classList.remove("over");
  if (e.dataTransfer.files.length) setImage(e.dataTransfer.files[0]);
});

// ---- streaming ------------------------------------------------------------------------

// Reads an SSE body and calls onEvent(json) for each `data:` line until [DONE].
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    let end;
    while ((end = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      for (const line of block.split("\n")) {
        if (!line.startsWith("data: ")) continue;  // comments (": keep-alive") and the like
        const data = line.slice(6);
        if (data === "[DONE]") return;
        onEvent(JSON.parse(data));
      }
    }
  }
}

function formatStats(t, usage, clientTtft) {
  const parts = [];
  parts.push("TTFT " + Math.round(t.ttft_ms) + " ms (page " + Math.round(clientTtft) + " ms)");
  if (t.images) parts.push("image encode " + Math.round(t.image_encode_ms) + " ms");
  parts.push("prefill " + t.prefill_tokens + " tok in " + Math.round(t.prefill_ms) + " ms");
  if (usage) parts.push("cached " + usage.prompt_tokens_details.cached_tokens + " of " + usage.prompt_tokens + " prompt tok");
  parts.push("decode " + t.decode_tokens + " tok at " + t.decode_tokens_per_s.toFixed(1) + " tok/s");
  return parts.join(" · ");
}

async function send(text) {
  const content = [];
  if (state.image) content.push({ type: "image_url", image_url: { url: state.image } });
  content.push({ type: "text", text });
  const userMsg = { role: "user", content: content.length === 1 ? text : content };
  addMessage("user", text, state.image);
  clearImage();

  const body = {
    messages: state.messages.concat([userMsg]),
    stream: true,
    stream_options: { include_usage: true },
    max_tokens: Number($("max-tokens").value) || 256,
    temperature: Number($("temperature").value) || 0,
  };
  const out = addMessage("assistant", "");
  out.classList.add("streaming");
  out.dataset.chunks = "0";
  const contentEl = out.querySelector(".content");
  const stats = document.createElement("div");
  stats.className = "stats";
  out.appendChild(stats);

  state.controller = new AbortController();
  $("send").disabled = true;
  $("stop").hidden = false;
  const t0 = performance.now();
  let clientTtft = 0, reply = "", timings = null, usage = null, failed = null;
  try {
    const post = () => fetch("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json", ...authHeader() },
      body: JSON.stringify(body),
      signal: state.controller.signal,
    });
    let res = await post();
    // A server started with --api-key: ask for the key once, keep it in this browser.
    if (res.status === 401 && askApiKey()) res = await post();
    if (!res.ok) {
      const err = await res.json().catch(() => ({}));
      throw new Error((err.error && err.error.message) || "HTTP " + res.status);
    }
    await readEvents(res, (ev) => {
      if (ev.error) { failed = ev.error.message; return; }
      if (ev.usage) usage = ev.usage;
      if (ev.timings) timings = ev.timings;
      const choice = ev.choices && ev.choices[0];
      if (choice && choice.delta && choice.delta.content) {
        if (!clientTtft) clientTtft = performance.now() - t0;
        reply += choice.delta.content;
        contentEl.textContent = reply;
        out.dataset.chunks = String(Number(out.dataset.chunks) + 1);
        out.scrollIntoView({ block: "end" });
      }
    });
    if (failed) throw new Error(failed);
    // Only a completed turn joins the conversation, exactly as the server produced it,
    // so that the next request's prefix matches the server's cached session.
    state.messages.push(userMsg, { role: "assistant", content: reply });
    if (timings) stats.textContent = formatStats(timings, usage, clientTtft);
    setStatus("done in " + Math.round(performance.now() - t0) + " ms");
  } catch (e) {
    if (e.name === "AbortError") {
      stats.textContent = "stopped";
      // A stopped reply is dropped from the conversation: the server did not finish it.
    } else {
      out.className = "msg error";
      contentEl.textContent = "error: " + e.message;
    }
    setStatus(e.name === "AbortError" ? "stopped" : "error");
  } finally {
    out.classList.remove("streaming");
    out.dataset.done = "1";
    state.controller = null;
    $("send").disabled = false;
    $("stop").hidden = true;
  }
}

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("prompt").value.trim();
  if (!text || state.controller) return;
  $("prompt").value = "";
  send(text);
});
$("prompt").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) {
    e.preventDefault();
    $("composer").requestSubmit();
  }
});
$("stop").addEventListener("click", () => state.controller && state.controller.abort());
$("new-chat").addEventListener("click", () => {
  if (state.controller) state.controller.abort();
  state.messages = [];
  $("messages").textContent = "";
  clearImage();
  setStatus("new conversation");
});

// The server's --api-key, if it has one (sent as "Authorization: Bearer KEY").
function authHeader() {
  const key = localStorage.getItem("edgevl-api-key");
  return key ? { Authorization: "Bearer " + key } : {};
}
function askApiKey() {
  const key = prompt("This server needs an API key (edgevl serve --api-key):");
  if (!key) return false;
  localStorage.setItem("edgevl-api-key", key);
  return true;
}

fetch("/v1/models", { headers: authHeader() })
  .then((r) => r.json())
  .then((j) => { $("model-name").textContent = j.data[0].id; })
  .catch(() => {});
setStatus("ready");
