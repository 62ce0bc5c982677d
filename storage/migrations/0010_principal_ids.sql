-- Principals are referenced by their stable id, never by a display string (issue 14, item 2).
-- A case's handler (承办人) is the principal cases.handler_id names; cases.handler keeps the actor
-- string the log recorded.  A handler row that names no principal exactly (role and name, e.g. a
-- case opened as "cli:root") gets no handler id: no user is its handler, whatever name is created later.
ALTER TABLE cases ADD COLUMN handler_id bigint REFERENCES principals (id);
UPDATE cases c SET handler_id = p.id
  FROM principals p
 WHERE coalesce(c.handler, c.created_by) = p.role || ':' || p.name;

-- A principal is never deleted and never renamed or given another role: its name and id can never
-- come to mean someone else (grants, sessions and log entries name it).  Revocation is how a user goes.
CREATE FUNCTION principals_keep_identity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'principals are never deleted (revoke the token instead): %', OLD.name
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.id <> OLD.id OR NEW.name <> OLD.name OR NEW.role <> OLD.role THEN
        RAISE EXCEPTION 'a principal keeps its id, name and role: %', OLD.name
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER principals_keep_identity BEFORE UPDATE OR DELETE ON principals
    FOR EACH ROW EXECUTE FUNCTION principals_keep_identity();
