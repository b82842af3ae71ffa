-- Master-key rotation in a cluster: which nodes' roots of trust hold which master
-- key. A node records each key it finds in its own HSM; a pending master key becomes
-- active only once every active member holds it. `drained_at` is set once the node
-- holds nothing under a retiring key and can make nothing more under it; the key is
-- destroyed only when every active member has drained it. Replicated.
-- Keep in step with the other backend's 0009_master_key_holders.sql.
CREATE TABLE master_key_holders (
    master_key_id TEXT   NOT NULL,
    node_id       TEXT   NOT NULL,
    confirmed_at  BIGINT NOT NULL,
    drained_at    BIGINT,
    PRIMARY KEY (master_key_id, node_id)
);
