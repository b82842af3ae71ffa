-- Key transfer partners (SPEC 8.3): other clusters' public transfer identities,
-- registered under quorum. Cluster-wide: every write is in the change log, so every
-- node knows the cluster's partners. The primary key is the partner's fingerprint
-- (SHA-256 over both public keys), so two sites registering the same partner converge
-- on one row; removal keeps a tombstone (state 'removed').
-- Keep in step with migrations/postgres/0008_transfer_partners.sql.
CREATE TABLE transfer_partners (
    fingerprint    TEXT   PRIMARY KEY,
    name           TEXT   NOT NULL,
    name_key       TEXT   NOT NULL,
    encryption_pem TEXT   NOT NULL,
    signing_pem    TEXT   NOT NULL,
    state          TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    hlc            BIGINT NOT NULL,
    origin_node    TEXT   NOT NULL
);
CREATE INDEX transfer_partners_name ON transfer_partners (name_key);
