-- no-transaction
-- SQLite tables become STRICT (a value of the wrong type is refused instead of stored as it
-- comes; BIGINT, which STRICT does not know, becomes INTEGER: the same 64 bits), and status,
-- kind and reason columns accept only the values the code writes. PostgreSQL's 0019 adds the
-- same CHECKs under the same names.
--
-- SQLite cannot make a table STRICT in place: each is rebuilt (create `t_new`, copy, drop `t`,
-- rename, recreate its indexes), the order SQLite's documentation gives for changing a table.
-- Dropping a parent table while foreign keys are enforced fails (its rows are still
-- referenced), and `PRAGMA foreign_keys` cannot change inside a transaction: hence
-- `no-transaction` above, and the transaction opened here. `Db::migrate` checks before that no
-- row holds a value the CHECKs refuse, and names it; a failure in between leaves the
-- transaction to be rolled back with the connection (`Db::migrate` closes it).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

-- tickets
CREATE TABLE tickets_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    status TEXT NOT NULL,
    close_reason TEXT,
    subject TEXT NOT NULL,
    requester TEXT NOT NULL,
    requester_name TEXT,
    root_message_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    closed_at INTEGER,
    service TEXT,
    category TEXT,
    priority TEXT,
    assignee TEXT,
    fields_json TEXT NOT NULL DEFAULT '{}',
    change_id TEXT,
    related_ticket INTEGER,
    resolution TEXT,
    resolved_at INTEGER,
    survey_rating INTEGER,
    survey_comment TEXT,
    sla_target_secs INTEGER NOT NULL DEFAULT 0,
    sla_used_secs INTEGER NOT NULL DEFAULT 0,
    sla_running_since INTEGER,
    sla_paused_secs INTEGER NOT NULL DEFAULT 0,
    sla_paused_since INTEGER,
    sla_alerts_sent INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT tickets_status_known CHECK (status IN ('registrado', 'pendiente_por_usuario', 'pendiente_aprobacion', 'trabajo_en_progreso', 'resuelto', 'cerrado')),
    CONSTRAINT tickets_close_reason_known CHECK (close_reason IN ('resuelto', 'cambio', 'rechazado', 'sin_respuesta_usuario', 'cancelado', 'incidente')),
    CONSTRAINT tickets_priority_known CHECK (priority IN ('alta', 'media', 'baja'))
) STRICT;
INSERT INTO tickets_new (id, status, close_reason, subject, requester, requester_name, root_message_id, created_at, updated_at, closed_at, service, category, priority, assignee, fields_json, change_id, related_ticket, resolution, resolved_at, survey_rating, survey_comment, sla_target_secs, sla_used_secs, sla_running_since, sla_paused_secs, sla_paused_since, sla_alerts_sent)
SELECT id, status, close_reason, subject, requester, requester_name, root_message_id, created_at, updated_at, closed_at, service, category, priority, assignee, fields_json, change_id, related_ticket, resolution, resolved_at, survey_rating, survey_comment, sla_target_secs, sla_used_secs, sla_running_since, sla_paused_secs, sla_paused_since, sla_alerts_sent
FROM tickets;
-- AUTOINCREMENT never hands out an id again, even one whose row is gone: the counter moves too.
UPDATE sqlite_sequence
SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'tickets'), 0))
WHERE name = 'tickets_new';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'tickets_new', seq
FROM sqlite_sequence
WHERE name = 'tickets' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'tickets_new');
DROP TABLE tickets;
ALTER TABLE tickets_new RENAME TO tickets;
CREATE INDEX tickets_status ON tickets(status);
CREATE INDEX tickets_by_requester ON tickets (LOWER(requester));
CREATE INDEX tickets_open ON tickets(
    id, status, service, assignee, sla_target_secs, sla_used_secs, sla_running_since,
    sla_paused_secs, sla_paused_since, sla_alerts_sent
) WHERE status <> 'cerrado';
CREATE INDEX tickets_closed_report ON tickets(
    closed_at, service, close_reason, sla_target_secs, sla_used_secs, sla_paused_secs,
    sla_alerts_sent, survey_rating
) WHERE closed_at IS NOT NULL;

-- messages
CREATE TABLE messages_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER REFERENCES tickets(id),
    direction TEXT NOT NULL,
    kind TEXT NOT NULL,
    message_id TEXT NOT NULL,
    in_reply_to TEXT,
    references_hdr TEXT,
    thread_key TEXT,
    from_addr TEXT NOT NULL,
    from_name TEXT,
    to_addrs TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT,
    at INTEGER NOT NULL,
    raw BLOB,
    imap_uidvalidity INTEGER,
    imap_uid INTEGER,
    imap_state TEXT,
    created_at INTEGER NOT NULL,
    fingerprint TEXT,
    CONSTRAINT messages_direction_known CHECK (direction IN ('in', 'out')),
    CONSTRAINT messages_imap_state_known CHECK (imap_state IN ('pending_move', 'pending_quarantine', 'moved'))
) STRICT;
INSERT INTO messages_new (id, ticket_id, direction, kind, message_id, in_reply_to, references_hdr, thread_key, from_addr, from_name, to_addrs, subject, body_text, body_html, at, raw, imap_uidvalidity, imap_uid, imap_state, created_at, fingerprint)
SELECT id, ticket_id, direction, kind, message_id, in_reply_to, references_hdr, thread_key, from_addr, from_name, to_addrs, subject, body_text, body_html, at, CAST(raw AS BLOB), imap_uidvalidity, imap_uid, imap_state, created_at, fingerprint
FROM messages;
-- AUTOINCREMENT never hands out an id again, even one whose row is gone: the counter moves too.
UPDATE sqlite_sequence
SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0))
WHERE name = 'messages_new';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'messages_new', seq
FROM sqlite_sequence
WHERE name = 'messages' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'messages_new');
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE UNIQUE INDEX messages_inbound_message_id ON messages(message_id) WHERE direction = 'in';
CREATE INDEX messages_message_id ON messages(message_id);
CREATE INDEX messages_ticket ON messages(ticket_id);
CREATE INDEX messages_thread_key ON messages(thread_key) WHERE thread_key IS NOT NULL;
CREATE INDEX messages_pending_move ON messages(imap_state) WHERE imap_state IS NOT NULL AND imap_state <> 'moved';
CREATE INDEX messages_inbound_from ON messages(from_addr, created_at) WHERE direction = 'in';

-- attachments
CREATE TABLE attachments_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_row INTEGER NOT NULL REFERENCES messages(id),
    ticket_id INTEGER REFERENCES tickets(id),
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    content BLOB NOT NULL
) STRICT;
INSERT INTO attachments_new (id, message_row, ticket_id, filename, content_type, size, sha256, content)
SELECT id, message_row, ticket_id, filename, content_type, size, sha256, CAST(content AS BLOB)
FROM attachments;
-- AUTOINCREMENT never hands out an id again, even one whose row is gone: the counter moves too.
UPDATE sqlite_sequence
SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'attachments'), 0))
WHERE name = 'attachments_new';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'attachments_new', seq
FROM sqlite_sequence
WHERE name = 'attachments' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'attachments_new');
DROP TABLE attachments;
ALTER TABLE attachments_new RENAME TO attachments;
CREATE INDEX attachments_message ON attachments(message_row);
CREATE INDEX attachments_ticket ON attachments(ticket_id);

-- events
CREATE TABLE events_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    activity INTEGER,
    kind TEXT NOT NULL,
    description TEXT NOT NULL
) STRICT;
INSERT INTO events_new (id, ticket_id, at, actor, activity, kind, description)
SELECT id, ticket_id, at, actor, activity, kind, description
FROM events;
-- AUTOINCREMENT never hands out an id again, even one whose row is gone: the counter moves too.
UPDATE sqlite_sequence
SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0))
WHERE name = 'events_new';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'events_new', seq
FROM sqlite_sequence
WHERE name = 'events' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'events_new');
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_ticket ON events(ticket_id);

-- outbox
CREATE TABLE outbox_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER REFERENCES tickets(id),
    kind TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    envelope_from TEXT NOT NULL,
    recipients TEXT NOT NULL,
    raw BLOB NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    sent_at INTEGER,
    claimed_by TEXT,
    CONSTRAINT outbox_status_known CHECK (status IN ('pending', 'sent', 'failed'))
) STRICT;
INSERT INTO outbox_new (id, ticket_id, kind, message_id, envelope_from, recipients, raw, status, attempts, next_attempt_at, claimed_until, last_error, created_at, sent_at, claimed_by)
SELECT id, ticket_id, kind, message_id, envelope_from, recipients, CAST(raw AS BLOB), status, attempts, next_attempt_at, claimed_until, last_error, created_at, sent_at, claimed_by
FROM outbox;
-- AUTOINCREMENT never hands out an id again, even one whose row is gone: the counter moves too.
UPDATE sqlite_sequence
SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0))
WHERE name = 'outbox_new';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'outbox_new', seq
FROM sqlite_sequence
WHERE name = 'outbox' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'outbox_new');
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);

-- mailbox_state
CREATE TABLE mailbox_state_new (
    mailbox TEXT PRIMARY KEY,
    uidvalidity INTEGER NOT NULL,
    last_uid INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
INSERT INTO mailbox_state_new (mailbox, uidvalidity, last_uid, updated_at)
SELECT mailbox, uidvalidity, last_uid, updated_at
FROM mailbox_state;
DROP TABLE mailbox_state;
ALTER TABLE mailbox_state_new RENAME TO mailbox_state;

-- timers
CREATE TABLE timers_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    kind TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    UNIQUE (ticket_id, kind),
    CONSTRAINT timers_kind_known CHECK (kind IN ('pendiente_usuario', 'autocierre', 'sla', 'aprobacion_recordatorio', 'aprobacion_vencida'))
) STRICT;
INSERT INTO timers_new (id, ticket_id, kind, due_at)
SELECT id, ticket_id, kind, due_at
FROM timers;
-- AUTOINCREMENT never hands out an id again, even one whose row is gone: the counter moves too.
UPDATE sqlite_sequence
SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'timers'), 0))
WHERE name = 'timers_new';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'timers_new', seq
FROM sqlite_sequence
WHERE name = 'timers' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'timers_new');
DROP TABLE timers;
ALTER TABLE timers_new RENAME TO timers;
CREATE INDEX timers_due ON timers(due_at);

-- incidents
CREATE TABLE incidents_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    requester TEXT NOT NULL,
    subject TEXT NOT NULL,
    message_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    from_ticket INTEGER,
    reason TEXT,
    to_ticket INTEGER
) STRICT;
INSERT INTO incidents_new (id, requester, subject, message_id, created_at, from_ticket, reason, to_ticket)
SELECT id, requester, subject, message_id, created_at, from_ticket, reason, to_ticket
FROM incidents;
-- AUTOINCREMENT never hands out an id again, even one whose row is gone: the counter moves too.
UPDATE sqlite_sequence
SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'incidents'), 0))
WHERE name = 'incidents_new';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'incidents_new', seq
FROM sqlite_sequence
WHERE name = 'incidents' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'incidents_new');
DROP TABLE incidents;
ALTER TABLE incidents_new RENAME TO incidents;

-- approvals
CREATE TABLE approvals_new (
    ticket_id INTEGER PRIMARY KEY REFERENCES tickets(id),
    kind TEXT NOT NULL,
    approver TEXT,
    substitute TEXT,
    status TEXT NOT NULL,
    requested_at INTEGER,
    decided_by TEXT,
    decided_at INTEGER,
    reason TEXT,
    unclear_answers INTEGER NOT NULL DEFAULT 0,
    substitute_notified INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT approvals_kind_known CHECK (kind IN ('none', 'jefe_inmediato', 'seguridad_informacion')),
    CONSTRAINT approvals_status_known CHECK (status IN ('esperando_aprobador', 'pendiente', 'aprobado', 'rechazado', 'cancelada'))
) STRICT;
INSERT INTO approvals_new (ticket_id, kind, approver, substitute, status, requested_at, decided_by, decided_at, reason, unclear_answers, substitute_notified)
SELECT ticket_id, kind, approver, substitute, status, requested_at, decided_by, decided_at, reason, unclear_answers, substitute_notified
FROM approvals;
DROP TABLE approvals;
ALTER TABLE approvals_new RENAME TO approvals;
CREATE INDEX approvals_status ON approvals(status);

-- approval_tokens
CREATE TABLE approval_tokens_new (
    token_hash TEXT PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    recipient TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    used_at INTEGER,
    purpose TEXT NOT NULL DEFAULT 'aprobacion',
    CONSTRAINT approval_tokens_purpose_known CHECK (purpose IN ('aprobacion', 'respuesta'))
) STRICT;
INSERT INTO approval_tokens_new (token_hash, ticket_id, recipient, created_at, used_at, purpose)
SELECT token_hash, ticket_id, recipient, created_at, used_at, purpose
FROM approval_tokens;
DROP TABLE approval_tokens;
ALTER TABLE approval_tokens_new RENAME TO approval_tokens;
CREATE INDEX approval_tokens_by_ticket ON approval_tokens (ticket_id);

-- digests
CREATE TABLE digests_new (
    day TEXT PRIMARY KEY,
    sent_at INTEGER NOT NULL
) STRICT;
INSERT INTO digests_new (day, sent_at)
SELECT day, sent_at
FROM digests;
DROP TABLE digests;
ALTER TABLE digests_new RENAME TO digests;

-- incident_tokens
CREATE TABLE incident_tokens_new (
    token_hash TEXT PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    recipient TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
INSERT INTO incident_tokens_new (token_hash, incident_id, recipient, created_at)
SELECT token_hash, incident_id, recipient, created_at
FROM incident_tokens;
DROP TABLE incident_tokens;
ALTER TABLE incident_tokens_new RENAME TO incident_tokens;
CREATE INDEX incident_tokens_by_incident ON incident_tokens (incident_id);

-- panel_links
CREATE TABLE panel_links_new (
    token_hash TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    ticket_id INTEGER REFERENCES tickets(id)
) STRICT;
INSERT INTO panel_links_new (token_hash, email, created_at, expires_at, used_at, ticket_id)
SELECT token_hash, email, created_at, expires_at, used_at, ticket_id
FROM panel_links;
DROP TABLE panel_links;
ALTER TABLE panel_links_new RENAME TO panel_links;
CREATE INDEX panel_links_by_email ON panel_links (email, created_at);

-- panel_sessions
CREATE TABLE panel_sessions_new (
    token_hash TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
) STRICT;
INSERT INTO panel_sessions_new (token_hash, email, created_at, last_seen)
SELECT token_hash, email, created_at, last_seen
FROM panel_sessions;
DROP TABLE panel_sessions;
ALTER TABLE panel_sessions_new RENAME TO panel_sessions;

-- ticket_numbers
CREATE TABLE ticket_numbers_new (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    last_number INTEGER NOT NULL
) STRICT;
INSERT INTO ticket_numbers_new (singleton, last_number)
SELECT singleton, last_number
FROM ticket_numbers;
DROP TABLE ticket_numbers;
ALTER TABLE ticket_numbers_new RENAME TO ticket_numbers;

-- ldap_directory
CREATE TABLE ldap_directory_new (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    entries TEXT NOT NULL,
    read_at INTEGER NOT NULL
) STRICT;
INSERT INTO ldap_directory_new (singleton, entries, read_at)
SELECT singleton, entries, read_at
FROM ldap_directory;
DROP TABLE ldap_directory;
ALTER TABLE ldap_directory_new RENAME TO ldap_directory;

-- reader_lease
CREATE TABLE reader_lease_new (
    mailbox TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    fence INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
) STRICT;
INSERT INTO reader_lease_new (mailbox, holder, fence, expires_at_ms)
SELECT mailbox, holder, fence, expires_at_ms
FROM reader_lease;
DROP TABLE reader_lease;
ALTER TABLE reader_lease_new RENAME TO reader_lease;

-- panel_link_requests
CREATE TABLE panel_link_requests_new (
    client_hash TEXT NOT NULL,
    at INTEGER NOT NULL
) STRICT;
INSERT INTO panel_link_requests_new (client_hash, at)
SELECT client_hash, at
FROM panel_link_requests;
DROP TABLE panel_link_requests;
ALTER TABLE panel_link_requests_new RENAME TO panel_link_requests;
CREATE INDEX panel_link_requests_by_client ON panel_link_requests (client_hash, at);

-- raw_chunks
CREATE TABLE raw_chunks_new (
    message_row INTEGER NOT NULL REFERENCES messages(id),
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (message_row, seq)
) STRICT;
INSERT INTO raw_chunks_new (message_row, seq, data)
SELECT message_row, seq, CAST(data AS BLOB)
FROM raw_chunks;
DROP TABLE raw_chunks;
ALTER TABLE raw_chunks_new RENAME TO raw_chunks;

-- Every reference still finds its row: a row that names a missing parent stops the migration.
CREATE TEMP TABLE migration_0019_check (
    broken_references INTEGER NOT NULL CONSTRAINT foreign_key_check_after_rebuild CHECK (broken_references = 0)
);
INSERT INTO migration_0019_check SELECT COUNT(*) FROM pragma_foreign_key_check;
DROP TABLE migration_0019_check;
COMMIT;
PRAGMA foreign_keys = ON;
