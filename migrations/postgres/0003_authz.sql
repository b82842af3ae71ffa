-- Access control (SPEC 5): users, groups, wallets, grants, settings, quorum, sessions.
-- Keep in step with migrations/sqlite/0003_authz.sql: same tables, same columns.
--
-- Names: name is kept as given; name_key is the comparison form (lower case for users
-- and groups, which are case-insensitive; as given for wallets, which are not). It is
-- NULL on deleted rows (tombstones), so names can be reused.

CREATE TABLE users (
    id               TEXT    PRIMARY KEY,
    name             TEXT    NOT NULL,
    name_key         TEXT    UNIQUE,
    password_phc     TEXT,
    cert_fingerprint BYTEA   UNIQUE,
    roles            INTEGER NOT NULL,
    forward_roles    INTEGER NOT NULL,
    privileges       INTEGER NOT NULL,
    state            TEXT    NOT NULL,
    failed_logins    INTEGER NOT NULL,
    locked_until     BIGINT,
    created_by       TEXT,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    hlc              BIGINT  NOT NULL,
    origin_node      TEXT    NOT NULL
);

-- User groups (kind 'user') and endpoint groups (kind 'endpoint').
CREATE TABLE groups_ (
    id          TEXT   PRIMARY KEY,
    kind        TEXT   NOT NULL,
    name        TEXT   NOT NULL,
    name_key    TEXT,
    description TEXT,
    state       TEXT   NOT NULL,
    created_by  TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    hlc         BIGINT NOT NULL,
    origin_node TEXT   NOT NULL,
    UNIQUE (kind, name_key)
);

CREATE TABLE group_members (
    group_id   TEXT   NOT NULL,
    member_id  TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_member ON group_members (member_id);

CREATE TABLE wallets (
    id          TEXT   PRIMARY KEY,
    name        TEXT   NOT NULL,
    name_key    TEXT   UNIQUE,
    description TEXT,
    state       TEXT   NOT NULL,
    created_by  TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    hlc         BIGINT NOT NULL,
    origin_node TEXT   NOT NULL
);

CREATE TABLE wallet_objects (
    wallet_id  TEXT   NOT NULL,
    object_id  TEXT   NOT NULL,
    added_by   TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (wallet_id, object_id)
);
CREATE INDEX wallet_objects_object ON wallet_objects (object_id);

-- grantee_kind: user, user_group, endpoint, endpoint_group. level: 1 read, 2 read and
-- modify, 3 manage wallet.
CREATE TABLE wallet_grants (
    wallet_id    TEXT    NOT NULL,
    grantee_kind TEXT    NOT NULL,
    grantee_id   TEXT    NOT NULL,
    level        INTEGER NOT NULL,
    granted_by   TEXT,
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (wallet_id, grantee_kind, grantee_id)
);
CREATE INDEX wallet_grants_grantee ON wallet_grants (grantee_kind, grantee_id);

-- Manage Endpoint (target_kind 'endpoint') and Manage Endpoint Group ('endpoint_group').
CREATE TABLE manage_grants (
    target_kind TEXT   NOT NULL,
    target_id   TEXT   NOT NULL,
    user_id     TEXT   NOT NULL,
    granted_by  TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (target_kind, target_id, user_id)
);
CREATE INDEX manage_grants_user ON manage_grants (user_id);

-- Cluster-wide settings, values JSON.
CREATE TABLE settings (
    name        TEXT   PRIMARY KEY,
    value       TEXT   NOT NULL,
    updated_at  BIGINT NOT NULL,
    hlc         BIGINT NOT NULL,
    origin_node TEXT   NOT NULL
);

CREATE TABLE quorum_members (
    user_id    TEXT   PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE quorum_requests (
    id           TEXT    PRIMARY KEY,
    action       TEXT    NOT NULL,
    params       TEXT    NOT NULL,
    requested_by TEXT    NOT NULL,
    required     INTEGER NOT NULL,
    state        TEXT    NOT NULL,
    deadline     BIGINT  NOT NULL,
    result       TEXT,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    hlc          BIGINT  NOT NULL,
    origin_node  TEXT    NOT NULL
);
CREATE INDEX quorum_requests_state ON quorum_requests (state);

CREATE TABLE quorum_votes (
    request_id TEXT   NOT NULL,
    user_id    TEXT   NOT NULL,
    vote       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (request_id, user_id)
);

-- Who owns an object: 'user:<id>', 'endpoint:<id>' or 'system'.
ALTER TABLE objects ADD COLUMN owner TEXT;
CREATE INDEX objects_owner ON objects (owner);

-- Sessions from password or certificate login expire; API tokens made at init do not.
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
CREATE INDEX api_tokens_hash ON api_tokens (token_hash);
