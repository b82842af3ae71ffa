-- Tape drives (SPEC 2.3, 2.5, 3): key policies, data units, the key pool.
-- Keep in step with migrations/sqlite/0005_drives.sql: same tables, same columns.

-- A key policy makes a wallet a key group: the keys handed to drives for its data come
-- from its pool and follow its periods. Periods are seconds; NULL means unlimited.
CREATE TABLE key_policies (
    wallet_id         TEXT    PRIMARY KEY,
    algorithm         TEXT    NOT NULL,
    length            INTEGER NOT NULL,
    encryption_period BIGINT,
    decryption_period BIGINT,
    exportable        INTEGER NOT NULL,
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL,
    hlc               BIGINT  NOT NULL,
    origin_node       TEXT    NOT NULL
);

-- A medium (tape volume) and the keys that ever encrypted it. external_unique_id is
-- unique where given; the external tag (barcode) need not be.
CREATE TABLE data_units (
    id                 TEXT   PRIMARY KEY,
    external_tag       TEXT,
    external_unique_id TEXT,
    wallet_id          TEXT   NOT NULL,
    description        TEXT,
    state              TEXT   NOT NULL,
    created_by         TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    hlc                BIGINT NOT NULL,
    origin_node        TEXT   NOT NULL
);
CREATE UNIQUE INDEX data_units_unique_id ON data_units (external_unique_id) WHERE external_unique_id IS NOT NULL;
CREATE INDEX data_units_tag ON data_units (external_tag);

-- Which keys encrypted which data unit, and how they were used.
CREATE TABLE data_unit_keys (
    data_unit_id  TEXT   NOT NULL,
    key_id        TEXT   NOT NULL,
    first_used_at BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL,
    writes        BIGINT NOT NULL,
    reads         BIGINT NOT NULL,
    bytes_written BIGINT NOT NULL,
    bytes_read    BIGINT NOT NULL,
    PRIMARY KEY (data_unit_id, key_id)
);
CREATE INDEX data_unit_keys_key ON data_unit_keys (key_id);

-- The key pool: keys generated and wrapped ahead of time, per node and key group. Rows
-- are node-local and never enter the change log, so no key can be handed out by two
-- nodes; taking one turns it into a managed object with the same ID.
CREATE TABLE pool_keys (
    id            TEXT    PRIMARY KEY,
    node_id       TEXT    NOT NULL,
    wallet_id     TEXT    NOT NULL,
    algorithm     TEXT    NOT NULL,
    length        INTEGER NOT NULL,
    wrapped       BYTEA   NOT NULL,
    master_key_id TEXT    NOT NULL,
    digest_sha256 TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL
);
CREATE INDEX pool_keys_take ON pool_keys (node_id, wallet_id, id);

-- Where a node serves drive agents, for discovery.
ALTER TABLE nodes ADD COLUMN agent_addr TEXT;
