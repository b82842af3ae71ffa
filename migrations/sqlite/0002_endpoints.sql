-- Endpoints (SPEC 4.1): KMIP clients, drive agents, databases, tape libraries.
-- Keep in step with migrations/postgres/0002_endpoints.sql: same tables, same columns.
--
-- name is kept as given; name_key is its lower-case form (endpoint names are
-- case-insensitive, SPEC 5.5) and is unique among live endpoints. A deleted endpoint
-- stays as a tombstone (state 'deleted') with name_key NULL, so its name can be reused.
-- Only the SHA-256 of the one-time enrollment token is stored; token_hash is NULL when
-- no token is pending. cert_fingerprint is the SHA-256 of the issued certificate's DER.
CREATE TABLE endpoints (
    id               TEXT   PRIMARY KEY,
    name             TEXT   NOT NULL,
    name_key         TEXT   UNIQUE,
    endpoint_type    TEXT   NOT NULL,
    site             TEXT,
    default_wallet   TEXT,
    state            TEXT   NOT NULL,
    token_hash       BLOB   UNIQUE,
    token_expires_at BIGINT,
    cert_fingerprint BLOB   UNIQUE,
    cert_serial      TEXT,
    cert_not_after   BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    hlc              BIGINT NOT NULL,
    origin_node      TEXT   NOT NULL
);
CREATE INDEX endpoints_state ON endpoints (state);
