-- A received mail over 1 MiB is kept in pieces of 1 MiB, one row each, in the order of `seq`
-- (its `messages.raw` is then empty, not NULL): each piece is sent to the database on its own,
-- so the daemon never holds more than one piece's copies for the driver. The attachments of
-- such a mail are not copied out of it: their `attachments` row has the size and SHA-256 and
-- an empty `content`, and the panel decodes the file from the stored mail when it is asked for.
CREATE TABLE raw_chunks (
    message_row BIGINT NOT NULL REFERENCES messages(id),
    seq INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (message_row, seq)
);
