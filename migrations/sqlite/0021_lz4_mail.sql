-- PostgreSQL's 0021 compresses stored mail with lz4; SQLite does not compress values. The
-- migration is here so that both databases count the same migrations.
SELECT 1;
