//! The store suite: every test runs on SQLite and on a real PostgreSQL server.

mod common;

use clavis::keys::{Algorithm, Attributes, ObjectMeta, ObjectType, State};
use clavis::store::{ChangeOp, ListFilter, MasterKeyRecord, Store, StoreError, StoredObject};

/// A fresh, initialized store of each kind, and a way to reopen it.
enum Kind {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Kind {
    async fn new_sqlite() -> Kind {
        Kind::Sqlite(tempfile::tempdir().expect("tempdir"))
    }
    async fn new_postgres() -> Kind {
        Kind::Postgres(common::pg::fresh_database().await)
    }
    fn url(&self) -> String {
        match self {
            Kind::Sqlite(d) => format!("sqlite://{}/clavis.db", d.path().display()),
            Kind::Postgres(u) => u.clone(),
        }
    }
    async fn open(&self) -> Store {
        Store::open(&self.url(), 4).await.expect("open store")
    }
}

fn object(id: &str, state: State, name: Option<&str>, hlc: i64) -> StoredObject {
    StoredObject {
        meta: ObjectMeta {
            id: id.to_owned(),
            object_type: ObjectType::SymmetricKey,
            algorithm: Some(Algorithm::Aes),
            length: Some(256),
            state,
            name: name.map(str::to_owned),
            attributes: Attributes::default(),
            created_at: 1_700_000_000,
            updated_at: 1_700_000_000,
        },
        wrapped: Some(vec![0xC7; 56]),
        master_key_id: Some("clavis-mk-test".into()),
        hlc,
        origin_node: "node-a".into(),
        owner: Some("user:u1".into()),
    }
}

async fn initialized(kind: &Kind) -> Store {
    let store = kind.open().await;
    store
        .init_replica("replica-1", 1_700_000_000)
        .await
        .expect("init replica");
    store
}

async fn objects_round_trip(kind: Kind) {
    let store = initialized(&kind).await;
    let mut obj = object(
        &clavis::keys::new_object_id(),
        State::PreActive,
        Some("k1"),
        10,
    );
    obj.meta
        .attributes
        .custom
        .insert("x-owner".into(), "tapes".into());
    let mut tx = store.begin_write("node-a").await.expect("begin");
    tx.insert_object(&obj).await.expect("insert");
    tx.commit().await.expect("commit");
    assert_eq!(
        store.get_object(&obj.meta.id).await.expect("get"),
        Some(obj.clone())
    );
    assert_eq!(
        store
            .get_object("01900000-0000-7000-8000-000000000000")
            .await
            .expect("get"),
        None
    );
    // Survives closing and reopening the database.
    store.close().await;
    let store = kind.open().await;
    assert_eq!(
        store.get_object(&obj.meta.id).await.expect("get"),
        Some(obj)
    );
}

async fn every_change_is_logged_gap_free(kind: Kind) {
    let store = initialized(&kind).await;
    let ids: Vec<String> = (0..5).map(|_| clavis::keys::new_object_id()).collect();
    for (i, id) in ids.iter().enumerate() {
        let mut tx = store.begin_write("node-a").await.expect("begin");
        let seq = tx
            .insert_object(&object(id, State::PreActive, None, 100 + i as i64))
            .await
            .expect("insert");
        tx.commit().await.expect("commit");
        assert_eq!(seq, i as i64 + 1);
    }
    let mut updated = object(&ids[0], State::Active, None, 200);
    updated.meta.updated_at = 1_700_000_100;
    let mut tx = store.begin_write("node-b").await.expect("begin");
    tx.update_object(&updated, 100).await.expect("update");
    tx.commit().await.expect("commit");

    let log = store.changes_since("replica-1", 0, 100).await.expect("log");
    assert_eq!(
        log.iter().map(|c| c.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5, 6]
    );
    assert_eq!(log[5].entity_id, ids[0]);
    assert_eq!(log[5].node_id, "node-b");
    assert_eq!(log[5].op, ChangeOp::Upsert);
    assert_eq!(log[5].hlc, 200);
    let payload: serde_json::Value =
        serde_json::from_slice(&log[5].payload).expect("payload is JSON");
    assert_eq!(payload["meta"]["state"], "active");
    assert_eq!(store.last_seq().await.expect("last seq"), 6);
    assert_eq!(
        store
            .changes_since("replica-1", 4, 1)
            .await
            .expect("log")
            .len(),
        1
    );
    assert!(store
        .changes_since("other-replica", 0, 100)
        .await
        .expect("log")
        .is_empty());
}

async fn rolled_back_changes_leave_no_log(kind: Kind) {
    let store = initialized(&kind).await;
    let id = clavis::keys::new_object_id();
    {
        let mut tx = store.begin_write("node-a").await.expect("begin");
        tx.insert_object(&object(&id, State::PreActive, None, 1))
            .await
            .expect("insert");
        // dropped without commit
    }
    assert_eq!(store.get_object(&id).await.expect("get"), None);
    assert_eq!(store.last_seq().await.expect("seq"), 0);
    assert!(store
        .changes_since("replica-1", 0, 10)
        .await
        .expect("log")
        .is_empty());
}

async fn stale_updates_conflict(kind: Kind) {
    let store = initialized(&kind).await;
    let id = clavis::keys::new_object_id();
    let mut tx = store.begin_write("node-a").await.expect("begin");
    tx.insert_object(&object(&id, State::PreActive, None, 1))
        .await
        .expect("insert");
    tx.commit().await.expect("commit");
    let mut tx = store.begin_write("node-a").await.expect("begin");
    tx.update_object(&object(&id, State::Active, None, 2), 1)
        .await
        .expect("first update");
    tx.commit().await.expect("commit");
    let mut tx = store.begin_write("node-a").await.expect("begin");
    let err = tx
        .update_object(&object(&id, State::Deactivated, None, 3), 1)
        .await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    drop(tx);
    let got = store.get_object(&id).await.expect("get").expect("exists");
    assert_eq!(got.meta.state, State::Active);
    assert_eq!(store.last_seq().await.expect("seq"), 2);
}

async fn list_filters_and_pages(kind: Kind) {
    let store = initialized(&kind).await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let id = clavis::keys::new_object_id();
        let state = if i % 2 == 0 {
            State::Active
        } else {
            State::PreActive
        };
        let name = if i == 3 { Some("special") } else { None };
        let mut tx = store.begin_write("node-a").await.expect("begin");
        tx.insert_object(&object(&id, state, name, i))
            .await
            .expect("insert");
        tx.commit().await.expect("commit");
        ids.push(id);
    }
    let all = store
        .list_objects(&ListFilter::default())
        .await
        .expect("list");
    assert_eq!(
        all.iter().map(|o| o.meta.id.clone()).collect::<Vec<_>>(),
        ids
    );
    let active = store
        .list_objects(&ListFilter {
            state: Some(State::Active),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(active.len(), 4);
    let named = store
        .list_objects(&ListFilter {
            name: Some("special".into()),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(named.len(), 1);
    assert_eq!(named[0].meta.id, ids[3]);
    let page = store
        .list_objects(&ListFilter {
            limit: Some(2),
            offset: Some(5),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(
        page.iter().map(|o| o.meta.id.clone()).collect::<Vec<_>>(),
        ids[5..7].to_vec()
    );
    let secrets = store
        .list_objects(&ListFilter {
            object_type: Some(ObjectType::SecretData),
            ..Default::default()
        })
        .await
        .expect("list");
    assert!(secrets.is_empty());
    let counts = store.count_by_state().await.expect("counts");
    assert_eq!(counts, vec![(State::Active, 4), (State::PreActive, 3)]);
}

async fn replica_is_initialized_once(kind: Kind) {
    let store = kind.open().await;
    assert!(matches!(
        store.replica_id().await,
        Err(StoreError::NotInitialized)
    ));
    store.init_replica("replica-1", 1).await.expect("init");
    let again = store.init_replica("replica-2", 2).await;
    assert!(
        matches!(again, Err(StoreError::AlreadyInitialized(ref r)) if r == "replica-1"),
        "{again:?}"
    );
    assert_eq!(store.replica_id().await.expect("id"), "replica-1");
}

async fn node_records(kind: Kind) {
    let store = initialized(&kind).await;
    let mut tx = store.begin_write("node-a").await.expect("begin");
    tx.insert_master_key(
        &MasterKeyRecord {
            id: "clavis-mk-1".into(),
            rot_kind: "pkcs11".into(),
            state: "active".into(),
            created_at: 5,
        },
        1,
    )
    .await
    .expect("master key");
    tx.insert_api_token("t1", "admin", &[7u8; 32], 5, 2)
        .await
        .expect("token");
    tx.set_recovery_hash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", 5, 3)
        .await
        .expect("recovery");
    tx.commit().await.expect("commit");
    assert_eq!(store.master_keys().await.expect("mks").len(), 1);
    assert_eq!(
        store
            .principal_for_token(&[7u8; 32], 10)
            .await
            .expect("token"),
        Some("admin".into())
    );
    assert_eq!(
        store
            .principal_for_token(&[8u8; 32], 10)
            .await
            .expect("token"),
        None
    );
    assert!(store.recovery_hash().await.expect("hash").is_some());
    let log = store.changes_since("replica-1", 0, 10).await.expect("log");
    assert_eq!(
        log.iter().map(|c| c.entity.as_str()).collect::<Vec<_>>(),
        vec!["master_key", "api_token", "recovery_passphrase"]
    );
}

async fn concurrent_writers_get_distinct_sequences(kind: Kind) {
    let store = initialized(&kind).await;
    let mut tasks = Vec::new();
    for t in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                let mut tx = store
                    .begin_write(&format!("node-{t}"))
                    .await
                    .expect("begin");
                tx.insert_object(&object(
                    &clavis::keys::new_object_id(),
                    State::PreActive,
                    None,
                    i,
                ))
                .await
                .expect("insert");
                tx.commit().await.expect("commit");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let log = store
        .changes_since("replica-1", 0, 1000)
        .await
        .expect("log");
    assert_eq!(
        log.iter().map(|c| c.seq).collect::<Vec<_>>(),
        (1..=100).collect::<Vec<_>>()
    );
}

/// Transfer partners replicate through the change log: registered on one replica,
/// known on the other; a removal (a newer tombstone) replicates too.
async fn transfer_partners_replicate(kind: Kind) {
    use clavis::store::TransferPartnerRecord;
    let other = match &kind {
        Kind::Sqlite(_) => Kind::new_sqlite().await,
        Kind::Postgres(_) => Kind::new_postgres().await,
    };
    let (a, b) = (kind.open().await, other.open().await);
    a.init_replica("replica-a", 1).await.expect("init a");
    b.init_replica("replica-b", 1).await.expect("init b");
    let mut p = TransferPartnerRecord {
        fingerprint: "ab".repeat(32),
        name: "DC-West".into(),
        name_key: "dc-west".into(),
        encryption_pem: "-----BEGIN PUBLIC KEY-----\nenc\n-----END PUBLIC KEY-----\n".into(),
        signing_pem: "-----BEGIN PUBLIC KEY-----\nsig\n-----END PUBLIC KEY-----\n".into(),
        state: "active".into(),
        created_at: 10,
        updated_at: 10,
        hlc: 100,
        origin_node: "node-a".into(),
    };
    let mut tx = a.begin_write("node-a").await.expect("tx");
    tx.put_transfer_partner(&p).await.expect("put");
    tx.commit().await.expect("commit");
    let ship = |from: Store, to: Store| async move {
        let changes = from.changes_since("replica-a", 0, 100).await.expect("log");
        to.apply_changes("node-b", &changes).await.expect("apply");
    };
    ship(a.clone(), b.clone()).await;
    assert_eq!(b.transfer_partners().await.expect("list"), vec![p.clone()]);
    assert_eq!(
        b.transfer_partner_by_name("dc-WEST")
            .await
            .expect("by name"),
        Some(p.clone())
    );
    p.state = "removed".into();
    p.hlc = 200;
    p.updated_at = 20;
    let mut tx = a.begin_write("node-a").await.expect("tx");
    tx.put_transfer_partner(&p).await.expect("remove");
    tx.commit().await.expect("commit");
    ship(a.clone(), b.clone()).await;
    assert!(b.transfer_partners().await.expect("list").is_empty());
    assert_eq!(
        b.transfer_partner(&p.fingerprint)
            .await
            .expect("get")
            .map(|r| r.state),
        Some("removed".into())
    );
    assert_eq!(
        b.transfer_partner_by_name("dc-west")
            .await
            .expect("by name"),
        None
    );
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(Kind::new_sqlite().await).await })*
        }
        mod postgres {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(Kind::new_postgres().await).await })*
        }
    };
}

on_both_backends!(
    objects_round_trip,
    every_change_is_logged_gap_free,
    rolled_back_changes_leave_no_log,
    stale_updates_conflict,
    list_filters_and_pages,
    replica_is_initialized_once,
    node_records,
    concurrent_writers_get_distinct_sequences,
    transfer_partners_replicate,
);
