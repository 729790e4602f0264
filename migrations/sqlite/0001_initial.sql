-- Timestamps are Unix seconds (UTC): sqlx's Any driver carries no date types.

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    status TEXT NOT NULL,
    close_reason TEXT,
    subject TEXT NOT NULL,
    requester TEXT NOT NULL,
    requester_name TEXT,
    root_message_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    closed_at BIGINT
);
CREATE INDEX tickets_status ON tickets(status);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT REFERENCES tickets(id),
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
    at BIGINT NOT NULL,
    raw BLOB,
    imap_uidvalidity BIGINT,
    imap_uid BIGINT,
    imap_state TEXT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX messages_inbound_message_id ON messages(message_id) WHERE direction = 'in';
CREATE INDEX messages_message_id ON messages(message_id);
CREATE INDEX messages_ticket ON messages(ticket_id);
CREATE INDEX messages_thread_key ON messages(thread_key) WHERE thread_key IS NOT NULL;
CREATE INDEX messages_pending_move ON messages(imap_state) WHERE imap_state IS NOT NULL AND imap_state <> 'moved';

CREATE TABLE attachments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_row BIGINT NOT NULL REFERENCES messages(id),
    ticket_id BIGINT REFERENCES tickets(id),
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    content BLOB NOT NULL
);
CREATE INDEX attachments_message ON attachments(message_row);

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    activity BIGINT,
    kind TEXT NOT NULL,
    description TEXT NOT NULL
);
CREATE INDEX events_ticket ON events(ticket_id);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT REFERENCES tickets(id),
    kind TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    envelope_from TEXT NOT NULL,
    recipients TEXT NOT NULL,
    raw BLOB NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);

CREATE TABLE mailbox_state (
    mailbox TEXT PRIMARY KEY,
    uidvalidity BIGINT NOT NULL,
    last_uid BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
