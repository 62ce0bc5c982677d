// Intake in the browser: files added to a case through the docking stations' upload path.
//
// Each file is hashed here first (BLAKE3, hash-wasm, as the /verify page does), then declared to the
// server with its size and hash (POST /ui/api/uploads), then sent in parts from the offset the server
// holds (PUT ?offset=N).  The server hashes what it receives while it writes and keeps the file only if
// the hash is the one declared here; the last part answers with the receipt, which is checked here too
// (the entry's BLAKE3 is this browser's, its inclusion proof and the signed checkpoint hold).
//
// A dropped connection costs nothing already sent: the page asks the server where its copy ends and
// continues from there (a resent overlap is skipped by the server).  The upload's id is kept in
// localStorage under the case, hash and size, so picking the same file again after a reload resumes it.
import { hashFile, verifyReceipt } from "./custody-verify.js";

const root = document.getElementById("intake");
const S = JSON.parse(root.dataset.strings);
const caseId = root.dataset.case;
const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const input = document.getElementById("intake-files");
const start = document.getElementById("intake-start");
const list = document.getElementById("intake-list");
const kindSelect = document.getElementById("intake-kind");
const stageSelect = document.getElementById("intake-stage");
const titleInput = document.getElementById("intake-title");

/** Bytes per PUT, as the station client sends them; progress within a part comes from XHR events. */
export const CHUNK_BYTES = 16 * 1024 * 1024;
const RETRIES = 8;
const RESUME_KEY = "custody.upload.v1";

/** A refusal or failure the server answered with: {error, message, ...} and its HTTP status. */
class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error ?? "";
    this.body = body ?? {};
  }
}

/** No answer at all: the connection dropped, timed out or was refused. */
class NetworkError extends Error {}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function humanSize(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function call(method, url, body) {
  let response;
  try {
    response = await fetch(url, {
      method, credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRF-Token": csrf,
                 ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new NetworkError(String(error));
  }
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    answer = null;
  }
  if (!response.ok) throw new ApiError(response.status, answer);
  return answer;
}

/** PUT one part (a Blob slice, streamed from disk by the browser); `onSent(bytes)` as it goes. */
function putPart(id, offset, blob, onSent) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", `/ui/api/uploads/${encodeURIComponent(id)}?offset=${offset}`);
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "text";
    xhr.upload.onprogress = (event) => onSent(event.loaded);
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300 && body) resolve(body);
      else if (xhr.status === 0) reject(new NetworkError("no answer"));
      else reject(new ApiError(xhr.status, body));
    };
    xhr.onerror = () => reject(new NetworkError("connection failed"));
    xhr.ontimeout = () => reject(new NetworkError("timed out"));
    xhr.onabort = () => reject(new NetworkError("aborted"));
    xhr.send(blob);
  });
}

function resumeKey(hex, size) {
  return `${RESUME_KEY}:${caseId}:${hex}:${size}`;
}

/** One row of the list: the file, a progress bar, what is happening, and at the end the receipt. */
function row(file) {
  const bar = el("progress", { max: "1", value: "0", class: "intake-bar" });
  const percent = el("span", { class: "intake-percent" }, "0%");
  const stateText = el("span", { class: "intake-state" }, "");
  const detail = el("div", { class: "intake-detail" });
  const item = el("li", { class: "intake-item", "data-file": file.name, "data-state": "waiting", "data-phases": "" },
    el("strong", {}, file.name), " ", el("span", { class: "muted" }, humanSize(file.size)), el("br"),
    bar, " ", percent, " ", stateText, detail);
  list.append(item);
  return {
    item, detail,
    phase(name, text) {
      item.dataset.state = name;
      const seen = item.dataset.phases ? item.dataset.phases.split(" ") : [];
      if (!seen.includes(name)) item.dataset.phases = [...seen, name].join(" ");
      stateText.textContent = text;
    },
    progress(fraction) {
      const value = Math.max(0, Math.min(1, fraction));
      bar.value = value;
      item.dataset.progressSteps = String(Number(item.dataset.progressSteps ?? 0) + 1);
      percent.textContent = `${Math.floor(value * 100)}%`;
    },
  };
}

/** Send the file from the server's offset until it answers with anything but an open upload. */
async function send(file, state, ui) {
  let current = state;
  let attempts = 0;
  while (current.state === "open") {
    const offset = current.offset;
    const end = Math.min(offset + CHUNK_BYTES, file.size);
    try {
      current = await putPart(current.id, offset, file.slice(offset, end),
        (sent) => ui.progress((offset + sent) / Math.max(file.size, 1)));
      attempts = 0;
    } catch (error) {
      if (error instanceof ApiError && error.code === "offset_mismatch") {
        current = await call("GET", `/ui/api/uploads/${current.id}`);
        continue;
      }
      if (!(error instanceof NetworkError)) throw error;
      attempts += 1;
      if (attempts > RETRIES) throw error;
      ui.phase("resuming", S.resuming);
      await sleep(Math.min(2 ** attempts * 100, 5000));
      current = await askWhere(current.id, attempts);
      ui.phase("uploading", S.uploading);
      ui.item.dataset.resumedAt = String(current.offset ?? "");
    }
  }
  return current;
}

/** Where the server's copy ends (retrying while the server cannot be reached). */
async function askWhere(id, attempts) {
  for (let tries = attempts; ; tries += 1) {
    try {
      return await call("GET", `/ui/api/uploads/${id}`);
    } catch (error) {
      if (!(error instanceof NetworkError) || tries > RETRIES) throw error;
      await sleep(Math.min(2 ** tries * 100, 5000));
    }
  }
}

async function declare(file, hex, meta) {
  const key = resumeKey(hex, file.size);
  const kept = localStorage.getItem(key);
  if (kept) {
    try {
      const state = await call("GET", `/ui/api/uploads/${kept}`);
      if (state.state === "open" || state.state === "committed") return { ...state, kept: true };
    } catch (error) {
      if (error instanceof NetworkError) throw error;
    }
    localStorage.removeItem(key);
  }
  const state = await call("POST", "/ui/api/uploads", {
    case: caseId, blake3: hex, size: file.size, file_name: file.name,
    media_type: (file.type || "application/octet-stream").slice(0, 100), ...meta,
  });
  if (state.state === "open") localStorage.setItem(key, state.id);
  return state;
}

let trustedKeys = null;

async function keys() {
  trustedKeys ??= (await call("GET", "/api/v1/keys")).vkeys;
  return trustedKeys;
}

function showReceipt(ui, state, hex, verdict) {
  const entry = verdict.entry ?? {};
  const seq = state.receipt?.leaf_index;
  ui.item.dataset.seq = String(seq);
  ui.item.dataset.blake3 = hex;
  ui.item.dataset.receipt = verdict.ok ? "ok" : "bad";
  const failed = verdict.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
  ui.detail.replaceChildren(
    el("dl", { class: "facts receipt" },
      el("dt", {}, S.entry), el("dd", { class: "intake-seq" }, `#${seq} · ${entry.kind ?? ""}`),
      el("dt", {}, "BLAKE3"), el("dd", {}, el("code", { class: "intake-blake3 wrap" }, hex)),
      el("dt", {}, S.receipt),
      el("dd", { class: verdict.ok ? "ok intake-receipt" : "bad intake-receipt" },
        verdict.ok ? `✓ ${S.receipt_ok}` : `✗ ${S.receipt_bad}: ${failed.join("; ")}`)));
}

// The page's own words first; the server's (hashes, its message) on a line of their own below.
function showFailure(ui, error) {
  let text;
  let detail = null;
  if (error instanceof ApiError && error.code === "upload_failed" && error.body.declared) {
    text = S.mismatch;
    detail = el("code", { class: "wrap" }, `BLAKE3 ${error.body.declared} ≠ ${error.body.received_blake3 ?? "?"}`);
    ui.item.dataset.refused = "hash";
  } else if (error instanceof ApiError) {
    text = S.refused;
    detail = el("small", {}, `HTTP ${error.status} ${error.code} · ${error.message}`);
    ui.item.dataset.refused = error.code || String(error.status);
  } else if (error instanceof NetworkError) {
    text = S.offline;
  } else {
    text = error instanceof Error ? error.message : String(error);
  }
  ui.phase("failed", S.failed);
  ui.detail.replaceChildren(el("p", { class: "alert", role: "alert" }, text, detail && el("br"), detail));
}

async function intake(file, meta) {
  const ui = row(file);
  try {
    ui.phase("hashing", S.hashing);
    const began = performance.now();
    const hex = await hashFile(file, (done, total) => ui.progress(done / Math.max(total, 1)));
    ui.item.dataset.hashSeconds = ((performance.now() - began) / 1000).toFixed(3);
    ui.item.dataset.hashed = hex;
    ui.phase("declaring", S.declaring);
    let state = await declare(file, hex, meta);
    if (state.kept) ui.item.dataset.continuedAt = String(state.offset); // an upload begun before a reload
    ui.progress(state.state === "open" ? state.offset / Math.max(file.size, 1) : 1);
    if (state.state === "open") {
      ui.phase("uploading", S.uploading);
      const sending = performance.now();
      state = await send(file, state, ui);
      ui.item.dataset.uploadSeconds = ((performance.now() - sending) / 1000).toFixed(3);
    }
    localStorage.removeItem(resumeKey(hex, file.size));
    if (state.state !== "committed" || !state.receipt) throw new ApiError(409, state);
    ui.progress(1);
    ui.phase("verifying", S.verifying);
    const verdict = await verifyReceipt(state.receipt, await keys(), { blake3: hex, case: caseId });
    showReceipt(ui, state, hex, verdict);
    ui.phase(state.already ? "already" : "committed", state.already ? S.already : S.committed);
  } catch (error) {
    showFailure(ui, error);
  }
}

function meta() {
  const fields = { kind: kindSelect.value };
  if (stageSelect.value) fields.stage = stageSelect.value;
  if (titleInput.value.trim()) fields.title = titleInput.value.trim();
  return fields;
}

input.addEventListener("change", () => {
  start.disabled = input.files.length === 0;
});

start.addEventListener("click", async () => {
  const files = Array.from(input.files);
  if (!files.length) return;
  start.disabled = true;
  root.dataset.busy = "1";
  const fields = meta();
  for (const file of files) await intake(file, fields); // one at a time: the bar is the file's
  input.value = "";
  delete root.dataset.busy;
  root.dataset.finished = String(Number(root.dataset.finished ?? 0) + files.length);
  document.getElementById("intake-done").hidden = false;
});

root.dataset.ready = "1";
