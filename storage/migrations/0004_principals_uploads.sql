-- Who may call the API.  Only a hash of each bearer token is kept (tokens are 256-bit random, so a
-- fast hash suffices); a revoked token stays on record so its past actions remain attributable.
CREATE TABLE principals (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
    role        text NOT NULL CHECK (role IN ('station', 'investigator', 'disclosure', 'reviewer', 'admin')),
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    revoked_at  timestamptz
);

-- Resumable uploads from stations.  The bytes stream straight into the object store through the
-- process that owns the session; `generation` changes when a session is restarted elsewhere so a
-- stale owner stops writing.
CREATE TABLE uploads (
    id              uuid PRIMARY KEY,
    station         text NOT NULL,
    case_id         text NOT NULL REFERENCES cases (id),
    kind            text NOT NULL CHECK (kind IN ('original', 'proxy', 'record')),
    blake3          text NOT NULL CHECK (blake3 ~ '^[0-9a-f]{64}$'),
    size            bigint NOT NULL CHECK (size >= 0),
    received        bigint NOT NULL DEFAULT 0,
    fields          jsonb NOT NULL DEFAULT '{}',
    state           text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'committed', 'failed', 'aborted')),
    generation      integer NOT NULL DEFAULT 0,
    owner           text,
    seq             bigint,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX uploads_open ON uploads (station, state) WHERE state = 'open';

-- What a case holds, for listing and search; derived from the entries when they are appended (the
-- entries remain the record: this table can be rebuilt from them).
CREATE TABLE evidence (
    case_id         text NOT NULL REFERENCES cases (id),
    seq             bigint NOT NULL,
    kind            text NOT NULL,
    blake3          text NOT NULL,
    size            bigint NOT NULL,
    media_type      text,
    file_name       text,
    officer         text,
    camera          text,
    station         text,
    stage           text,
    recorded_at     timestamptz,
    original_blake3 text,
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX evidence_blake3 ON evidence (blake3);
CREATE INDEX evidence_officer ON evidence (officer, recorded_at);
CREATE INDEX evidence_station ON evidence (station, recorded_at);
