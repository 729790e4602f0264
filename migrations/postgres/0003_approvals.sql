-- Activities 9–12: one approval per ticket (the latest request), and one secret token per
-- recipient of an approval mail, stored only as a SHA-256 hash.

CREATE TABLE approvals (
    ticket_id BIGINT PRIMARY KEY REFERENCES tickets(id),
    kind TEXT NOT NULL,
    approver TEXT,
    substitute TEXT,
    status TEXT NOT NULL,
    requested_at BIGINT,
    decided_by TEXT,
    decided_at BIGINT,
    reason TEXT,
    unclear_answers BIGINT NOT NULL DEFAULT 0,
    substitute_notified BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX approvals_status ON approvals(status);

CREATE TABLE approval_tokens (
    token_hash TEXT PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    recipient TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT
);

-- A business morning's digest goes out once, whichever instance or `jobs run` gets there first.
CREATE TABLE digests (
    day TEXT PRIMARY KEY,
    sent_at BIGINT NOT NULL
);
