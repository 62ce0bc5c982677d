-- Case changes, told as they commit (storage.changes, issue 17 item 2).
--
-- A server keeps what it derived from a case's log between requests (latest checkpoint, cosignatures,
-- timestamps, access state) only while it hears every change.  Every insert into the tables that
-- material comes from notifies channel custody_case with each case id it touched, once per statement
-- (PostgreSQL folds identical notifications of one transaction into one, delivered at commit).
-- These tables take no UPDATE or DELETE (their append-only triggers), so inserts are every change.
CREATE FUNCTION custody_case_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('custody_case', c.case_id) FROM (SELECT DISTINCT case_id FROM changed) c;
    RETURN NULL;
END $$;

CREATE TRIGGER entries_changed AFTER INSERT ON entries
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION custody_case_changed();
CREATE TRIGGER checkpoints_changed AFTER INSERT ON checkpoints
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION custody_case_changed();
CREATE TRIGGER cosignatures_changed AFTER INSERT ON cosignatures
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION custody_case_changed();
CREATE TRIGGER timestamp_leaves_changed AFTER INSERT ON timestamp_leaves
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION custody_case_changed();

-- A token names a round, not a case: every case with a leaf in that round changed.
CREATE FUNCTION custody_round_stamped() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('custody_case', c.case_id)
       FROM (SELECT DISTINCT l.case_id FROM changed t JOIN timestamp_leaves l ON l.round_id = t.round_id) c;
    RETURN NULL;
END $$;

CREATE TRIGGER timestamp_tokens_changed AFTER INSERT ON timestamp_tokens
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION custody_round_stamped();
