//! Clavis above the HSM: prints what SoftHSM2 does alone and what the key service
//! does on top of it, so the overhead of Clavis can be read off. No assertions on
//! times: this is a measurement, not a test. See `benches/README.md`.
//!
//! Run: `CLAVIS_TEST_PG_URL=postgres://... cargo bench --bench service`
//! (without the variable the PostgreSQL rows are skipped). `CLAVIS_BENCH_N` sets the
//! number of creates per case (default 2000); reads are 2.5 × N, raw HSM calls 5 × N.

use clavis::config::Config;
use clavis::keys::Algorithm;
use clavis::service::{CreateKey, KeyService, Principal};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use sqlx::{Connection, Executor};
use std::future::Future;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const SO_PIN: &str = "bench-so-pin";
const PG_URL_ENV: &str = "CLAVIS_TEST_PG_URL";
const N_ENV: &str = "CLAVIS_BENCH_N";
/// Concurrent tasks in the "8 tasks" columns.
const TASKS: usize = 8;
/// A case stops early when it runs longer than this; the rate is over what it did.
const CASE_BUDGET: Duration = Duration::from_secs(6);
/// Untimed operations before each timed case.
const WARMUP: usize = 50;

/// Operations done in some time.
#[derive(Clone, Copy, Default)]
struct Rate {
    ops: usize,
    secs: f64,
}

impl Rate {
    fn per_sec(self) -> f64 {
        if self.secs > 0.0 {
            self.ops as f64 / self.secs
        } else {
            0.0
        }
    }
    fn us_per_op(self) -> f64 {
        if self.ops > 0 {
            self.secs * 1e6 / self.ops as f64
        } else {
            0.0
        }
    }
    fn show(self) -> String {
        format!(
            "{:>8.0}/s {:>8.1} µs/op ({} ops)",
            self.per_sec(),
            self.us_per_op(),
            self.ops
        )
    }
}

/// Runs `f` on the current thread up to `n` times (or until the budget runs out).
fn time_sync(n: usize, mut f: impl FnMut(usize)) -> Rate {
    let start = Instant::now();
    let mut ops = 0;
    while ops < n && start.elapsed() < CASE_BUDGET {
        f(ops);
        ops += 1;
    }
    Rate {
        ops,
        secs: start.elapsed().as_secs_f64(),
    }
}

/// Runs `f(i)` for i in 0..n on `tasks` tokio tasks pulling from one counter; stops
/// handing out work when the budget runs out. The clock covers spawn to last join.
async fn time_tasks<F, Fut>(tasks: usize, n: usize, f: F) -> Rate
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (f, next, done) = (f.clone(), next.clone(), done.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n || start.elapsed() >= CASE_BUDGET {
                        break;
                    }
                    f(i).await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("benchmark task panicked");
    }
    Rate {
        ops: done.load(Ordering::Relaxed),
        secs: start.elapsed().as_secs_f64(),
    }
}

// ---------------------------------------------------------------------------------
// SoftHSM2 setup

/// One SoftHSM2 configuration for the whole process, with every token created
/// before the module is first initialized (SoftHSM2 reads its token list then).
struct SoftHsm {
    dir: TempDir,
}

impl SoftHsm {
    fn new(labels: &[&str]) -> SoftHsm {
        let dir = tempfile::tempdir().expect("tempdir");
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).expect("token directory");
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .expect("write softhsm2.conf");
        // Before any thread exists and before any PKCS#11 call in this process.
        std::env::set_var("SOFTHSM2_CONF", &conf);
        for label in labels {
            let out = Command::new("softhsm2-util")
                .args([
                    "--init-token",
                    "--free",
                    "--label",
                    label,
                    "--so-pin",
                    SO_PIN,
                    "--pin",
                    &pin(label),
                ])
                .output()
                .expect("run softhsm2-util (is the softhsm2 package installed?)");
            assert!(
                out.status.success(),
                "softhsm2-util --init-token {label}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        SoftHsm { dir }
    }
}

fn pin(label: &str) -> String {
    format!("pin-{label}")
}

fn open_session(label: &str) -> (Pkcs11, Session) {
    let ctx = Pkcs11::new(MODULE).expect("load SoftHSM2");
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => panic!("C_Initialize: {e}"),
    }
    let slot = ctx
        .get_slots_with_token()
        .expect("C_GetSlotList")
        .into_iter()
        .find(|s| {
            ctx.get_token_info(*s)
                .map(|i| i.label().trim_end() == label)
                .unwrap_or(false)
        })
        .expect("token present");
    let session = ctx.open_rw_session(slot).expect("C_OpenSession");
    session
        .login(UserType::User, Some(&AuthPin::from(pin(label))))
        .expect("C_Login");
    (ctx, session)
}

// ---------------------------------------------------------------------------------
// 1. Raw SoftHSM2 through cryptoki

struct RawResults {
    wrap: Rate,
    unwrap_destroy: Rate,
    unwrap_only_us: f64,
    destroy_only_us: f64,
    /// What `Pkcs11Rot::wrap` asks of the HSM for one create (plus C_GenerateRandom).
    create_floor: Rate,
    /// What `Pkcs11Rot::unwrap` asks of the HSM for one read.
    read_floor: Rate,
}

fn session_key_template(value: Option<Vec<u8>>) -> Vec<Attribute> {
    let mut t = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ];
    if let Some(v) = value {
        t.push(Attribute::Value(v));
    }
    t
}

fn raw_hsm(label: &str, n: usize) -> RawResults {
    let (_ctx, s) = open_session(label);
    let mk = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::ValueLen(32.into()),
                Attribute::Wrap(true),
                Attribute::Unwrap(true),
                Attribute::Label(b"bench-master".to_vec()),
            ],
        )
        .expect("C_GenerateKey (token AES-256 master key)");
    let mut value = vec![0u8; 48];
    s.generate_random_slice(&mut value)
        .expect("C_GenerateRandom");
    let key = s
        .create_object(&session_key_template(Some(value)))
        .expect("C_CreateObject");
    let blob = s
        .wrap_key(&Mechanism::AesKeyWrapPad, mk, key)
        .expect("C_WrapKey");
    assert_eq!(blob.len(), 56, "KWP of 48 bytes is 56 bytes");
    let unwrap_once = |s: &Session| -> (ObjectHandle, Duration) {
        let t = Instant::now();
        let h = s
            .unwrap_key(
                &Mechanism::AesKeyWrapPad,
                mk,
                &blob,
                &session_key_template(None),
            )
            .expect("C_UnwrapKey");
        (h, t.elapsed())
    };

    for _ in 0..WARMUP {
        s.wrap_key(&Mechanism::AesKeyWrapPad, mk, key)
            .expect("C_WrapKey");
        let (h, _) = unwrap_once(&s);
        s.destroy_object(h).expect("C_DestroyObject");
    }

    let wrap = time_sync(n, |_| {
        std::hint::black_box(
            s.wrap_key(&Mechanism::AesKeyWrapPad, mk, key)
                .expect("C_WrapKey"),
        );
    });
    let (mut unwrap_t, mut destroy_t) = (Duration::ZERO, Duration::ZERO);
    let unwrap_destroy = time_sync(n, |_| {
        let (h, u) = unwrap_once(&s);
        let t = Instant::now();
        s.destroy_object(h).expect("C_DestroyObject");
        destroy_t += t.elapsed();
        unwrap_t += u;
    });
    let per = |d: Duration| d.as_secs_f64() * 1e6 / unwrap_destroy.ops.max(1) as f64;

    // The root of trust's call sequences, to bound what the service can reach.
    let mut buf = [0u8; 32];
    let create_floor = time_sync(n, |_| {
        s.generate_random_slice(&mut buf).expect("C_GenerateRandom");
        let mut v = buf.to_vec();
        v.extend_from_slice(&[0u8; 16]);
        let k = s
            .create_object(&session_key_template(Some(v)))
            .expect("C_CreateObject");
        std::hint::black_box(
            s.wrap_key(&Mechanism::AesKeyWrapPad, mk, k)
                .expect("C_WrapKey"),
        );
        s.destroy_object(k).expect("C_DestroyObject");
    });
    let read_floor = time_sync(n, |_| {
        let (h, _) = unwrap_once(&s);
        std::hint::black_box(
            s.get_attributes(h, &[AttributeType::Value])
                .expect("C_GetAttributeValue"),
        );
        s.destroy_object(h).expect("C_DestroyObject");
    });

    s.destroy_object(key).expect("C_DestroyObject");
    s.destroy_object(mk).expect("C_DestroyObject (master key)");
    RawResults {
        wrap,
        unwrap_destroy,
        unwrap_only_us: per(unwrap_t),
        destroy_only_us: per(destroy_t),
        create_floor,
        read_floor,
    }
}

// ---------------------------------------------------------------------------------
// 2. Through the key service

#[derive(Clone, Copy, PartialEq)]
enum StoreKind {
    Sqlite,
    Postgres,
}

#[derive(Clone, Copy, PartialEq)]
enum RotKind {
    SoftHsm,
    Software,
}

impl StoreKind {
    fn name(self) -> &'static str {
        match self {
            StoreKind::Sqlite => "SQLite",
            StoreKind::Postgres => "PostgreSQL",
        }
    }
}

impl RotKind {
    fn name(self) -> &'static str {
        match self {
            RotKind::SoftHsm => "SoftHSM2 (pkcs11)",
            RotKind::Software => "software",
        }
    }
}

#[derive(Default)]
struct Row {
    create1: Rate,
    create8: Rate,
    read1: Rate,
    read8: Rate,
    /// `get` (metadata only: the store's read, no unwrap), 1 task.
    meta1: Rate,
    /// The root of trust alone, through the trait (`wrap` / `unwrap`), one thread.
    rot_wrap: Rate,
    rot_unwrap: Rate,
}

fn principal() -> Principal {
    Principal::system("bench")
}

fn create_req() -> CreateKey {
    CreateKey {
        algorithm: Algorithm::Aes,
        length: 256,
        name: None,
        activate: true,
        attributes: Default::default(),
    }
}

fn write_config(dir: &Path, store_url: &str, rot: RotKind, token: &str) -> Config {
    let rot_section = match rot {
        RotKind::Software => "[root_of_trust]\nkind = \"software\"\npassphrase_file = \"rot-passphrase\"\n".to_owned(),
        RotKind::SoftHsm => format!(
            "[root_of_trust]\nkind = \"pkcs11\"\nprofile = \"{}\"\ntoken_label = \"{token}\"\npin = \"{}\"\n",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("hsm-profiles/softhsm2.toml").display(),
            pin(token)
        ),
    };
    let text = format!(
        "[node]\nname = \"bench\"\ndata_dir = \"data\"\n\n[store]\nurl = \"{store_url}\"\n\n{rot_section}\n[api]\nlisten = \"127.0.0.1:0\"\n\n[kmip]\nenabled = false\n\n[agent]\nenabled = false\n"
    );
    let path = dir.join("clavis.toml");
    std::fs::write(&path, text).expect("write clavis.toml");
    Config::load(&path).expect("config loads")
}

async fn fresh_pg_database(base: &str) -> (String, String) {
    let mut conn = sqlx::PgConnection::connect(base)
        .await
        .unwrap_or_else(|e| panic!("{PG_URL_ENV}={base}: cannot connect: {e}"));
    let name = format!("clavis_bench_{}", uuid::Uuid::now_v7().simple());
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("CREATE DATABASE");
    conn.close().await.ok();
    let (prefix, _) = base
        .rsplit_once('/')
        .expect("the PostgreSQL URL ends in a database name");
    (format!("{prefix}/{name}"), name)
}

async fn drop_pg_database(base: &str, name: &str) {
    if let Ok(mut conn) = sqlx::PgConnection::connect(base).await {
        if let Err(e) = conn
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await
        {
            eprintln!("note: could not drop database {name}: {e}");
        }
        conn.close().await.ok();
    }
}

async fn bench_combo(
    store: StoreKind,
    rot: RotKind,
    token: &str,
    pg_base: Option<&str>,
    n: usize,
) -> Row {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, pg_db) = match store {
        StoreKind::Sqlite => ("sqlite://clavis.db".to_owned(), None),
        StoreKind::Postgres => {
            let (url, name) = fresh_pg_database(pg_base.expect("PostgreSQL URL")).await;
            (url, Some(name))
        }
    };
    let cfg = write_config(dir.path(), &url, rot, token);
    clavis::node::init(&cfg)
        .await
        .unwrap_or_else(|e| panic!("init ({}, {}): {e}", store.name(), rot.name()));
    let node = clavis::node::start(&cfg)
        .await
        .unwrap_or_else(|e| panic!("start: {e}"));
    let svc: Arc<KeyService> = node.service.clone();
    let who = principal();
    let reads = n * 5 / 2;

    let ids = Arc::new(Mutex::new(Vec::with_capacity(2 * n + WARMUP)));
    for _ in 0..WARMUP {
        let meta = svc
            .create_key(&who, create_req())
            .await
            .expect("create_key");
        ids.lock().expect("ids").push(meta.id);
    }
    let create = |tasks: usize| {
        let (svc, ids) = (svc.clone(), ids.clone());
        time_tasks(tasks, n, move |_| {
            let (svc, ids) = (svc.clone(), ids.clone());
            async move {
                let meta = svc
                    .create_key(&principal(), create_req())
                    .await
                    .expect("create_key");
                ids.lock().expect("ids").push(meta.id);
            }
        })
    };
    let mut row = Row {
        create1: create(1).await,
        create8: create(TASKS).await,
        ..Row::default()
    };

    let ids: Arc<Vec<String>> = Arc::new(ids.lock().expect("ids").clone());
    let read = |tasks: usize, material: bool| {
        let (svc, ids) = (svc.clone(), ids.clone());
        time_tasks(tasks, reads, move |i| {
            let (svc, ids) = (svc.clone(), ids.clone());
            async move {
                // A stride through the keys, so reads do not hit one hot row.
                let id = &ids[(i * 7919) % ids.len()];
                if material {
                    let (_, m) = svc
                        .get_material(&principal(), id)
                        .await
                        .expect("get_material");
                    assert_eq!(m.len(), 32);
                } else {
                    std::hint::black_box(svc.get(&principal(), id).await.expect("get"));
                }
            }
        })
    };
    for i in 0..WARMUP {
        svc.get_material(&who, &ids[i]).await.expect("get_material");
    }
    row.read1 = read(1, true).await;
    row.read8 = read(TASKS, true).await;
    row.meta1 = read(1, false).await;

    // The root of trust alone, same master key, same calls as a create and a read.
    let r = svc.rot().clone();
    let mk = svc.master_key();
    let material = r.random(32).expect("random");
    let id = ids[0].clone();
    let wrapped = r.wrap(&mk, &id, &material).expect("wrap");
    row.rot_wrap = time_sync(n * 5 / 2, |_| {
        let m = r.random(32).expect("random");
        std::hint::black_box(r.wrap(&mk, &id, &m).expect("wrap"));
    });
    row.rot_unwrap = time_sync(reads, |_| {
        std::hint::black_box(r.unwrap(&wrapped, &id).expect("unwrap"));
    });
    drop(r);

    drop(svc);
    node.stop().await;
    if let (Some(base), Some(name)) = (pg_base, pg_db) {
        drop_pg_database(base, &name).await;
    }
    row
}

// ---------------------------------------------------------------------------------

fn main() {
    let n: usize = match std::env::var(N_ENV) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{N_ENV}={v}: not a number")),
        Err(_) => 2000,
    }
    .max(1);
    let pg_base = std::env::var(PG_URL_ENV).ok().filter(|v| !v.is_empty());

    let tokens = ["bench-raw", "bench-sqlite", "bench-pg"];
    let hsm = SoftHsm::new(&tokens);
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("Clavis service benchmark: N = {n} creates, {} reads, {} raw HSM calls per case; {cpus} CPUs", n * 5 / 2, n * 5);
    println!(
        "SoftHSM2 config {}; a case stops after {} s",
        hsm.dir.path().display(),
        CASE_BUDGET.as_secs()
    );
    println!();

    // 1. Raw.
    let raw = raw_hsm(tokens[0], n * 5);
    println!("raw SoftHSM2 (cryptoki, 1 thread, token AES-256 master key, 48-byte session key):");
    println!(
        "  C_WrapKey KWP (cryptoki wrap_key: 2 calls)  {}",
        raw.wrap.show()
    );
    println!(
        "  C_UnwrapKey KWP + C_DestroyObject           {}  (unwrap {:.1} µs + destroy {:.1} µs)",
        raw.unwrap_destroy.show(),
        raw.unwrap_only_us,
        raw.destroy_only_us
    );
    println!(
        "  create sequence (random+create+wrap+destroy){}",
        raw.create_floor.show()
    );
    println!(
        "  read sequence (unwrap+get value+destroy)    {}",
        raw.read_floor.show()
    );
    println!();

    // 2. Service.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut combos = vec![
        (StoreKind::Sqlite, RotKind::SoftHsm),
        (StoreKind::Sqlite, RotKind::Software),
    ];
    let pg_skip = match &pg_base {
        Some(_) => {
            combos.push((StoreKind::Postgres, RotKind::SoftHsm));
            combos.push((StoreKind::Postgres, RotKind::Software));
            None
        }
        None => Some(format!(
            "PostgreSQL rows skipped: {PG_URL_ENV} is not set (set it to a server URL ending in a database, \
             e.g. postgres://clavis@127.0.0.1:55432/postgres; scripts/bench.sh starts one)"
        )),
    };
    if let Some(msg) = &pg_skip {
        println!("{msg}\n");
    }
    let mut rows = Vec::new();
    for (store, rot) in combos {
        let token = if store == StoreKind::Sqlite {
            tokens[1]
        } else {
            tokens[2]
        };
        let start = Instant::now();
        let row = rt.block_on(bench_combo(store, rot, token, pg_base.as_deref(), n));
        println!(
            "{} / {} ({:.1} s):",
            store.name(),
            rot.name(),
            start.elapsed().as_secs_f64()
        );
        println!("  create_key, 1 task      {}", row.create1.show());
        println!("  create_key, {TASKS} tasks     {}", row.create8.show());
        println!("  get_material, 1 task    {}", row.read1.show());
        println!("  get_material, {TASKS} tasks   {}", row.read8.show());
        println!("  get (metadata), 1 task  {}", row.meta1.show());
        println!("  rot random+wrap, 1 thr  {}", row.rot_wrap.show());
        println!("  rot unwrap, 1 thr       {}", row.rot_unwrap.show());
        println!();
        rows.push((store, rot, row));
    }
    drop(rt);

    // 3. Table.
    println!("## Clavis key service (ops/s; {cpus} CPUs, tokio multi-thread runtime, in process, no TLS/HTTP)");
    println!();
    println!(
        "| store | root of trust | create/s (1 task) | create/s ({TASKS} tasks) | read/s (1) | read/s ({TASKS}) | metadata get/s (1) | RoT wrap/s | RoT unwrap/s |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for (store, rot, r) in &rows {
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            store.name(),
            rot.name(),
            r.create1.per_sec(),
            r.create8.per_sec(),
            r.read1.per_sec(),
            r.read8.per_sec(),
            r.meta1.per_sec(),
            r.rot_wrap.per_sec(),
            r.rot_unwrap.per_sec()
        );
    }
    if let Some(msg) = &pg_skip {
        println!("| PostgreSQL | — | skipped | | | | | | |");
        println!();
        println!("{msg}");
    }
    println!();
    println!(
        "## Raw SoftHSM2 2.x via cryptoki, 1 thread ({} ops each)",
        raw.wrap.ops
    );
    println!();
    println!("| operation | ops/s | µs/op |");
    println!("|---|---:|---:|");
    for (name, r) in [
        (
            "C_WrapKey KWP, 48-byte session key (cryptoki: 2 C_WrapKey calls)",
            raw.wrap,
        ),
        (
            "C_UnwrapKey KWP as session object + C_DestroyObject",
            raw.unwrap_destroy,
        ),
        (
            "HSM floor of a create (GenerateRandom+CreateObject+WrapKey+DestroyObject)",
            raw.create_floor,
        ),
        (
            "HSM floor of a read (UnwrapKey+GetAttributeValue+DestroyObject)",
            raw.read_floor,
        ),
    ] {
        println!("| {name} | {:.0} | {:.1} |", r.per_sec(), r.us_per_op());
    }
    println!(
        "| (of which C_UnwrapKey / C_DestroyObject) | | {:.1} / {:.1} |",
        raw.unwrap_only_us, raw.destroy_only_us
    );
    drop(hsm);
}
