-- Restricted-access cases (RULES §三: records involving state secrets, trade secrets or personal
-- privacy).  A restricted case is read only by its handler and by principals granted access.  Every
-- change of level, grant and revocation is also an entry in the case log (access.*): these rows are
-- the current state the request path asks, the log is the permanent, provable history.
ALTER TABLE cases ADD COLUMN restriction text NOT NULL DEFAULT 'none'
    CHECK (restriction IN ('none', 'privacy', 'trade_secret', 'state_secret'));

CREATE TABLE case_grants (
    id              bigserial PRIMARY KEY,
    case_id         text NOT NULL REFERENCES cases (id),
    principal       text NOT NULL REFERENCES principals (name),
    granted_by      text NOT NULL,
    reason          text NOT NULL CHECK (length(btrim(reason)) > 0),
    granted_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    revoked_by      text,
    revoke_reason   text,
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL)),
    CHECK (revoked_at IS NULL OR length(btrim(revoke_reason)) > 0)
);
-- At most one active grant per case and principal; this index is also the request path's lookup.
CREATE UNIQUE INDEX case_grants_active ON case_grants (case_id, principal) WHERE revoked_at IS NULL;
