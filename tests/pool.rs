//! Key pool and drive keys through the service (SPEC 2.3, 2.5, 3): draining, "no ready
//! key", refills, no key handed out twice, key reuse for appends, read access by
//! wallet, encryption and decryption periods. SQLite and PostgreSQL.

mod common;

use clavis::keys::KeyPolicy;
use clavis::service::{
    DataUnitRef, KeyService, Principal, PrincipalKind, ReadRequest, ServiceError,
};
use common::node::{NodeDir, SOFTWARE_ROT};
use std::collections::HashSet;
use std::sync::Arc;

struct Setup {
    _node: NodeDir,
    running: clavis::node::RunningNode,
    /// The PostgreSQL database, if on PostgreSQL.
    pg_url: Option<String>,
}

/// A node with small pools and no maintainer, so the test decides when pools refill.
async fn setup(store: &str, pool_size: u64) -> Setup {
    let url = match store {
        "sqlite" => None,
        _ => Some(common::pg::fresh_database().await),
    };
    let node = NodeDir::new(url.as_deref(), SOFTWARE_ROT);
    let mut text = std::fs::read_to_string(&node.config_path).expect("config");
    text.push_str(&format!(
        "\n[pool]\nsize = {pool_size}\nlow_water = {pool_size}\nrefill = false\n"
    ));
    std::fs::write(&node.config_path, text).expect("config");
    node.init().await;
    let running = clavis::node::start(&node.config()).await.expect("start");
    Setup {
        _node: node,
        running,
        pg_url: url,
    }
}

fn admin() -> Principal {
    Principal::system("admin")
}

/// A drive agent (endpoint) whose default wallet is `wallet`.
async fn agent(svc: &KeyService, name: &str, wallet: &str) -> Principal {
    let (info, _) = svc
        .register_endpoint(&admin(), name, "agent", Some("dc1"), Some(wallet))
        .await
        .expect("register agent");
    Principal {
        name: name.to_owned(),
        source: None,
        kind: PrincipalKind::Endpoint(info.id),
    }
}

async fn key_group(svc: &KeyService, wallet: &str, policy: KeyPolicy) {
    svc.create_wallet(&admin(), wallet, None)
        .await
        .expect("wallet");
    svc.set_key_policy(&admin(), wallet, policy)
        .await
        .expect("policy");
}

async fn refill(svc: &KeyService) -> u64 {
    let (_tx, rx) = tokio::sync::watch::channel(false);
    svc.refiller().refill_all(&rx).await.expect("refill")
}

fn tape(tag: &str) -> DataUnitRef {
    DataUnitRef {
        external_tag: Some(tag.to_owned()),
        external_unique_id: Some(format!("uid-{tag}")),
    }
}

async fn drain_refill_and_never_reuse(store: &str) {
    let s = setup(store, 20).await;
    let svc = s.running.service.clone();
    key_group(&svc, "tapes", KeyPolicy::default()).await;
    let a = agent(&svc, "agent-a", "tapes").await;
    assert_eq!(refill(&svc).await, 20);

    // Drain the pool with concurrent requests for 20 new tapes.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (svc, a) = (svc.clone(), a.clone());
        tasks.push(tokio::spawn(async move {
            svc.key_for_write(&a, &tape(&format!("T{i:05}")))
                .await
                .map(|k| (k.key_id.clone(), k.new_key))
        }));
    }
    let mut issued = Vec::new();
    for t in tasks {
        let (id, new) = t.await.expect("join").expect("key from the pool");
        assert!(new, "every tape is new, so every key comes from the pool");
        issued.push(id);
    }
    // The 21st request finds the pool empty and says so, writing nothing.
    let objects_before = svc.status().await.expect("status").objects["total"];
    match svc.key_for_write(&a, &tape("T99999")).await {
        Err(ServiceError::NoReadyKey(group)) => assert_eq!(group, "tapes"),
        other => panic!("expected no ready key, got {other:?}"),
    }
    let st = svc.status().await.expect("status");
    assert_eq!(
        st.objects["total"], objects_before,
        "an empty pool creates nothing"
    );
    let report = svc.pool_reports_unchecked().await.expect("pools");
    assert_eq!(report.len(), 1);
    assert_eq!(
        (report[0].ready, report[0].taken, report[0].drains),
        (0, 20, 1)
    );
    assert!(report[0].peak_per_minute >= 20);

    // Refilled, it serves again; no key ID was ever issued twice, and none of the new
    // pool keys is one that was issued.
    assert_eq!(refill(&svc).await, 20);
    let k = svc
        .key_for_write(&a, &tape("T99999"))
        .await
        .expect("key after refill");
    issued.push(k.key_id.clone());
    let unique: HashSet<&String> = issued.iter().collect();
    assert_eq!(unique.len(), issued.len(), "a key was handed out twice");
    let pooled = svc
        .store()
        .pool_key_ids(&svc.node().node_id)
        .await
        .expect("pool ids");
    assert!(pooled.iter().all(|p| !unique.contains(p)));
    assert_eq!(pooled.len(), 19);
    s.running.stop().await;
}

#[tokio::test]
async fn drain_refill_and_never_reuse_sqlite() {
    drain_refill_and_never_reuse("sqlite").await;
}

#[tokio::test]
async fn drain_refill_and_never_reuse_postgres() {
    drain_refill_and_never_reuse("postgres").await;
}

async fn appends_reuse_the_key_and_reads_follow_wallets(store: &str) {
    let s = setup(store, 5).await;
    let svc = s.running.service.clone();
    key_group(&svc, "vault-a", KeyPolicy::default()).await;
    key_group(&svc, "vault-b", KeyPolicy::default()).await;
    let a = agent(&svc, "agent-a", "vault-a").await;
    let a2 = agent(&svc, "agent-a2", "vault-a").await;
    let b = agent(&svc, "agent-b", "vault-b").await;
    refill(&svc).await;

    let first = svc.key_for_write(&a, &tape("T1")).await.expect("write");
    let again = svc.key_for_write(&a2, &tape("T1")).await.expect("append");
    assert_eq!(first.key_id, again.key_id, "appending uses the tape's key");
    assert!(!again.new_key);
    assert_eq!(
        first.material.expose_secret(),
        again.material.expose_secret()
    );

    // Another agent of the same key group reads by key ID and by tag.
    let by_id = svc
        .keys_for_read(&a2, &ReadRequest::Key(first.key_id.clone()))
        .await
        .expect("read by id");
    assert_eq!(by_id.len(), 1);
    assert_eq!(
        by_id[0].material.expose_secret(),
        first.material.expose_secret()
    );
    let by_tag = svc
        .keys_for_read(
            &a2,
            &ReadRequest::DataUnit(DataUnitRef {
                external_tag: Some("T1".into()),
                external_unique_id: None,
            }),
        )
        .await
        .expect("read by tag");
    assert_eq!(by_tag[0].key_id, first.key_id);

    // An agent of another key group gets nothing: not the key, not the tape.
    assert!(matches!(
        svc.keys_for_read(&b, &ReadRequest::Key(first.key_id.clone()))
            .await,
        Err(ServiceError::Forbidden(_))
    ));
    assert!(matches!(
        svc.keys_for_read(&b, &ReadRequest::DataUnit(tape("T1")))
            .await,
        Err(ServiceError::NotFound(_))
    ));
    assert!(matches!(
        svc.key_for_write(&b, &tape("T1")).await,
        Err(ServiceError::Forbidden(_))
    ));

    // Use is counted on the data unit.
    svc.report_key_use(&a, &first.key_id, 4096, 0)
        .await
        .expect("report");
    let du = first.data_unit_id.clone().expect("data unit");
    let info = svc.get_data_unit(&admin(), &du).await.expect("data unit");
    let keys = info.keys.expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(
        (keys[0].writes, keys[0].reads, keys[0].bytes_written),
        (2, 2, 4096)
    );
    s.running.stop().await;
}

#[tokio::test]
async fn appends_reuse_the_key_and_reads_follow_wallets_sqlite() {
    appends_reuse_the_key_and_reads_follow_wallets("sqlite").await;
}

#[tokio::test]
async fn appends_reuse_the_key_and_reads_follow_wallets_postgres() {
    appends_reuse_the_key_and_reads_follow_wallets("postgres").await;
}

/// Many drives asking at once for the same new medium (the drive writer commits them
/// in batches that look data units up themselves): one data unit per medium and key
/// group, whichever batch each request lands in. A tag names different media in
/// different key groups.
async fn concurrent_writes_of_a_new_medium_share_its_data_unit(store: &str) {
    let s = setup(store, 100).await;
    let svc = s.running.service.clone();
    key_group(&svc, "vault-a", KeyPolicy::default()).await;
    key_group(&svc, "vault-b", KeyPolicy::default()).await;
    let a = agent(&svc, "agent-a", "vault-a").await;
    let b = agent(&svc, "agent-b", "vault-b").await;
    refill(&svc).await;

    let by_tag = |tag: &str| DataUnitRef {
        external_tag: Some(tag.to_owned()),
        external_unique_id: None,
    };
    let mut tasks = Vec::new();
    for i in 0..24 {
        let svc = svc.clone();
        let (who, unit) = match i % 3 {
            0 => (a.clone(), by_tag("NEW001")),
            1 => (a.clone(), tape("NEW002")),
            _ => (b.clone(), by_tag("NEW001")),
        };
        tasks.push(tokio::spawn(async move {
            (i % 3, svc.key_for_write(&who, &unit).await)
        }));
    }
    let mut units: [HashSet<String>; 3] = Default::default();
    for t in tasks {
        let (kind, r) = t.await.expect("join");
        let key = r.expect("write");
        units[kind].insert(key.data_unit_id.expect("data unit"));
    }
    for (kind, ids) in units.iter().enumerate() {
        assert_eq!(ids.len(), 1, "medium {kind}: one data unit, got {ids:?}");
    }
    assert_ne!(units[0], units[2], "vault-b's NEW001 is its own medium");
    let tagged = svc
        .list_data_units(&admin(), Some(1000), None)
        .await
        .expect("list")
        .into_iter()
        .filter(|d| d.external_tag.as_deref() == Some("NEW001"))
        .count();
    assert_eq!(tagged, 2, "one NEW001 per key group");
    s.running.stop().await;
}

#[tokio::test]
async fn concurrent_writes_of_a_new_medium_share_its_data_unit_sqlite() {
    concurrent_writes_of_a_new_medium_share_its_data_unit("sqlite").await;
}

#[tokio::test]
async fn concurrent_writes_of_a_new_medium_share_its_data_unit_postgres() {
    concurrent_writes_of_a_new_medium_share_its_data_unit("postgres").await;
}

#[tokio::test]
async fn past_its_encryption_period_a_key_reads_but_writes_no_more() {
    let s = setup("sqlite", 5).await;
    let svc: Arc<KeyService> = s.running.service.clone();
    key_group(
        &svc,
        "short",
        KeyPolicy {
            encryption_period_secs: Some(1),
            decryption_period_secs: Some(3600),
            ..KeyPolicy::default()
        },
    )
    .await;
    let a = agent(&svc, "agent-a", "short").await;
    refill(&svc).await;
    let k1 = svc.key_for_write(&a, &tape("T1")).await.expect("write");
    assert!(k1.protect_stop_date.is_some() && k1.deactivation_date.is_some());
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let k2 = svc
        .key_for_write(&a, &tape("T1"))
        .await
        .expect("write again");
    assert_ne!(
        k1.key_id, k2.key_id,
        "an expired write key is not handed out"
    );
    assert!(k2.new_key);
    let old = svc
        .keys_for_read(&a, &ReadRequest::Key(k1.key_id.clone()))
        .await
        .expect("the old key still reads");
    assert_eq!(old[0].material.expose_secret(), k1.material.expose_secret());
    // The tape now has two keys; reading by tag returns both.
    let both = svc
        .keys_for_read(&a, &ReadRequest::DataUnit(tape("T1")))
        .await
        .expect("read by tag");
    assert_eq!(both.len(), 2);
    s.running.stop().await;
}

#[tokio::test]
async fn requests_without_a_key_group_or_with_bad_names_are_refused() {
    let s = setup("sqlite", 5).await;
    let svc = s.running.service.clone();
    svc.create_wallet(&admin(), "plain", None)
        .await
        .expect("wallet");
    let a = agent(&svc, "agent-a", "plain").await;
    match svc.key_for_write(&a, &tape("T1")).await {
        Err(ServiceError::WrongState(m)) => assert!(m.contains("not a key group"), "{m}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    svc.set_key_policy(&admin(), "plain", KeyPolicy::default())
        .await
        .expect("policy");
    for bad in [
        DataUnitRef::default(),
        DataUnitRef {
            external_tag: Some("bad\ntag".into()),
            external_unique_id: None,
        },
        DataUnitRef {
            external_tag: Some("x".repeat(129)),
            external_unique_id: None,
        },
    ] {
        assert!(matches!(
            svc.key_for_write(&a, &bad).await,
            Err(ServiceError::InvalidArgument(_))
        ));
    }
    // A user is not a drive agent.
    assert!(matches!(
        svc.key_for_write(&admin(), &tape("T1")).await,
        Err(ServiceError::InvalidArgument(_))
    ));
    // Changing the key length empties the pool of keys of the old length.
    refill(&svc).await;
    assert_eq!(
        svc.pool_reports_unchecked().await.expect("pools")[0].ready,
        5
    );
    svc.set_key_policy(
        &admin(),
        "plain",
        KeyPolicy {
            length: 128,
            ..KeyPolicy::default()
        },
    )
    .await
    .expect("policy");
    assert_eq!(
        svc.pool_reports_unchecked().await.expect("pools")[0].ready,
        0
    );
    refill(&svc).await;
    let k = svc.key_for_write(&a, &tape("T2")).await.expect("write");
    assert_eq!((k.length, k.material.len()), (128, 16));
    s.running.stop().await;
}

/// The agent's key group is cached; a new default wallet, a changed policy and a removed
/// policy must each show in the very next request.
#[tokio::test]
async fn key_group_changes_take_effect_at_once() {
    let s = setup("sqlite", 5).await;
    let svc = s.running.service.clone();
    key_group(&svc, "tapes", KeyPolicy::default()).await;
    let aes128 = KeyPolicy {
        length: 128,
        ..KeyPolicy::default()
    };
    key_group(&svc, "vault", aes128).await;
    let a = agent(&svc, "agent-a", "tapes").await;
    refill(&svc).await;
    let k = svc.key_for_write(&a, &tape("C1")).await.expect("key");
    assert_eq!(k.length, 256);

    svc.set_default_wallet(&admin(), "agent-a", Some("vault"))
        .await
        .expect("default wallet");
    let k = svc.key_for_write(&a, &tape("C2")).await.expect("key");
    assert_eq!(k.length, 128, "the new default wallet's pool");

    // 128-bit pool keys no longer fit: the pool is emptied, then refilled with 256-bit
    // keys, which a stale cached policy (128) would not find.
    svc.set_key_policy(&admin(), "vault", KeyPolicy::default())
        .await
        .expect("policy");
    refill(&svc).await;
    let k = svc.key_for_write(&a, &tape("C3")).await.expect("key");
    assert_eq!(k.length, 256, "the changed policy");

    svc.remove_key_policy(&admin(), "vault")
        .await
        .expect("remove policy");
    match svc.key_for_write(&a, &tape("C4")).await {
        Err(ServiceError::WrongState(m)) => assert!(m.contains("not a key group"), "{m}"),
        other => panic!("expected not a key group, got {other:?}"),
    }
}

/// On PostgreSQL, a refill that fills a pool refreshes the planner's statistics of the
/// pool table: until then the table looks empty to it, and taking a key sorted the whole
/// pool (250 ms a take with 280,000 ready keys, instead of 0.1 ms).
/// The planner's row estimate for the pool table.
async fn pool_rows_estimate(c: &mut sqlx::PgConnection) -> f32 {
    sqlx::query_scalar::<_, f32>("SELECT reltuples FROM pg_class WHERE relname = 'pool_keys'")
        .fetch_one(c)
        .await
        .expect("reltuples")
}

#[tokio::test]
async fn filling_a_pool_refreshes_its_statistics_on_postgres() {
    use sqlx::Connection;
    let s = setup("postgres", 500).await;
    let svc = s.running.service.clone();
    key_group(&svc, "tapes", KeyPolicy::default()).await;
    let url = s.pg_url.as_deref().expect("postgres");
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    // Never analyzed: -1.
    assert!(pool_rows_estimate(&mut conn).await < 0.0);
    assert_eq!(refill(&svc).await, 500);
    assert_eq!(pool_rows_estimate(&mut conn).await, 500.0);
}
