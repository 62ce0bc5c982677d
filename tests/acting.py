"""Principals for tests that call the services directly (the front ends look them up in the database)."""

from __future__ import annotations

from storage.principals import Principal


def principal(actor: str, id: int = 0) -> Principal:
    """``role:name`` as the acting principal, e.g. ``principal("investigator:ann")``."""
    role, _, name = actor.partition(":")
    return Principal(id=id, name=name, role=role)
