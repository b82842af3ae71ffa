//! Replication on the store: changes shipped between replicas in every order converge,
//! and each conflict rule of SPEC 7.3 has its test. Every test runs on SQLite and on a
//! real PostgreSQL server.

mod common;

use clavis::keys::{Algorithm, Attributes, ObjectMeta, ObjectType, State};
use clavis::store::{Change, Store, StoredObject, UserRecord, WalletGrant, WalletRecord};

enum Kind {
    Sqlite(tempfile::TempDir),
    Postgres(String),
    /// A database some node owns; the test only opens it.
    Borrowed(String),
}

impl Kind {
    async fn new(pg: bool) -> Kind {
        if pg {
            Kind::Postgres(common::pg::fresh_database().await)
        } else {
            Kind::Sqlite(tempfile::tempdir().expect("tempdir"))
        }
    }
    fn url(&self) -> String {
        match self {
            Kind::Sqlite(d) => format!("sqlite://{}/clavis.db", d.path().display()),
            Kind::Postgres(u) | Kind::Borrowed(u) => u.clone(),
        }
    }
}

/// A replica: a store of its own with its own replica ID and node.
struct Replica {
    _kind: Kind,
    store: Store,
    node: String,
}

async fn replica(pg: bool, id: &str) -> Replica {
    let kind = Kind::new(pg).await;
    let store = Store::open(&kind.url(), 4).await.expect("open");
    store.init_replica(id, 1_700_000_000).await.expect("init");
    Replica {
        _kind: kind,
        store,
        node: format!("node-{id}"),
    }
}

/// Everything `from` holds that `to` lacks, applied on `to`.
async fn sync(from: &Replica, to: &Replica) -> clavis::store::ApplyReport {
    let vv = to.store.version_vector().await.expect("vv");
    let changes = from.store.changes_for(&vv, 100_000).await.expect("feed");
    to.store
        .apply_changes(&to.node, &changes)
        .await
        .expect("apply")
}

async fn all_changes(r: &Replica) -> Vec<Change> {
    r.store
        .changes_for(&Default::default(), 100_000)
        .await
        .expect("feed")
}

async fn digest(r: &Replica) -> std::collections::BTreeMap<String, String> {
    r.store.replicated_digest().await.expect("digest")
}

fn object(id: &str, state: State, name: &str, hlc: i64, node: &str) -> StoredObject {
    StoredObject {
        meta: ObjectMeta {
            id: id.to_owned(),
            object_type: ObjectType::SymmetricKey,
            algorithm: Some(Algorithm::Aes),
            length: Some(256),
            state,
            name: Some(name.to_owned()),
            attributes: Attributes::default(),
            created_at: 1_700_000_000,
            updated_at: 1_700_000_000,
        },
        wrapped: Some(vec![0xC7; 56]),
        master_key_id: Some("clavis-mk-test".into()),
        hlc,
        origin_node: node.to_owned(),
        owner: Some("system".into()),
    }
}

async fn put_object(r: &Replica, o: &StoredObject, insert: bool) {
    let mut tx = r.store.begin_write(&r.node).await.expect("begin");
    if insert {
        tx.insert_object(o).await.expect("insert");
    } else {
        let cur = r
            .store
            .get_object(&o.meta.id)
            .await
            .expect("get")
            .expect("exists");
        tx.update_object(o, cur.hlc).await.expect("update");
    }
    tx.commit().await.expect("commit");
}

async fn get(r: &Replica, id: &str) -> StoredObject {
    r.store.get_object(id).await.expect("get").expect("exists")
}

macro_rules! both {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$body(false).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$body(true).await
            }
        }
    };
}

const K1: &str = "0190a1b2-c3d4-7e5f-8a9b-000000000001";

/// Key material never changes, states only move forward, attributes are
/// last-writer-wins: a newer rename on one replica and an older revoke on the other end
/// as "renamed and deactivated" on both.
async fn objects_merge(pg: bool) {
    let a = replica(pg, "ra").await;
    let b = replica(pg, "rb").await;
    put_object(&a, &object(K1, State::Active, "k", 10, &a.node), true).await;
    sync(&a, &b).await;
    // Concurrently: B deactivates (older clock), A renames (newer clock).
    put_object(&b, &object(K1, State::Deactivated, "k", 20, &b.node), false).await;
    put_object(
        &a,
        &object(K1, State::Active, "renamed", 30, &a.node),
        false,
    )
    .await;
    sync(&a, &b).await;
    sync(&b, &a).await;
    for r in [&a, &b] {
        let o = get(r, K1).await;
        assert_eq!(o.meta.name.as_deref(), Some("renamed"), "LWW attributes");
        assert_eq!(o.meta.state, State::Deactivated, "forward-only state");
        assert_eq!(o.wrapped, Some(vec![0xC7; 56]), "material kept");
    }
    assert_eq!(digest(&a).await, digest(&b).await);
}
both!(objects_merge_rule, objects_merge);

/// Destroyed on one replica, compromised on the other: Destroyed-Compromised and no
/// material on both, whichever arrives first.
async fn destroy_meets_compromise(pg: bool) {
    let a = replica(pg, "ra").await;
    let b = replica(pg, "rb").await;
    put_object(&a, &object(K1, State::Deactivated, "k", 10, &a.node), true).await;
    sync(&a, &b).await;
    let mut destroyed = object(K1, State::Destroyed, "k", 20, &a.node);
    destroyed.wrapped = None;
    put_object(&a, &destroyed, false).await;
    put_object(&b, &object(K1, State::Compromised, "k", 21, &b.node), false).await;
    sync(&b, &a).await;
    sync(&a, &b).await;
    for r in [&a, &b] {
        let o = get(r, K1).await;
        assert_eq!(o.meta.state, State::DestroyedCompromised);
        assert_eq!(
            o.wrapped, None,
            "a destroyed key holds no material anywhere"
        );
    }
    assert_eq!(digest(&a).await, digest(&b).await);
}
both!(destroy_meets_compromise_rule, destroy_meets_compromise);

/// Same HLC on two nodes: the node ID breaks the tie, the same way everywhere.
async fn lww_tie_break(pg: bool) {
    let a = replica(pg, "ra").await;
    let b = replica(pg, "rb").await;
    for (r, v) in [(&a, "from-a"), (&b, "from-b")] {
        let mut tx = r.store.begin_write(&r.node).await.expect("begin");
        tx.put_setting("lockout_secs", &serde_json::json!(v), 5, 100)
            .await
            .expect("setting");
        tx.commit().await.expect("commit");
    }
    sync(&a, &b).await;
    sync(&b, &a).await;
    assert_eq!(digest(&a).await, digest(&b).await);
    // node-rb > node-ra: B's write wins on both.
    let d = digest(&a).await;
    assert!(d["settings"].starts_with("1:"), "{d:?}");
    for r in [&a, &b] {
        let v = r.store.setting("lockout_secs").await.expect("setting");
        assert_eq!(v, Some(serde_json::json!("from-b")));
    }
}
both!(lww_tie_break_rule, lww_tie_break);

fn wallet(id: &str, name: &str, hlc: i64, node: &str, state: &str) -> WalletRecord {
    WalletRecord {
        id: id.into(),
        name: name.into(),
        name_key: (state != "deleted").then(|| name.into()),
        description: None,
        state: state.into(),
        created_by: None,
        created_at: 1,
        updated_at: 1,
        hlc,
        origin_node: node.into(),
    }
}

const W1: &str = "0190a1b2-c3d4-7e5f-8a9b-0000000000a1";
const U1: &str = "0190a1b2-c3d4-7e5f-8a9b-0000000000b1";

/// A delete is a tombstone: a grant revoked on A (newer) and the older grant arriving
/// from B afterwards stay revoked; a grant to a wallet deleted by a newer write is not
/// brought back.
async fn tombstones(pg: bool) {
    let a = replica(pg, "ra").await;
    let b = replica(pg, "rb").await;
    let grant = WalletGrant {
        wallet_id: W1.into(),
        grantee_kind: "user".into(),
        grantee_id: U1.into(),
        level: 1,
        granted_by: None,
        created_at: 1,
    };
    let mut tx = a.store.begin_write(&a.node).await.expect("begin");
    tx.put_wallet(&wallet(W1, "w", 10, &a.node, "active"))
        .await
        .expect("wallet");
    tx.put_wallet_grant(&grant, 11).await.expect("grant");
    tx.commit().await.expect("commit");
    sync(&a, &b).await;
    // B raises the level (hlc 20) while A revokes (hlc 30).
    let mut tx = b.store.begin_write(&b.node).await.expect("begin");
    tx.put_wallet_grant(
        &WalletGrant {
            level: 2,
            ..grant.clone()
        },
        20,
    )
    .await
    .expect("grant");
    tx.commit().await.expect("commit");
    let mut tx = a.store.begin_write(&a.node).await.expect("begin");
    tx.remove_wallet_grant(W1, "user", U1, 3, 30)
        .await
        .expect("revoke");
    tx.commit().await.expect("commit");
    sync(&b, &a).await;
    sync(&a, &b).await;
    for r in [&a, &b] {
        assert!(
            r.store.wallet_grants(W1).await.expect("grants").is_empty(),
            "the newer revoke wins everywhere"
        );
    }
    // B grants again (hlc 40) while A deletes the wallet (hlc 50): the grant arrives
    // after the delete on A and must not reappear.
    let mut tx = b.store.begin_write(&b.node).await.expect("begin");
    tx.put_wallet_grant(&grant, 40).await.expect("grant");
    tx.commit().await.expect("commit");
    let mut tx = a.store.begin_write(&a.node).await.expect("begin");
    tx.put_wallet(&wallet(W1, "w", 50, &a.node, "deleted"))
        .await
        .expect("delete");
    tx.commit().await.expect("commit");
    sync(&b, &a).await;
    sync(&a, &b).await;
    for r in [&a, &b] {
        assert!(r.store.wallet_grants(W1).await.expect("grants").is_empty());
    }
    assert_eq!(digest(&a).await, digest(&b).await);
}
both!(tombstone_rule, tombstones);

fn user(id: &str, name: &str, hlc: i64, node: &str) -> UserRecord {
    UserRecord {
        id: id.into(),
        name: name.into(),
        name_key: Some(name.to_ascii_lowercase()),
        password_phc: None,
        cert_fingerprint: None,
        roles: 0,
        forward_roles: 0,
        privileges: 0,
        state: "active".into(),
        failed_logins: 0,
        locked_until: None,
        created_by: None,
        created_at: 1,
        updated_at: 1,
        hlc,
        origin_node: node.into(),
    }
}

/// Two sites create user "bob" while cut off: the smaller ID keeps the name, the
/// other is renamed the same way on both.
async fn name_collisions(pg: bool) {
    let a = replica(pg, "ra").await;
    let b = replica(pg, "rb").await;
    let small = "0190a1b2-c3d4-7e5f-8a9b-000000000c01";
    let large = "0190a1b2-c3d4-7e5f-8a9b-000000000c02";
    let mut tx = a.store.begin_write(&a.node).await.expect("begin");
    tx.insert_user(&user(large, "bob", 10, &a.node))
        .await
        .expect("user");
    tx.commit().await.expect("commit");
    let mut tx = b.store.begin_write(&b.node).await.expect("begin");
    tx.insert_user(&user(small, "Bob", 11, &b.node))
        .await
        .expect("user");
    tx.commit().await.expect("commit");
    sync(&a, &b).await;
    sync(&b, &a).await;
    for r in [&a, &b] {
        let kept = r
            .store
            .user_by_name("bob")
            .await
            .expect("by name")
            .expect("bob");
        assert_eq!(kept.id, small);
        let other = r.store.user(large).await.expect("user").expect("exists");
        assert_eq!(other.name, "bob_000000000c02");
    }
    assert_eq!(digest(&a).await, digest(&b).await);
}
both!(name_collision_rule, name_collisions);

/// Duplicates are skipped, a change whose predecessor is missing waits, and changes
/// reach a third replica through the second (store-and-forward).
async fn idempotent_ordered_forwarded(pg: bool) {
    let a = replica(pg, "ra").await;
    let b = replica(pg, "rb").await;
    let c = replica(pg, "rc").await;
    for i in 0..5 {
        let id = format!("0190a1b2-c3d4-7e5f-8a9b-0000000001{i:02}");
        put_object(&a, &object(&id, State::Active, "k", 10 + i, &a.node), true).await;
    }
    let changes = all_changes(&a).await;
    assert_eq!(changes.len(), 5);
    // Out of order: the last change alone is a gap and is not applied.
    let r = b
        .store
        .apply_changes(&b.node, &changes[4..])
        .await
        .expect("apply");
    assert_eq!((r.applied, r.gaps), (0, 1));
    let r = b
        .store
        .apply_changes(&b.node, &changes)
        .await
        .expect("apply");
    assert_eq!(r.applied, 5);
    let r = b
        .store
        .apply_changes(&b.node, &changes)
        .await
        .expect("apply");
    assert_eq!(
        (r.applied, r.duplicates),
        (0, 5),
        "applying twice changes nothing"
    );
    // C never talks to A.
    let r = sync(&b, &c).await;
    assert_eq!(r.applied, 5);
    assert_eq!(digest(&a).await, digest(&c).await);
    assert_eq!(
        c.store.version_vector().await.expect("vv").get("ra"),
        Some(&5)
    );
}
both!(idempotence_and_forwarding, idempotent_ordered_forwarded);

/// Random operations on three replicas, synced in random orders: all end equal.
async fn random_convergence(pg: bool) {
    let rs = [
        replica(pg, "ra").await,
        replica(pg, "rb").await,
        replica(pg, "rc").await,
    ];
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let ids: Vec<String> = (0..6)
        .map(|i| format!("0190a1b2-c3d4-7e5f-8a9b-0000000002{i:02}"))
        .collect();
    let states = [State::Active, State::Deactivated, State::Compromised];
    let mut clock = 100;
    for round in 0..40 {
        let r = &rs[(next() % 3) as usize];
        let id = &ids[(next() % ids.len() as u64) as usize];
        clock += 1 + (next() % 3) as i64;
        let existing = r.store.get_object(id).await.expect("get");
        let name = format!("n{round}");
        match existing {
            None => {
                put_object(
                    r,
                    &object(id, State::PreActive, &name, clock, &r.node),
                    true,
                )
                .await
            }
            Some(cur) => {
                let mut o = cur.clone();
                o.hlc = clock.max(cur.hlc + 1);
                o.origin_node = r.node.clone();
                o.meta.name = Some(name);
                let s = states[(next() % 3) as usize];
                o.meta.state = clavis::store::merge::join_state(cur.meta.state, s);
                put_object(r, &o, false).await;
            }
        }
        if next() % 3 == 0 {
            let from = &rs[(next() % 3) as usize];
            let to = &rs[(next() % 3) as usize];
            if from.node != to.node {
                sync(from, to).await;
            }
        }
    }
    for _ in 0..2 {
        for from in &rs {
            for to in &rs {
                if from.node != to.node {
                    sync(from, to).await;
                }
            }
        }
    }
    let d0 = digest(&rs[0]).await;
    assert_eq!(d0, digest(&rs[1]).await);
    assert_eq!(d0, digest(&rs[2]).await);
}
both!(random_operations_converge, random_convergence);

/// Two nodes sharing one database keep separate clocks. A write on the node whose clock
/// is behind must still outrank the row it replaces; otherwise the shared database keeps
/// that write while every other replica, comparing clocks, keeps the older one.
#[tokio::test]
async fn shared_database_write_outranks_what_it_replaces() {
    use clavis::service::{CreateKey, Principal};
    use common::node::{NodeDir, SOFTWARE_ROT};
    let a = NodeDir::new(None, SOFTWARE_ROT);
    let init = clavis::node::init(&a.config()).await.expect("init");
    let url = format!("sqlite://{}", a.sqlite_path().display());
    let b = NodeDir::new(Some(&url), SOFTWARE_ROT);
    std::fs::create_dir_all(b.data_dir()).expect("data dir");
    for f in ["master-key.sealed", "rot-passphrase"] {
        std::fs::copy(a.data_dir().join(f), b.data_dir().join(f)).expect("share root of trust");
    }
    clavis::node::join(&b.config(), &init.recovery_passphrase)
        .await
        .expect("join shared database");
    let na = clavis::node::start(&a.config()).await.expect("start a");
    let nb = clavis::node::start(&b.config()).await.expect("start b");

    // Node a sees a change stamped a minute ahead (a peer with a fast clock); b does not.
    let far = replica(false, "far").await;
    let ahead = i64::try_from(
        (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis() as u64
            + 60_000)
            << 16,
    )
    .expect("fits");
    put_object(
        &far,
        &object(K1, State::Active, "far", ahead, &far.node),
        true,
    )
    .await;
    na.service
        .apply_replicated(&all_changes(&far).await)
        .await
        .expect("apply on a");

    let admin = Principal::system("admin");
    let key = na
        .service
        .create_key(
            &admin,
            CreateKey {
                algorithm: Algorithm::Aes,
                length: 256,
                name: Some("by-a".into()),
                activate: true,
                attributes: Default::default(),
            },
        )
        .await
        .expect("create on a");
    nb.service
        .edit_attributes(&admin, &key.id, |name, _| {
            *name = Some("by-b".into());
            Ok(())
        })
        .await
        .expect("rename on b");

    // Another replica catches up from the shared database.
    let shared = Replica {
        _kind: Kind::Borrowed(url.clone()),
        store: Store::open(&url, 2).await.expect("open shared"),
        node: "observer".into(),
    };
    let other = replica(false, "other").await;
    sync(&shared, &other).await;
    assert_eq!(
        get(&shared, &key.id).await.meta.name.as_deref(),
        Some("by-b")
    );
    assert_eq!(
        get(&other, &key.id).await.meta.name.as_deref(),
        Some("by-b"),
        "the replica lost the newer write made on the node with the slower clock"
    );
    na.stop().await;
    nb.stop().await;
}

/// The applier's bulk path (new objects inserted without a lookup, change-log rows
/// written many per statement, written out before any last-writer-wins change reads the
/// log): 250 objects, every third changed again in the same batch, wallets renamed in
/// between, applied as one batch on B and in uneven slices on C, end equal to A with
/// every change logged once.
async fn bulk_batch(pg: bool) {
    let a = replica(pg, "ra").await;
    let b = replica(pg, "rb").await;
    let c = replica(pg, "rc").await;
    let mut hlc = 1_000;
    let ids: Vec<String> = (0..250)
        .map(|i| format!("0190a1b2-c3d4-7e5f-8a9b-00000003{i:04}"))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        hlc += 1;
        put_object(
            &a,
            &object(id, State::PreActive, "bulk", hlc, &a.node),
            true,
        )
        .await;
        if i % 40 == 0 {
            hlc += 1;
            let mut tx = a.store.begin_write(&a.node).await.expect("begin");
            tx.put_wallet(&wallet(W1, &format!("w{i}"), hlc, &a.node, "active"))
                .await
                .expect("wallet");
            tx.commit().await.expect("commit");
        }
    }
    for id in ids.iter().step_by(3) {
        hlc += 1;
        let mut o = get(&a, id).await;
        let before = o.hlc;
        o.hlc = hlc;
        o.meta.state = State::Active;
        o.meta.name = Some("changed".into());
        put_object(&a, &o, false).await;
        assert!(o.hlc > before);
    }
    let changes = all_changes(&a).await;
    assert_eq!(changes.len(), 250 + 7 + 84);
    let r = b
        .store
        .apply_changes(&b.node, &changes)
        .await
        .expect("apply");
    assert_eq!((r.applied, r.duplicates, r.gaps), (341, 0, 0));
    let mut at = 0;
    for len in [1, 99, 150, 7, 200] {
        let end = (at + len).min(changes.len());
        let r = c
            .store
            .apply_changes(&c.node, &changes[..end])
            .await
            .expect("apply");
        assert_eq!(r.applied as usize, end - at);
        at = end;
    }
    assert_eq!(at, changes.len());
    assert_eq!(digest(&a).await, digest(&b).await);
    assert_eq!(digest(&a).await, digest(&c).await);
    assert_eq!(all_changes(&b).await, changes);
    assert_eq!(all_changes(&c).await, changes);
    let changed = get(&b, &ids[3]).await;
    assert_eq!(
        (changed.meta.state, changed.meta.name.as_deref()),
        (State::Active, Some("changed"))
    );
    assert_eq!(get(&c, &ids[4]).await.meta.state, State::PreActive);
}
both!(bulk_batch_applies_like_one_by_one, bulk_batch);
