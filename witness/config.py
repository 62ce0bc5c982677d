"""A witness's directory: its key, the logs it witnesses, its state.

``<dir>/witness.key``: the Ed25519 cosigner key (``PRIVATE+KEY+<name>+<id>+<base64(0x04 || seed)>``,
mode 0600).  ``<dir>/witness.toml``: which logs it witnesses, by origin prefix and log keys::

    name = "witness.legal-office.example/w1"

    [[logs]]
    origin_prefix = "custody.example/case/"      # every case log of that locker
    vkeys = ["custody.example+1a2b3c4d+AQ..."]   # the locker's published verifier keys

``<dir>/state.sqlite``: what it cosigned (``witness.state``).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from foundation.durable import replace_durably
from foundation.errors import CustodyError, Status
from integrity.cosignature import Cosigner, generate_cosigner, parse_cosigner_key
from integrity.errors import IntegrityError
from integrity.note import Verifier

KEY_FILE = "witness.key"
CONFIG_FILE = "witness.toml"
STATE_FILE = "state.sqlite"


class WitnessConfigError(CustodyError):
    status = Status.INVALID
    code = "witness_config"


@dataclass(frozen=True, slots=True)
class WitnessedLog:
    """Logs whose origin starts with ``origin_prefix``, signed by one of ``verifiers``."""

    origin_prefix: str
    verifiers: tuple[Verifier, ...]


@dataclass(frozen=True)
class WitnessConfig:
    directory: Path
    cosigner: Cosigner
    logs: tuple[WitnessedLog, ...]

    @property
    def state_path(self) -> Path:
        return self.directory / STATE_FILE

    def verifiers_for(self, origin: str) -> tuple[Verifier, ...] | None:
        """The log keys trusted for ``origin`` (the longest matching prefix), or None if not witnessed."""
        best: WitnessedLog | None = None
        for log in self.logs:
            if origin.startswith(log.origin_prefix) and len(origin) > len(log.origin_prefix):
                if best is None or len(log.origin_prefix) > len(best.origin_prefix):
                    best = log
        return None if best is None else best.verifiers


def load(directory: Path) -> WitnessConfig:
    """Read a witness directory made by ``init``; WitnessConfigError names what is wrong."""
    key_path, config_path = directory / KEY_FILE, directory / CONFIG_FILE
    if not key_path.is_file() or not config_path.is_file():
        raise WitnessConfigError(f"{directory} is not a witness directory (make one: custody witness init)")
    try:
        cosigner = parse_cosigner_key(key_path.read_text())
        with config_path.open("rb") as fh:
            raw = tomllib.load(fh)
        logs = tuple(
            WitnessedLog(str(log["origin_prefix"]), tuple(Verifier.from_vkey(v) for v in log["vkeys"]))
            for log in raw.get("logs", [])
        )
    except (IntegrityError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise WitnessConfigError(f"{directory}: {exc}") from None
    if raw.get("name", cosigner.name) != cosigner.name:
        raise WitnessConfigError(f"{config_path} names {raw.get('name')!r} but the key is {cosigner.name!r}")
    for log in logs:
        if not log.origin_prefix or any(c.isspace() or c == "+" for c in log.origin_prefix):
            raise WitnessConfigError(f"origin prefix {log.origin_prefix!r} is empty or has a space or '+'")
    return WitnessConfig(directory, cosigner, logs)


def init(directory: Path, name: str, logs: list[tuple[str, list[str]]]) -> WitnessConfig:
    """Make a witness directory: a new key under ``name`` and the logs to witness.  Refuses to
    overwrite a key: a witness that lost its key is a new witness."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    if (directory / KEY_FILE).exists():
        raise WitnessConfigError(f"{directory / KEY_FILE} exists: this directory already has a witness key")
    for _, vkeys in logs:
        for vkey in vkeys:
            try:
                Verifier.from_vkey(vkey)
            except IntegrityError as exc:
                raise WitnessConfigError(f"log key {vkey!r}: {exc}") from None
    try:
        cosigner = generate_cosigner(name)
    except IntegrityError as exc:
        raise WitnessConfigError(str(exc)) from None
    _write(directory / KEY_FILE, cosigner.signer_key() + "\n", 0o600)
    _write(directory / CONFIG_FILE, config_text(name, logs), 0o644)
    return load(directory)


def config_text(name: str, logs: list[tuple[str, list[str]]]) -> str:
    out = [f'name = "{name}"\n']
    for prefix, vkeys in logs:
        out.append(f'\n[[logs]]\norigin_prefix = "{prefix}"\nvkeys = [{", ".join(repr(v) for v in vkeys)}]\n')
    return "".join(out).replace("'", '"')


def _write(path: Path, text: str, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    replace_durably(tmp, path, sync_file=False)
