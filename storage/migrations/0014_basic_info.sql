-- Law-change deadlines that start at publication, and the bureau's basic enforcement information
-- (issue 13 items 5 and 7).  Every row here is also an entry in a log.

-- A record not yet published when a law change touches it gets its deadline when it is published:
-- until then ``due`` is NULL.
ALTER TABLE law_change_updates ALTER COLUMN due DROP NOT NULL;

-- §二 行政执法基本信息: the bureau's enforcing bodies, powers and their legal basis, procedures,
-- remedies and the random-inspection list, as managed pages of the public portal.  Each step is an
-- entry ``basic_info.*`` in the governance log.
CREATE TABLE basic_info_pages (
    id              text PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('bodies', 'powers', 'procedures', 'remedies', 'random_inspection')),
    title           text NOT NULL CHECK (length(title) > 0),
    body            text NOT NULL CHECK (length(body) > 0),
    category        text NOT NULL DEFAULT '',
    state           text NOT NULL DEFAULT 'draft'
                    CHECK (state IN ('draft', 'approved', 'published', 'withdrawn')),
    public_body     text,                       -- the text on the portal (set at publication and update)
    published_on    date,
    updated_on      date,
    public_history  jsonb NOT NULL DEFAULT '[]',
    created_by      text NOT NULL,
    created_by_id   bigint,
    approved_by     text,
    approved_by_id  bigint,
    published_by    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- The pages a law change touches (by category, or every page for '*'), and when each was updated.
CREATE TABLE basic_info_updates (
    law_change_id   bigint NOT NULL REFERENCES law_changes (id),
    page_id         text NOT NULL REFERENCES basic_info_pages (id),
    due             date,                       -- NULL: not yet published, due from publication
    updated_at      timestamptz,
    PRIMARY KEY (law_change_id, page_id)
);
