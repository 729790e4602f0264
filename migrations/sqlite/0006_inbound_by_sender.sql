-- The per-sender limit on new requests (ingest.max_new_tickets_per_sender_per_hour) counts a
-- sender's mail of the past hour at every new request.
CREATE INDEX messages_inbound_from ON messages(from_addr, created_at) WHERE direction = 'in';
