-- Activity 2 decided by an agent: the request an incident came from (`#incidente`) and why.
ALTER TABLE incidents ADD COLUMN from_ticket BIGINT;
ALTER TABLE incidents ADD COLUMN reason TEXT;
