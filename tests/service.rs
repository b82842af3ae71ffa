//! The service layer end to end on every root of trust and store: keys survive restarts,
//! the database never holds plaintext, lifecycle rules hold, bad requests change nothing.

mod common;

use clavis::keys::{Algorithm, RevocationReason, State};
use clavis::rot::RotError;
use clavis::secret::KeyMaterial;
use clavis::service::{CreateKey, Principal, ServiceError};
use common::node::{contains, pkcs11_rot_section, NodeDir, SOFTWARE_ROT};
use common::softhsm::SoftHsm;

fn admin() -> Principal {
    Principal::system("admin")
}

fn aes256(activate: bool) -> CreateKey {
    CreateKey {
        algorithm: Algorithm::Aes,
        length: 256,
        name: Some("k".into()),
        activate,
        attributes: Default::default(),
    }
}

/// Holds whatever backs the test (SoftHSM tempdir) alive.
struct Setup {
    node: NodeDir,
    _hsm: Option<SoftHsm>,
    sqlite: bool,
}

async fn setup(rot: &str, store: &str) -> Setup {
    let (section, hsm) = match rot {
        "software" => (SOFTWARE_ROT.to_owned(), None),
        _ => {
            let hsm = SoftHsm::new();
            let token = hsm.add_token("clavis-test");
            (pkcs11_rot_section(&token), Some(hsm))
        }
    };
    let url = match store {
        "sqlite" => None,
        _ => Some(common::pg::fresh_database().await),
    };
    let node = NodeDir::new(url.as_deref(), &section);
    node.init().await;
    Setup {
        node,
        _hsm: hsm,
        sqlite: store == "sqlite",
    }
}

async fn key_survives_restart_and_store_holds_no_plaintext(rot: &str, store: &str) {
    let s = setup(rot, store).await;
    let cfg = s.node.config();
    let running = clavis::node::start(&cfg).await.expect("start");
    let svc = running.service.clone();
    let meta = svc
        .create_key(&admin(), aes256(true))
        .await
        .expect("create");
    let (_, key) = svc
        .get_material(&admin(), &meta.id)
        .await
        .expect("material");
    assert_eq!(key.len(), 32);
    let marker = b"tape-vault-password-4f1c9a7e2b";
    let secret = svc
        .register_secret(
            &admin(),
            Some("vault".into()),
            KeyMaterial::from_slice(marker),
            true,
        )
        .await
        .expect("secret");
    let key_bytes = key.expose_secret().to_vec();
    // The change log carries wrapped material only.
    let log = svc
        .store()
        .changes_since(&svc.store().replica_id().await.expect("replica"), 0, 1000)
        .await
        .expect("log");
    for c in &log {
        assert!(
            !contains(&c.payload, &key_bytes) && !contains(&c.payload, marker),
            "plaintext in change log"
        );
        assert!(
            !contains(&c.payload, hex::encode(&key_bytes).as_bytes()),
            "hex plaintext in change log"
        );
    }
    drop(svc);
    running.stop().await;

    if s.sqlite {
        // The database file and its WAL, byte for byte.
        let mut raw = std::fs::read(s.node.sqlite_path()).expect("db file");
        if let Ok(wal) = std::fs::read(s.node.sqlite_path().with_extension("db-wal")) {
            raw.extend_from_slice(&wal);
        }
        assert!(raw.len() > 4096);
        assert!(
            !contains(&raw, &key_bytes),
            "the 32 key bytes are in the SQLite file"
        );
        assert!(
            !contains(&raw, &key_bytes[..16]),
            "half the key is in the SQLite file"
        );
        assert!(!contains(&raw, marker), "the secret is in the SQLite file");
    }

    let running = clavis::node::start(&cfg).await.expect("restart");
    let (meta2, key2) = running
        .service
        .get_material(&admin(), &meta.id)
        .await
        .expect("material after restart");
    assert_eq!(meta2.id, meta.id);
    assert_eq!(
        key2.expose_secret(),
        &key_bytes[..],
        "key changed across restart"
    );
    let (_, secret2) = running
        .service
        .get_material(&admin(), &secret.id)
        .await
        .expect("secret after restart");
    assert_eq!(secret2.expose_secret(), marker);
    running.stop().await;
}

async fn lifecycle_rules_hold_and_refusals_change_nothing(rot: &str, store: &str) {
    let s = setup(rot, store).await;
    let running = clavis::node::start(&s.node.config()).await.expect("start");
    let svc = running.service.clone();
    let k = svc
        .create_key(&admin(), aes256(false))
        .await
        .expect("create");
    assert_eq!(k.state, State::PreActive);
    let k = svc.activate(&admin(), &k.id).await.expect("activate");
    assert_eq!(k.state, State::Active);
    assert!(k.attributes.activation_date.is_some());

    let seq_before = svc.store().last_seq().await.expect("seq");
    for refused in [
        svc.activate(&admin(), &k.id).await,
        svc.destroy(&admin(), &k.id).await,
    ] {
        assert!(
            matches!(
                refused,
                Err(ServiceError::IllegalTransition {
                    from: State::Active,
                    ..
                })
            ),
            "{refused:?}"
        );
    }
    assert_eq!(
        svc.store().last_seq().await.expect("seq"),
        seq_before,
        "a refused transition was logged"
    );
    assert_eq!(
        svc.get(&admin(), &k.id).await.expect("get").state,
        State::Active
    );

    let k = svc
        .revoke(
            &admin(),
            &k.id,
            RevocationReason::Superseded,
            Some("rotated".into()),
        )
        .await
        .expect("revoke");
    assert_eq!(k.state, State::Deactivated);
    assert!(
        svc.get_material(&admin(), &k.id).await.is_ok(),
        "deactivated keys still decrypt"
    );
    let k = svc
        .revoke(&admin(), &k.id, RevocationReason::KeyCompromise, None)
        .await
        .expect("compromise");
    assert_eq!(k.state, State::Compromised);
    assert!(k.attributes.compromise_date.is_some());
    let k = svc.destroy(&admin(), &k.id).await.expect("destroy");
    assert_eq!(k.state, State::DestroyedCompromised);
    assert!(matches!(
        svc.get_material(&admin(), &k.id).await,
        Err(ServiceError::Destroyed(_))
    ));
    let stored = svc
        .store()
        .get_object(&k.id)
        .await
        .expect("get")
        .expect("metadata kept");
    assert_eq!(
        stored.wrapped, None,
        "destroyed material must be gone from the store"
    );

    // Unknown and malformed IDs.
    let unknown = "01900000-0000-7000-8000-000000000000";
    assert!(matches!(
        svc.get(&admin(), unknown).await,
        Err(ServiceError::NotFound(_))
    ));
    assert!(matches!(
        svc.activate(&admin(), unknown).await,
        Err(ServiceError::NotFound(_))
    ));
    assert!(matches!(
        svc.get(&admin(), "../../etc/passwd").await,
        Err(ServiceError::InvalidId(_))
    ));
    // Bad create requests.
    let bad_len = svc
        .create_key(
            &admin(),
            CreateKey {
                length: 512,
                ..aes256(false)
            },
        )
        .await;
    assert!(
        matches!(bad_len, Err(ServiceError::InvalidArgument(ref m)) if m.starts_with("length")),
        "{bad_len:?}"
    );
    let bad_name = svc
        .create_key(
            &admin(),
            CreateKey {
                name: Some("a\nb".into()),
                ..aes256(false)
            },
        )
        .await;
    assert!(
        matches!(bad_name, Err(ServiceError::InvalidArgument(ref m)) if m.starts_with("name")),
        "{bad_name:?}"
    );
    let empty = svc
        .register_secret(&admin(), None, KeyMaterial::new(Vec::new()), false)
        .await;
    assert!(matches!(empty, Err(ServiceError::InvalidArgument(_))));
    let count = svc.status().await.expect("status").objects["total"];
    assert_eq!(count, 1, "refused requests created objects");
    drop(svc);
    running.stop().await;
}

async fn swapped_blobs_do_not_unwrap(rot: &str, store: &str) {
    let s = setup(rot, store).await;
    let running = clavis::node::start(&s.node.config()).await.expect("start");
    let svc = running.service.clone();
    let a = svc.create_key(&admin(), aes256(true)).await.expect("a");
    let b = svc.create_key(&admin(), aes256(true)).await.expect("b");
    let obj_a = svc
        .store()
        .get_object(&a.id)
        .await
        .expect("get")
        .expect("a");
    let obj_b = svc
        .store()
        .get_object(&b.id)
        .await
        .expect("get")
        .expect("b");
    // Someone with write access to the database copies b's wrapped key into a's row.
    let row = clavis::store::WrappedRow {
        table: clavis::store::WrappedTable::Objects,
        id: obj_a.meta.id.clone(),
        holder_id: None,
        wrapped: obj_a.wrapped.clone().expect("a's blob"),
    };
    let mut tx = svc.store().begin_write("attacker").await.expect("begin");
    let swapped = tx
        .replace_wrapped(
            &row,
            obj_b.wrapped.as_deref().expect("b's blob"),
            obj_b.master_key_id.as_deref().expect("b's master key"),
            obj_a.hlc + 1,
            0,
        )
        .await
        .expect("swap");
    assert!(swapped);
    tx.commit().await.expect("commit");
    let got = svc.get_material(&admin(), &a.id).await;
    assert!(
        matches!(got, Err(ServiceError::Rot(RotError::UnwrapFailed(_)))),
        "{:?}",
        got.map(|_| ())
    );
    assert!(svc.get_material(&admin(), &b.id).await.is_ok());
    drop(svc);
    running.stop().await;
}

macro_rules! matrix {
    ($($name:ident),* $(,)?) => {
        mod software_sqlite { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name("software", "sqlite").await })* }
        mod software_postgres { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name("software", "postgres").await })* }
        mod softhsm_sqlite { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name("softhsm", "sqlite").await })* }
        mod softhsm_postgres { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name("softhsm", "postgres").await })* }
    };
}

matrix!(
    key_survives_restart_and_store_holds_no_plaintext,
    lifecycle_rules_hold_and_refusals_change_nothing,
    swapped_blobs_do_not_unwrap,
);
