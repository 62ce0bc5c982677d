-- Bookmarks and notes at a moment of a recording (issue 18 item 4), beside the case log's
-- evidence.bookmarked / evidence.bookmark_edited / evidence.bookmark_removed entries.  The entries
-- are the record (an edit or a removal is a new entry; nothing is rewritten); these rows are what the
-- player lists, and scrub re-derives them from the log.  A bookmark is named by the seq of the entry
-- that made it.
CREATE TABLE bookmarks (
    case_id     text NOT NULL REFERENCES cases (id),
    id          bigint NOT NULL CHECK (id >= 0),   -- seq of its evidence.bookmarked entry
    blake3      text NOT NULL,
    at_ms       bigint NOT NULL CHECK (at_ms >= 0),
    note        text NOT NULL,
    author      text NOT NULL,                     -- role:name, as the entry's actor
    author_id   bigint NOT NULL,
    edited_by   text,                              -- the actor of the latest edit
    edits       integer NOT NULL DEFAULT 0 CHECK (edits >= 0),
    removed_by  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, id)
);
CREATE INDEX bookmarks_item ON bookmarks (case_id, blake3);
