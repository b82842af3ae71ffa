//! What a peer's change does to this replica's tables, entity by entity.
//!
//! Replays go through the same `WriteTx` methods local writes use (with logging
//! switched off, see [`WriteTx::log_change`]), so a replicated row is exactly the row
//! the origin wrote. `wins` says whether the change is newer (HLC, node ID) than every
//! write this replica holds for the entity; a change that loses is stored for forwarding
//! and otherwise ignored — except where a rule merges instead (objects, use counters).

use super::merge::{is_destroyed, join_state, Version};
use super::replicate::{decode, is_delete};
use super::{
    Change, DataUnitKeyRecord, DataUnitRecord, EndpointRecord, GroupRecord, KeyPolicyRecord,
    ManageGrant, MasterKeyRecord, NodeAgentAddr, NodeRecord, QuorumRequestRecord, StoreError,
    StoredObject, UserRecord, WalletGrant, WalletRecord, WriteTx,
};
use crate::keys::ObjectMeta;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

/// An object as the change log carries it.
#[derive(Deserialize)]
struct ObjectPayload {
    meta: ObjectMeta,
    wrapped: Option<String>,
    master_key_id: Option<String>,
    hlc: i64,
    origin_node: String,
    owner: Option<String>,
}

fn field<'a>(v: &'a Value, c: &Change, name: &str) -> Result<&'a str, StoreError> {
    v.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| StoreError::Corrupt {
            table: "change_log",
            detail: format!(
                "{} {} from {}#{}: no `{name}`",
                c.entity, c.entity_id, c.origin, c.seq
            ),
        })
}

fn hex_field(v: &Value, c: &Change, name: &str) -> Result<Vec<u8>, StoreError> {
    hex::decode(field(v, c, name)?).map_err(|e| StoreError::Corrupt {
        table: "change_log",
        detail: format!("{} {}: `{name}`: {e}", c.entity, c.entity_id),
    })
}

/// Names are at most this long (SPEC 5.5).
const MAX_NAME_BYTES: usize = 120;

/// A deterministic new name for the loser of a name collision: the same on every
/// replica, and still a valid name of every kind (letters, digits, `_`).
fn renamed(name: &str, id: &str) -> String {
    let tail: String = id.chars().filter(|c| *c != '-').rev().take(12).collect();
    let tail: String = tail.chars().rev().collect();
    let keep = name.len().min(MAX_NAME_BYTES - tail.len() - 1);
    let mut cut = keep;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{tail}", &name[..cut])
}

impl WriteTx {
    pub(super) async fn replay(&mut self, c: &Change, wins: bool) -> Result<(), StoreError> {
        match c.entity.as_str() {
            "object" => return self.merge_object(c, false).await,
            "master_key" => {
                let m: MasterKeyRecord = decode(c)?;
                return self.merge_master_key(&m).await;
            }
            "data_unit_key" => return self.merge_data_unit_key(c).await,
            _ => {}
        }
        if !wins {
            return Ok(());
        }
        let now = c.created_at;
        let hlc = c.hlc;
        match c.entity.as_str() {
            "node" => {
                let n: NodeRecord = decode(c)?;
                sqlx::query(
                    "INSERT INTO nodes (id, name, site, replica_id, created_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, site = excluded.site, replica_id = excluded.replica_id",
                )
                .bind(n.id.clone())
                .bind(n.name.clone())
                .bind(n.site.clone())
                .bind(n.replica_id.clone())
                .bind(n.created_at)
                .execute(self.conn())
                .await?;
            }
            "node_member" => {
                let m: super::NodeMember = decode(c)?;
                self.put_node_member(&m, hlc, now).await?;
            }
            "master_key_holder" => {
                let h: super::MasterKeyHolder = decode(c)?;
                self.put_master_key_holder(&h, hlc).await?;
            }
            "node_agent_addr" => {
                let a: NodeAgentAddr = decode(c)?;
                self.set_node_agent_addr(&a, hlc, now).await?;
            }
            "credential" => {
                let v: Value = decode(c)?;
                let id = field(&v, c, "id")?.to_owned();
                self.exec1("DELETE FROM credentials WHERE id = $1", &id)
                    .await?;
                let cred = super::Credential {
                    id,
                    kind: field(&v, c, "kind")?.to_owned(),
                    cert_pem: field(&v, c, "cert_pem")?.to_owned(),
                    wrapped_key: hex_field(&v, c, "wrapped_key")?,
                    master_key_id: field(&v, c, "master_key_id")?.to_owned(),
                    created_at: now,
                };
                self.insert_credential(&cred, hlc).await?;
            }
            "api_token" => {
                let v: Value = decode(c)?;
                let id = field(&v, c, "id")?.to_owned();
                self.exec1("DELETE FROM api_tokens WHERE id = $1", &id)
                    .await?;
                if !is_delete(c) {
                    sqlx::query(
                        "INSERT INTO api_tokens (id, principal, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(id)
                    .bind(field(&v, c, "principal")?.to_owned())
                    .bind(hex_field(&v, c, "token_hash")?)
                    .bind(now)
                    .bind(v.get("expires_at").and_then(Value::as_i64))
                    .execute(self.conn())
                    .await?;
                }
            }
            "api_tokens_of" => {
                let v: Value = decode(c)?;
                let principal = field(&v, c, "principal")?.to_owned();
                self.exec1("DELETE FROM api_tokens WHERE principal = $1", &principal)
                    .await?;
            }
            "recovery_passphrase" => {
                let v: Value = decode(c)?;
                self.set_recovery_hash(field(&v, c, "phc_hash")?, now, hlc)
                    .await?;
            }
            "endpoint" => {
                let mut e: EndpointRecord = decode(c)?;
                self.exec1("DELETE FROM endpoints WHERE id = $1", &e.id)
                    .await?;
                if let Some(key) = e.name_key.clone() {
                    if self
                        .loses_name("endpoints", "", &key, &e.id, |n| n.to_ascii_lowercase())
                        .await?
                    {
                        e.name = renamed(&e.name, &e.id);
                        e.name_key = Some(e.name.to_ascii_lowercase());
                    }
                }
                self.insert_endpoint(&e).await?;
            }
            "user" => {
                let mut u: UserRecord = decode(c)?;
                self.exec1("DELETE FROM users WHERE id = $1", &u.id).await?;
                if let Some(key) = u.name_key.clone() {
                    if self
                        .loses_name("users", "", &key, &u.id, |n| n.to_ascii_lowercase())
                        .await?
                    {
                        u.name = renamed(&u.name, &u.id);
                        u.name_key = Some(u.name.to_ascii_lowercase());
                    }
                }
                self.insert_user(&u).await?;
            }
            "group" => {
                let mut g: GroupRecord = decode(c)?;
                if let Some(key) = g.name_key.clone() {
                    let scope = format!("kind = '{}' AND ", sql_word(&g.kind));
                    if self
                        .loses_name("groups_", &scope, &key, &g.id, |n| n.to_ascii_lowercase())
                        .await?
                    {
                        g.name = renamed(&g.name, &g.id);
                        g.name_key = Some(g.name.to_ascii_lowercase());
                    }
                }
                self.put_group(&g).await?;
            }
            "wallet" => {
                let mut w: WalletRecord = decode(c)?;
                if let Some(key) = w.name_key.clone() {
                    // Wallet names are case-sensitive: the key is the name itself.
                    if self
                        .loses_name("wallets", "", &key, &w.id, |n| n.to_owned())
                        .await?
                    {
                        w.name = renamed(&w.name, &w.id);
                        w.name_key = Some(w.name.clone());
                    }
                }
                self.put_wallet(&w).await?;
            }
            "group_member" => {
                let v: Value = decode(c)?;
                let (g, m) = (field(&v, c, "group_id")?, field(&v, c, "member_id")?);
                if is_delete(c) {
                    self.remove_member(g, m, now, hlc).await?;
                } else if !self.link_blocked(&[g, m], hlc, &c.node_id).await? {
                    self.add_member(g, m, now, hlc).await?;
                }
            }
            "wallet_object" => {
                let v: Value = decode(c)?;
                let (w, o) = (field(&v, c, "wallet_id")?, field(&v, c, "object_id")?);
                if is_delete(c) {
                    self.remove_wallet_object(w, o, now, hlc).await?;
                } else if !self.link_blocked(&[w], hlc, &c.node_id).await? {
                    let by = v.get("added_by").and_then(Value::as_str);
                    self.add_wallet_object(w, o, by, now, hlc).await?;
                }
            }
            "wallet_grant" => {
                if is_delete(c) {
                    let v: Value = decode(c)?;
                    self.remove_wallet_grant(
                        field(&v, c, "wallet_id")?,
                        field(&v, c, "grantee_kind")?,
                        field(&v, c, "grantee_id")?,
                        now,
                        hlc,
                    )
                    .await?;
                } else {
                    let g: WalletGrant = decode(c)?;
                    if !self
                        .link_blocked(&[&g.wallet_id, &g.grantee_id], hlc, &c.node_id)
                        .await?
                    {
                        self.put_wallet_grant(&g, hlc).await?;
                    }
                }
            }
            "manage_grant" => {
                if is_delete(c) {
                    let v: Value = decode(c)?;
                    self.remove_manage_grant(
                        field(&v, c, "target_kind")?,
                        field(&v, c, "target_id")?,
                        field(&v, c, "user_id")?,
                        now,
                        hlc,
                    )
                    .await?;
                } else {
                    let g: ManageGrant = decode(c)?;
                    if !self
                        .link_blocked(&[&g.target_id, &g.user_id], hlc, &c.node_id)
                        .await?
                    {
                        self.put_manage_grant(&g, hlc).await?;
                    }
                }
            }
            "principal_grants" => {
                let v: Value = decode(c)?;
                self.forget_principal(field(&v, c, "id")?, now, hlc).await?;
            }
            "setting" => {
                let v: Value = decode(c)?;
                let value = v.get("value").cloned().unwrap_or(Value::Null);
                self.put_setting(field(&v, c, "name")?, &value, now, hlc)
                    .await?;
            }
            "quorum" => {
                let v: Value = decode(c)?;
                let members: Vec<String> = v
                    .get("members")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|m| m.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                let required = v.get("required").and_then(Value::as_i64).unwrap_or(0);
                self.set_quorum(&members, required, now, hlc).await?;
            }
            "quorum_request" => {
                let q: QuorumRequestRecord = decode(c)?;
                self.exec1("DELETE FROM quorum_requests WHERE id = $1", &q.id)
                    .await?;
                self.put_quorum_request(&q, None).await?;
            }
            "quorum_vote" => {
                let v: Value = decode(c)?;
                let approve = field(&v, c, "vote")? == "approve";
                self.insert_quorum_vote(
                    field(&v, c, "request_id")?,
                    field(&v, c, "user_id")?,
                    approve,
                    now,
                    hlc,
                )
                .await?;
            }
            "transfer_partner" => {
                let p: super::TransferPartnerRecord = decode(c)?;
                self.put_transfer_partner(&p).await?;
            }
            "key_policy" => {
                if is_delete(c) {
                    self.remove_key_policy(&c.entity_id, now, hlc).await?;
                } else {
                    let p: KeyPolicyRecord = decode(c)?;
                    self.put_key_policy(&p).await?;
                }
            }
            "data_unit" => {
                let mut d: DataUnitRecord = decode(c)?;
                if let Some(uid) = d.external_unique_id.clone() {
                    // Two sites labelled the same medium concurrently: the smaller ID
                    // keeps the unique ID; the other unit keeps its keys and its tag.
                    if self.loses_unique_id(&uid, &d.id).await? {
                        d.external_unique_id = None;
                    }
                }
                self.put_data_unit(&d).await?;
            }
            other => {
                // A newer version's entity: kept in the log (and forwarded), applied
                // once this node is upgraded and replays it.
                tracing::warn!(entity = other, origin = %c.origin, seq = c.seq, "change of an unknown kind stored but not applied");
            }
        }
        Ok(())
    }

    async fn exec1(&mut self, sql: &'static str, arg: &str) -> Result<(), StoreError> {
        sqlx::query(sql)
            .bind(arg.to_owned())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Objects: material never changes, states only move forward, the rest is
    /// last-writer-wins; destroyed means no material, whichever change said so.
    /// `fresh` says the replica is known not to hold the object yet.
    pub(super) async fn merge_object(&mut self, c: &Change, fresh: bool) -> Result<(), StoreError> {
        let p: ObjectPayload = decode(c)?;
        let wrapped = p
            .wrapped
            .as_deref()
            .map(|w| B64.decode(w))
            .transpose()
            .map_err(|e| StoreError::Corrupt {
                table: "change_log",
                detail: format!("object {}: wrapped: {e}", c.entity_id),
            })?;
        let incoming = StoredObject {
            meta: p.meta,
            wrapped,
            master_key_id: p.master_key_id,
            hlc: p.hlc,
            origin_node: p.origin_node,
            owner: p.owner,
        };
        let existing = if fresh {
            None
        } else {
            self.object_in_tx(&incoming.meta.id).await?
        };
        let merged = match existing {
            None => incoming,
            Some(cur) => {
                let newer = Version {
                    hlc: incoming.hlc,
                    node_id: &incoming.origin_node,
                } > Version {
                    hlc: cur.hlc,
                    node_id: &cur.origin_node,
                };
                let state = join_state(cur.meta.state, incoming.meta.state);
                let (mut win, lose) = if newer {
                    (incoming, cur)
                } else {
                    (cur, incoming)
                };
                // The material is the same in both; the blob kept is the one under the
                // newer master key, whoever won, so a re-wrap spreads and never reverts.
                if win.wrapped.is_none()
                    || self.prefers_blob_of(&lose, &win).await?
                    || Self::same_key_smaller_blob(&lose, &win)
                {
                    win.wrapped = lose.wrapped;
                    win.master_key_id = lose.master_key_id;
                }
                win.meta.state = state;
                win
            }
        };
        let mut merged = merged;
        if is_destroyed(merged.meta.state) {
            merged.wrapped = None;
        }
        if !fresh {
            self.exec1("DELETE FROM objects WHERE id = $1", &merged.meta.id)
                .await?;
        }
        self.insert_object(&merged).await?;
        Ok(())
    }

    /// True when `a`'s wrapped blob is under a master key further along than `b`'s:
    /// active before retiring before destroyed or unknown.
    async fn prefers_blob_of(
        &mut self,
        a: &StoredObject,
        b: &StoredObject,
    ) -> Result<bool, StoreError> {
        let (Some(ka), Some(kb)) = (&a.master_key_id, &b.master_key_id) else {
            return Ok(false);
        };
        if a.wrapped.is_none() || ka == kb {
            return Ok(false);
        }
        let rank = |s: Option<String>| match s.as_deref() {
            Some("active") => 2,
            Some("retiring") => 1,
            _ => 0,
        };
        let ra = rank(self.master_key_state(ka).await?);
        let rb = rank(self.master_key_state(kb).await?);
        Ok(ra > rb)
    }

    /// Two re-wraps of one object under the same master key (by two nodes, each of its
    /// own copy) may differ byte for byte; every replica keeps the smaller, so they
    /// converge.
    fn same_key_smaller_blob(a: &StoredObject, b: &StoredObject) -> bool {
        a.master_key_id == b.master_key_id
            && matches!((&a.wrapped, &b.wrapped), (Some(x), Some(y)) if x < y)
    }

    /// Use counters of a key on a medium: every replica counts; the merge keeps the
    /// widest span and the largest counts seen.
    async fn merge_data_unit_key(&mut self, c: &Change) -> Result<(), StoreError> {
        let k: DataUnitKeyRecord = decode(c)?;
        sqlx::query(
            "INSERT INTO data_unit_keys (data_unit_id, key_id, first_used_at, last_used_at, writes, reads, bytes_written, bytes_read) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (data_unit_id, key_id) DO UPDATE SET \
             first_used_at = CASE WHEN excluded.first_used_at < data_unit_keys.first_used_at THEN excluded.first_used_at ELSE data_unit_keys.first_used_at END, \
             last_used_at = CASE WHEN excluded.last_used_at > data_unit_keys.last_used_at THEN excluded.last_used_at ELSE data_unit_keys.last_used_at END, \
             writes = CASE WHEN excluded.writes > data_unit_keys.writes THEN excluded.writes ELSE data_unit_keys.writes END, \
             reads = CASE WHEN excluded.reads > data_unit_keys.reads THEN excluded.reads ELSE data_unit_keys.reads END, \
             bytes_written = CASE WHEN excluded.bytes_written > data_unit_keys.bytes_written THEN excluded.bytes_written ELSE data_unit_keys.bytes_written END, \
             bytes_read = CASE WHEN excluded.bytes_read > data_unit_keys.bytes_read THEN excluded.bytes_read ELSE data_unit_keys.bytes_read END",
        )
        .bind(k.data_unit_id)
        .bind(k.key_id)
        .bind(k.first_used_at)
        .bind(k.last_used_at)
        .bind(k.writes)
        .bind(k.reads)
        .bind(k.bytes_written)
        .bind(k.bytes_read)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Name collisions between rows made concurrently on two replicas: the smaller ID
    /// keeps the name, the other is renamed ([`renamed`]) on every replica alike.
    /// Returns true when the incoming row (`id`) is the one to rename; renames the
    /// existing row when it is the loser.
    async fn loses_name(
        &mut self,
        table: &'static str,
        scope: &str,
        key: &str,
        id: &str,
        key_of: impl Fn(&str) -> String,
    ) -> Result<bool, StoreError> {
        let sql = format!("SELECT id, name FROM {table} WHERE {scope}name_key = $1 AND id <> $2");
        let other: Option<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(key.to_owned())
            .bind(id.to_owned())
            .fetch_optional(self.conn())
            .await?;
        let Some((other_id, other_name)) = other else {
            return Ok(false);
        };
        if id > other_id.as_str() {
            return Ok(true);
        }
        let new_name = renamed(&other_name, &other_id);
        let sql = format!("UPDATE {table} SET name = $1, name_key = $2 WHERE id = $3");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(new_name.clone())
            .bind(key_of(&new_name))
            .bind(other_id)
            .execute(self.conn())
            .await?;
        Ok(false)
    }

    async fn loses_unique_id(&mut self, uid: &str, id: &str) -> Result<bool, StoreError> {
        let other: Option<(String,)> =
            sqlx::query_as("SELECT id FROM data_units WHERE external_unique_id = $1 AND id <> $2")
                .bind(uid.to_owned())
                .bind(id.to_owned())
                .fetch_optional(self.conn())
                .await?;
        let Some((other_id,)) = other else {
            return Ok(false);
        };
        if id > other_id.as_str() {
            return Ok(true);
        }
        self.exec1(
            "UPDATE data_units SET external_unique_id = NULL WHERE id = $1",
            &other_id,
        )
        .await?;
        Ok(false)
    }

    /// A link (membership, grant, wallet entry) to a group, wallet or principal that was
    /// deleted by a newer write is not brought back: in the other arrival order the
    /// delete's cascade would have removed it.
    async fn link_blocked(
        &mut self,
        ids: &[&str],
        hlc: i64,
        node_id: &str,
    ) -> Result<bool, StoreError> {
        let link = Version { hlc, node_id };
        for id in ids {
            let rows = sqlx::query(
                "SELECT hlc, node_id FROM change_log WHERE entity_id = $1 AND \
                 (entity = 'principal_grants' OR (op = 'delete' AND entity IN ('group', 'wallet', 'user', 'endpoint')))",
            )
            .bind(id.to_string())
            .fetch_all(self.conn())
            .await?;
            for r in rows {
                let h: i64 = sqlx::Row::try_get(&r, 0)?;
                let n: String = sqlx::Row::try_get(&r, 1)?;
                if (Version {
                    hlc: h,
                    node_id: &n,
                }) > link
                {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

/// Group kinds are fixed words; anything else cannot reach SQL text.
fn sql_word(s: &str) -> &str {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        s
    } else {
        "?"
    }
}

#[cfg(test)]
mod tests {
    use super::renamed;

    #[test]
    fn renaming_is_deterministic_and_valid() {
        let id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
        assert_eq!(renamed("bob", id), "bob_0c1d2e3f4a5b");
        assert_eq!(renamed("bob", id), renamed("bob", id));
        let long = "x".repeat(120);
        assert_eq!(renamed(&long, id).len(), 120);
    }
}
