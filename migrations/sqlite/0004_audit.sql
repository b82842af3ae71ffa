-- The tamper-evident audit trail (SPEC 6). See docs/audit.md for the hash and
-- signature formats. Keep in step with migrations/postgres/0004_audit.sql: same tables,
-- same columns.
--
-- One hash chain per origin replica (replica_meta.replica_id of the database the record
-- was written in), numbered gap-free like the change log, so records made on different
-- replicas can be shipped between them without merging chains.
CREATE TABLE audit_records (
    origin     TEXT   NOT NULL,
    seq        BIGINT NOT NULL,
    at_ms      BIGINT NOT NULL,
    node_id    TEXT   NOT NULL,
    actor      TEXT   NOT NULL,
    actor_kind TEXT   NOT NULL,
    action     TEXT   NOT NULL,
    object     TEXT,
    source     TEXT,
    outcome    TEXT   NOT NULL,
    detail     TEXT,
    prev_hash  BLOB   NOT NULL,
    hash       BLOB   NOT NULL,
    PRIMARY KEY (origin, seq)
);
CREATE INDEX audit_records_at ON audit_records (at_ms);

-- The last record of each origin's chain (seq 0 and 32 zero bytes before the first).
-- Appending locks this row, which serializes writers of one origin and keeps the
-- numbering gap-free; verification checks the chain ends here.
CREATE TABLE audit_heads (
    origin TEXT   PRIMARY KEY,
    seq    BIGINT NOT NULL,
    hash   BLOB   NOT NULL
);

-- Signed statements "the chain of origin O had hash H at seq S". kind 'periodic' is
-- written by the node's checkpoint task, 'deletion' anchors the last deleted record.
CREATE TABLE audit_checkpoints (
    origin      TEXT   NOT NULL,
    seq         BIGINT NOT NULL,
    hash        BLOB   NOT NULL,
    at_ms       BIGINT NOT NULL,
    kind        TEXT   NOT NULL,
    signer_node TEXT   NOT NULL,
    public_key  BLOB   NOT NULL,
    signature   BLOB   NOT NULL,
    PRIMARY KEY (origin, seq, kind)
);
