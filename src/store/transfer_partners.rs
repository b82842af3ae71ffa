//! Key transfer partners (SPEC 8.3): the public transfer identities of other clusters
//! this cluster exchanges keys with. Cluster-wide: every write is logged and
//! replicates (last writer wins on the HLC); removal leaves a tombstone.

use super::users::to_json;
use super::{ChangeOp, Store, StoreError, WriteTx};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A registered partner.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TransferPartnerRecord {
    /// Fingerprint of its identity (hex SHA-256 over both public keys); the row's key.
    pub fingerprint: String,
    /// The name this cluster calls it by.
    pub name: String,
    /// `name` lowercased: names are unique without case among live partners.
    pub name_key: String,
    /// Its RSA encryption public key, PEM.
    pub encryption_pem: String,
    /// Its ECDSA P-256 signing public key, PEM.
    pub signing_pem: String,
    /// `active` or `removed`.
    pub state: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// HLC of the last change.
    pub hlc: i64,
    /// Node that made the last change.
    pub origin_node: String,
}

const COLUMNS: &str = "fingerprint, name, name_key, encryption_pem, signing_pem, state, \
                       created_at, updated_at, hlc, origin_node";

fn decode(r: &AnyRow) -> Result<TransferPartnerRecord, StoreError> {
    Ok(TransferPartnerRecord {
        fingerprint: r.try_get("fingerprint")?,
        name: r.try_get("name")?,
        name_key: r.try_get("name_key")?,
        encryption_pem: r.try_get("encryption_pem")?,
        signing_pem: r.try_get("signing_pem")?,
        state: r.try_get("state")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        hlc: r.try_get("hlc")?,
        origin_node: r.try_get("origin_node")?,
    })
}

impl WriteTx {
    /// Inserts or replaces a partner (by fingerprint), logging its new state.
    pub async fn put_transfer_partner(
        &mut self,
        p: &TransferPartnerRecord,
    ) -> Result<i64, StoreError> {
        sqlx::query("DELETE FROM transfer_partners WHERE fingerprint = $1")
            .bind(p.fingerprint.clone())
            .execute(self.conn())
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO transfer_partners ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        )))
        .bind(p.fingerprint.clone())
        .bind(p.name.clone())
        .bind(p.name_key.clone())
        .bind(p.encryption_pem.clone())
        .bind(p.signing_pem.clone())
        .bind(p.state.clone())
        .bind(p.created_at)
        .bind(p.updated_at)
        .bind(p.hlc)
        .bind(p.origin_node.clone())
        .execute(self.conn())
        .await?;
        let payload = to_json("transfer_partners", p)?;
        self.log_change(
            p.hlc,
            "transfer_partner",
            &p.fingerprint,
            ChangeOp::Upsert,
            &payload,
            p.updated_at,
        )
        .await
    }
}

impl Store {
    /// Live partners, by name.
    pub async fn transfer_partners(&self) -> Result<Vec<TransferPartnerRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM transfer_partners WHERE state = 'active' ORDER BY name_key"
        )))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode).collect()
    }

    /// A partner by fingerprint, tombstones included.
    pub async fn transfer_partner(
        &self,
        fingerprint: &str,
    ) -> Result<Option<TransferPartnerRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM transfer_partners WHERE fingerprint = $1"
        )))
        .bind(fingerprint)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode).transpose()
    }

    /// The live partner named `name` (without case).
    pub async fn transfer_partner_by_name(
        &self,
        name: &str,
    ) -> Result<Option<TransferPartnerRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM transfer_partners WHERE name_key = $1 AND state = 'active'"
        )))
        .bind(name.to_lowercase())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode).transpose()
    }

    /// The executed `transfer_export` quorum request whose result names transfer
    /// `transfer_id` (a UUID: no LIKE wildcards in it), if there is one.
    pub async fn executed_transfer_export(
        &self,
        transfer_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM quorum_requests WHERE action = 'transfer_export' AND state = 'executed' AND result LIKE $1",
        )
        .bind(format!("transfer {transfer_id} %"))
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.0))
    }
}
