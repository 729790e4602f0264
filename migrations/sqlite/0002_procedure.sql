-- The procedure's state on the ticket: catalogue service, assignment, request fields, SLA clock
-- (business seconds), resolution and survey. Timers hold every instant something is due.

ALTER TABLE tickets ADD COLUMN service TEXT;
ALTER TABLE tickets ADD COLUMN category TEXT;
ALTER TABLE tickets ADD COLUMN priority TEXT;
ALTER TABLE tickets ADD COLUMN assignee TEXT;
ALTER TABLE tickets ADD COLUMN fields_json TEXT NOT NULL DEFAULT '{}';
ALTER TABLE tickets ADD COLUMN change_id TEXT;
ALTER TABLE tickets ADD COLUMN related_ticket BIGINT;
ALTER TABLE tickets ADD COLUMN resolution TEXT;
ALTER TABLE tickets ADD COLUMN resolved_at BIGINT;
ALTER TABLE tickets ADD COLUMN survey_rating BIGINT;
ALTER TABLE tickets ADD COLUMN survey_comment TEXT;
ALTER TABLE tickets ADD COLUMN sla_target_secs BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN sla_used_secs BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN sla_running_since BIGINT;
ALTER TABLE tickets ADD COLUMN sla_paused_secs BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN sla_paused_since BIGINT;
ALTER TABLE tickets ADD COLUMN sla_alerts_sent BIGINT NOT NULL DEFAULT 0;
CREATE INDEX tickets_closed_at ON tickets(closed_at) WHERE closed_at IS NOT NULL;

CREATE TABLE timers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    kind TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    UNIQUE (ticket_id, kind)
);
CREATE INDEX timers_due ON timers(due_at);

CREATE TABLE incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    requester TEXT NOT NULL,
    subject TEXT NOT NULL,
    message_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
