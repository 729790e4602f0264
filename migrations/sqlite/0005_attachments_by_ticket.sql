-- Loading a ticket counts its attachments; without this index that is a scan of every
-- attachment ever received.
CREATE INDEX attachments_ticket ON attachments(ticket_id);
