"""Verification by hash: is this object evidence, and the receipts that prove it (integrity contract v1).

``matches`` reads every entry about an object with what proves it (``storage.verification``: one
statement when the case's state is kept) and computes each inclusion proof against the case's latest
signed checkpoint; ``answer`` is the JSON the ``/verify`` routes and a share's page send, unchanged in
every byte since the answer took six or seven queries: outside verifiers read it.

The entries and failed reads are read with every request.  A case's state (latest checkpoint,
cosignatures, timestamps, upper tree nodes) is kept only while the server hears the case's changes
(``storage.changes``), and dropped with each; the proof for (case, index, size) is kept by ``CaseLog``.
Every proof is checked against its checkpoint's root before it is sent; one built from kept material
that does not lead there is built again from a state read afresh.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from integrity import merkle
from integrity.cosignature import add_cosignatures
from integrity.errors import IntegrityError
from services.evidence import CHECK_FAILED
from services.locker import Locker, Receipt
from storage.verification import ObjectMatch, object_matches

#: The entry kinds that name an object as evidence: verification by hash looks for these (a released
#: render is one: whoever received it from the portal or a share checks it like any evidence).
OBJECT_KINDS = ("evidence.ingested", "evidence.derived", "record.added", "evidence.redacted")

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Match:
    """One entry about the object: its receipt and what else the answer says about it."""

    kind: str
    receipt: Receipt
    #: The receipt's checkpoint with the witnesses' cosignature lines (C2SP tlog-cosignature).
    cosigned_checkpoint: bytes
    found: ObjectMatch

    @property
    def case_id(self) -> str:
        return self.receipt.case_id


async def matches(locker: Locker, blake3_hex: str, case_id: str | None) -> list[Match]:
    """Every entry of ``OBJECT_KINDS`` about ``blake3_hex`` (in ``case_id``, or in any case), by case and seq.

    Need to know is the caller's: in a named case, ask before; across cases, keep only the readable ones.
    """
    found = await _matches(locker, blake3_hex, case_id, use_cache=True)
    if found is None:
        found = await _matches(locker, blake3_hex, case_id, use_cache=False)
    assert found is not None
    return found


async def _matches(locker: Locker, blake3_hex: str, case_id: str | None, *, use_cache: bool) -> list[Match] | None:
    """The matches, or None if a proof built with kept material does not lead to its checkpoint's root."""
    found = await object_matches(locker.pool, blake3_hex, case_id, OBJECT_KINDS, CHECK_FAILED,
                                 locker.witnesses.idents, locker.witnesses.quorum, use_cache=use_cache)
    out = []
    for m in found:
        proof = locker.log.inclusion_proof_from(m.case_id, m.seq, m.tree_size, m.node, fresh=not use_cache)
        try:
            merkle.verify_inclusion(merkle.leaf_hash(m.body), m.seq, m.tree_size, proof, m.root)
        except IntegrityError as exc:
            if use_cache:
                logger.error("case %s: the proof of entry %d from kept tree nodes does not verify (%s); "
                             "asking the database again", m.case_id, m.seq, exc)
                return None
            # From the database alone: the answer is what the log holds; a verifier will see the mismatch.
            logger.error("case %s: the proof of entry %d in size %d does not lead to the signed root: %s",
                         m.case_id, m.seq, m.tree_size, exc, extra={"event": "integrity_alarm"})
        receipt = Receipt(m.case_id, m.seq, m.body, m.tree_size, proof, m.checkpoint)
        out.append(Match(m.kind, receipt, add_cosignatures(m.checkpoint, m.cosignatures), m))
    return out


def answer(found: Iterable[Match]) -> dict[str, object]:
    """``found`` and ``matches``: each receipt with its cosigned checkpoint, timestamp and read checks."""
    out = []
    for m in found:
        match: dict[str, object] = {"kind": m.kind, **m.receipt.as_json()}
        match["checkpoint"] = m.cosigned_checkpoint.decode()
        match["witnessed_size"] = m.found.witnessed_size
        stamp = m.found.stamp
        match["timestamp"] = None if stamp is None else {"time": stamp.gen_time.isoformat(), "tsa": stamp.tsa,
                                                         "checkpoint_size": stamp.size}
        # A read that found the stored bytes changed is in the case log: say so beside the proof.
        match["stored_bytes_match"] = m.found.failed_at is None
        if m.found.failed_at is not None:
            match["stored_bytes_failed_at"] = m.found.failed_at
        out.append(match)
    return {"found": bool(out), "matches": out}
