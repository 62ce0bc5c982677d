-- Release of redacted renders (issue 19 item 5).
--
-- A disclosure record's attachments: renders (evidence.redacted) shown with it on the public portal.
-- Each row is written with its disclosure.attached entry in the case log (disclosure.detached ends
-- it); the entries are the record, scrub re-derives these rows from them.
CREATE TABLE disclosure_attachments (
    disclosure_id   text NOT NULL REFERENCES disclosures (id),
    blake3          text NOT NULL,
    case_id         text NOT NULL REFERENCES cases (id),
    file_name       text NOT NULL,
    size            bigint NOT NULL CHECK (size >= 0),
    attached_by     text NOT NULL,
    seq             bigint NOT NULL,          -- the disclosure.attached entry
    attached_at     timestamptz NOT NULL DEFAULT now(),
    detached_by     text,
    detach_reason   text,
    PRIMARY KEY (disclosure_id, blake3)
);
CREATE INDEX disclosure_attachments_case ON disclosure_attachments (case_id);

-- Who a share goes to: 'judicial' (a prosecutor or a court: originals and the whole case may go) or
-- 'other' (the party's lawyer, the press, an information-disclosure requester: redacted renders only).
-- Shares made before this were all with prosecutors and courts.
ALTER TABLE shares ADD COLUMN recipient text NOT NULL DEFAULT 'judicial'
    CHECK (recipient IN ('judicial', 'other'));
