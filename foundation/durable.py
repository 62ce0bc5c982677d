"""Durable renames: a file is on disk before it has its name, and the name is on disk before anyone is told."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(tmp: Path, final: Path, *, sync_file: bool = True) -> None:
    """Rename ``tmp`` to ``final`` (fsyncing the file first unless the caller already did) and the directory."""
    if sync_file:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    os.replace(tmp, final)
    fsync_dir(final.parent)
