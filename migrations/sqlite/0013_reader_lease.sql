-- SQLite runs one instance only (a lock file beside the database); the table exists so that
-- the schema and the store are the same on both databases.
-- The mailbox reader's lease between instances (issue 16). It replaces a PostgreSQL advisory
-- lock, which a frozen holder (SIGSTOP, a paused VM) kept for as long as its connection stayed
-- open. The holder renews `expires_at_ms` every few seconds; once it is in the past, or the
-- holder has no session left, a standby takes the row over and increments `fence`. Every
-- commit of the reader checks that `fence` is still the number it was given, so a former
-- holder that wakes up commits nothing. Times are the database's clock, in milliseconds.
CREATE TABLE reader_lease (
    mailbox TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    fence INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
);
