-- People (issue 18, item 6): a user's display name (any script: 王小明), badge number (执法证号) and
-- unit, beside the login name, which stays ASCII and never changes (migration 0010's trigger).  The
-- display fields may change; each change is an entry (principal.profile_set) in the governance log.
ALTER TABLE principals
    ADD COLUMN display_name text NOT NULL DEFAULT '' CHECK (char_length(display_name) <= 64),
    ADD COLUMN badge_no     text NOT NULL DEFAULT '' CHECK (badge_no ~ '^[A-Za-z0-9-]{0,32}$'),
    ADD COLUMN unit         text NOT NULL DEFAULT '' CHECK (char_length(unit) <= 100);

-- The audit view (issue 18, item 5) reads accesses across cases by kind and time, newest first.
CREATE INDEX entries_kind_at ON entries (kind, at DESC);
