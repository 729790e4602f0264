-- `/metrics` counts the SLA alerts accepted by the SMTP server at every scrape. Without an
-- index that read the whole outbox, raw mail included: 315 ms on SQLite with 75,000 queued
-- mails (a 30-minute soak), once a second under the soak's scraping, and growing with the
-- history. The query names these very values, so it reads only this index (0.01 ms there). Its
-- columns are the two the query compares: SQLite then prefers it to `outbox_due (status)`,
-- which it otherwise picked, reading every sent mail's row (85 ms).
CREATE INDEX outbox_sla_alerts_sent ON outbox(kind, status) WHERE kind = 'alerta_sla' AND status = 'sent';
