-- Witnesses and trusted timestamps (integrity contract 1.1).
-- cosignatures: every witness cosignature line received for a case checkpoint, verified before it is
-- stored; served with the checkpoint and written into bundles.  A witness's latest row per case is the
-- "old size" of the next add-checkpoint request to it.
CREATE TABLE cosignatures (
    case_id      text NOT NULL,
    size         bigint NOT NULL,
    witness      text NOT NULL,              -- the witness's key name
    key_id       text NOT NULL CHECK (key_id ~ '^[0-9a-f]{8}$'),
    line         text NOT NULL,              -- the signature line exactly as the witness sent it
    cosigned_at  timestamptz NOT NULL,       -- the time the cosignature itself states
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, size, witness, key_id),
    FOREIGN KEY (case_id, size) REFERENCES checkpoints (case_id, size)
);
CREATE INDEX cosignatures_by_witness ON cosignatures (witness, key_id, case_id, size DESC);

-- A witness that refused one of our checkpoints as inconsistent with what it cosigned before: an alarm.
CREATE TABLE witness_refusals (
    id           bigserial PRIMARY KEY,
    case_id      text NOT NULL REFERENCES cases (id),
    size         bigint NOT NULL,
    witness      text NOT NULL,
    status       integer NOT NULL,
    reason       text NOT NULL,
    at           timestamptz NOT NULL DEFAULT now()
);

-- Timestamp rounds: one RFC 6962 tree whose leaves are the signed notes of the case checkpoints that
-- changed since the round before (leaf i = the checkpoint of timestamp_leaves row idx i), and the RFC
-- 3161 tokens over its root from the configured time-stamping authorities.
CREATE TABLE timestamp_rounds (
    id           bigserial PRIMARY KEY,
    root         bytea NOT NULL CHECK (length(root) = 32),
    leaves       integer NOT NULL CHECK (leaves > 0),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE timestamp_leaves (
    round_id     bigint NOT NULL REFERENCES timestamp_rounds (id),
    idx          integer NOT NULL CHECK (idx >= 0),
    case_id      text NOT NULL,
    size         bigint NOT NULL,
    PRIMARY KEY (round_id, idx),
    FOREIGN KEY (case_id, size) REFERENCES checkpoints (case_id, size)
);
CREATE INDEX timestamp_leaves_case ON timestamp_leaves (case_id, size);
CREATE TABLE timestamp_tokens (
    round_id     bigint NOT NULL REFERENCES timestamp_rounds (id),
    tsa          text NOT NULL,              -- the URL that answered
    token        bytea NOT NULL,             -- DER TimeStampToken (CMS ContentInfo)
    gen_time     timestamptz NOT NULL,       -- what the token says
    PRIMARY KEY (round_id, tsa)
);

CREATE TRIGGER cosignatures_append_only BEFORE UPDATE OR DELETE ON cosignatures
    FOR EACH ROW EXECUTE FUNCTION custody_append_only();
CREATE TRIGGER timestamp_rounds_append_only BEFORE UPDATE OR DELETE ON timestamp_rounds
    FOR EACH ROW EXECUTE FUNCTION custody_append_only();
CREATE TRIGGER timestamp_leaves_append_only BEFORE UPDATE OR DELETE ON timestamp_leaves
    FOR EACH ROW EXECUTE FUNCTION custody_append_only();
CREATE TRIGGER timestamp_tokens_append_only BEFORE UPDATE OR DELETE ON timestamp_tokens
    FOR EACH ROW EXECUTE FUNCTION custody_append_only();
