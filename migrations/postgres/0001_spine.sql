-- The spine: replica identity, change log, master keys, managed objects, node credentials.
-- Keep in step with migrations/sqlite/0001_spine.sql: same tables, same columns.

CREATE TABLE replica_meta (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    replica_id TEXT    NOT NULL,
    last_seq   BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL
);

-- One row per change, written in the same transaction as the change itself.
-- (origin, seq) is gap-free per origin replica, so a peer's cursor is one number.
CREATE TABLE change_log (
    origin     TEXT   NOT NULL,
    seq        BIGINT NOT NULL,
    hlc        BIGINT NOT NULL,
    node_id    TEXT   NOT NULL,
    entity     TEXT   NOT NULL,
    entity_id  TEXT   NOT NULL,
    op         TEXT   NOT NULL,
    payload    BYTEA   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (origin, seq)
);

-- Highest sequence applied from each origin: this replica's version vector.
CREATE TABLE replication_cursors (
    origin      TEXT   PRIMARY KEY,
    applied_seq BIGINT NOT NULL
);

CREATE TABLE nodes (
    id         TEXT   PRIMARY KEY,
    name       TEXT   NOT NULL,
    site       TEXT   NOT NULL,
    replica_id TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE master_keys (
    id         TEXT   PRIMARY KEY,
    rot_kind   TEXT   NOT NULL,
    state      TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE objects (
    id            TEXT    PRIMARY KEY,
    object_type   TEXT    NOT NULL,
    algorithm     TEXT,
    length        INTEGER,
    state         TEXT    NOT NULL,
    name          TEXT,
    attributes    TEXT    NOT NULL,
    wrapped       BYTEA,
    master_key_id TEXT,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    hlc           BIGINT  NOT NULL,
    origin_node   TEXT    NOT NULL
);
CREATE INDEX objects_name ON objects (name);
CREATE INDEX objects_state ON objects (state);
CREATE INDEX objects_master_key ON objects (master_key_id);

-- Secrets the node needs that are not managed objects: the cluster CA key and node TLS
-- keys. The key is stored wrapped, like every other key.
CREATE TABLE credentials (
    id            TEXT   PRIMARY KEY,
    kind          TEXT   NOT NULL,
    cert_pem      TEXT   NOT NULL,
    wrapped_key   BYTEA   NOT NULL,
    master_key_id TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
);

-- API tokens: only their SHA-256 is stored (they are 256-bit random, so a slow hash adds nothing).
CREATE TABLE api_tokens (
    id         TEXT   PRIMARY KEY,
    principal  TEXT   NOT NULL,
    token_hash BYTEA   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE recovery_passphrase (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    phc_hash   TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
