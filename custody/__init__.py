"""Custody: evidence locker for administrative law enforcement (CLI, settings, logging)."""

__version__ = "0.1.0"
