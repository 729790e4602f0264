-- Which running instance claimed a queued mail, so that the mail a killed instance had claimed
-- is taken again at once instead of when its lease runs out (see store::outbox::claim_due).
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
