-- The per-case append-only log (integrity contract v1): one RFC 6962 tree per case.
-- cases holds the tree head (size, root, the frontier of perfect-subtree roots, the last leaf hash)
-- and its row lock serialises appends; tree_nodes keeps every complete perfect subtree so that any
-- inclusion or consistency proof is answered from O(log n) rows.
CREATE TABLE cases (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    title       text NOT NULL DEFAULT '',
    meta        jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    size        bigint NOT NULL DEFAULT 0 CHECK (size >= 0),
    root        bytea NOT NULL,
    last_leaf   bytea NOT NULL,
    frontier    bytea[] NOT NULL DEFAULT '{}'
);

CREATE TABLE entries (
    case_id     text NOT NULL REFERENCES cases (id),
    seq         bigint NOT NULL CHECK (seq >= 0),
    kind        text NOT NULL,
    actor       text NOT NULL,
    at          timestamptz NOT NULL,
    body        bytea NOT NULL,            -- exactly the canonical JSON bytes that were hashed
    leaf_hash   bytea NOT NULL CHECK (length(leaf_hash) = 32),
    blake3      text,                      -- the object an entry is about, if any
    dedupe      text,                      -- idempotency key: at most one entry per (case, dedupe)
    PRIMARY KEY (case_id, seq)
);
CREATE UNIQUE INDEX entries_dedupe ON entries (case_id, dedupe) WHERE dedupe IS NOT NULL;
CREATE INDEX entries_blake3 ON entries (blake3) WHERE blake3 IS NOT NULL;
CREATE INDEX entries_kind ON entries (case_id, kind);

CREATE TABLE tree_nodes (
    case_id     text NOT NULL REFERENCES cases (id),
    level       smallint NOT NULL CHECK (level >= 0 AND level < 64),
    idx         bigint NOT NULL CHECK (idx >= 0),
    hash        bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (case_id, level, idx)
);

-- Every checkpoint ever signed is kept, so consistency can be proven between any two handed out.
CREATE TABLE checkpoints (
    case_id     text NOT NULL REFERENCES cases (id),
    size        bigint NOT NULL,
    root        bytea NOT NULL,
    note        text NOT NULL,
    key_id      text NOT NULL,
    signed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, size)
);

-- Entries and tree are append-only: refuse UPDATE and DELETE below the application, too.
CREATE FUNCTION custody_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'custody: % on % is not allowed (append-only log)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION custody_append_only();
CREATE TRIGGER tree_nodes_append_only BEFORE UPDATE OR DELETE ON tree_nodes
    FOR EACH ROW EXECUTE FUNCTION custody_append_only();
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION custody_append_only();
