"""The browser verifier (api/web/static/custody-verify.js) in real Chromium, against the Python reference.

Receipts are made by the project's own integrity code (canonical entries, MemoryTree, signed
checkpoints), so the JavaScript is held to exactly what the server emits; each tampered variant must
fail the named check, and the Python verifier must refuse it too.  The page is served over plain
http, as on a LAN, where crypto.subtle does not exist: the verifier must not need it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import blake3
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.async_api import Browser, Page, async_playwright

from integrity.canonical import canonical_bytes, parse_entry
from integrity.checkpoint import Checkpoint, sign_checkpoint
from integrity.cosignature import Cosigner, add_cosignatures
from integrity.entry import case_origin
from integrity.errors import IntegrityError
from integrity.merkle import MemoryTree, leaf_hash, verify_inclusion
from integrity.note import Signer, Verifier
from integrity.receipt import verify_receipt
from tests.conftest import VECTORS

REPO = Path(__file__).resolve().parents[2]
STATIC = REPO / "api" / "web" / "static"
VENDOR_FILES = ("hash-wasm.esm.min.js", "noble-ed25519.js")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
TIMEOUT_MS = 10_000  # per page operation; everything here takes well under a second

pytestmark = pytest.mark.browser  # registered by tests/web/conftest.py: deselect with -m 'not browser'

HOST = "custody.test"
CASE = "2024-0042"
ZERO_HASH = "0" * 64

# The page first takes crypto.subtle away, as browsers do for plain http on a LAN address (loopback
# would count as a secure context), then imports the module under test as window.custody for
# page.evaluate(); an import failure is kept, so the fixture can fail fast with its reason.
PAGE = """<!doctype html>
<meta charset="utf-8">
<title>custody-verify.js test</title>
<input type="file" id="file">
<script>delete Crypto.prototype.subtle;</script>
<script type="module">
import("/static/custody-verify.js").then(
  (module) => { window.custody = module; },
  (error) => { window.importError = String(error); });
</script>
"""

# verifyReceipt's result, reduced to what crosses into Python (its parsed checkpoint holds a BigInt).
VERIFY_RECEIPT = """async ([receipt, vkeys, expected]) => {
  const result = await custody.verifyReceipt(receipt, vkeys, expected);
  return {ok: result.ok, checks: result.checks, entry: result.entry};
}"""


def signer(name: str, seed: int) -> Signer:
    """A deterministic Ed25519 signer, so runs are reproducible."""
    return Signer(name, Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"seed %d" % seed).digest()))


LOG_KEY = signer(f"{HOST}/log", 1)
VKEYS = [LOG_KEY.vkey]


@dataclass
class CaseLog:
    """A case log built by the reference code: canonical entries, their tree, a signed checkpoint."""

    case_id: str
    entries: list[bytes] = field(default_factory=list)
    tree: MemoryTree = field(default_factory=MemoryTree)

    def append(self, fields: dict[str, Any]) -> None:
        prev = leaf_hash(self.entries[-1]).hex() if self.entries else ZERO_HASH
        entry = canonical_bytes({"v": 1, "case": self.case_id, "seq": len(self.entries), "prev": prev,
                                 "time": f"2024-05-0{len(self.entries) + 1}T10:00:00Z", **fields})
        self.entries.append(entry)
        self.tree.append(leaf_hash(entry))

    def checkpoint(self, origin_case: str | None = None, key: Signer = LOG_KEY) -> str:
        origin = case_origin(HOST, origin_case or self.case_id)
        return sign_checkpoint(Checkpoint(origin, self.tree.size, self.tree.root()), key).decode()

    def receipt(self, index: int) -> dict[str, Any]:
        """A receipt exactly as the server's Receipt.as_json() writes it."""
        return {"case": self.case_id, "leaf_index": index, "entry": self.entries[index].decode(),
                "tree_size": self.tree.size,
                "inclusion_proof": [h.hex() for h in self.tree.inclusion_proof(index)],
                "checkpoint": self.checkpoint()}


def object_fields(content: bytes) -> dict[str, Any]:
    return {"blake3": blake3.blake3(content).hexdigest(), "sha256": hashlib.sha256(content).hexdigest(),
            "size": len(content)}


def make_log() -> CaseLog:
    # Five entries: a tree size that is not a power of two, so proofs have ragged right edges.  The
    # text has multi-byte UTF-8, an astral character (a UTF-16 surrogate pair) and escapes.
    log = CaseLog(CASE)
    log.append({"actor": "admin", "kind": "case.opened", "title": "Zoë Ærø — Straße \U0001f4f7"})
    log.append({"actor": "station-7", "kind": "evidence.ingested", **object_fields(b"original clip")})
    log.append({"actor": "station-7", "kind": "evidence.derived", **object_fields(b"proxy clip")})
    log.append({"actor": "investigator", "kind": "access", "note": "tab\tquote\" slash\\ \u007f"})
    log.append({"actor": "admin", "kind": "hold.placed", "until": None, "labels": ["a", "b"], "n": -3})
    return log


LOG = make_log()
INGESTED = 1  # the evidence.ingested entry
INGESTED_BLAKE3 = json.loads(LOG.entries[INGESTED])["blake3"]


def flip_byte(text: str, at: int) -> str:
    raw = bytearray(text.encode())
    raw[at] ^= 0x01
    return raw.decode()


def tamper_entry(r: dict[str, Any]) -> None:
    # Inside the actor value ("station-7" -> "station-6"): still canonical JSON, but not what was logged.
    r["entry"] = flip_byte(r["entry"], r["entry"].index("station-7") + len("station-"))


def tamper_proof(r: dict[str, Any]) -> None:
    r["inclusion_proof"][0] = flip_byte(r["inclusion_proof"][0], 0)


def tamper_index(r: dict[str, Any]) -> None:
    r["leaf_index"] += 1


def tamper_size(r: dict[str, Any]) -> None:
    r["tree_size"] -= 1


def sign_with_other_key(r: dict[str, Any]) -> None:
    r["checkpoint"] = LOG.checkpoint(key=signer(f"{HOST}/log", 2))  # same name, another key


def corrupt_signature(note: str, line: int) -> str:
    """Flip a bit of signature line ``line``'s Ed25519 signature, keeping its key name and id."""
    body, _, block = note.partition("\n\n")
    lines = block.splitlines()
    prefix, b64 = lines[line].rsplit(" ", 1)
    raw = bytearray(base64.b64decode(b64))
    raw[10] ^= 0x01  # past the 4-byte key id
    lines[line] = f"{prefix} {base64.b64encode(raw).decode()}"
    return body + "\n\n" + "\n".join(lines) + "\n"


def forge_signature(r: dict[str, Any]) -> None:
    r["checkpoint"] = corrupt_signature(r["checkpoint"], 0)


def other_case_checkpoint(r: dict[str, Any]) -> None:
    r["checkpoint"] = LOG.checkpoint(origin_case="2024-0043")


def reformat_entry(r: dict[str, Any]) -> None:
    r["entry"] = json.dumps(json.loads(r["entry"]), ensure_ascii=False)  # ", " and ": " separators


def drop_field(r: dict[str, Any]) -> None:
    del r["tree_size"]


def garble_checkpoint(r: dict[str, Any]) -> None:
    r["checkpoint"] = r["checkpoint"].replace("\n\n", "\n")


# (id, tampering, the checks that must fail -- exactly those)
TAMPERED: list[tuple[str, Callable[[dict[str, Any]], None], set[str]]] = [
    ("flipped-entry-byte", tamper_entry, {"inclusion"}),
    ("wrong-proof-hash", tamper_proof, {"inclusion"}),
    ("wrong-index", tamper_index, {"entry-seq", "inclusion"}),
    ("wrong-tree-size", tamper_size, {"tree-size", "inclusion"}),
    ("signed-by-other-key", sign_with_other_key, {"signature"}),
    ("forged-signature", forge_signature, {"signature"}),
    ("checkpoint-of-other-case", other_case_checkpoint, {"checkpoint-case"}),
    ("non-canonical-entry", reformat_entry, {"entry", "inclusion"}),
    ("missing-field", drop_field, {"receipt"}),
    ("malformed-checkpoint", garble_checkpoint, {"checkpoint"}),
]


async def serve_page(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


@pytest.fixture(scope="module")
async def base_url() -> AsyncIterator[str]:
    missing = [name for name in VENDOR_FILES if not (STATIC / "vendor" / name).is_file()]
    if missing:
        pytest.skip(f"BROWSER VERIFIER NOT TESTED: {missing} missing from {STATIC / 'vendor'}; "
                    "run ./deploy/web-assets.sh")
    app = web.Application()
    app.router.add_static("/static", STATIC)
    app.router.add_get("/", serve_page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"BROWSER VERIFIER NOT TESTED: no Chromium at {CHROMIUM} (apt-get install chromium)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                                    timeout=TIMEOUT_MS)
        yield chromium
        await chromium.close()


@pytest.fixture(scope="module")
async def page(browser: Browser, base_url: str) -> AsyncIterator[Page]:
    page = await browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(base_url + "/")
    await page.wait_for_function("() => window.custody || window.importError")
    assert await page.evaluate("() => window.importError") is None
    yield page
    await page.close()
    assert not errors, f"uncaught errors in the page: {errors}"


async def verify_in_browser(page: Page, receipt: dict[str, Any], vkeys: list[str] = VKEYS,
                            expected: dict[str, str] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate(VERIFY_RECEIPT, [receipt, vkeys, expected])
    return result


def failed(result: dict[str, Any]) -> set[str]:
    return {check["name"] for check in result["checks"] if not check["ok"]}


async def test_page_has_no_webcrypto(page: Page) -> None:
    # Every test below runs without crypto.subtle, as on a LAN page served over plain http.
    assert await page.evaluate("() => crypto.subtle") is None


async def test_receipts_from_the_reference_code_verify(page: Page) -> None:
    for index in range(LOG.tree.size):
        receipt = LOG.receipt(index)
        verify_receipt(receipt, [LOG_KEY.verifier])  # the reference accepts it: the fixture is right
        result = await verify_in_browser(page, receipt, expected={"case": CASE})
        assert result["ok"], result["checks"]
        assert result["entry"] == json.loads(LOG.entries[index])
        assert [c["name"] for c in result["checks"]] == [
            "receipt", "checkpoint", "entry", "entry-case", "entry-seq", "expected-case",
            "checkpoint-case", "tree-size", "inclusion", "signature"]


async def test_receipt_matches_the_file_hash(page: Page) -> None:
    result = await verify_in_browser(page, LOG.receipt(INGESTED), expected={"blake3": INGESTED_BLAKE3.upper()})
    assert result["ok"], result["checks"]
    assert "blake3" in {c["name"] for c in result["checks"]}


async def test_receipt_signed_by_any_trusted_key(page: Page) -> None:
    # Key rotation: the checkpoint names the old key; the verifier trusts both.
    new_key = signer(f"{HOST}/log-2025", 3)
    result = await verify_in_browser(page, LOG.receipt(0), vkeys=[new_key.vkey, *VKEYS])
    assert result["ok"], result["checks"]
    assert f"signed by {LOG_KEY.name}" in {c["detail"] for c in result["checks"]}


async def test_cosigned_note_follows_the_signed_note_rules(page: Page) -> None:
    # Signatures by unknown keys are skipped; one bad signature by a trusted key spoils the note.
    witness = signer("witness.test", 4)
    checkpoint = Checkpoint(case_origin(HOST, CASE), LOG.tree.size, LOG.tree.root())
    cosigned = sign_checkpoint(checkpoint, witness, LOG_KEY).decode()
    verify = "([note, vkeys]) => custody.verifyNote(note, vkeys)"
    result = await page.evaluate(verify, [cosigned, VKEYS])
    assert (result["ok"], result["keyNames"]) == (True, [LOG_KEY.name])
    result = await page.evaluate(verify, [cosigned, [witness.vkey, *VKEYS]])
    assert (result["ok"], result["keyNames"]) == (True, [witness.name, LOG_KEY.name])
    result = await page.evaluate(verify, [corrupt_signature(cosigned, 0), [witness.vkey, *VKEYS]])
    assert not result["ok"] and "witness.test" in result["error"]


@pytest.mark.parametrize(("tamper", "failing"), [t[1:] for t in TAMPERED], ids=[t[0] for t in TAMPERED])
async def test_tampered_receipt_fails_the_right_check(page: Page, tamper: Callable[[dict[str, Any]], None],
                                                      failing: set[str]) -> None:
    receipt = LOG.receipt(INGESTED)
    tamper(receipt)
    with pytest.raises((IntegrityError, ValueError, KeyError)):
        verify_receipt(receipt, [LOG_KEY.verifier])  # the reference refuses it as well
    result = await verify_in_browser(page, receipt)
    assert not result["ok"]
    assert failed(result) == failing, result["checks"]


async def test_expectations_are_checked(page: Page) -> None:
    receipt = LOG.receipt(INGESTED)
    result = await verify_in_browser(page, receipt, expected={"blake3": blake3.blake3(b"other").hexdigest()})
    assert failed(result) == {"blake3"}
    result = await verify_in_browser(page, receipt, expected={"case": "2024-0043"})
    assert failed(result) == {"expected-case"}
    result = await verify_in_browser(page, receipt, vkeys=["not a key"])
    assert failed(result) == {"signature"}


@pytest.mark.parametrize("bad", [None, 17, "text", [], {"entry": 1}])
async def test_garbage_is_refused_not_thrown(page: Page, bad: Any) -> None:
    result = await verify_in_browser(page, bad)
    assert not result["ok"]
    assert failed(result) == {"receipt"}


# Entry texts the log could hold but that are not canonical; each is logged correctly (so inclusion
# and signature hold) and only the entry check fails, as integrity/canonical.py decides.
NON_CANONICAL = [
    '{"case":"2024-0042", "seq":0}',                     # whitespace
    '{"seq":0,"case":"2024-0042"}',                      # key order
    '{"case":"2024-0042","seq":0,"size":1.5}',           # float
    '{"case":"2024-0042","seq":0,"size":1152921504606846976}',  # beyond 2**53 - 1
    '{"case":"2024-0042","seq":0,"seq":0}',              # duplicate key
    '{"case":"2024-0042","seq":0,"t":"\\u00e9"}',        # escaped where JCS writes raw UTF-8
    '{"case":"2024-0042","seq":0,"t":"\\u001F"}',        # uppercase hex escape
    '{"case":"2024-0042","seq":0,"t":"\\ud800"}',        # lone surrogate
    '{"case":"2024-0042","seq":-0}',                     # negative zero
]


@pytest.mark.parametrize("entry", NON_CANONICAL)
async def test_non_canonical_entries_are_refused(page: Page, entry: str) -> None:
    with pytest.raises(IntegrityError):
        parse_entry(entry.encode())
    tree = MemoryTree([leaf_hash(entry.encode())])
    note = sign_checkpoint(Checkpoint(case_origin(HOST, CASE), 1, tree.root()), LOG_KEY).decode()
    receipt = {"case": CASE, "leaf_index": 0, "entry": entry, "tree_size": 1, "inclusion_proof": [],
               "checkpoint": note}
    result = await verify_in_browser(page, receipt)
    assert failed(result) == {"entry"}, result["checks"]


def reference_verdict(leaf: str, index: int, size: int, proof: list[str], root: str) -> bool:
    try:
        verify_inclusion(bytes.fromhex(leaf), index, size, [bytes.fromhex(h) for h in proof], bytes.fromhex(root))
    except IntegrityError:
        return False
    return True


async def test_inclusion_proofs_agree_with_the_reference(page: Page) -> None:
    # The published RFC 6962 vectors, then every (index, size) up to 9 with the right proof and with
    # wrong positions and lengths; the browser must give the Python reference's verdict on each.
    vectors = json.loads((VECTORS / "rfc6962.json").read_text())
    leaves = [leaf_hash(bytes.fromhex(h)).hex() for h in vectors["leaves_hex"]]
    cases = [{"leaf": leaves[v["index"]], "index": v["index"], "size": v["size"], "proof": v["proof"],
              "root": vectors["roots_by_size_hex"][v["size"]]} for v in vectors["inclusion"]]
    tree = MemoryTree(leaf_hash(b"leaf %d" % i) for i in range(9))
    for size in range(1, 10):
        for index in range(size):
            proof = [h.hex() for h in tree.inclusion_proof(index, size)]
            case = {"leaf": tree.get_node(0, index).hex(), "index": index, "size": size, "proof": proof,
                    "root": tree.root(size).hex()}
            cases += [case, {**case, "index": (index + 1) % size}, {**case, "index": size},
                      {**case, "proof": [*proof, ZERO_HASH]}, {**case, "proof": proof[:-1]}]
    verdicts = await page.evaluate("""async (cases) => {
      const bytes = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
      const out = [];
      for (const c of cases) {
        out.push(await custody.verifyInclusion(bytes(c.leaf), c.index, c.size, c.proof.map(bytes), bytes(c.root)));
      }
      return out;
    }""", cases)
    expected = [reference_verdict(**case) for case in cases]
    assert verdicts == expected
    # The 2 vectors and 45 right proofs hold; so do size 1's "wrong" variants, which equal its right one.
    assert expected.count(True) == len(vectors["inclusion"]) + 45 + 2


async def test_go_signed_note_vector_and_vkeys(page: Page) -> None:
    vector = json.loads((VECTORS / "signed-note.json").read_text())
    result = await page.evaluate("([note, vkey]) => custody.verifyNote(note, [vkey])", [vector["note"], vector["vkey"]])
    assert result == {"ok": True, "keyName": "PeterNeumann", "keyNames": ["PeterNeumann"], "body": vector["text"]}
    parsed = await page.evaluate("""(vkey) => {
      const key = custody.parseVkey(vkey);
      return {...key, publicKey: custody.toHex(key.publicKey)};
    }""", vector["vkey"])
    assert parsed == {"name": "PeterNeumann", "keyId": vector["key_id_hex"],
                      "publicKey": Verifier.from_vkey(vector["vkey"]).public_key.hex()}
    # A vkey whose id does not match its key is refused, as in integrity/note.py.
    name, _, key64 = vector["vkey"].split("+", 2)
    error = await page.evaluate("""(vkey) => {
      try { custody.parseVkey(vkey); return null; } catch (e) { return e.name + ": " + e.message; }
    }""", f"{name}+00000000+{key64}")
    assert error is not None and error.startswith("FormatError: verifier key id 00000000 does not match")


async def test_parse_checkpoint(page: Page) -> None:
    parsed = await page.evaluate("""(note) => {
      const cp = custody.parseCheckpoint(note);
      return {origin: cp.origin, size: String(cp.size), root: custody.toHex(cp.root), body: cp.body,
              signatures: cp.signatures.map((s) => ({name: s.name, keyId: s.keyId, sigBytes: s.sig.length}))};
    }""", LOG.checkpoint())
    assert parsed == {"origin": f"{HOST}/case/{CASE}", "size": str(LOG.tree.size), "root": LOG.tree.root().hex(),
                      "body": LOG.checkpoint().partition("\n\n")[0] + "\n",
                      "signatures": [{"name": LOG_KEY.name, "keyId": LOG_KEY.key_id.hex(), "sigBytes": 64}]}


HASH_FILE = """async () => {
  const progress = [];
  const file = document.getElementById("file").files[0];
  const hex = await custody.hashFile(file, (done, total) => progress.push([done, total]));
  return {hex, progress};
}"""


@pytest.mark.parametrize("size", [5 * 1024 * 1024 + 12_345, 0], ids=["5MiB-and-odd-bytes", "empty"])
async def test_hash_file_matches_python_blake3(page: Page, tmp_path: Path, size: int) -> None:
    data = random.Random(size).randbytes(size)
    path = tmp_path / "evidence.bin"
    path.write_bytes(data)
    await page.set_input_files("#file", path)
    result = await page.evaluate(HASH_FILE)
    assert result["hex"] == blake3.blake3(data).hexdigest()
    done = [d for d, _ in result["progress"]]
    assert done[0] == 0 and done[-1] == size and done == sorted(done)
    assert {total for _, total in result["progress"]} == {size}


COSIG_FIXED: dict[str, Any] = json.loads((VECTORS / "cosignature-fixed.json").read_text())


async def test_witness_cosignatures_agree_with_the_reference(page: Page) -> None:
    """verifyCosignatures: the fixed C2SP vector, a line made by integrity/cosignature.py, and tampering."""
    check = "async ([note, keys]) => await custody.verifyCosignatures(note, keys)"
    note = COSIG_FIXED["body"] + "\n" + COSIG_FIXED["line"]
    got = await page.evaluate(check, [note, [COSIG_FIXED["vkey"]]])
    assert got == {"ok": True, "cosigned": [{"name": COSIG_FIXED["name"], "time": COSIG_FIXED["time"]}]}

    witness = Cosigner("witness.court.test/w1", Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
    signed = LOG.checkpoint()
    body = signed.split("\n\n")[0] + "\n"
    cosigned = add_cosignatures(signed.encode(), [witness.cosign(body.encode(), 1_790_000_000)]).decode()
    got = await page.evaluate(check, [cosigned, [witness.vkey]])
    assert got["ok"] and got["cosigned"] == [{"name": witness.name, "time": 1_790_000_000}]
    assert (await page.evaluate(check, [cosigned, [COSIG_FIXED["vkey"]]]))["cosigned"] == []  # not theirs
    forged = cosigned.replace(f"\n{LOG.tree.size}\n", f"\n{LOG.tree.size + 1}\n", 1)
    got = await page.evaluate(check, [forged, [witness.vkey]])
    assert not got["ok"] and "does not verify" in got["error"]
    # the log's own verifier still opens the cosigned note: the witness line is an unknown key to it
    assert (await page.evaluate(VERIFY_RECEIPT, [{**LOG.receipt(INGESTED), "checkpoint": cosigned}, VKEYS, {}]))["ok"]
