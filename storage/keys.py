"""Signing keys on disk: ``$CUSTODY_HOME/keys``.

``current.key`` holds the Ed25519 signer key in Go's ``PRIVATE+KEY+<name>+<id>+<base64>`` form
(mode 0600); every key ever used has its verifier key in ``vkeys/<name>+<id>.vkey``, and rotation
only adds to that folder, so checkpoints signed by a retired key keep verifying.  The key name is
the origin host.  Servers sharing one database must share this folder (or its current key).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

from foundation.errors import CustodyError, Status
from integrity.note import Signer, Verifier, generate_signer, parse_signer_key

CURRENT = "current.key"


class KeyRingError(CustodyError):
    status = Status.INTERNAL
    code = "key_error"


class KeyRing:
    def __init__(self, keys_dir: Path) -> None:
        self.dir = Path(keys_dir)

    @property
    def vkeys_dir(self) -> Path:
        return self.dir / "vkeys"

    def signer(self, name: str) -> Signer:
        """The current signer, generated on first use; refuses a key made for another name."""
        path = self.dir / CURRENT
        if not path.exists():
            self._install(generate_signer(name))
        signer = parse_signer_key(path.read_text().strip())
        if signer.name != name:
            raise KeyRingError(
                f"{path} signs as {signer.name!r} but CUSTODY_ORIGIN is {name!r}; "
                "rotate the key (custody keys rotate) or fix the setting"
            )
        return signer

    def rotate(self, name: str) -> Signer:
        """Retire the current key (its vkey stays published) and start signing with a new one."""
        path = self.dir / CURRENT
        if path.exists():
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
            retired = self.dir / "retired"
            retired.mkdir(mode=0o700, exist_ok=True)
            os.replace(path, retired / f"{stamp}.key")
        self._install(generate_signer(name))
        return self.signer(name)

    def vkeys(self) -> list[str]:
        """Every verifier key ever published here, oldest first."""
        if not self.vkeys_dir.is_dir():
            return []
        files = sorted(self.vkeys_dir.glob("*.vkey"), key=lambda p: p.stat().st_mtime)
        return [p.read_text().strip() for p in files]

    def verifiers(self) -> list[Verifier]:
        return [Verifier.from_vkey(v) for v in self.vkeys()]

    def _install(self, pair: tuple[str, str]) -> None:
        """Make ``pair`` the current key, unless another process just made one (then theirs stands)."""
        skey, vkey = pair
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self.vkeys_dir.mkdir(exist_ok=True)
        tmp = self.dir / f".{CURRENT}.{uuid.uuid4().hex}.tmp"  # private to this process: servers start together
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(skey + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, self.dir / CURRENT)  # never replace a key another process just made
        except FileExistsError:
            return  # lost the race: our key was never used, so its vkey is not published
        finally:
            tmp.unlink()
        name_and_id = "+".join(vkey.split("+")[:2])
        (self.vkeys_dir / f"{name_and_id}.vkey").write_text(vkey + "\n")
