-- Master-key backups: each holder's Shamir share waits here, wrapped under the master
-- key, until that holder fetches it once; the row goes in the same transaction.
-- Node-local (never in the change log or a data backup): the shares exist only on the
-- node that ran the backup, and only until they are fetched.
-- Keep in step with the other backend's 0007_master_key_shares.sql.
CREATE TABLE master_key_shares (
    backup_id     TEXT    NOT NULL,
    holder_id     TEXT    NOT NULL,
    node_id       TEXT    NOT NULL,
    share_index   INTEGER NOT NULL,
    wrapped       BLOB   NOT NULL,
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (backup_id, holder_id)
);
