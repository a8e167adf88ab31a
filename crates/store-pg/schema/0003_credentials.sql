-- Buzón schema version 3: app passwords and two-step verification secrets.
-- One row per user (keyed by the lower-case user name): the same TOML document that
-- the Maildir store keeps in <data_dir>/credentials/<user>.toml.
CREATE TABLE credentials (
    name text PRIMARY KEY,
    data text NOT NULL
);
