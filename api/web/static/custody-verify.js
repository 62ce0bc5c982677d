// Custody in-browser verifier: the checks of ARCHITECTURE.md's "Integrity contract (version 1)", done
// on the investigator's machine, so a receipt is checked without trusting the server that sent it.
// Mirrors the Python reference implementation check for check:
//   integrity/merkle.py      RFC 6962 leaf hash, RFC 9162 §2.1.3.2 inclusion proof verification
//   integrity/note.py        C2SP signed-note with Ed25519, key ids, vkeys
//   integrity/checkpoint.py  C2SP tlog-checkpoint body, case origins
//   integrity/canonical.py   canonical (JCS) entry bytes
//   integrity/receipt.py     receipts
//
// Served as plain static files, no bundler: the libraries are the self-contained ES modules that
// deploy/web-assets.sh copies into ./vendor/.  Nothing here uses crypto.subtle, which browsers only
// offer in secure contexts, and the locker may well be reached over plain http on a LAN.  If the
// page is served with a Content-Security-Policy, its script-src needs 'wasm-unsafe-eval'.

import { createBLAKE3, createSHA256, createSHA512 } from "./vendor/hash-wasm.esm.min.js";
import * as ed from "./vendor/noble-ed25519.js";

// hash-wasm hashers are synchronous once their WebAssembly is instantiated; doing that once, at
// import, lets the small hashes (SHA-256 of key ids and tree nodes) be plain synchronous calls.
// Sharing them is safe: init/update/digest run without an await in between.
const [sha256Hasher, sha512Hasher] = await Promise.all([createSHA256(), createSHA512()]);

function sha256(...parts) {
  sha256Hasher.init();
  for (const part of parts) sha256Hasher.update(part);
  return sha256Hasher.digest("binary");
}

// noble's default SHA-512 is crypto.subtle's, which plain-http pages do not have.
ed.etc.sha512Async = async (...parts) => {
  sha512Hasher.init();
  for (const part of parts) sha512Hasher.update(part);
  return sha512Hasher.digest("binary");
};

/** A malformed note, checkpoint, key or entry; `message` says what is wrong. */
export class FormatError extends Error {
  constructor(message) {
    super(message);
    this.name = "FormatError";
  }
}

const utf8 = new TextEncoder();

// --- byte and text helpers --------------------------------------------------------------------

const HEX64 = /^[0-9a-f]{64}$/;
// Standard base64 with padding and nothing else; the re-encoding check in decodeBase64 then pins
// the trailing bits, so each value has exactly one accepted spelling (as integrity/note.py demands).
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// Python's str.isspace() set, which the reference uses for key names and origins (JavaScript's \s
// differs: it has U+FEFF and lacks U+0085).
const SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const HAS_SPACE_OR_CONTROL = new RegExp(`[${SPACE}\\x00-\\x1f]`);
const OUTER_SPACE = new RegExp(`^[${SPACE}]+|[${SPACE}]+$`, "g");
// Note text may hold no ASCII control character but newline (U+007F is allowed, as in the reference).
const NOTE_CONTROL = /[\x00-\x09\x0b-\x1f]/;
// A lone UTF-16 surrogate: a JS string can hold one, but it has no UTF-8 form, so it cannot be in
// bytes the server signed or logged.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(hex) {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

function encodeBase64(bytes) {
  return btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
}

function decodeBase64(text, what) {
  if (typeof text !== "string" || !BASE64.test(text)) throw new FormatError(`${what} is not valid base64`);
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  if (encodeBase64(bytes) !== text) throw new FormatError(`${what} is not canonical base64`);
  return bytes;
}

function equalBytes(a, b) {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

// The exact UTF-8 text of a note or entry: a string is encoded, bytes must decode strictly.
function asText(input, what) {
  if (typeof input === "string") {
    if (LONE_SURROGATE.test(input)) throw new FormatError(`${what} is not valid Unicode (lone surrogate)`);
    return input;
  }
  if (input instanceof Uint8Array) {
    try {
      return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(input);
    } catch {
      throw new FormatError(`${what} is not valid UTF-8`);
    }
  }
  throw new FormatError(`${what} must be a string or a Uint8Array`);
}

function errorText(error) {
  return error instanceof Error ? error.message : String(error);
}

// --- content hashing --------------------------------------------------------------------------

/**
 * BLAKE3 (lowercase hex) of a File or Blob, read as a stream so memory stays bounded whatever the
 * size.  `onProgress(done, total)` is called with byte counts after each chunk (and once at 0).
 *
 * Measured in Chromium: Blob.stream() beats blob.slice().arrayBuffer() with one chunk of read-ahead
 * at every chunk size from 1 to 64 MiB (~300 vs ~260 MB/s), because the browser keeps reading into
 * the stream's pipe while we hash.  Its ~2 MiB chunks also keep the main thread free between them.
 */
export async function hashFile(file, onProgress) {
  const hasher = await createBLAKE3(); // per call, so concurrent hashFile calls cannot mix states
  hasher.init();
  const total = file.size;
  let done = 0;
  onProgress?.(done, total);
  const reader = file.stream().getReader();
  for (;;) {
    const { done: finished, value } = await reader.read();
    if (finished) break;
    hasher.update(value);
    done += value.byteLength;
    onProgress?.(done, total);
  }
  if (done !== total) throw new Error(`read ${done} bytes of a ${total}-byte file: did it change on disk?`);
  return hasher.digest("hex");
}

// --- Merkle tree (RFC 6962 / RFC 9162 §2.1, SHA-256) ------------------------------------------

const LEAF_PREFIX = Uint8Array.of(0);
const NODE_PREFIX = Uint8Array.of(1);
const HASH_SIZE = 32;

function nodeHash(left, right) {
  return sha256(NODE_PREFIX, left, right);
}

/** RFC 6962 leaf hash SHA-256(0x00 || entry bytes); a string is hashed as its UTF-8 bytes. */
export async function leafHash(entryBytes) {
  return sha256(LEAF_PREFIX, typeof entryBytes === "string" ? utf8.encode(entryBytes) : entryBytes);
}

// A leaf index or tree size as a BigInt: JS bit operators are 32-bit, tree positions are not.
function treePosition(value, what) {
  if (typeof value === "bigint" && value >= 0n) return value;
  if (Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  throw new FormatError(`${what} ${String(value)} is not a non-negative integer`);
}

/** The root an inclusion proof implies (RFC 9162 §2.1.3.2, as integrity/merkle.py); throws FormatError. */
function rootFromInclusionProof(leaf, index, treeSize, proof) {
  const fnIndex = treePosition(index, "leaf index");
  const size = treePosition(treeSize, "tree size");
  if (!(leaf instanceof Uint8Array) || leaf.length !== HASH_SIZE) throw new FormatError("leaf hash is not 32 bytes");
  if (!Array.isArray(proof)) throw new FormatError("proof is not a list of hashes");
  proof.forEach((p, i) => {
    if (!(p instanceof Uint8Array) || p.length !== HASH_SIZE) {
      throw new FormatError(`proof element ${i} is not 32 bytes`);
    }
  });
  // Step 1.
  if (fnIndex >= size) throw new FormatError(`leaf index ${fnIndex} is not within tree size ${size}`);
  // Steps 2-3.
  let fn = fnIndex;
  let sn = size - 1n;
  let r = leaf;
  // Step 4.
  for (const p of proof) {
    if (sn === 0n) throw new FormatError(`proof too long for index ${fnIndex} in size ${size}`); // 4a
    if ((fn & 1n) === 1n || fn === sn) { // 4b
      r = nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n; // 4c
    sn >>= 1n;
  }
  // Step 5 (sn; the root comparison is the caller's).
  if (sn !== 0n) throw new FormatError(`proof too short for index ${fnIndex} in size ${size}`);
  return r;
}

/**
 * Whether `leafHash` is leaf `index` of the tree of `treeSize` leaves whose root is `root`, by the
 * inclusion proof `proof` (32-byte Uint8Arrays, bottom up).  False for any malformed input.
 */
export async function verifyInclusion(leafHash, index, treeSize, proof, root) {
  try {
    return equalBytes(rootFromInclusionProof(leafHash, index, treeSize, proof), root);
  } catch {
    return false;
  }
}

// --- C2SP signed notes and checkpoints ----------------------------------------------------------

const SIG_PREFIX = "\u2014 "; // em dash and a space
const ALG_ED25519 = 0x01;
const KEY_ID_SIZE = 4;
const ED25519_KEY_SIZE = 32;
const ED25519_SIG_SIZE = 64;
const MAX_SIGNATURES = 100; // Go's sumdb/note limit; the spec asks verifiers to accept at least 16
const MAX_TREE_SIZE = 2n ** 64n - 1n;
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;
const HEX8 = /^[0-9a-fA-F]{8}$/;
const CASE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const CASE_SEGMENT = "/case/";

function checkName(name) {
  // Go's isValidName (no Unicode space, no '+'), and no controls: a name goes into note lines.
  if (!name || name.includes("+") || HAS_SPACE_OR_CONTROL.test(name)) {
    throw new FormatError(`invalid key name ${JSON.stringify(name)}: it must be non-empty, without spaces or '+'`);
  }
}

function checkOrigin(origin) {
  if (!origin) throw new FormatError("checkpoint origin is empty");
  if (origin.includes("+") || HAS_SPACE_OR_CONTROL.test(origin)) {
    throw new FormatError(`checkpoint origin ${JSON.stringify(origin)} contains a space, control character or '+'`);
  }
}

function keyIdOf(name, publicKey) {
  return sha256(utf8.encode(name), Uint8Array.of(0x0a, ALG_ED25519), publicKey).slice(0, KEY_ID_SIZE);
}

/**
 * Parse a verifier key `<name>+<8 hex key id>+<base64(0x01 || 32-byte Ed25519 public key)>`.
 * Returns {name, keyId (8 lowercase hex), publicKey (Uint8Array)}; throws FormatError if malformed
 * or if the key id is not SHA-256(name || 0x0A || 0x01 || public key)[:4].
 */
export function parseVkey(vkey) {
  if (typeof vkey !== "string") throw new FormatError("verifier key must be a string");
  const text = vkey.replace(OUTER_SPACE, "");
  // Split at the first two '+' only: base64 has '+' of its own.
  const first = text.indexOf("+");
  const second = first < 0 ? -1 : text.indexOf("+", first + 1);
  if (second < 0) throw new FormatError("verifier key must be <name>+<hex key id>+<base64 key>");
  const [name, hexId, key64] = [text.slice(0, first), text.slice(first + 1, second), text.slice(second + 1)];
  checkName(name);
  if (!HEX8.test(hexId)) throw new FormatError(`verifier key id ${JSON.stringify(hexId)} is not 8 hex digits`);
  const key = decodeBase64(key64, "verifier key");
  if (key[0] !== ALG_ED25519 || key.length !== 1 + ED25519_KEY_SIZE) {
    throw new FormatError("verifier key is not an Ed25519 key (0x01 followed by 32 bytes)");
  }
  const publicKey = key.slice(1);
  const keyId = toHex(keyIdOf(name, publicKey));
  if (keyId !== hexId.toLowerCase()) {
    throw new FormatError(`verifier key id ${hexId} does not match the key (computed ${keyId})`);
  }
  return { name, keyId, publicKey };
}

// Split a signed note into its text (what was signed) and its signature lines, strictly.
function splitNote(noteText) {
  const note = asText(noteText, "note");
  const control = NOTE_CONTROL.exec(note);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).padStart(4, "0").toUpperCase();
    throw new FormatError(`note contains control character U+${code}`);
  }
  // The text ends at the last blank line: its own final newline, then the empty separator line.
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new FormatError("note has no blank line between its text and its signatures");
  const body = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (!block) throw new FormatError("note has no signature lines after its blank line");
  if (!block.endsWith("\n")) throw new FormatError("note does not end with a newline");
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw new FormatError(`note has more than ${MAX_SIGNATURES} signatures`);
  const signatures = lines.map((line) => {
    if (!line.startsWith(SIG_PREFIX)) {
      throw new FormatError("signature line does not start with an em dash and a space");
    }
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(" ");
    if (space < 0 || space === rest.length - 1) {
      throw new FormatError("signature line must be '\u2014 <key name> <base64 signature>'");
    }
    const name = rest.slice(0, space);
    checkName(name);
    const raw = decodeBase64(rest.slice(space + 1), `signature by ${name}`);
    if (raw.length <= KEY_ID_SIZE) throw new FormatError(`signature by ${name} is too short (${raw.length} bytes)`);
    return { name, keyId: toHex(raw.subarray(0, KEY_ID_SIZE)), sig: raw.slice(KEY_ID_SIZE) };
  });
  return { body, signatures };
}

// Checkpoint body: origin, decimal size, base64 root, each newline-terminated.  Extension lines
// are accepted and ignored, as in integrity/checkpoint.py (the C2SP spec tells clients to; Custody
// itself never writes any).
function parseCheckpointBody(body) {
  if (!body.endsWith("\n")) throw new FormatError("checkpoint body must end with a newline");
  const lines = body.slice(0, -1).split("\n");
  if (lines.length < 3) throw new FormatError(`checkpoint body has ${lines.length} lines, needs origin, size and root`);
  if (lines.includes("")) throw new FormatError("checkpoint body contains an empty line");
  const [origin, sizeText, rootText] = lines;
  checkOrigin(origin);
  if (sizeText.length > String(MAX_TREE_SIZE).length || !DECIMAL.test(sizeText) || BigInt(sizeText) > MAX_TREE_SIZE) {
    throw new FormatError(`checkpoint tree size ${JSON.stringify(sizeText)} is not a decimal in 0..2**64-1 `
      + "without leading zeros");
  }
  const root = decodeBase64(rootText, "checkpoint root hash");
  if (root.length !== HASH_SIZE) {
    throw new FormatError(`checkpoint root hash is ${root.length} bytes, expected ${HASH_SIZE}`);
  }
  return { origin, size: BigInt(sizeText), root };
}

/**
 * Parse a signed checkpoint (string, or Uint8Array of its UTF-8) without checking signatures.
 * Returns {origin, size (BigInt: C2SP sizes are uint64), root (32-byte Uint8Array), body (the
 * signed text), signatures: [{name, keyId (8 hex), sig (Uint8Array)}]}; throws FormatError.
 */
export function parseCheckpoint(noteText) {
  const { body, signatures } = splitNote(noteText);
  return { ...parseCheckpointBody(body), body, signatures };
}

/** Split `<host>/case/<case-id>` into {host, caseId}; throws FormatError otherwise. */
export function parseCaseOrigin(origin) {
  const at = typeof origin === "string" ? origin.indexOf(CASE_SEGMENT) : -1;
  const host = at < 0 ? "" : origin.slice(0, at);
  const caseId = at < 0 ? "" : origin.slice(at + CASE_SEGMENT.length);
  if (at < 0 || !host || /[+/]/.test(host) || HAS_SPACE_OR_CONTROL.test(host) || !CASE_ID.test(caseId)) {
    throw new FormatError(`origin ${JSON.stringify(origin)} is not of the form <host>/case/<case-id>`);
  }
  return { host, caseId };
}

// The C2SP opening rules, as integrity/note.py open_note: signatures by unknown keys are ignored; a
// signature by a trusted key (name *and* key id match) must verify, or the whole note is rejected;
// at least one trusted key must have signed.  Returns the names of the keys that did; throws.
async function checkSignatures(body, signatures, vkeys) {
  if (!Array.isArray(vkeys)) throw new FormatError("verifier keys must be a list of vkey strings");
  const trusted = new Map();
  vkeys.forEach((vkey, i) => {
    let key;
    try {
      key = parseVkey(vkey);
    } catch (error) {
      throw new FormatError(`verifier key ${i}: ${errorText(error)}`);
    }
    trusted.set(`${key.name}+${key.keyId}`, key);
  });
  const message = utf8.encode(body);
  const verified = new Set();
  const unknown = new Set();
  for (const { name, keyId, sig } of signatures) {
    const ref = `${name}+${keyId}`;
    const key = trusted.get(ref);
    if (!key) {
      unknown.add(ref);
    } else if (!verified.has(ref)) { // a repeated line by one key counts once, as in Go
      if (sig.length !== ED25519_SIG_SIZE) {
        throw new FormatError(`signature by ${name} is ${sig.length} bytes, Ed25519 needs ${ED25519_SIG_SIZE}`);
      }
      // zip215: false is RFC 8032's strict decoding (canonical points, S < L), closest to the
      // reference's OpenSSL and to Go's crypto/ed25519 that sumdb/note uses.
      if (!(await ed.verifyAsync(sig, message, key.publicKey, { zip215: false }))) {
        throw new FormatError(`signature by trusted key ${name} (${keyId}) does not verify`);
      }
      verified.add(ref);
    }
  }
  if (!verified.size) {
    const seen = unknown.size ? `only by ${[...unknown].join(", ")}` : "by no key";
    throw new FormatError(`note is not signed by any trusted key (signed ${seen})`);
  }
  return [...verified].map((ref) => trusted.get(ref).name);
}

/**
 * Verify a C2SP signed note (string, or Uint8Array of its UTF-8) under trusted vkeys (strings).
 * Returns {ok: true, keyName, keyNames, body} or {ok: false, error}; never throws.
 */
export async function verifyNote(noteText, vkeys) {
  try {
    const { body, signatures } = splitNote(noteText);
    const keyNames = await checkSignatures(body, signatures, vkeys);
    return { ok: true, keyName: keyNames[0], keyNames, body };
  } catch (error) {
    return { ok: false, error: errorText(error) };
  }
}

// --- witness cosignatures (C2SP tlog-cosignature, Ed25519, as integrity/cosignature.py) -------

const ALG_COSIGNATURE_V1 = 0x04;
const COSIGNATURE_SIZE = 8 + ED25519_SIG_SIZE; // u64 big-endian timestamp || Ed25519 signature

function parseWitnessVkey(vkey) {
  if (typeof vkey !== "string") throw new FormatError("witness key must be a string");
  const text = vkey.replace(OUTER_SPACE, "");
  const first = text.indexOf("+");
  const second = first < 0 ? -1 : text.indexOf("+", first + 1);
  if (second < 0) throw new FormatError("witness key must be <name>+<hex key id>+<base64 key>");
  const [name, hexId, key64] = [text.slice(0, first), text.slice(first + 1, second), text.slice(second + 1)];
  checkName(name);
  const key = decodeBase64(key64, "witness key");
  if (key[0] !== ALG_COSIGNATURE_V1 || key.length !== 1 + ED25519_KEY_SIZE) {
    throw new FormatError("witness key is not an Ed25519 cosignature/v1 key (0x04 followed by 32 bytes)");
  }
  const publicKey = key.slice(1);
  const keyId = toHex(sha256(utf8.encode(name), Uint8Array.of(0x0a, ALG_COSIGNATURE_V1), publicKey).slice(0, KEY_ID_SIZE));
  if (!HEX8.test(hexId) || keyId !== hexId.toLowerCase()) throw new FormatError(`witness key id ${hexId} does not match the key`);
  return { name, keyId, publicKey };
}

/**
 * The valid cosignatures on a signed checkpoint by the given witness keys (type 0x04 vkeys):
 * {ok: true, cosigned: [{name, time (POSIX seconds)}]} or {ok: false, error}; never throws.  A line
 * that names a given witness key but does not verify makes the whole answer fail, as in Python.
 */
export async function verifyCosignatures(noteText, witnessVkeys) {
  try {
    const { body, signatures } = splitNote(noteText);
    const witnesses = new Map(witnessVkeys.map((v) => parseWitnessVkey(v)).map((k) => [`${k.name}+${k.keyId}`, k]));
    const found = new Map();
    for (const { name, keyId, sig } of signatures) {
      const key = witnesses.get(`${name}+${keyId}`);
      if (!key || found.has(`${name}+${keyId}`)) continue;
      if (sig.length !== COSIGNATURE_SIZE) throw new FormatError(`cosignature by ${name} is ${sig.length} bytes`);
      const time = new DataView(sig.buffer, sig.byteOffset, 8).getBigUint64(0);
      if (time > 2n ** 63n - 1n) throw new FormatError(`cosignature by ${name} has a time beyond 2^63 - 1`);
      // "cosignature/v1\ntime <t>\n" followed by the whole checkpoint body (c2sp.org/tlog-cosignature)
      const message = utf8.encode(`cosignature/v1\ntime ${time}\n${body}`);
      if (!(await ed.verifyAsync(sig.slice(8), message, key.publicKey, { zip215: false }))) {
        throw new FormatError(`cosignature by witness ${name} (${keyId}) does not verify`);
      }
      found.set(`${name}+${keyId}`, { name, time: Number(time) });
    }
    return { ok: true, cosigned: [...found.values()] };
  } catch (error) {
    return { ok: false, error: errorText(error) };
  }
}

// --- canonical entries (RFC 8785 JCS restricted to integer JSON) --------------------------------

// The canonical serialisation of a parsed value, per integrity/canonical.py: JSON.stringify's string
// escapes are exactly JCS's, and the default sort compares UTF-16 code units, which is JCS's order.
function canonicalJSON(value, path) {
  if (value === null || typeof value === "boolean") return String(value);
  if (typeof value === "string") {
    if (LONE_SURROGATE.test(value)) throw new FormatError(`${path}: string contains a lone surrogate`);
    return JSON.stringify(value);
  }
  if (typeof value === "number") {
    // Also catches what JSON.parse rounded (e.g. 2**53 + 1) and floats that re-serialise alike (1.5).
    if (!Number.isSafeInteger(value)) throw new FormatError(`${path}: ${value} is not an integer within ±(2**53 - 1)`);
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map((item, i) => canonicalJSON(item, `${path}[${i}]`)).join(",")}]`;
  const members = Object.keys(value).sort().map((key) => {
    const member = `${path}[${JSON.stringify(key)}]`;
    return `${canonicalJSON(key, member)}:${canonicalJSON(value[key], member)}`;
  });
  return `{${members.join(",")}}`;
}

// Parse an entry and check it is byte-for-byte canonical (whitespace, key order, escapes, number
// spelling and duplicate keys all change the bytes); returns the parsed object or throws.
function parseEntry(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new FormatError(`not JSON: ${errorText(error)}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new FormatError("an entry must be a JSON object");
  }
  const canonical = canonicalJSON(value, "$");
  if (canonical !== text) {
    const [a, b] = [utf8.encode(canonical), utf8.encode(text)];
    let at = 0;
    while (at < a.length && at < b.length && a[at] === b[at]) at++;
    throw new FormatError(`bytes are not in canonical form (first difference at byte ${at})`);
  }
  return value;
}

// --- receipts -----------------------------------------------------------------------------------

// The receipt's fields, type-checked; throws FormatError naming the first bad one.
function readReceipt(receipt) {
  if (receipt === null || typeof receipt !== "object") throw new FormatError("receipt is not a JSON object");
  const { case: caseId = null, entry, checkpoint, inclusion_proof: proofHex } = receipt;
  if (caseId !== null && typeof caseId !== "string") throw new FormatError("case is not a string");
  if (typeof entry !== "string") throw new FormatError("entry is not a string");
  if (typeof checkpoint !== "string") throw new FormatError("checkpoint is not a string");
  const index = treePosition(receipt.leaf_index, "leaf_index");
  const size = treePosition(receipt.tree_size, "tree_size");
  if (!Array.isArray(proofHex)) throw new FormatError("inclusion_proof is not a list");
  const proof = proofHex.map((h, i) => {
    if (typeof h !== "string" || !HEX64.test(h.toLowerCase())) {
      throw new FormatError(`inclusion_proof[${i}] is not a 64-digit hex SHA-256 hash`);
    }
    return fromHex(h.toLowerCase());
  });
  return { caseId, entry: asText(entry, "entry"), checkpoint, index, size, proof };
}

/**
 * Verify a receipt as the server sends it — {case, leaf_index, entry, tree_size, inclusion_proof,
 * checkpoint} — under trusted vkeys, optionally against what the caller expects: {blake3 (hex of
 * the file in hand), case}.  Returns {ok, checks: [{name, ok, detail}], entry (parsed, or null),
 * checkpoint (parsed, or null)}; never throws.  Check names, in order:
 *   receipt          the receipt has its fields, well typed (nothing else is checked if not)
 *   checkpoint       the checkpoint is a well-formed signed note and checkpoint
 *   entry            the entry is canonical JSON (what the log hashes)
 *   entry-case       the entry's `case` is the receipt's case
 *   entry-seq        the entry's `seq` is the receipt's leaf_index
 *   blake3           the entry's `blake3` is expected.blake3       (only if expected.blake3 is given)
 *   expected-case    the receipt is for expected.case              (only if expected.case is given)
 *   checkpoint-case  its origin is <host>/case/<the receipt's case>
 *   tree-size        its tree size is the receipt's tree_size
 *   inclusion        the entry's leaf hash is at leaf_index under its root, by the inclusion proof
 *   signature        a trusted vkey signed it (and no trusted key's signature is bad)
 * Checks that depend on a malformed checkpoint are left out; `ok` is then false anyway.
 */
export async function verifyReceipt(receipt, vkeys, expected) {
  const want = expected ?? {};
  const checks = [];
  const result = { ok: false, checks, entry: null, checkpoint: null };
  const check = (name, ok, detail) => checks.push({ name, ok, detail });
  try {
    let fields;
    try {
      fields = readReceipt(receipt);
    } catch (error) {
      check("receipt", false, `malformed receipt: ${errorText(error)}`);
      return result;
    }
    check("receipt", true, `leaf ${fields.index} of a tree of ${fields.size}`);

    let cp = null;
    try {
      cp = result.checkpoint = parseCheckpoint(fields.checkpoint);
      check("checkpoint", true, `origin ${cp.origin}, tree size ${cp.size}, root ${toHex(cp.root)}`);
    } catch (error) {
      check("checkpoint", false, errorText(error));
    }
    let originCase = null;
    let originError = null;
    if (cp) {
      try {
        originCase = parseCaseOrigin(cp.origin).caseId;
      } catch (error) {
        originError = errorText(error);
      }
    }
    // As integrity/receipt.py: a receipt without `case` is for the case its checkpoint names.
    const caseId = fields.caseId ?? originCase;

    try {
      result.entry = parseEntry(fields.entry);
      check("entry", true, "canonical JSON");
    } catch (error) {
      check("entry", false, errorText(error));
    }
    if (result.entry) {
      const { case: entryCase, seq, blake3 } = result.entry;
      check("entry-case", entryCase === caseId,
        `entry is for case ${JSON.stringify(entryCase)}, the receipt for ${JSON.stringify(caseId)}`);
      check("entry-seq", Number.isSafeInteger(seq) && BigInt(seq) === fields.index,
        `entry is seq ${JSON.stringify(seq)}, the receipt says leaf ${fields.index}`);
      if (want.blake3 != null) {
        const blake3Hex = String(want.blake3).toLowerCase();
        check("blake3", blake3 === blake3Hex, `entry records BLAKE3 ${blake3 ?? "(none)"}, expected ${blake3Hex}`);
      }
    }
    if (want.case != null) {
      check("expected-case", caseId === want.case,
        `receipt is for case ${JSON.stringify(caseId)}, expected ${JSON.stringify(want.case)}`);
    }
    if (!cp) return result;

    check("checkpoint-case", originError === null && originCase === caseId, originError
      ?? `checkpoint is for case ${JSON.stringify(originCase)}, the receipt for ${JSON.stringify(caseId)}`);
    check("tree-size", cp.size === fields.size, `checkpoint tree size ${cp.size}, receipt tree_size ${fields.size}`);
    const leaf = await leafHash(fields.entry);
    try {
      const root = rootFromInclusionProof(leaf, fields.index, fields.size, fields.proof);
      const included = equalBytes(root, cp.root);
      check("inclusion", included, included
        ? `leaf hash ${toHex(leaf)} is leaf ${fields.index} under the checkpoint's root`
        : `the proof leads from leaf hash ${toHex(leaf)} to root ${toHex(root)}, `
          + `not the checkpoint's ${toHex(cp.root)}`);
    } catch (error) {
      check("inclusion", false, errorText(error));
    }
    try {
      const names = await checkSignatures(cp.body, cp.signatures, vkeys);
      check("signature", true, `signed by ${names.join(", ")}`);
    } catch (error) {
      check("signature", false, errorText(error));
    }
    result.ok = checks.every((c) => c.ok);
  } catch (error) {
    // Only a bug gets here; the promise is still "never throws".
    check("internal", false, `verifier error: ${errorText(error)}`);
  }
  return result;
}
