-- Ticket numbers are handed out by the transaction that commits the ticket, so that a
-- transaction killed or rolled back after inserting one leaves no number unused: in an audited
-- procedure a missing REQ-n needs an explanation. A PostgreSQL sequence (the identity column)
-- is not transactional, so the number comes from this one-row counter instead; updating its
-- row locks it until commit, which makes a second instance inserting at the same time wait and
-- then take the following number. The store always gives the number explicitly
-- (`store::tickets::insert`), above the highest one stored, so that rows written by hand with
-- the column's default do not make it repeat a number.
CREATE TABLE ticket_numbers (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    last_number BIGINT NOT NULL
);
INSERT INTO ticket_numbers (singleton, last_number)
SELECT 1, COALESCE(MAX(id), 0) FROM tickets;
