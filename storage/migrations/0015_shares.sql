-- Shares with prosecutors and courts (issue 18): selected items or a whole case, to a named
-- recipient, through a link that carries a token.  Only the token's hash is kept (like principals'
-- tokens).  Every share, revocation, view and download is also an entry in the case log (share.*):
-- these rows are the state the request path asks, the log is the permanent, provable history.
CREATE TABLE shares (
    id              bigserial PRIMARY KEY,
    case_id         text NOT NULL REFERENCES cases (id),
    token_hash      bytea NOT NULL UNIQUE,
    items           text[],                       -- BLAKE3 hashes; NULL: the whole case
    organisation    text NOT NULL CHECK (length(btrim(organisation)) > 0),
    person          text NOT NULL CHECK (length(btrim(person)) > 0),
    purpose         text NOT NULL CHECK (length(btrim(purpose)) > 0),
    expires_at      timestamptz NOT NULL,
    max_downloads   integer CHECK (max_downloads IS NULL OR max_downloads > 0),
    downloads       integer NOT NULL DEFAULT 0 CHECK (downloads >= 0),
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    revoked_by      text,
    revoke_reason   text,
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL)),
    CHECK (max_downloads IS NULL OR downloads <= max_downloads)
);
CREATE INDEX shares_case ON shares (case_id);
