-- A sign-in link bound to one ticket: the approval request's direct link, which signs its
-- approver in and shows that approval (valid 7 days, once). NULL for the links asked for on
-- the home page.
ALTER TABLE panel_links ADD COLUMN ticket_id BIGINT REFERENCES tickets(id);

-- Every sign-in link asked for, by client (a SHA-256 of its address, not the address): the
-- per-client rate limit, on top of the per-address one.
CREATE TABLE panel_link_requests (
    client_hash TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX panel_link_requests_by_client ON panel_link_requests (client_hash, at);
