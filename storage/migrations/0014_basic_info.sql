-- Law-change deadlines that start at publication, and the bureau's basic enforcement information
-- (issue 13 items 5 and 7).  Every row here is also an entry in a log.

-- A record not yet published when a law change touches it gets its deadline when it is published:
-- until then ``due`` is NULL.
ALTER TABLE law_change_updates ALTER COLUMN due DROP NOT NULL;
