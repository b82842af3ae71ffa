-- Cluster: replication lookups and membership.
-- Keep in step with the other backend's 0006_cluster.sql: same tables, same columns.

-- Last-writer-wins compares a peer's change with the newest write this replica holds
-- for the same entity; tombstone checks look entities up by ID.
CREATE INDEX change_log_entity ON change_log (entity_id, entity);

-- Where a node's peers reach it for replication (host:port), and its membership state:
-- `invited` (added, not joined yet), `active`, `removed` (peers stop contacting it).
ALTER TABLE nodes ADD COLUMN cluster_addr TEXT;
ALTER TABLE nodes ADD COLUMN member_state TEXT NOT NULL DEFAULT 'active';
ALTER TABLE nodes ADD COLUMN read_only INTEGER NOT NULL DEFAULT 0;
-- SHA-256 of the one-time token an invited node joins with; NULL once used.
ALTER TABLE nodes ADD COLUMN join_token_hash BYTEA;
ALTER TABLE nodes ADD COLUMN join_token_expires_at BIGINT;
