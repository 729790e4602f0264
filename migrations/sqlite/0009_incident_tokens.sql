-- Personal reply tokens on the mail that tells agents (or the incident address) about an
-- incident: replying to it proves the sender, as on a request. They get a table of their own:
-- approval_tokens.ticket_id is NOT NULL and references tickets, and every query on it (proof,
-- spending, the digest) assumes a request; relaxing it would mean a table rebuild on SQLite and a
-- second owner in each of those queries. Apart, a request's token can never prove anything on an
-- incident, nor an incident's on a request.
CREATE TABLE incident_tokens (
    token_hash TEXT PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents(id),
    recipient TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX incident_tokens_by_incident ON incident_tokens (incident_id);
-- Activity 2 reversed by an agent (`#requerimiento`): the request the incident continues as.
ALTER TABLE incidents ADD COLUMN to_ticket BIGINT;
