-- The last directory read from LDAP, as read (JSON entries): an LDAP outage keeps it in force,
-- also across a restart during the outage. One row; every read replaces it.
CREATE TABLE ldap_directory (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    entries TEXT NOT NULL,
    read_at BIGINT NOT NULL
);
