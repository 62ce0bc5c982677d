-- An object disposed of under retention and later stored again is new evidence, not the old
-- entry come back: ``lives`` counts those returns, and the log's idempotency keys for the
-- object's entries (ingest and disposal) carry it, so each life gets entries of its own.
ALTER TABLE objects ADD COLUMN lives integer NOT NULL DEFAULT 0;
