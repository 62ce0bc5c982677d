-- Every scrub is recorded with what it found; findings are never "repaired", only reported.
CREATE TABLE scrub_runs (
    id          bigserial PRIMARY KEY,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    scope       text NOT NULL,          -- a case id, or '*' for everything
    cases       integer NOT NULL,
    objects     integer NOT NULL,
    problems    jsonb NOT NULL DEFAULT '[]'
);
