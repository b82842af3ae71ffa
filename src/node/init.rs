//! `clavisd init`: master key, cluster CA, node certificate, first administrator
//! credential and recovery passphrase, written to the database in one transaction.

use super::{io_err, node_tls_credential_id, open_rot, NodeError, NodeFile, CA_CREDENTIAL_ID};
use crate::authz::Roles;
use crate::config::Config;
use crate::hlc::{to_db, Hlc};
use crate::keys::now_secs;
use crate::rot::{MasterKeyId, RootOfTrust};
use crate::secret::KeyMaterial;
use crate::service::auth::new_token;
use crate::store::{Credential, MasterKeyRecord, NodeRecord, Store, UserRecord};
use crate::tls::{issue, new_cluster_ca, CertRole};
use argon2::password_hash::PasswordHasher;
use secrecy::SecretString;
use std::path::PathBuf;

/// What `init` hands back, once. The secrets are shown to the operator and never stored.
pub struct InitOutput {
    /// The new node's ID.
    pub node_id: String,
    /// The new replica's ID.
    pub replica_id: String,
    /// The first administrator's API token.
    pub admin_token: SecretString,
    /// The recovery passphrase (stored only as an Argon2id hash).
    pub recovery_passphrase: SecretString,
    /// Where the cluster CA certificate was written.
    pub ca_path: PathBuf,
    /// The master key's ID.
    pub master_key: MasterKeyId,
}

/// Name of the first administrator account.
pub const INITIAL_ADMIN: &str = "admin";

/// Initializes a node and its replica. Refuses if either exists already.
pub async fn init(cfg: &Config) -> Result<InitOutput, NodeError> {
    let data_dir = cfg.data_dir();
    std::fs::create_dir_all(&data_dir).map_err(io_err(&data_dir))?;
    restrict_dir(&data_dir)?;
    if data_dir.join(NodeFile::NAME).exists() {
        return Err(NodeError::Other(format!(
            "{} exists: this node is already initialized",
            data_dir.join(NodeFile::NAME).display()
        )));
    }
    let store = Store::open(&cfg.store_url(), cfg.store.max_connections).await?;
    if let Some(existing) = store.replica_id_opt().await? {
        return Err(crate::store::StoreError::AlreadyInitialized(existing).into());
    }
    let rot = open_rot(cfg, true)?;

    let hlc = Hlc::new();
    let now = now_secs();
    let node_id = uuid::Uuid::now_v7().to_string();
    let replica_id = uuid::Uuid::now_v7().to_string();
    let master_key = MasterKeyId::generate();
    rot.generate_master_key(&master_key)?;
    rot.ensure_signing_key()?;

    let ca = new_cluster_ca(&cfg.node.name)?;
    let ca_cred = wrap_credential(
        rot.as_ref(),
        &master_key,
        CA_CREDENTIAL_ID,
        "ca",
        &ca.cert_pem,
        &ca.key_pkcs8,
        now,
    )?;
    let node_cert = issue(
        &ca.cert_pem,
        &ca.key_pkcs8,
        &cfg.api.tls_names,
        CertRole::Node,
    )?;
    let node_cred = wrap_credential(
        rot.as_ref(),
        &master_key,
        &node_tls_credential_id(&node_id),
        "node_tls",
        &node_cert.cert_pem,
        &node_cert.key_pkcs8,
        now,
    )?;

    let (admin_token, token_hash) = new_token(&rot.random(32)?);
    let recovery = recovery_passphrase(rot.as_ref())?;
    let phc = hash_passphrase(&recovery)?;

    store.init_replica(&replica_id, now).await?;
    let mut tx = store.begin_write(&node_id).await?;
    tx.insert_master_key(
        &MasterKeyRecord {
            id: master_key.0.clone(),
            rot_kind: rot.kind().to_string(),
            state: "active".into(),
            created_at: now,
        },
        to_db(hlc.now()),
    )
    .await?;
    tx.insert_node(
        &NodeRecord {
            id: node_id.clone(),
            name: cfg.node.name.clone(),
            site: cfg.node.site.clone(),
            replica_id: replica_id.clone(),
            created_at: now,
        },
        to_db(hlc.now()),
    )
    .await?;
    tx.insert_credential(&ca_cred, to_db(hlc.now())).await?;
    tx.insert_credential(&node_cred, to_db(hlc.now())).await?;
    // The first administrator holds every role with forward grant, so they can hand
    // each one to its own person (and then turn on separation of roles).
    let all = i64::from(Roles::all().bits());
    let admin_id = uuid::Uuid::now_v7().to_string();
    tx.insert_user(&UserRecord {
        id: admin_id.clone(),
        name: INITIAL_ADMIN.into(),
        name_key: Some(INITIAL_ADMIN.into()),
        password_phc: None,
        cert_fingerprint: None,
        roles: all,
        forward_roles: all,
        privileges: 0,
        state: "active".into(),
        failed_logins: 0,
        locked_until: None,
        created_by: None,
        created_at: now,
        updated_at: now,
        hlc: to_db(hlc.now()),
        origin_node: node_id.clone(),
    })
    .await?;
    tx.insert_api_token(
        &uuid::Uuid::now_v7().to_string(),
        &admin_id,
        &token_hash,
        now,
        to_db(hlc.now()),
    )
    .await?;
    tx.set_recovery_hash(&phc, now, to_db(hlc.now())).await?;
    // The first record of the replica's audit chain.
    tx.append_audit(
        &crate::audit::AuditEvent {
            actor: "system".into(),
            actor_kind: crate::audit::ActorKind::System,
            action: "node.init".into(),
            object: Some(cfg.node.name.clone()),
            source: None,
            outcome: crate::audit::Outcome::Success,
            detail: Some(format!(
                "replica {replica_id}, node {node_id}, master key {}, root of trust {}",
                master_key.0,
                rot.kind()
            )),
        },
        crate::keys::now_millis(),
    )
    .await?;
    tx.commit().await?;
    store.close().await;

    let ca_path = data_dir.join("ca.pem");
    crate::rot::software::write_atomically(&ca_path, ca.cert_pem.as_bytes())
        .map_err(io_err(&ca_path))?;
    NodeFile {
        node_id: node_id.clone(),
        replica_id: replica_id.clone(),
    }
    .save(&data_dir)?;
    Ok(InitOutput {
        node_id,
        replica_id,
        admin_token: SecretString::from(admin_token),
        recovery_passphrase: recovery,
        ca_path,
        master_key,
    })
}

fn wrap_credential(
    rot: &dyn RootOfTrust,
    mk: &MasterKeyId,
    id: &str,
    kind: &str,
    cert_pem: &str,
    key: &KeyMaterial,
    now: i64,
) -> Result<Credential, NodeError> {
    let wrapped = rot.wrap(mk, id, key)?;
    Ok(Credential {
        id: id.to_owned(),
        kind: kind.to_owned(),
        cert_pem: cert_pem.to_owned(),
        wrapped_key: wrapped.to_bytes(),
        master_key_id: mk.0.clone(),
        created_at: now,
    })
}

/// Eight groups of five characters from an alphabet without look-alikes: about 190 bits.
fn recovery_passphrase(rot: &dyn RootOfTrust) -> Result<SecretString, NodeError> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let raw = rot.random(40)?;
    let mut out = zeroize::Zeroizing::new(String::with_capacity(47));
    for (i, b) in raw.expose_secret().iter().enumerate() {
        if i > 0 && i % 5 == 0 {
            out.push('-');
        }
        // 256 % 31 = 8: a bias of under 4% on a few characters, irrelevant at 190 bits.
        out.push(char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]));
    }
    Ok(SecretString::from(out.as_str().to_owned()))
}

/// Argon2id PHC string of a passphrase.
pub fn hash_passphrase(p: &SecretString) -> Result<String, NodeError> {
    use secrecy::ExposeSecret;
    argon2::Argon2::default()
        .hash_password(p.expose_secret().as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| NodeError::Other(format!("Argon2id: {e}")))
}

fn restrict_dir(dir: &std::path::Path) -> Result<(), NodeError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io_err(dir))
}
