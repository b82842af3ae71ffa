//! Groups, wallets, grants and settings (SPEC 5.3–5.4, 5.8), and the queries that
//! resolve a caller's effective rights.
//!
//! Memberships and grants are rows without history; adding one logs an upsert and
//! removing one logs a delete, keyed by the row's natural key, so a peer replays them
//! idempotently.

use super::changelog::NewChange;
use super::multi_row::MULTI_ROWS;
use super::users::to_json;
use super::{ChangeOp, Store, StoreError, WriteTx};
use sqlx::any::AnyRow;
use sqlx::Row;

/// An object made in this transaction, to be put in a wallet.
#[derive(Debug, Clone)]
pub struct NewWalletObject {
    /// The wallet.
    pub wallet_id: String,
    /// The new object.
    pub object_id: String,
    /// Owner tag of whoever added it.
    pub added_by: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// HLC of the change.
    pub hlc: i64,
}

/// A user group or endpoint group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupRecord {
    /// Group ID (UUIDv7).
    pub id: String,
    /// `user` or `endpoint`.
    pub kind: String,
    /// Name as given.
    pub name: String,
    /// Lower-case name; `None` once deleted.
    pub name_key: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// `active` or `deleted`.
    pub state: String,
    /// Who created it (user ID).
    pub created_by: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// HLC of the last change.
    pub hlc: i64,
    /// Node that made the last change.
    pub origin_node: String,
}

/// A virtual wallet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WalletRecord {
    /// Wallet ID (UUIDv7).
    pub id: String,
    /// Name as given (wallet names are case-sensitive).
    pub name: String,
    /// The name while the wallet lives; `None` once deleted.
    pub name_key: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// `active` or `deleted`.
    pub state: String,
    /// Who created it (user ID).
    pub created_by: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// HLC of the last change.
    pub hlc: i64,
    /// Node that made the last change.
    pub origin_node: String,
}

/// One grant of access to a wallet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WalletGrant {
    /// The wallet.
    pub wallet_id: String,
    /// `user`, `user_group`, `endpoint` or `endpoint_group`.
    pub grantee_kind: String,
    /// The grantee's ID.
    pub grantee_id: String,
    /// 1 read only, 2 read and modify, 3 manage wallet.
    pub level: i64,
    /// Who granted it (user ID).
    pub granted_by: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// One Manage Endpoint / Manage Endpoint Group grant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ManageGrant {
    /// `endpoint` or `endpoint_group`.
    pub target_kind: String,
    /// The endpoint or group ID.
    pub target_id: String,
    /// The user holding it.
    pub user_id: String,
    /// Who granted it (user ID), `None` when given at creation.
    pub granted_by: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

const GROUP_COLUMNS: &str =
    "id, kind, name, name_key, description, state, created_by, created_at, updated_at, hlc, origin_node";
const WALLET_COLUMNS: &str =
    "id, name, name_key, description, state, created_by, created_at, updated_at, hlc, origin_node";

fn decode_group(r: &AnyRow) -> Result<GroupRecord, StoreError> {
    Ok(GroupRecord {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        name: r.try_get("name")?,
        name_key: r.try_get("name_key")?,
        description: r.try_get("description")?,
        state: r.try_get("state")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        hlc: r.try_get("hlc")?,
        origin_node: r.try_get("origin_node")?,
    })
}

fn decode_wallet(r: &AnyRow) -> Result<WalletRecord, StoreError> {
    Ok(WalletRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        name_key: r.try_get("name_key")?,
        description: r.try_get("description")?,
        state: r.try_get("state")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        hlc: r.try_get("hlc")?,
        origin_node: r.try_get("origin_node")?,
    })
}

fn decode_grant(r: &AnyRow) -> Result<WalletGrant, StoreError> {
    Ok(WalletGrant {
        wallet_id: r.try_get("wallet_id")?,
        grantee_kind: r.try_get("grantee_kind")?,
        grantee_id: r.try_get("grantee_id")?,
        level: r.try_get("level")?,
        granted_by: r.try_get("granted_by")?,
        created_at: r.try_get("created_at")?,
    })
}

fn op_for(state: &str) -> ChangeOp {
    if state == "deleted" {
        ChangeOp::Delete
    } else {
        ChangeOp::Upsert
    }
}

impl WriteTx {
    /// Inserts or replaces a group (by ID), logging it. A taken name fails with a
    /// unique violation.
    pub async fn put_group(&mut self, g: &GroupRecord) -> Result<i64, StoreError> {
        sqlx::query("DELETE FROM groups_ WHERE id = $1")
            .bind(g.id.clone())
            .execute(self.conn())
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO groups_ ({GROUP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        )))
        .bind(g.id.clone())
        .bind(g.kind.clone())
        .bind(g.name.clone())
        .bind(g.name_key.clone())
        .bind(g.description.clone())
        .bind(g.state.clone())
        .bind(g.created_by.clone())
        .bind(g.created_at)
        .bind(g.updated_at)
        .bind(g.hlc)
        .bind(g.origin_node.clone())
        .execute(self.conn())
        .await?;
        if g.state == "deleted" {
            for q in [
                "DELETE FROM group_members WHERE group_id = $1",
                "DELETE FROM manage_grants WHERE target_id = $1",
                "DELETE FROM wallet_grants WHERE grantee_id = $1",
            ] {
                sqlx::query(q)
                    .bind(g.id.clone())
                    .execute(self.conn())
                    .await?;
            }
        }
        let payload = to_json("groups_", g)?;
        self.log_change(
            g.hlc,
            "group",
            &g.id,
            op_for(&g.state),
            &payload,
            g.updated_at,
        )
        .await
    }

    /// Inserts or replaces a wallet (by ID), logging it. Deleting a wallet drops its
    /// contents list and grants (the objects themselves stay).
    pub async fn put_wallet(&mut self, w: &WalletRecord) -> Result<i64, StoreError> {
        sqlx::query("DELETE FROM wallets WHERE id = $1")
            .bind(w.id.clone())
            .execute(self.conn())
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO wallets ({WALLET_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        )))
        .bind(w.id.clone())
        .bind(w.name.clone())
        .bind(w.name_key.clone())
        .bind(w.description.clone())
        .bind(w.state.clone())
        .bind(w.created_by.clone())
        .bind(w.created_at)
        .bind(w.updated_at)
        .bind(w.hlc)
        .bind(w.origin_node.clone())
        .execute(self.conn())
        .await?;
        if w.state == "deleted" {
            for q in [
                "DELETE FROM wallet_objects WHERE wallet_id = $1",
                "DELETE FROM wallet_grants WHERE wallet_id = $1",
            ] {
                sqlx::query(q)
                    .bind(w.id.clone())
                    .execute(self.conn())
                    .await?;
            }
            sqlx::query("UPDATE endpoints SET default_wallet = NULL WHERE default_wallet = $1")
                .bind(w.id.clone())
                .execute(self.conn())
                .await?;
        }
        let payload = to_json("wallets", w)?;
        self.log_change(
            w.hlc,
            "wallet",
            &w.id,
            op_for(&w.state),
            &payload,
            w.updated_at,
        )
        .await
    }

    /// Adds `member_id` to a group (idempotent).
    pub async fn add_member(
        &mut self,
        group_id: &str,
        member_id: &str,
        now: i64,
        hlc: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND member_id = $2")
            .bind(group_id)
            .bind(member_id)
            .execute(self.conn())
            .await?;
        sqlx::query(
            "INSERT INTO group_members (group_id, member_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(group_id)
        .bind(member_id)
        .bind(now)
        .execute(self.conn())
        .await?;
        let payload = to_json(
            "group_members",
            &serde_json::json!({"group_id": group_id, "member_id": member_id}),
        )?;
        self.log_change(
            hlc,
            "group_member",
            &format!("{group_id}/{member_id}"),
            ChangeOp::Upsert,
            &payload,
            now,
        )
        .await?;
        Ok(())
    }

    /// Removes `member_id` from a group; false if it was not a member.
    pub async fn remove_member(
        &mut self,
        group_id: &str,
        member_id: &str,
        now: i64,
        hlc: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND member_id = $2")
            .bind(group_id)
            .bind(member_id)
            .execute(self.conn())
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let payload = to_json(
            "group_members",
            &serde_json::json!({"group_id": group_id, "member_id": member_id}),
        )?;
        self.log_change(
            hlc,
            "group_member",
            &format!("{group_id}/{member_id}"),
            ChangeOp::Delete,
            &payload,
            now,
        )
        .await?;
        Ok(true)
    }

    /// Puts an object in a wallet (idempotent).
    pub async fn add_wallet_object(
        &mut self,
        wallet_id: &str,
        object_id: &str,
        added_by: Option<&str>,
        now: i64,
        hlc: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM wallet_objects WHERE wallet_id = $1 AND object_id = $2")
            .bind(wallet_id)
            .bind(object_id)
            .execute(self.conn())
            .await?;
        sqlx::query("INSERT INTO wallet_objects (wallet_id, object_id, added_by, created_at) VALUES ($1, $2, $3, $4)")
            .bind(wallet_id)
            .bind(object_id)
            .bind(added_by.map(str::to_owned))
            .bind(now)
            .execute(self.conn())
            .await?;
        let payload = to_json(
            "wallet_objects",
            &serde_json::json!({"wallet_id": wallet_id, "object_id": object_id, "added_by": added_by}),
        )?;
        self.log_change(
            hlc,
            "wallet_object",
            &format!("{wallet_id}/{object_id}"),
            ChangeOp::Upsert,
            &payload,
            now,
        )
        .await?;
        Ok(())
    }

    /// Puts objects made in this transaction in wallets, in multi-row statements, and
    /// logs each: [`WriteTx::add_wallet_object`] for a batch of new objects (which
    /// can be in no wallet yet, so nothing is replaced).
    pub async fn add_new_objects_to_wallets(
        &mut self,
        rows: &[NewWalletObject],
    ) -> Result<(), StoreError> {
        for chunk in rows.chunks(MULTI_ROWS) {
            let sql = self.multi_row_insert(
                "wallet_objects",
                "wallet_id, object_id, added_by, created_at",
                4,
                chunk.len(),
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in chunk {
                q = q
                    .bind(r.wallet_id.clone())
                    .bind(r.object_id.clone())
                    .bind(r.added_by.clone())
                    .bind(r.created_at);
            }
            q.execute(self.conn()).await?;
        }
        let changes = rows
            .iter()
            .map(|r| {
                Ok(NewChange {
                    hlc: r.hlc,
                    entity: "wallet_object",
                    entity_id: format!("{}/{}", r.wallet_id, r.object_id),
                    op: ChangeOp::Upsert,
                    payload: to_json(
                        "wallet_objects",
                        &serde_json::json!({"wallet_id": r.wallet_id, "object_id": r.object_id, "added_by": r.added_by}),
                    )?,
                    created_at: r.created_at,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.log_changes(changes)
    }

    /// Takes an object out of a wallet; false if it was not in it.
    pub async fn remove_wallet_object(
        &mut self,
        wallet_id: &str,
        object_id: &str,
        now: i64,
        hlc: i64,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM wallet_objects WHERE wallet_id = $1 AND object_id = $2")
                .bind(wallet_id)
                .bind(object_id)
                .execute(self.conn())
                .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let payload = to_json(
            "wallet_objects",
            &serde_json::json!({"wallet_id": wallet_id, "object_id": object_id}),
        )?;
        self.log_change(
            hlc,
            "wallet_object",
            &format!("{wallet_id}/{object_id}"),
            ChangeOp::Delete,
            &payload,
            now,
        )
        .await?;
        Ok(true)
    }

    /// Sets a grantee's level on a wallet (replacing any earlier grant).
    pub async fn put_wallet_grant(&mut self, g: &WalletGrant, hlc: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM wallet_grants WHERE wallet_id = $1 AND grantee_kind = $2 AND grantee_id = $3")
            .bind(g.wallet_id.clone())
            .bind(g.grantee_kind.clone())
            .bind(g.grantee_id.clone())
            .execute(self.conn())
            .await?;
        sqlx::query(
            "INSERT INTO wallet_grants (wallet_id, grantee_kind, grantee_id, level, granted_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(g.wallet_id.clone())
        .bind(g.grantee_kind.clone())
        .bind(g.grantee_id.clone())
        .bind(g.level)
        .bind(g.granted_by.clone())
        .bind(g.created_at)
        .execute(self.conn())
        .await?;
        let payload = to_json("wallet_grants", g)?;
        let key = format!("{}/{}/{}", g.wallet_id, g.grantee_kind, g.grantee_id);
        self.log_change(
            hlc,
            "wallet_grant",
            &key,
            ChangeOp::Upsert,
            &payload,
            g.created_at,
        )
        .await?;
        Ok(())
    }

    /// Removes a grantee's grant on a wallet; false if there was none.
    pub async fn remove_wallet_grant(
        &mut self,
        wallet_id: &str,
        grantee_kind: &str,
        grantee_id: &str,
        now: i64,
        hlc: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM wallet_grants WHERE wallet_id = $1 AND grantee_kind = $2 AND grantee_id = $3")
            .bind(wallet_id)
            .bind(grantee_kind)
            .bind(grantee_id)
            .execute(self.conn())
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let key = format!("{wallet_id}/{grantee_kind}/{grantee_id}");
        let payload = to_json(
            "wallet_grants",
            &serde_json::json!({"wallet_id": wallet_id, "grantee_kind": grantee_kind, "grantee_id": grantee_id}),
        )?;
        self.log_change(hlc, "wallet_grant", &key, ChangeOp::Delete, &payload, now)
            .await?;
        Ok(true)
    }

    /// Grants Manage Endpoint / Manage Endpoint Group (idempotent).
    pub async fn put_manage_grant(&mut self, g: &ManageGrant, hlc: i64) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM manage_grants WHERE target_kind = $1 AND target_id = $2 AND user_id = $3",
        )
        .bind(g.target_kind.clone())
        .bind(g.target_id.clone())
        .bind(g.user_id.clone())
        .execute(self.conn())
        .await?;
        sqlx::query(
            "INSERT INTO manage_grants (target_kind, target_id, user_id, granted_by, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(g.target_kind.clone())
        .bind(g.target_id.clone())
        .bind(g.user_id.clone())
        .bind(g.granted_by.clone())
        .bind(g.created_at)
        .execute(self.conn())
        .await?;
        let payload = to_json("manage_grants", g)?;
        let key = format!("{}/{}/{}", g.target_kind, g.target_id, g.user_id);
        self.log_change(
            hlc,
            "manage_grant",
            &key,
            ChangeOp::Upsert,
            &payload,
            g.created_at,
        )
        .await?;
        Ok(())
    }

    /// Revokes Manage Endpoint / Manage Endpoint Group; false if not held.
    pub async fn remove_manage_grant(
        &mut self,
        target_kind: &str,
        target_id: &str,
        user_id: &str,
        now: i64,
        hlc: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM manage_grants WHERE target_kind = $1 AND target_id = $2 AND user_id = $3",
        )
        .bind(target_kind)
        .bind(target_id)
        .bind(user_id)
        .execute(self.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let key = format!("{target_kind}/{target_id}/{user_id}");
        let payload = to_json(
            "manage_grants",
            &serde_json::json!({"target_kind": target_kind, "target_id": target_id, "user_id": user_id}),
        )?;
        self.log_change(hlc, "manage_grant", &key, ChangeOp::Delete, &payload, now)
            .await?;
        Ok(true)
    }

    /// Drops every grant and membership of a deleted user or endpoint.
    pub async fn forget_principal(
        &mut self,
        id: &str,
        now: i64,
        hlc: i64,
    ) -> Result<(), StoreError> {
        for q in [
            "DELETE FROM group_members WHERE member_id = $1",
            "DELETE FROM manage_grants WHERE user_id = $1 OR target_id = $1",
            "DELETE FROM wallet_grants WHERE grantee_id = $1",
            "DELETE FROM quorum_members WHERE user_id = $1",
        ] {
            sqlx::query(q).bind(id).execute(self.conn()).await?;
        }
        let payload = to_json("principals", &serde_json::json!({"id": id}))?;
        self.log_change(hlc, "principal_grants", id, ChangeOp::Delete, &payload, now)
            .await?;
        Ok(())
    }

    /// Sets a cluster setting (JSON value).
    pub async fn put_setting(
        &mut self,
        name: &str,
        value: &serde_json::Value,
        now: i64,
        hlc: i64,
    ) -> Result<(), StoreError> {
        let text = value.to_string();
        sqlx::query("DELETE FROM settings WHERE name = $1")
            .bind(name)
            .execute(self.conn())
            .await?;
        sqlx::query("INSERT INTO settings (name, value, updated_at, hlc, origin_node) VALUES ($1, $2, $3, $4, $5)")
            .bind(name)
            .bind(text.clone())
            .bind(now)
            .bind(hlc)
            .bind(self.node_id.clone())
            .execute(self.conn())
            .await?;
        let payload = to_json(
            "settings",
            &serde_json::json!({"name": name, "value": value}),
        )?;
        self.log_change(hlc, "setting", name, ChangeOp::Upsert, &payload, now)
            .await?;
        Ok(())
    }
}

impl Store {
    /// A group by ID (tombstones included).
    pub async fn group(&self, id: &str) -> Result<Option<GroupRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {GROUP_COLUMNS} FROM groups_ WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode_group).transpose()
    }

    /// The live group of `kind` whose name key is `name_key`.
    pub async fn group_by_name(
        &self,
        kind: &str,
        name_key: &str,
    ) -> Result<Option<GroupRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {GROUP_COLUMNS} FROM groups_ WHERE kind = $1 AND name_key = $2"
        )))
        .bind(kind)
        .bind(name_key)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode_group).transpose()
    }

    /// Live groups of `kind`, by name.
    pub async fn list_groups(
        &self,
        kind: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<GroupRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {GROUP_COLUMNS} FROM groups_ WHERE kind = $1 AND state = 'active' ORDER BY name_key LIMIT $2 OFFSET $3"
        )))
        .bind(kind)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode_group).collect()
    }

    /// Member IDs of a group.
    pub async fn group_members(&self, group_id: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT member_id FROM group_members WHERE group_id = $1 ORDER BY member_id",
        )
        .bind(group_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// A wallet by ID (tombstones included).
    pub async fn wallet(&self, id: &str) -> Result<Option<WalletRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {WALLET_COLUMNS} FROM wallets WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode_wallet).transpose()
    }

    /// The live wallet named exactly `name` (case-sensitive).
    pub async fn wallet_by_name(&self, name: &str) -> Result<Option<WalletRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {WALLET_COLUMNS} FROM wallets WHERE name_key = $1"
        )))
        .bind(name)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decode_wallet).transpose()
    }

    /// Live wallets, by name.
    pub async fn list_wallets(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<WalletRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {WALLET_COLUMNS} FROM wallets WHERE state = 'active' ORDER BY name_key LIMIT $1 OFFSET $2"
        )))
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode_wallet).collect()
    }

    /// IDs of the wallets an object is in.
    pub async fn wallets_of_object(&self, object_id: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT wallet_id FROM wallet_objects WHERE object_id = $1")
                .bind(object_id)
                .fetch_all(self.pool())
                .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// IDs of the objects in a wallet, oldest first.
    pub async fn wallet_objects(
        &self,
        wallet_id: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT object_id FROM wallet_objects WHERE wallet_id = $1 ORDER BY object_id LIMIT $2 OFFSET $3",
        )
        .bind(wallet_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Every grant on a wallet.
    pub async fn wallet_grants(&self, wallet_id: &str) -> Result<Vec<WalletGrant>, StoreError> {
        let rows = sqlx::query(
            "SELECT wallet_id, grantee_kind, grantee_id, level, granted_by, created_at FROM wallet_grants \
             WHERE wallet_id = $1 ORDER BY grantee_kind, grantee_id",
        )
        .bind(wallet_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode_grant).collect()
    }

    /// Users holding Manage on one endpoint or endpoint group.
    pub async fn managers_of(
        &self,
        target_kind: &str,
        target_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT user_id FROM manage_grants WHERE target_kind = $1 AND target_id = $2 ORDER BY user_id",
        )
        .bind(target_kind)
        .bind(target_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Every Manage grant a user holds: (target kind, target ID).
    pub async fn manage_grants_of(
        &self,
        user_id: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT target_kind, target_id FROM manage_grants WHERE user_id = $1")
                .bind(user_id)
                .fetch_all(self.pool())
                .await?;
        Ok(rows)
    }

    /// IDs of the live groups `member_id` belongs to.
    pub async fn groups_of(&self, member_id: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT m.group_id FROM group_members m JOIN groups_ g ON g.id = m.group_id \
             WHERE m.member_id = $1 AND g.state = 'active'",
        )
        .bind(member_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// A user's wallet grants by every path (SPEC 5.4): direct, through user groups,
    /// and through the endpoint groups the user manages. (wallet ID, level) pairs;
    /// the caller takes the maximum per wallet.
    pub async fn user_wallet_access(
        &self,
        user_id: &str,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT wallet_id, level FROM wallet_grants WHERE \
               (grantee_kind = 'user' AND grantee_id = $1) \
               OR (grantee_kind = 'user_group' AND grantee_id IN (SELECT group_id FROM group_members WHERE member_id = $2)) \
               OR (grantee_kind = 'endpoint_group' AND grantee_id IN \
                   (SELECT target_id FROM manage_grants WHERE user_id = $3 AND target_kind = 'endpoint_group'))",
        )
        .bind(user_id)
        .bind(user_id)
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows)
    }

    /// An endpoint's wallet grants: direct and through its endpoint groups.
    pub async fn endpoint_wallet_access(
        &self,
        endpoint_id: &str,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT wallet_id, level FROM wallet_grants WHERE \
               (grantee_kind = 'endpoint' AND grantee_id = $1) \
               OR (grantee_kind = 'endpoint_group' AND grantee_id IN (SELECT group_id FROM group_members WHERE member_id = $2))",
        )
        .bind(endpoint_id)
        .bind(endpoint_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows)
    }

    /// A cluster setting's JSON value, if set.
    pub async fn setting(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        row.map(|(v,)| {
            serde_json::from_str(&v).map_err(|e| StoreError::Corrupt {
                table: "settings",
                detail: format!("{name}: {e}"),
            })
        })
        .transpose()
    }
}
