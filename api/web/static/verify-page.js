// The "verify a file" page: hash the file here (it is never uploaded), ask the server which log
// entries hold that hash, and check each answer's inclusion proof and checkpoint signature here too.
import { hashFile, verifyReceipt } from "./custody-verify.js";

const root = document.getElementById("verify");
const S = JSON.parse(root.dataset.strings);
const input = document.getElementById("verify-file");
const dropzone = document.getElementById("dropzone");
const progress = document.getElementById("verify-progress");
const bar = document.getElementById("verify-bar");
const percent = document.getElementById("verify-percent");
const stage = document.getElementById("verify-stage");
const result = document.getElementById("verify-result");

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

// RFC 3339 as on the server's pages ("2026-11-20 08:00:00 UTC"); anything unparsable is shown verbatim.
function when(value) {
  const moment = value ? new Date(value) : null;
  if (!moment || Number.isNaN(moment.getTime())) return value;
  return `${moment.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

async function getJSON(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.message ?? `${response.status} ${response.statusText}`);
  return body;
}

function fact(label, value) {
  return value ? [el("dt", {}, label), el("dd", {}, String(value))] : [];
}

function matchCard(match, verdict) {
  const entry = verdict.entry ?? {};
  const byName = Object.fromEntries(verdict.checks.map((c) => [c.name, c]));
  const caseLink = el("a", { href: `/cases/${encodeURIComponent(match.case)}` }, match.case);
  const checks = el("ul", { class: "checks" });
  for (const [name, label] of [["inclusion", S["verify.proof"]], ["signature", S["verify.signature"]]]) {
    const c = byName[name];
    checks.append(el("li", { class: c?.ok ? "passed" : "failed", title: c?.detail ?? "", "data-check": name },
      label));
  }
  for (const c of verdict.checks.filter((c) => !c.ok && !["inclusion", "signature"].includes(c.name))) {
    checks.append(el("li", { class: "failed", "data-check": c.name }, `${c.name}: ${c.detail}`));
  }
  return el("div", { class: "match-card", "data-case": match.case, "data-seq": String(entry.seq ?? "") },
    el("dl", { class: "facts" },
      el("dt", {}, S["verify.in_case"]), el("dd", {}, caseLink),
      ...fact(S["verify.entry"], `${entry.seq ?? match.leaf_index} (${entry.kind ?? match.kind})`),
      ...fact(S["verify.logged"], when(entry.time)),
      ...fact(S["verify.recorded"], when(entry.recorded_at)),
      ...fact(S["verify.camera"], entry.camera),
      ...fact(S["verify.officer"], entry.officer),
      ...fact(S["verify.station"], entry.station),
      ...fact(S["ev.file"], entry.file_name)),
    checks);
}

function show(file, hex, answer, verdicts) {
  const verified = verdicts.filter((v) => v.verdict.ok);
  let verdict;
  if (verified.length) verdict = el("p", { class: "verdict match", id: "verdict", "data-verdict": "match" }, S["verify.match"]);
  else if (answer.found) verdict = el("p", { class: "verdict nomatch", id: "verdict", "data-verdict": "failed" }, S["verify.check_failed"]);
  else verdict = el("p", { class: "verdict nomatch", id: "verdict", "data-verdict": "nomatch" }, S["verify.no_match"]);
  result.replaceChildren(
    verdict,
    el("p", { class: "muted" }, `${file.name} · ${humanSize(file.size)} · BLAKE3 `, el("code", { id: "verify-hash" }, hex)),
    ...verdicts.map(({ match, verdict: v }) => matchCard(match, v)),
  );
}

async function check(file) {
  result.replaceChildren();
  progress.hidden = false;
  stage.textContent = S["verify.hashing"];
  bar.value = 0;
  percent.textContent = "";
  try {
    const hex = await hashFile(file, (done, total) => {
      const fraction = total ? done / total : 1;
      bar.value = fraction;
      percent.textContent = `${Math.floor(fraction * 100)} %`;
    });
    stage.textContent = S["verify.asking"];
    const [answer, keys] = await Promise.all([getJSON(`/ui/api/verify/${hex}`), getJSON("/api/v1/keys")]);
    const verdicts = [];
    for (const match of answer.matches) {
      verdicts.push({ match, verdict: await verifyReceipt(match, keys.vkeys, { blake3: hex, case: match.case }) });
    }
    show(file, hex, answer, verdicts);
  } catch (error) {
    result.replaceChildren(el("p", { class: "alert", role: "alert", id: "verdict", "data-verdict": "error" },
      `${S["verify.error"]}: ${error.message}`));
  } finally {
    progress.hidden = true;
  }
}

input.addEventListener("change", () => {
  if (input.files.length) check(input.files[0]);
  input.value = "";
});
for (const name of ["dragenter", "dragover"]) {
  dropzone.addEventListener(name, (event) => {
    event.preventDefault();
    dropzone.classList.add("over");
  });
}
dropzone.addEventListener("dragleave", () => dropzone.classList.remove("over"));
dropzone.addEventListener("drop", (event) => {
  event.preventDefault();
  dropzone.classList.remove("over");
  if (event.dataTransfer?.files.length) check(event.dataTransfer.files[0]);
});
// A file dropped beside the zone must not make the browser open it (and leave the page).
for (const name of ["dragover", "drop"]) window.addEventListener(name, (event) => event.preventDefault());
root.dataset.ready = "1";
