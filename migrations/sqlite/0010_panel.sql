-- The web panel: one-time sign-in links mailed to a person, and the sessions they start. Both
-- are kept only as SHA-256 hashes of their secret, like approval tokens: a copy of the database
-- signs nobody in.
CREATE TABLE panel_links (
    token_hash TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
-- The per-address rate limit counts an address's recent links.
CREATE INDEX panel_links_by_email ON panel_links (email, created_at);

CREATE TABLE panel_sessions (
    token_hash TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);

-- "My requests" finds a person's tickets whatever the case their mail client wrote.
CREATE INDEX tickets_by_requester ON tickets (LOWER(requester));
