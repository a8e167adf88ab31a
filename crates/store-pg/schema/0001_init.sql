-- Buzón schema version 1: users, mailboxes, folders, chunked messages, usage, POP3 leases.
-- Plain SQL that PostgreSQL-compatible distributed databases also accept: no advisory
-- locks, no large objects, no LISTEN/NOTIFY, no triggers.

CREATE TABLE users (
    name text PRIMARY KEY,
    -- The stored password exactly as in the users file: {SCHEME}hash.
    password text NOT NULL,
    -- Extra fields as in the users file: whitespace-separated key=value pairs.
    extra text NOT NULL DEFAULT '',
    home text
);
CREATE UNIQUE INDEX users_name_nocase ON users (lower(name));

-- One row (id 1): bumped by every change to users, so nodes reload only on change.
CREATE TABLE users_serial (
    id integer PRIMARY KEY CHECK (id = 1),
    serial bigint NOT NULL
);
INSERT INTO users_serial (id, serial) VALUES (1, 0);

-- One per user (keyed by the user's mailbox name), with its usage kept current in the
-- same transactions that add and delete messages.
CREATE TABLE mailboxes (
    id bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    bytes bigint NOT NULL DEFAULT 0,
    messages bigint NOT NULL DEFAULT 0
);

-- '' is INBOX; other names are the Maildir++ folder names.
CREATE TABLE folders (
    id bigserial PRIMARY KEY,
    mailbox bigint NOT NULL REFERENCES mailboxes (id),
    name text NOT NULL,
    UNIQUE (mailbox, name)
);

CREATE TABLE messages (
    id bigserial PRIMARY KEY,
    mailbox bigint NOT NULL REFERENCES mailboxes (id),
    folder bigint NOT NULL REFERENCES folders (id),
    uidl text NOT NULL,
    -- RFC 1939 exact size: octets on the wire before dot-stuffing.
    wire_size bigint NOT NULL,
    -- Octets stored in message_chunks.
    raw_size bigint NOT NULL,
    delivered_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (mailbox, uidl)
);
CREATE INDEX messages_order ON messages (folder, delivered_at, id);

-- The raw message in order, seq 0, 1, ...; every message has at least chunk 0.
CREATE TABLE message_chunks (
    message bigint NOT NULL REFERENCES messages (id),
    seq integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (message, seq)
);

-- The POP3 exclusive lock: one row per mailbox name while a session holds it.
CREATE TABLE leases (
    mailbox text PRIMARY KEY,
    holder text NOT NULL,
    expires_at timestamptz NOT NULL
);
