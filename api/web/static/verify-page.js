// The "verify a file" page: hash the file here (it is never uploaded), ask the server which log
// entries hold that hash, and check each answer's inclusion proof and checkpoint signature here too.
//
// Whose keys?  A checkpoint signature proves something only under a key the checker trusts, not
// under whatever key the server publishes today (a server that forged a proof could forge its key
// list too).  So this browser keeps its own trusted keys: pinned on first use, or pasted from the
// bureau's published key, and a key the server starts publishing later is only shown, never
// trusted, until someone here accepts it.
import { hashFile, parseVkey, verifyCosignatures, verifyReceipt } from "./custody-verify.js";

const root = document.getElementById("verify");
const S = JSON.parse(root.dataset.strings);
// Where to ask about a hash: the staff /verify page asks the whole locker; a share's page (/s/{token})
// asks within the share's own items.
const verifyUrl = root.dataset.verifyUrl ?? "/ui/api/verify/";
const input = document.getElementById("verify-file");
const dropzone = document.getElementById("dropzone");
const progress = document.getElementById("verify-progress");
const bar = document.getElementById("verify-bar");
const percent = document.getElementById("verify-percent");
const stage = document.getElementById("verify-stage");
const result = document.getElementById("verify-result");
const keysPanel = document.getElementById("trusted-keys");
const PINS = "custody.trustedVkeys.v1";
let lastFile = null;

// A counted string: the server hands over its forms by CLDR plural category; the page's language picks one.
const pluralRules = new Intl.PluralRules(document.documentElement.lang);
function counted(key, n) {
  const forms = S[key];
  return (forms[pluralRules.select(n)] ?? forms.other).replace("{n}", String(n));
}

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

// --- trusted keys, kept in this browser --------------------------------------------------------

function keyRef(vkey) {
  const key = parseVkey(vkey);
  return `${key.name}+${key.keyId}`;
}

function loadPins() {
  let pins;
  try {
    pins = JSON.parse(localStorage.getItem(PINS) ?? "[]");
  } catch {
    return [];
  }
  if (!Array.isArray(pins)) return [];
  // A damaged entry is dropped rather than trusted.
  return pins.filter((pin) => {
    try {
      return typeof pin?.vkey === "string" && Boolean(keyRef(pin.vkey));
    } catch {
      return false;
    }
  });
}

function savePins(pins) {
  localStorage.setItem(PINS, JSON.stringify(pins));
  renderKeys();
}

function pin(vkey, how) {
  const pins = loadPins();
  const ref = keyRef(vkey);
  if (!pins.some((p) => keyRef(p.vkey) === ref)) {
    pins.push({ vkey: vkey.trim(), how, added: new Date().toISOString() });
    savePins(pins);
  }
}

function keyLabel(vkey) {
  const key = parseVkey(vkey);
  return el("span", { class: "key" }, `${key.name} `, el("code", {}, key.keyId));
}

function renderKeys() {
  const pins = loadPins();
  const list = el("ul", { class: "keys", id: "trusted-key-list" });
  for (const p of pins) {
    const remove = el("button", { type: "button", class: "link", "data-remove": keyRef(p.vkey) }, S["verify.keys_remove"]);
    remove.addEventListener("click", () => savePins(loadPins().filter((q) => keyRef(q.vkey) !== keyRef(p.vkey))));
    list.append(el("li", { "data-key": keyRef(p.vkey) }, keyLabel(p.vkey),
      ` · ${S[`verify.keys_how_${p.how}`] ?? p.how} ${when(p.added)} `, remove));
  }
  const input = el("input", { type: "text", id: "vkey-input", class: "wide", placeholder: S["verify.keys_paste"],
    autocomplete: "off", spellcheck: "false" });
  const add = el("button", { type: "button", id: "vkey-add" }, S["verify.keys_add"]);
  const problem = el("p", { class: "alert", role: "alert", id: "vkey-error", hidden: "" });
  add.addEventListener("click", () => {
    try {
      pin(input.value, "manual");
    } catch (error) {
      problem.textContent = `${S["verify.keys_bad"]}: ${error.message}`;
      problem.hidden = false;
    }
  });
  keysPanel.replaceChildren(
    el("summary", {}, `${S["verify.keys_title"]} (${pins.length})`),
    pins.length ? list : el("p", { class: "muted" }, S["verify.keys_none"]),
    el("p", {}, input, " ", add), problem);
}

// The keys to check under, and notes on what changed: pins the server's keys on first use.
function trustedKeys(published) {
  const notes = [];
  if (!loadPins().length) {
    for (const vkey of published) pin(vkey, "first-use");
    if (published.length) {
      notes.push(el("p", { class: "notice", id: "keys-first-use" }, S["verify.keys_first_use"], " ",
        ...published.map(keyLabel)));
    }
  }
  const pins = loadPins();
  const known = new Set(pins.map((p) => keyRef(p.vkey)));
  for (const vkey of published.filter((v) => !known.has(keyRef(v)))) {
    const trust = el("button", { type: "button", class: "trust-key" }, S["verify.keys_trust"]);
    trust.addEventListener("click", () => {
      pin(vkey, "accepted");
      if (lastFile) check(lastFile);
    });
    notes.push(el("p", { class: "alert", role: "alert", "data-untrusted": keyRef(vkey) },
      S["verify.keys_new"], " ", keyLabel(vkey), " ", trust));
  }
  return { vkeys: pins.map((p) => p.vkey), notes };
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
  // Who besides the bureau vouches for this checkpoint, and since when the entry provably existed.
  const witnessed = verdict.witnesses;
  if (witnessed) {
    const names = witnessed.ok ? witnessed.cosigned.map((c) => `${c.name} (${when(new Date(c.time * 1000).toISOString())})`) : [];
    checks.append(el("li", { class: witnessed.ok && names.length ? "passed" : "failed", "data-check": "witnesses",
      title: witnessed.error ?? "" }, `${S["verify.witnesses"]}: ${names.length ? names.join(", ") : witnessed.error ?? S["verify.no_witness"]}`));
  }
  const stamp = match.timestamp;
  const stampText = stamp ? S["verify.timestamp_claim"].replace("{time}", when(stamp.time)).replace("{tsa}", stamp.tsa) : "";
  return el("div", { class: "match-card", "data-case": match.case, "data-seq": String(entry.seq ?? "") },
    el("dl", { class: "facts" },
      el("dt", {}, S["verify.in_case"]), el("dd", {}, caseLink),
      ...fact(S["verify.entry"], `${entry.seq ?? match.leaf_index} (${entry.kind ?? match.kind})`),
      ...fact(S["verify.logged"], when(entry.time)),
      ...fact(S["verify.recorded"], when(entry.recorded_at)),
      ...fact(S["verify.camera"], entry.camera),
      ...fact(S["verify.officer"], entry.officer),
      ...fact(S["verify.station"], entry.station),
      ...fact(S["ev.file"], entry.file_name),
      ...fact(S["verify.timestamp"], stampText)),
    checks);
}

function show(file, hex, answer, verdicts, notes) {
  const verified = verdicts.filter((v) => v.verdict.ok);
  let verdict;
  if (verified.length) verdict = el("p", { class: "verdict match", id: "verdict", "data-verdict": "match" }, S["verify.match"]);
  else if (answer.found) verdict = el("p", { class: "verdict nomatch", id: "verdict", "data-verdict": "failed" }, S["verify.check_failed"]);
  // Recorded, but only where this user may not look: not a "no match", which would be false.
  else if (answer.withheld) verdict = el("p", { class: "verdict", id: "verdict", "data-verdict": "withheld" }, S["verify.withheld_only"]);
  else verdict = el("p", { class: "verdict nomatch", id: "verdict", "data-verdict": "nomatch" }, S["verify.no_match"]);
  // replaceChildren would print a null as the text "null": leave absent parts out.
  result.replaceChildren(...[
    verdict,
    el("p", { class: "muted" }, `${file.name} · ${humanSize(file.size)} · BLAKE3 `, el("code", { id: "verify-hash" }, hex)),
    ...verdicts.map(({ match, verdict: v }) => matchCard(match, v)),
    // Matches in restricted cases this user may not read are not shown, only counted.
    answer.withheld ? el("p", { class: "notice", id: "verify-withheld" },
      counted("verify.withheld", answer.withheld)) : null,
    ...notes,
  ].filter((part) => part !== null && part !== undefined));
}

async function check(file) {
  lastFile = file;
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
    const [answer, keys, witnesses] = await Promise.all([getJSON(`${verifyUrl}${hex}`), getJSON("/api/v1/keys"),
      getJSON("/api/v1/witnesses")]);
    const trusted = trustedKeys(keys.vkeys);
    const witnessKeys = witnesses.witnesses.map((w) => w.vkey);
    const verdicts = [];
    for (const match of answer.matches) {
      const verdict = await verifyReceipt(match, trusted.vkeys, { blake3: hex, case: match.case });
      if (witnessKeys.length) verdict.witnesses = await verifyCosignatures(match.checkpoint, witnessKeys);
      verdicts.push({ match, verdict });
    }
    show(file, hex, answer, verdicts, trusted.notes);
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
renderKeys();
root.dataset.ready = "1";
