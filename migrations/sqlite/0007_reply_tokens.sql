-- Tokens now also prove staff replies: every mail to a staff member about a ticket carries one
-- bound to that person and that ticket ("respuesta"); approval tokens ("aprobacion") decide once.
ALTER TABLE approval_tokens ADD COLUMN purpose TEXT NOT NULL DEFAULT 'aprobacion';
CREATE INDEX approval_tokens_by_ticket ON approval_tokens (ticket_id);
