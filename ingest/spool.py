"""The station's journal: one row per version of a camera file, its state persisted before every
irreversible step.

    discovered -> pulling(offset) -> pulled(hash, size) -> uploaded(receipt) -> removed (from camera)
               -> proxied | no_proxy -> done
    uploaded -> kept: the camera's file is no longer the receipted bytes, so it stays on the camera
               (and is pulled again as a version of its own); then on to proxied | no_proxy -> done
    discovered | pulling -> superseded: the file changed or vanished on the camera before it was
               pulled whole; its partial copy is dropped

SQLite in WAL mode with ``synchronous=FULL``: a state is durable before the step it allows.  A file
is deleted from the camera only in ``uploaded`` (a verified receipt is on disk here) and only if it
is still exactly the receipted bytes; the spool copy is deleted only in ``done``.  After a restart
every file resumes from its last durable state; files are recognised again by camera, name, size,
recording time and the source's modification stamp (PTP object handles are not stable across
sessions).  One agent at a time: the journal holds an exclusive lock (``<journal>.lock``) while open.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foundation.errors import Conflict

STATES = ("discovered", "pulling", "pulled", "uploaded", "removed", "kept", "proxied", "no_proxy", "done",
          "superseded")
#: States that need the camera docked (the bytes are not, or not yet all, in the spool).
CAMERA_STATES = ("discovered", "pulling")
#: States that are finished for good.
FINAL_STATES = ("done", "superseded")


class AgentBusy(Conflict):
    """Another agent has this journal open: two agents on one spool would sweep each other's files."""

    code = "agent_busy"

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
    modified      TEXT NOT NULL DEFAULT '',
    proof         TEXT,
    camera_kept   INTEGER NOT NULL DEFAULT 0,
    wait_until    REAL
);
CREATE INDEX IF NOT EXISTS files_state ON files (state);
CREATE INDEX IF NOT EXISTS files_identity ON files (camera, name, size, recorded_at, modified);
"""

#: Columns added since the first journals, with their definitions (added in place on open).
_ADDED = {"modified": "TEXT NOT NULL DEFAULT ''", "proof": "TEXT", "camera_kept": "INTEGER NOT NULL DEFAULT 0",
          "wait_until": "REAL"}


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
    #: The source's modification stamp when the file was listed ('' if the source has none).
    modified: str = ""
    #: The whole receipt as the server gave it (entry, inclusion proof, signed checkpoint).
    proof: dict[str, Any] | None = None
    #: The camera's file was not the receipted bytes when it was to be wiped: it was left there.
    camera_kept: int = 0
    #: Epoch seconds: a proxy waiting for the station's resources is not retried before; a flagged
    #: file's spool copy is kept until then (for a retry).
    wait_until: float | None = None


class Journal:
    """Thread-safe (one lock) access to the journal; calls are short and run in worker threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._held = _hold(path.with_name(path.name + ".lock"))
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # a state must survive a power cut once written
            self._migrate()
        except BaseException:
            os.close(self._held)
            raise
        self._lock = threading.Lock()

    def _migrate(self) -> None:
        """Create the table, or bring an older journal's up to date (new columns; the old unique key on
        camera, name, size and recording time goes: a changed file is a new version under the same key)."""
        old = self._db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'files'").fetchone()
        if old is not None and "UNIQUE" in old[0]:
            columns = [c[1] for c in self._db.execute("PRAGMA table_info(files)")]
            self._db.executescript(f"""
                BEGIN IMMEDIATE;
                ALTER TABLE files RENAME TO files_old;
                {_SCHEMA}
                INSERT INTO files ({", ".join(columns)}) SELECT {", ".join(columns)} FROM files_old;
                DROP TABLE files_old;
                COMMIT;""")
        self._db.executescript(_SCHEMA)
        present = {c[1] for c in self._db.execute("PRAGMA table_info(files)")}
        for column, definition in _ADDED.items():
            if column not in present:
                self._db.execute(f"ALTER TABLE files ADD COLUMN {column} {definition}")

    def close(self) -> None:
        with self._lock:
            self._db.close()
            os.close(self._held)

    def _row(self, row: tuple[Any, ...] | None) -> FileRow | None:
        if row is None:
            return None
        cols = [c[0] for c in self._db.execute("SELECT * FROM files LIMIT 0").description]
        data = dict(zip(cols, row, strict=True))
        data.pop("updated_at")
        data["meta"] = json.loads(data["meta"])
        for key in ("receipt", "proof"):
            data[key] = json.loads(data[key]) if data[key] else None
        return FileRow(**data)

    def discover(self, camera: str, name: str, size: int, recorded_at: str | None, meta: dict[str, Any],
                 modified: str | None = None) -> FileRow:
        """The journal row for this version of a camera file, created as ``discovered`` the first time.

        A version is its camera, name, size, recording time and modification stamp.  Rows of a version
        that was superseded, or whose camera file turned out to differ from the receipted bytes, do not
        answer for it: the file on the camera now is pulled as a new row.
        """
        key = (camera, name, size, recorded_at or "", modified or "")
        with self._lock:
            row = self._db.execute(
                """SELECT * FROM files WHERE camera = ? AND name = ? AND size = ? AND recorded_at = ? AND modified = ?
                   AND state != 'superseded' AND camera_kept = 0 ORDER BY id DESC LIMIT 1""", key).fetchone()
            if row is None:
                cursor = self._db.execute(
                    """INSERT INTO files (camera, name, size, recorded_at, modified, state, meta)
                       VALUES (?, ?, ?, ?, ?, 'discovered', ?)""", (*key, json.dumps(meta)))
                row = self._db.execute("SELECT * FROM files WHERE id = ?", (cursor.lastrowid,)).fetchone()
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
        for key in ("meta", "receipt", "proof"):
            if key in fields and fields[key] is not None:
                fields[key] = json.dumps(fields[key], ensure_ascii=False)
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._lock:
            self._db.execute(
                f"UPDATE files SET {sets}, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
                (*fields.values(), file_id),
            )
        return self.get(file_id)

    def pending(self, camera: str | None = None) -> list[FileRow]:
        """Files not yet finished (of one camera, or all), oldest first: what a restarted agent must finish."""
        with self._lock:
            rows = self._db.execute(
                """SELECT * FROM files WHERE state NOT IN ('done', 'superseded') AND (? IS NULL OR camera = ?)
                   ORDER BY id""", (camera, camera)).fetchall()
            return [r for r in (self._row(x) for x in rows) if r is not None]

    def states(self, ids: list[int]) -> dict[int, str]:
        """The state of each row named (rows that do not exist are left out)."""
        with self._lock:
            found = self._db.execute(
                f"SELECT id, state FROM files WHERE id IN ({', '.join('?' * len(ids))})", ids).fetchall() if ids else []
        return dict(found)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._db.execute("SELECT state, count(*) FROM files GROUP BY state").fetchall())


def _hold(lock_path: Path) -> int:
    """An exclusive lock on ``lock_path`` for as long as the descriptor it returns is open."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AgentBusy(f"another agent has {lock_path.with_suffix('')} open; one agent per spool") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise
    return fd
