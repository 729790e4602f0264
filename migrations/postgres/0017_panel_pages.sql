-- The panel's pages with 100,000 tickets (issue 14): each reads only the rows it shows.
--
-- Open tickets (the queue, the SLA board): a few percent of the table. `status <> 'cerrado'`
-- can use no ordinary index, so without this one every page scanned the whole table. The
-- queries repeat this WHERE term, which is what lets the planner pick the index; it carries
-- every column they filter on or read, for index-only scans.
CREATE INDEX tickets_open ON tickets(id) INCLUDE (
    status, service, assignee, sla_target_secs, sla_used_secs, sla_running_since,
    sla_paused_secs, sla_paused_since, sla_alerts_sent
) WHERE status <> 'cerrado';

-- The compliance report (`/cumplimiento`, `sla compliance`, the monthly mail) reads the
-- tickets closed in a period: the period's rows and only the columns the report counts, all
-- from this index. It replaces `tickets_closed_at`, which it starts with.
CREATE INDEX tickets_closed_report ON tickets(closed_at) INCLUDE (
    service, close_reason, sla_target_secs, sla_used_secs, sla_paused_secs, sla_alerts_sent,
    survey_rating
) WHERE closed_at IS NOT NULL;
DROP INDEX tickets_closed_at;
