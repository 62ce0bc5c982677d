-- Web sign-in sessions, one row per sign-in.  The browser's signed cookie carries a random session id;
-- only its hash is kept here (like tokens), so a reader of this table holds no usable session.  Every
-- request checks its row (through a few seconds' cache), so signing out, an admin's "sign out", or
-- revoking or reissuing the principal's token ends the session everywhere, not when the cookie expires.
-- Depends only on 0004 (principals).
CREATE TABLE web_sessions (
    id            bytea PRIMARY KEY CHECK (length(id) = 32),  -- BLAKE3 of the cookie's session id
    principal     text NOT NULL REFERENCES principals (name),
    token_hash    bytea NOT NULL,             -- the sign-in token's: a reissued token no longer matches
    created_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,       -- written at most once a minute, not per request
    expires_at    timestamptz NOT NULL,       -- absolute: sign-in + CUSTODY_SESSION_HOURS
    revoked_at    timestamptz,
    revoked_by    text,
    user_agent    text NOT NULL CHECK (length(user_agent) <= 200),
    remote_addr   text NOT NULL CHECK (length(remote_addr) <= 64),
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL)),
    CHECK (created_at <= last_seen_at AND created_at < expires_at)
);
-- "Sign out everywhere" and the admin list; the purge of long-dead rows at sign-in.
CREATE INDEX web_sessions_principal ON web_sessions (principal) WHERE revoked_at IS NULL;
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
