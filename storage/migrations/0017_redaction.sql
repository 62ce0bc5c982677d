-- Redaction projects (issue 19): the saved versions of each project, beside the case log's
-- redaction.saved entries (the entry is the record; these rows are for queries), and the renders.

CREATE TABLE redaction_versions (
    project_id    text NOT NULL,
    version       integer NOT NULL CHECK (version >= 1),
    case_id       text NOT NULL REFERENCES cases (id),
    source_blake3 text NOT NULL,
    name          text NOT NULL,
    hash          text NOT NULL,           -- BLAKE3 of the version's canonical JSON
    body          jsonb NOT NULL,          -- tracks and audio ranges, as hashed
    saved_by      text NOT NULL,
    seq           bigint NOT NULL,         -- the redaction.saved entry
    saved_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, version)
);
CREATE INDEX redaction_versions_case ON redaction_versions (case_id);

-- A render's progress while it runs; the finished render is an evidence.redacted entry.
CREATE TABLE redaction_renders (
    id            uuid PRIMARY KEY,
    project_id    text NOT NULL,
    version       integer NOT NULL,
    case_id       text NOT NULL REFERENCES cases (id),
    requested_by  text NOT NULL,
    state         text NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    progress_pct  integer NOT NULL DEFAULT 0,
    output_blake3 text,
    error         text,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    FOREIGN KEY (project_id, version) REFERENCES redaction_versions (project_id, version)
);
CREATE INDEX redaction_renders_case ON redaction_renders (case_id);
