"""A station's enrolment: the server it uploads to, its token, and the vkey it pinned at enrolment.

Stored in ``$CUSTODY_HOME/agent/station.json`` with mode 0600.  The vkey is pinned once, at
enrolment: every receipt afterwards must verify under it (or under a key the operator adds), so a
server that starts signing with an unknown key cannot get a camera wiped.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


class NotEnrolled(Exception):
    code = "not_enrolled"


@dataclass(frozen=True)
class Enrolment:
    server: str
    token: str
    vkeys: list[str]
    station: str = ""

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(asdict(self), fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Enrolment:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise NotEnrolled(f"this station is not enrolled ({path} missing): run `custody station enrol`") from None
        return cls(**data)


def read_token_file(path: Path) -> str:
    token = path.read_text().strip()
    if not token:
        raise NotEnrolled(f"{path} is empty")
    return token
