"""The witness as a process of its own: C2SP tlog-witness over HTTP, and a memory that survives SIGKILL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from integrity import merkle
from integrity.checkpoint import Checkpoint, sign_checkpoint
from integrity.cosignature import verify_cosignatures
from integrity.note import Signer, generate_signer, parse_signer_key
from integrity.witness_protocol import AddCheckpoint
from tests.witness.conftest import PREFIX, WitnessProcess, make_witness, post

ORIGIN = PREFIX + "2026-XZ-0042"


def history(n: int, salt: bytes = b"") -> merkle.MemoryTree:
    return merkle.MemoryTree(merkle.leaf_hash(salt + b"entry %d" % i) for i in range(n))


def request(log: Signer, tree: merkle.MemoryTree, old: int, size: int) -> bytes:
    note = sign_checkpoint(Checkpoint(ORIGIN, size, tree.root(size)), log)
    proof = tuple(tree.consistency_proof(old, size)) if 0 < old < size else ()
    return AddCheckpoint(old, proof, note).encode()


async def test_a_restarted_witness_keeps_refusing_inconsistent_checkpoints(witness_process: WitnessProcess) -> None:
    log = parse_signer_key(generate_signer("evidence.test")[0])
    config = make_witness(witness_process.directory, [log.vkey])
    honest, rewritten = history(40), history(40, salt=b"rewritten ")
    witness_process.start()
    url = witness_process.url

    status, body = await post(url, request(log, honest, 0, 5))
    assert status == 200
    note = sign_checkpoint(Checkpoint(ORIGIN, 5, honest.root(5)), log)
    [cosigned] = verify_cosignatures(note + body, [config.cosigner.verifier])
    assert cosigned.name == config.cosigner.name
    for old, new in ((5, 9), (9, 20)):
        status, _ = await post(url, request(log, honest, old, new))
        assert status == 200

    witness_process.kill()  # mid-stream, no clean shutdown
    witness_process.start()

    # it remembers size 20: a caller that thinks otherwise is told so
    status, body = await post(url, request(log, honest, 0, 25))
    assert (status, body) == (409, b"20\n")
    # a rewritten history, validly signed by the log's own key, is refused: at the same size ...
    status, _ = await post(url, request(log, rewritten, 20, 20))
    assert status == 409
    # ... and later, even with the rewritten tree's own (internally valid) consistency proof
    status, _ = await post(url, request(log, rewritten, 20, 30))
    assert status == 422

    witness_process.kill()
    witness_process.start()
    status, _ = await post(url, request(log, rewritten, 20, 31))
    assert status == 422
    status, _ = await post(url, request(log, honest, 20, 30))  # the honest continuation is still welcome
    assert status == 200

    # unknown origin: 404; a checkpoint signed by a key the witness does not trust: 403
    other = parse_signer_key(generate_signer("evidence.test")[0])
    status, _ = await post(url, AddCheckpoint(0, (), sign_checkpoint(Checkpoint("elsewhere/case/X", 1, bytes(32)),
                                                                     log)).encode())
    assert status == 404
    status, _ = await post(url, request(other, honest, 30, 35))
    assert status == 403

    witness_process.kill()
    check = subprocess.run([sys.executable, "-m", "custody", "witness", "check", "--dir",
                            str(witness_process.directory)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    assert f"{ORIGIN}  size 30" in check.stdout
    assert "3 refusal(s)" in check.stdout and "split view" in check.stdout


async def test_witness_init_refuses_to_replace_a_key(tmp_path: Path) -> None:
    log = parse_signer_key(generate_signer("evidence.test")[0])
    vkey_file = tmp_path / "log.vkey"
    vkey_file.write_text(log.vkey + "\n")
    args = [sys.executable, "-m", "custody", "witness", "init", "--name", "witness.court.test/w9",
            "--log-vkey", str(vkey_file), "--dir", str(tmp_path / "w")]
    made = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("witness.court.test/w9+")
    assert 'origin_prefix = "evidence.test/case/"' in (tmp_path / "w" / "witness.toml").read_text()
    again = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "already has a witness key" in again.stderr
