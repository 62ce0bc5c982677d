-- Objects known to the store, by content address.  Retain-until and hold are kept here too: the
-- database is where retention decisions are made, the store is where they are enforced.
CREATE TABLE objects (
    blake3        text PRIMARY KEY CHECK (blake3 ~ '^[0-9a-f]{64}$'),
    sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size          bigint NOT NULL CHECK (size >= 0),
    store         text NOT NULL,
    version_id    text,
    retain_until  timestamptz,
    legal_hold    boolean NOT NULL DEFAULT false,
    stored_at     timestamptz NOT NULL DEFAULT now(),
    disposed_at   timestamptz
);
