-- Master-key rotation in a cluster: which nodes' roots of trust hold which master
-- key. A node records each key it finds in its own HSM; a pending master key becomes
-- active only once every active member holds it. Replicated like the master keys.
-- Keep in step with the other backend's 0009_master_key_holders.sql.
CREATE TABLE master_key_holders (
    master_key_id TEXT   NOT NULL,
    node_id       TEXT   NOT NULL,
    confirmed_at  BIGINT NOT NULL,
    PRIMARY KEY (master_key_id, node_id)
);
