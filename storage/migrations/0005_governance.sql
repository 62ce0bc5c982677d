-- Retention, legal holds, disclosure (公示) records, legal review (法制审核) and law changes.
-- Every change to these rows is also an entry in a case log (or the governance log): the rows are
-- the current state for queries, the log is the permanent, provable history.

CREATE TABLE retention_classes (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    years       integer NOT NULL DEFAULT 0 CHECK (years >= 0),
    months      integer NOT NULL DEFAULT 0 CHECK (months >= 0),
    days        integer NOT NULL DEFAULT 0 CHECK (days >= 0),
    trigger     text NOT NULL CHECK (trigger IN ('recorded', 'case_closed', 'decision')),
    description text NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL
);

-- The case handler (承办人) is who may not review the case's decisions; closure starts some clocks.
ALTER TABLE cases
    ADD COLUMN handler          text,
    ADD COLUMN closed_at        timestamptz,
    ADD COLUMN retention_class  text REFERENCES retention_classes (name);

ALTER TABLE evidence ADD COLUMN retention_class text REFERENCES retention_classes (name);

-- Set before the delete is attempted, so a crash between delete and log entry is finished on the next run.
ALTER TABLE objects ADD COLUMN disposing_since timestamptz;
-- True while some clock that applies has not started (case open, no decision yet): never due then.
ALTER TABLE objects ADD COLUMN retention_open boolean NOT NULL DEFAULT true;

CREATE TABLE holds (
    id          bigserial PRIMARY KEY,
    case_id     text NOT NULL REFERENCES cases (id),
    blake3      text CHECK (blake3 ~ '^[0-9a-f]{64}$'),  -- NULL: the whole case
    reason      text NOT NULL CHECK (length(reason) > 0),
    placed_by   text NOT NULL,
    placed_at   timestamptz NOT NULL DEFAULT now(),
    lifted_by   text,
    lifted_at   timestamptz,
    lift_reason text
);
CREATE INDEX holds_active ON holds (case_id) WHERE lifted_at IS NULL;

CREATE TABLE disclosures (
    id              text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    case_id         text NOT NULL REFERENCES cases (id),
    decision_no     text NOT NULL UNIQUE,
    party_type      text NOT NULL CHECK (party_type IN ('natural', 'legal', 'other')),
    category        text NOT NULL DEFAULT '',
    decision_date   date NOT NULL,
    record          jsonb NOT NULL,          -- the raw fields (personal data: never on a public route)
    public_text     text,                    -- what the portal shows: masked, as approved at publication
    public_fields   jsonb,
    state           text NOT NULL DEFAULT 'draft'
                    CHECK (state IN ('draft', 'approved', 'published', 'taken_down', 'revoked', 'withdrawn')),
    major           text[] NOT NULL DEFAULT '{}',  -- §四(二) criteria; non-empty means review required
    review_state    text NOT NULL DEFAULT 'none'
                    CHECK (review_state IN ('none', 'pending', 'passed', 'failed', 'disputed')),
    published_on    date,
    takedown_due    date,
    ended_on        date,                    -- taken down / revoked
    end_reason      text,
    notice          text,                    -- the published explanation of a takedown
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX disclosures_case ON disclosures (case_id);
CREATE INDEX disclosures_due ON disclosures (takedown_due) WHERE state = 'published';

CREATE TABLE reviews (
    id              bigserial PRIMARY KEY,
    disclosure_id   text NOT NULL REFERENCES disclosures (id),
    reviewer        text NOT NULL,
    outcome         text NOT NULL CHECK (outcome IN ('passed', 'failed', 'disputed')),
    checklist       jsonb NOT NULL DEFAULT '{}',
    opinion         text NOT NULL DEFAULT '',
    record_blake3   text,                    -- the opinion, stored as a text record of the case (§三)
    seq             bigint NOT NULL,         -- its entry in the case log
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reviews_disclosure ON reviews (disclosure_id, id);

CREATE TABLE law_changes (
    id          bigserial PRIMARY KEY,
    title       text NOT NULL CHECK (length(title) > 0),
    effective   date NOT NULL,
    categories  text[] NOT NULL,
    description text NOT NULL DEFAULT '',
    update_due  date NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- Each published record a change touches, and when (if) it was updated for it.
CREATE TABLE law_change_updates (
    law_change_id   bigint NOT NULL REFERENCES law_changes (id),
    disclosure_id   text NOT NULL REFERENCES disclosures (id),
    due             date NOT NULL,
    updated_at      timestamptz,
    PRIMARY KEY (law_change_id, disclosure_id)
);
CREATE INDEX law_change_updates_open ON law_change_updates (due) WHERE updated_at IS NULL;

-- The bureau's defaults; admins change them (each change is an entry in the governance log).
INSERT INTO retention_classes (name, years, trigger, description, updated_by) VALUES
    ('standard', 2, 'recorded', 'Recordings not tied to a decision: 2 years from recording', 'migration'),
    ('case', 10, 'case_closed', 'Evidence of a closed case: 10 years from closure', 'migration'),
    ('decision', 5, 'decision', 'Evidence behind a decision: 5 years from the decision date', 'migration');

-- Disposition looks only at live, closed-retention objects with a date; this index is the due list.
CREATE INDEX objects_due ON objects (retain_until) WHERE disposed_at IS NULL AND NOT retention_open;
