-- Stored mail compressed with lz4 instead of pglz where the server has it (PostgreSQL 14 and
-- later built with lz4, as Debian and PGDG package it). Queued mail is written once and read
-- once or twice; pglz was the server's largest single cost in the sweep (1,000 due SLA
-- thresholds queue 2,000 alerts of about 7 KB): its CPU went from 440 to 330 ms with lz4,
-- see bench/README.md. Only values written from now on change; older rows stay as they are.
-- On a server without lz4 (or older than 14) nothing changes and the migration still applies.
DO $$
DECLARE
    col TEXT;
BEGIN
    FOREACH col IN ARRAY ARRAY['outbox.raw', 'messages.raw', 'raw_chunks.data', 'attachments.content'] LOOP
        BEGIN
            EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET COMPRESSION lz4',
                           split_part(col, '.', 1), split_part(col, '.', 2));
        EXCEPTION WHEN feature_not_supported OR syntax_error OR invalid_parameter_value THEN
            RAISE NOTICE 'mesayuda: % keeps the default compression: %', col, SQLERRM;
        END;
    END LOOP;
END
$$;
