"""Subcommands that arrive with their capabilities (ingest, export, verify, scrub, demo)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add this module's subcommands to the ``custody`` parser."""
    _ = (sub, argparse)
