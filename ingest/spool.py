"""The station's journal: one row per camera file, its state persisted before every irreversible step.

    discovered -> pulling(offset) -> pulled(hash, size) -> uploaded(receipt) -> removed (from camera)
               -> proxied | no_proxy -> done

SQLite in WAL mode with ``synchronous=FULL``: a state is durable before the step it allows.  A file
is deleted from the camera only in ``uploaded`` (a verified receipt is on disk here), and the spool
copy is deleted only in ``done``.  After a restart every file resumes from its last durable state;
files are recognised again by camera, name, size and recording time (PTP object handles are not
stable across sessions).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATES = ("discovered", "pulling", "pulled", "uploaded", "removed", "proxied", "no_proxy", "done")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id            INTEGER PRIMARY KEY,
    camera        TEXT NOT NULL,
    name          TEXT NOT NULL,
    size          INTEGER NOT NULL,
    recorded_at   TEXT NOT NULL DEFAULT '',
    state         TEXT NOT NULL,
    pulled        INTEGER NOT NULL DEFAULT 0,
    blake3        TEXT,
    sha256        TEXT,
    meta          TEXT NOT NULL DEFAULT '{}',
    receipt       TEXT,
    case_id       TEXT,
    seq           INTEGER,
    proxy_blake3  TEXT,
    proxy_error   TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (camera, name, size, recorded_at)
);
CREATE INDEX IF NOT EXISTS files_state ON files (state);
"""


@dataclass(frozen=True)
class FileRow:
    id: int
    camera: str
    name: str
    size: int
    recorded_at: str
    state: str
    pulled: int
    blake3: str | None
    sha256: str | None
    meta: dict[str, Any]
    receipt: dict[str, Any] | None
    case_id: str | None
    seq: int | None
    proxy_blake3: str | None
    proxy_error: str | None
    attempts: int
    last_error: str | None


class Journal:
    """Thread-safe (one lock) access to the journal; calls are short and run in worker threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a state must survive a power cut once written
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _row(self, row: tuple[Any, ...] | None) -> FileRow | None:
        if row is None:
            return None
        cols = [c[0] for c in self._db.execute("SELECT * FROM files LIMIT 0").description]
        data = dict(zip(cols, row, strict=True))
        data.pop("updated_at")
        data["meta"] = json.loads(data["meta"])
        data["receipt"] = json.loads(data["receipt"]) if data["receipt"] else None
        return FileRow(**data)

    def discover(self, camera: str, name: str, size: int, recorded_at: str | None, meta: dict[str, Any]) -> FileRow:
        """The journal row for a camera file, created as ``discovered`` the first time it is seen."""
        with self._lock:
            self._db.execute(
                """INSERT INTO files (camera, name, size, recorded_at, state, meta) VALUES (?, ?, ?, ?, 'discovered', ?)
                   ON CONFLICT (camera, name, size, recorded_at) DO NOTHING""",
                (camera, name, size, recorded_at or "", json.dumps(meta)),
            )
            row = self._db.execute(
                "SELECT * FROM files WHERE camera = ? AND name = ? AND size = ? AND recorded_at = ?",
                (camera, name, size, recorded_at or ""),
            ).fetchone()
            found = self._row(row)
        assert found is not None
        return found

    def get(self, file_id: int) -> FileRow:
        with self._lock:
            found = self._row(self._db.execute("SELECT * FROM files WHERE id = ?", (file_id,)).fetchone())
        if found is None:
            raise KeyError(file_id)
        return found

    def update(self, file_id: int, **fields: Any) -> FileRow:
        if "state" in fields and fields["state"] not in STATES:
            raise ValueError(f"unknown state {fields['state']!r}")
        for key in ("meta", "receipt"):
            if key in fields and fields[key] is not None:
                fields[key] = json.dumps(fields[key], ensure_ascii=False)
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._lock:
            self._db.execute(
                f"UPDATE files SET {sets}, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
                (*fields.values(), file_id),
            )
        return self.get(file_id)

    def pending(self) -> list[FileRow]:
        """Files not yet done, oldest first: what a restarted agent must finish."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM files WHERE state != 'done' ORDER BY id").fetchall()
            return [r for r in (self._row(x) for x in rows) if r is not None]

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._db.execute("SELECT state, count(*) FROM files GROUP BY state").fetchall())
