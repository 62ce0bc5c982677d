-- Organising and finding (issue 18, item 3).  Every row here but item_text is determined by a log
-- entry and re-derived by scrub (policy.log_state): the bureau's tag list by tag.defined / tag.retired
-- entries of the governance log, tags on items and cases by tag.added / tag.removed entries of the
-- case log, thumbnails by evidence.thumbnail entries.

-- The bureau-defined list of tags (categories), kept by administrators.
CREATE TABLE tags (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
    label_zh    text NOT NULL CHECK (char_length(btrim(label_zh)) BETWEEN 1 AND 40),
    label_en    text NOT NULL CHECK (char_length(btrim(label_en)) BETWEEN 1 AND 60),
    defined_by  text NOT NULL,
    retired     boolean NOT NULL DEFAULT false
);

-- A tag on one item (blake3 = the item's hash) or on the whole case (blake3 = '').
CREATE TABLE item_tags (
    case_id     text NOT NULL REFERENCES cases (id),
    blake3      text NOT NULL,
    tag         text NOT NULL REFERENCES tags (name),
    tagged_by   text NOT NULL,
    PRIMARY KEY (case_id, blake3, tag)
);
CREATE INDEX item_tags_tag ON item_tags (tag);

-- A still and the duration of a recording, made by ffmpeg from its proxy; the still is an object
-- stored write-once like the proxy, named by its evidence.thumbnail entry.
CREATE TABLE thumbnails (
    case_id         text NOT NULL REFERENCES cases (id),
    seq             bigint NOT NULL,
    blake3          text NOT NULL,          -- the still (image/jpeg)
    of_blake3       text NOT NULL,          -- the proxy it was made from
    original_blake3 text,                   -- the proxy's original
    duration_ms     bigint,
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX thumbnails_original ON thumbnails (original_blake3);
CREATE INDEX thumbnails_of ON thumbnails (of_blake3);

-- The free text a search matches: an item's title and file name and, for a text record, its text.
-- A search index read from the entries and the objects (services.search catches it up), not a record.
CREATE TABLE item_text (
    case_id     text NOT NULL REFERENCES cases (id),
    seq         bigint NOT NULL,
    title       text NOT NULL DEFAULT '',
    body        text NOT NULL DEFAULT '',
    PRIMARY KEY (case_id, seq)
);
