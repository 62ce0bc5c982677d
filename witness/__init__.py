"""The witness: a small server that a second authority runs to cosign Custody's case checkpoints.

It speaks C2SP tlog-witness (``POST /add-checkpoint``) and answers with C2SP tlog-cosignature lines;
it cosigns a checkpoint only if it is consistent with the latest one it cosigned for that log, and
it writes that fact durably (SQLite, ``synchronous=FULL``) before it answers, so no restart or crash
makes it cosign two inconsistent checkpoints of one case.  It holds its own Ed25519 key, its own small
state and nothing else of Custody's: it imports only ``integrity`` (the formats and the checks) and
``foundation`` (durable writes, logging).

``config`` (the witness's name, key and the logs it witnesses), ``state`` (what it cosigned, in
SQLite), ``server`` (the aiohttp application).
"""
