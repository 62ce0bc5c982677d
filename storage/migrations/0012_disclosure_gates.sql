-- Disclosure that cannot leak (issue 13): the secrets gate, separation of duties, the major-decision
-- determination and the legal-review gate where the decision is made, re-created records, the
-- checkpoint as of publication.  Every row here is also an entry in the case log.

-- A withdrawn or revoked record leaves room for a new record of the same decision, linked to it.
ALTER TABLE disclosures DROP CONSTRAINT disclosures_decision_no_key;
CREATE UNIQUE INDEX disclosures_live_decision ON disclosures (decision_no)
    WHERE state NOT IN ('withdrawn', 'revoked');

ALTER TABLE disclosures
    ADD COLUMN supersedes        text REFERENCES disclosures (id),  -- the withdrawn/revoked record it replaces
    ADD COLUMN created_by_id     bigint,                 -- principals.id of the drafter
    ADD COLUMN approved_by       text,
    ADD COLUMN approved_by_id    bigint,
    ADD COLUMN published_by      text,
    ADD COLUMN published_by_id   bigint,
    -- a takedown or revocation of a major decision asked by one person, waiting for a second
    ADD COLUMN pending_end       jsonb,
    -- §二 作适当处理: what is withheld or rewritten for a trade-secret or privacy case, and why
    ADD COLUMN secrets_treatment jsonb,
    -- the case's signed checkpoint as of publication (and of each later change of the public text)
    ADD COLUMN public_size       bigint,
    ADD COLUMN public_root       bytea,
    ADD COLUMN public_checkpoint text,
    ADD COLUMN corrected_on      date,
    ADD COLUMN public_history    jsonb NOT NULL DEFAULT '[]',
    -- the seq of the passed review (or coordination) the public text last rested on
    ADD COLUMN review_used_seq   bigint;

ALTER TABLE disclosures DROP CONSTRAINT disclosures_review_state_check;
ALTER TABLE disclosures ADD CONSTRAINT disclosures_review_state_check
    CHECK (review_state IN ('none', 'pending', 'passed', 'failed', 'disputed'));

-- Reviews are of a decision (case + decision number), by a real principal.
ALTER TABLE reviews
    ALTER COLUMN disclosure_id DROP NOT NULL,
    ADD COLUMN case_id      text REFERENCES cases (id),
    ADD COLUMN decision_no  text,
    ADD COLUMN reviewer_id  bigint,
    ADD COLUMN decision     text;       -- a coordinator's decision: proceed / uphold
ALTER TABLE reviews DROP CONSTRAINT reviews_outcome_check;
ALTER TABLE reviews ADD CONSTRAINT reviews_outcome_check
    CHECK (outcome IN ('passed', 'failed', 'disputed', 'coordinated'));
UPDATE reviews r SET case_id = d.case_id, decision_no = d.decision_no FROM disclosures d WHERE d.id = r.disclosure_id;
CREATE INDEX reviews_decision ON reviews (case_id, decision_no, id);

-- §四(二): the handler's determination whether a decision is major, each criterion answered, beside
-- what the product proposed from the facts it saw.  The latest per decision counts.
CREATE TABLE determinations (
    id           bigserial PRIMARY KEY,
    case_id      text NOT NULL REFERENCES cases (id),
    decision_no  text NOT NULL CHECK (length(btrim(decision_no)) > 0),
    answers      jsonb NOT NULL,         -- criterion -> true/false
    facts        jsonb NOT NULL,         -- hearing, penalty types, fine, restriction, public interest
    proposed     text[] NOT NULL,        -- the criteria the product proposed
    major        boolean NOT NULL,
    reason       text NOT NULL DEFAULT '',
    by_actor     text NOT NULL,
    by_id        bigint NOT NULL,
    seq          bigint NOT NULL,
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX determinations_decision ON determinations (case_id, decision_no, id DESC);

-- The bureau head (负责人) who decides a dispute between reviewer and handling unit (§四(四)).
ALTER TABLE principals DROP CONSTRAINT principals_role_check;
ALTER TABLE principals ADD CONSTRAINT principals_role_check
    CHECK (role IN ('station', 'investigator', 'disclosure', 'reviewer', 'coordinator', 'admin'));
