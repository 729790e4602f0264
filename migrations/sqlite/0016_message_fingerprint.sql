-- A digest of what a person reads in an inbound mail (sender, subject, text, attachments):
-- a second delivery of a mail is told from another mail reusing its Message-ID by this
-- column, instead of parsing the stored raw mail again at every delivery.
ALTER TABLE messages ADD COLUMN fingerprint TEXT;
