//! What access control costs: `authz::authorize` decisions per second over a population
//! of 10,000 users, 1,000 wallets and 100 groups, and the request path (`get`,
//! `get_material`) of an in-process `KeyService` as a user whose rights come from
//! wallet grants, next to the same requests as `Principal::system` (which skips grant
//! resolution). No assertions on times: this is a measurement, not a test. See
//! `benches/README.md`.
//!
//! Run: `cargo bench --bench authz`. `CLAVIS_BENCH_N` sets the requests per request-path
//! case (default 2000); `CLAVIS_BENCH_DECISIONS` the pure decisions (default 2,000,000).

use clavis::authz::{
    authorize, AccessLevel, Action, ObjectFacts, Privileges, Roles, Subject, SubjectKind,
};
use clavis::config::Config;
use clavis::hlc::{to_db, Hlc};
use clavis::keys::{new_object_id, now_secs, Algorithm};
use clavis::secret::KeyMaterial;
use clavis::service::{CreateKey, KeyService, Principal};
use clavis::store::{
    GroupRecord, ManageGrant, StoredObject, UserRecord, WalletGrant, WalletRecord,
};
use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

const USERS: usize = 10_000;
const WALLETS: usize = 1_000;
/// User groups; the other `ENDPOINT_GROUPS` of the 100 groups are endpoint groups.
const USER_GROUPS: usize = 80;
const ENDPOINT_GROUPS: usize = 20;
/// Objects, each in one to three wallets.
const OBJECTS: usize = 10_000;
/// Direct wallet grants per user.
const DIRECT_GRANTS: usize = 4;
/// User groups each user belongs to.
const MEMBERSHIPS: usize = 2;
/// Wallet grants per group.
const GROUP_GRANTS: usize = 10;
/// One user in this many manages an endpoint group (and inherits its grants).
const MANAGER_EVERY: usize = 10;
/// Rows per seeding transaction.
const TX_ROWS: usize = 20_000;
/// A request-path case also stops after this long.
const CASE_BUDGET: Duration = Duration::from_secs(8);
/// Users the warm cases cycle through (their subjects stay cached).
const WARM_USERS: usize = 100;
/// Users whose first request is timed in the cold case.
const COLD_USERS: usize = 500;

/// A small deterministic generator (xorshift64*), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn level(&mut self) -> AccessLevel {
        match self.below(10) {
            0..=5 => AccessLevel::ReadOnly,
            6..=8 => AccessLevel::ReadModify,
            _ => AccessLevel::ManageWallet,
        }
    }
}

/// Who holds what: generated once, used for the pure subjects and seeded into the store.
struct Population {
    user_ids: Vec<String>,
    user_roles: Vec<Roles>,
    wallet_ids: Vec<String>,
    /// User groups then endpoint groups.
    group_ids: Vec<String>,
    /// (user, wallet, level).
    direct: Vec<(usize, usize, AccessLevel)>,
    /// (user, user group).
    members: Vec<(usize, usize)>,
    /// (group, wallet, level), for user and endpoint groups alike.
    group_grants: Vec<(usize, usize, AccessLevel)>,
    /// (user, endpoint group index into `group_ids`).
    managers: Vec<(usize, usize)>,
    object_ids: Vec<String>,
    /// The wallets each object is in.
    object_wallets: Vec<Vec<usize>>,
    /// The user owning each object.
    object_owner: Vec<usize>,
}

impl Population {
    fn new() -> Population {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let ids = |n: usize| (0..n).map(|_| new_object_id()).collect::<Vec<_>>();
        let user_roles = (0..USERS)
            .map(|u| match u % 100 {
                0 => Roles::SYSTEM_ADMIN,
                1 => Roles::KEY_ADMIN,
                2 => Roles::AUDIT_MANAGER,
                _ => Roles::empty(),
            })
            .collect();
        let mut direct = Vec::new();
        let mut members = Vec::new();
        let mut managers = Vec::new();
        for u in 0..USERS {
            for _ in 0..DIRECT_GRANTS {
                direct.push((u, rng.below(WALLETS), rng.level()));
            }
            for _ in 0..MEMBERSHIPS {
                members.push((u, rng.below(USER_GROUPS)));
            }
            if u % MANAGER_EVERY == 5 {
                managers.push((u, USER_GROUPS + rng.below(ENDPOINT_GROUPS)));
            }
        }
        direct.sort_by_key(|(u, w, _)| (*u, *w));
        direct.dedup_by_key(|(u, w, _)| (*u, *w));
        members.sort_unstable();
        members.dedup();
        let mut group_grants = Vec::new();
        for g in 0..USER_GROUPS + ENDPOINT_GROUPS {
            for _ in 0..GROUP_GRANTS {
                group_grants.push((g, rng.below(WALLETS), rng.level()));
            }
        }
        group_grants.sort_by_key(|(g, w, _)| (*g, *w));
        group_grants.dedup_by_key(|(g, w, _)| (*g, *w));
        let object_wallets = (0..OBJECTS)
            .map(|_| {
                let mut w: Vec<usize> = (0..1 + rng.below(3)).map(|_| rng.below(WALLETS)).collect();
                w.sort_unstable();
                w.dedup();
                w
            })
            .collect();
        let object_owner = (0..OBJECTS).map(|_| rng.below(USERS)).collect();
        Population {
            user_ids: ids(USERS),
            user_roles,
            wallet_ids: ids(WALLETS),
            group_ids: ids(USER_GROUPS + ENDPOINT_GROUPS),
            direct,
            members,
            group_grants,
            managers,
            object_ids: ids(OBJECTS),
            object_wallets,
            object_owner,
        }
    }

    /// Every user's resolved rights, as `KeyService::subject` computes them.
    fn subjects(&self) -> Vec<Subject> {
        let mut subjects: Vec<Subject> = (0..USERS)
            .map(|u| {
                let mut s = Subject::new(SubjectKind::User(self.user_ids[u].clone()));
                s.roles = self.user_roles[u];
                s
            })
            .collect();
        let mut by_group: HashMap<usize, Vec<(usize, AccessLevel)>> = HashMap::new();
        for &(g, w, l) in &self.group_grants {
            by_group.entry(g).or_default().push((w, l));
        }
        for &(u, w, l) in &self.direct {
            subjects[u].add_wallet_access(&self.wallet_ids[w], l);
        }
        for &(u, g) in self.members.iter().chain(&self.managers) {
            for &(w, l) in by_group.get(&g).into_iter().flatten() {
                subjects[u].add_wallet_access(&self.wallet_ids[w], l);
            }
        }
        for &(u, g) in &self.managers {
            subjects[u]
                .managed_endpoint_groups
                .insert(self.group_ids[g].clone());
        }
        subjects
    }
}

// ---------------------------------------------------------------------------------
// (a) The decision function alone

/// Times `authorize` over `requests`; (allowed fraction, seconds).
fn time_decisions(subjects: &[Subject], requests: &[(usize, Action<'_>)]) -> (f64, f64) {
    // Untimed pass: caches warm.
    for (s, a) in requests.iter().take(10_000) {
        black_box(authorize(&subjects[*s], a).is_ok());
    }
    let start = Instant::now();
    let mut allowed = 0usize;
    for (s, a) in requests {
        allowed += usize::from(black_box(authorize(black_box(&subjects[*s]), a)).is_ok());
    }
    let secs = start.elapsed().as_secs_f64();
    (allowed as f64 / requests.len().max(1) as f64, secs)
}

fn pure_decisions(pop: &Population, n: usize) {
    let subjects = pop.subjects();
    let wallets_per_user: f64 =
        subjects.iter().map(|s| s.wallets.len()).sum::<usize>() as f64 / USERS as f64;
    let object_wallets: Vec<Vec<String>> = pop
        .object_wallets
        .iter()
        .map(|ws| ws.iter().map(|w| pop.wallet_ids[*w].clone()).collect())
        .collect();
    let owners: Vec<String> = pop
        .object_owner
        .iter()
        .map(|u| format!("user:{}", pop.user_ids[*u]))
        .collect();
    let mut in_wallet: HashMap<&str, Vec<usize>> = HashMap::new();
    for (o, ws) in object_wallets.iter().enumerate() {
        for w in ws {
            in_wallet.entry(w.as_str()).or_default().push(o);
        }
    }
    let facts = |o: usize| ObjectFacts {
        owner: Some(&owners[o]),
        wallets: &object_wallets[o],
    };
    // The requests, drawn before the clock starts. Object actions: 40% use, 30% read,
    // 15% modify; wallet actions: 5% each view, manage, grant Read Only.
    let action = |rng: &mut Rng, o: usize, w: &'static str| -> Action<'_> {
        match rng.below(20) {
            0..=7 => Action::UseObject(facts(o)),
            8..=13 => Action::ReadObject(facts(o)),
            14..=16 => Action::ModifyObject(facts(o)),
            17 => Action::ViewWallet { wallet_id: w },
            18 => Action::ManageWallet { wallet_id: w },
            _ => Action::GrantWalletAccess {
                wallet_id: w,
                level: AccessLevel::ReadOnly,
            },
        }
    };
    let wallet_ids: &'static [String] = pop.wallet_ids.clone().leak();
    let wallet_index: HashMap<&str, usize> = pop
        .wallet_ids
        .iter()
        .enumerate()
        .map(|(i, w)| (w.as_str(), i))
        .collect();
    let mut rng = Rng(42);
    // Mix 1: a user asks about an object in a wallet it holds a grant on (or about that
    // wallet): what users mostly do.
    let mut entitled = Vec::with_capacity(n);
    while entitled.len() < n {
        let s = rng.below(USERS);
        let mine: Vec<&String> = subjects[s].wallets.keys().collect();
        let Some(w) = mine.get(rng.below(mine.len().max(1))) else {
            continue;
        };
        let Some(objs) = in_wallet.get(w.as_str()) else {
            continue;
        };
        let o = objs[rng.below(objs.len())];
        let w = &wallet_ids[wallet_index[w.as_str()]];
        entitled.push((s, action(&mut rng, o, w)));
    }
    // Mix 2: any user, any object, any wallet: mostly refusals.
    let random: Vec<(usize, Action<'_>)> = (0..n)
        .map(|_| {
            let (s, o, w) = (rng.below(USERS), rng.below(OBJECTS), rng.below(WALLETS));
            (s, action(&mut rng, o, &wallet_ids[w]))
        })
        .collect();
    println!("## (a) authorize() alone, one thread\n");
    println!(
        "population: {USERS} users ({} with roles), {WALLETS} wallets, {USER_GROUPS} user groups + {ENDPOINT_GROUPS} endpoint groups, {OBJECTS} objects in 1-3 wallets each",
        pop.user_roles.iter().filter(|r| !r.is_empty()).count()
    );
    println!(
        "grants: {} direct, {} memberships, {} group grants, {} endpoint-group managers; {wallets_per_user:.1} wallets per user after the union",
        pop.direct.len(),
        pop.members.len(),
        pop.group_grants.len(),
        pop.managers.len()
    );
    println!(
        "mix: 40% use, 30% read, 15% modify an object; 5% each view, manage, grant on a wallet\n"
    );
    println!("| requests | decisions | allowed | time | decisions/s | ns/decision |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (what, reqs) in [
        ("users asking about their wallets' objects", &entitled),
        ("random user, object, wallet (mostly refused)", &random),
    ] {
        let (allowed, secs) = time_decisions(&subjects, reqs);
        println!(
            "| {what} | {} | {:.1}% | {secs:.3} s | {:.2} M | {:.0} |",
            reqs.len(),
            100.0 * allowed,
            reqs.len() as f64 / secs / 1e6,
            secs * 1e9 / reqs.len() as f64
        );
    }
    println!();
}

// ---------------------------------------------------------------------------------
// (b) The request path

fn write_config(dir: &Path) -> Config {
    let text = "[node]\nname = \"bench\"\ndata_dir = \"data\"\n\n[store]\nurl = \"sqlite://clavis.db\"\n\n[root_of_trust]\nkind = \"software\"\npassphrase_file = \"rot-passphrase\"\n\n[api]\nlisten = \"127.0.0.1:0\"\n\n[kmip]\nenabled = false\n\n[agent]\nenabled = false\n";
    let path = dir.join("clavis.toml");
    std::fs::write(&path, text).expect("write clavis.toml");
    Config::load(&path).expect("config loads")
}

/// Writes the population through the store's write transactions, `TX_ROWS` rows each.
async fn seed(svc: &KeyService, pop: &Population) -> (Duration, usize) {
    let start = Instant::now();
    let store = svc.store();
    let node_id = svc.node().node_id.clone();
    let hlc = Hlc::new();
    let now = now_secs();
    // A real key's metadata as the template of every object; each gets its own
    // material, wrapped under the master key and bound to its own ID.
    let template = svc
        .create_key(
            &Principal::system("seed"),
            CreateKey {
                algorithm: Algorithm::Aes,
                length: 256,
                name: None,
                activate: true,
                attributes: Default::default(),
            },
        )
        .await
        .expect("template key");
    let mut rows = 0usize;
    let mut tx = store.begin_write(&node_id).await.expect("begin");
    macro_rules! row {
        ($e:expr) => {{
            $e.await.expect("seed row");
            rows += 1;
            if rows.is_multiple_of(TX_ROWS) {
                tx.commit().await.expect("commit");
                tx = store.begin_write(&node_id).await.expect("begin");
            }
        }};
    }
    for (u, id) in pop.user_ids.iter().enumerate() {
        let name = format!("user_{u:05}");
        let rec = UserRecord {
            id: id.clone(),
            name_key: Some(name.clone()),
            name,
            password_phc: None,
            cert_fingerprint: None,
            roles: i64::from(pop.user_roles[u].bits()),
            forward_roles: 0,
            privileges: i64::from(Privileges::empty().bits()),
            state: "active".into(),
            failed_logins: 0,
            locked_until: None,
            created_by: None,
            created_at: now,
            updated_at: now,
            hlc: to_db(hlc.now()),
            origin_node: node_id.clone(),
        };
        row!(tx.insert_user(&rec));
    }
    for (w, id) in pop.wallet_ids.iter().enumerate() {
        let name = format!("wallet_{w:04}");
        let rec = WalletRecord {
            id: id.clone(),
            name_key: Some(name.clone()),
            name,
            description: None,
            state: "active".into(),
            created_by: None,
            created_at: now,
            updated_at: now,
            hlc: to_db(hlc.now()),
            origin_node: node_id.clone(),
        };
        row!(tx.put_wallet(&rec));
    }
    for (g, id) in pop.group_ids.iter().enumerate() {
        let (kind, name) = if g < USER_GROUPS {
            ("user", format!("ug_{g:03}"))
        } else {
            ("endpoint", format!("eg_{g:03}"))
        };
        let rec = GroupRecord {
            id: id.clone(),
            kind: kind.into(),
            name_key: Some(name.clone()),
            name,
            description: None,
            state: "active".into(),
            created_by: None,
            created_at: now,
            updated_at: now,
            hlc: to_db(hlc.now()),
            origin_node: node_id.clone(),
        };
        row!(tx.put_group(&rec));
    }
    for &(u, w, l) in &pop.direct {
        let g = WalletGrant {
            wallet_id: pop.wallet_ids[w].clone(),
            grantee_kind: "user".into(),
            grantee_id: pop.user_ids[u].clone(),
            level: l.to_db(),
            granted_by: None,
            created_at: now,
        };
        row!(tx.put_wallet_grant(&g, to_db(hlc.now())));
    }
    for &(g, w, l) in &pop.group_grants {
        let kind = if g < USER_GROUPS {
            "user_group"
        } else {
            "endpoint_group"
        };
        let grant = WalletGrant {
            wallet_id: pop.wallet_ids[w].clone(),
            grantee_kind: kind.into(),
            grantee_id: pop.group_ids[g].clone(),
            level: l.to_db(),
            granted_by: None,
            created_at: now,
        };
        row!(tx.put_wallet_grant(&grant, to_db(hlc.now())));
    }
    for &(u, g) in &pop.members {
        row!(tx.add_member(&pop.group_ids[g], &pop.user_ids[u], now, to_db(hlc.now())));
    }
    for &(u, g) in &pop.managers {
        let m = ManageGrant {
            target_kind: "endpoint_group".into(),
            target_id: pop.group_ids[g].clone(),
            user_id: pop.user_ids[u].clone(),
            granted_by: None,
            created_at: now,
        };
        row!(tx.put_manage_grant(&m, to_db(hlc.now())));
    }
    let material = KeyMaterial::from_slice(&[0x5a; 32]);
    for (o, id) in pop.object_ids.iter().enumerate() {
        let mut meta = template.clone();
        meta.id = id.clone();
        let wrapped = svc
            .rot()
            .wrap(&svc.master_key(), id, &material)
            .expect("wrap");
        let owner = format!("user:{}", pop.user_ids[pop.object_owner[o]]);
        let obj = StoredObject {
            meta,
            wrapped: Some(wrapped.to_bytes()),
            master_key_id: Some(svc.master_key().0.clone()),
            hlc: to_db(hlc.now()),
            origin_node: node_id.clone(),
            owner: Some(owner.clone()),
        };
        row!(tx.insert_object(&obj));
        for &w in &pop.object_wallets[o] {
            row!(tx.add_wallet_object(&pop.wallet_ids[w], id, Some(&owner), now, to_db(hlc.now())));
        }
    }
    tx.commit().await.expect("commit");
    (start.elapsed(), rows)
}

/// Latencies of one case, in µs.
struct Lat(Vec<f64>);

impl Lat {
    fn pct(&self, p: f64) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v.get(((v.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    }
    fn mean(&self) -> f64 {
        self.0.iter().sum::<f64>() / self.0.len().max(1) as f64
    }
}

/// Which call a case makes.
#[derive(Clone, Copy)]
enum Op {
    Get,
    GetMaterial,
}

async fn call(svc: &KeyService, op: Op, who: &Principal, id: &str) -> f64 {
    let t = Instant::now();
    match op {
        Op::Get => {
            svc.get(who, id).await.expect("get");
        }
        Op::GetMaterial => {
            svc.get_material(who, id).await.expect("get_material");
        }
    }
    t.elapsed().as_secs_f64() * 1e6
}

/// Up to `per_user` (user, object) pairs per user where the user reaches the object
/// only through a wallet grant (not as its owner, not by a role).
fn reachable_pairs(
    pop: &Population,
    subjects: &[Subject],
    users: &[usize],
    per_user: usize,
) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for &u in users {
        let reachable = (0..OBJECTS).filter(|&o| {
            pop.object_owner[o] != u
                && pop.object_wallets[o]
                    .iter()
                    .any(|w| subjects[u].wallets.contains_key(&pop.wallet_ids[*w]))
        });
        out.extend(reachable.take(per_user).map(|o| (u, o)));
    }
    out
}

fn principal(pop: &Population, u: usize) -> Principal {
    Principal::user(format!("user_{u:05}"), pop.user_ids[u].clone(), None)
}

/// Runs `op` for each (caller, object) of `reqs` (cycling, up to `n` or the budget),
/// each followed or preceded (alternately) by the same request as `Principal::system`:
/// the two see the same machine, which on a small VM drifts by tens of percent.
/// Returns (system, caller) latencies.
async fn interleaved(
    svc: &KeyService,
    op: Op,
    reqs: &[(Principal, String)],
    n: usize,
) -> (Lat, Lat) {
    let system = Principal::system("bench");
    let (mut sys, mut user) = (Vec::new(), Vec::new());
    let start = Instant::now();
    let mut i = 0;
    while i < n && start.elapsed() < CASE_BUDGET {
        let (who, id) = &reqs[i % reqs.len()];
        if i % 2 == 0 {
            sys.push(call(svc, op, &system, id).await);
            user.push(call(svc, op, who, id).await);
        } else {
            user.push(call(svc, op, who, id).await);
            sys.push(call(svc, op, &system, id).await);
        }
        i += 1;
    }
    (Lat(sys), Lat(user))
}

async fn request_path(pop: &Population, n: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path());
    clavis::node::init(&cfg).await.expect("init");
    let node = clavis::node::start(&cfg).await.expect("start");
    let svc = node.service.clone();
    let (took, rows) = seed(&svc, pop).await;
    println!("## (b) the request path: in-process KeyService, software root of trust, SQLite\n");
    println!(
        "seeded {rows} rows (and as many change-log rows) through WriteTx in {:.1} s",
        took.as_secs_f64()
    );
    println!(
        "each request also appends its audit record in its own durable transaction (SQLite, synchronous = FULL), as in production\n"
    );

    let subjects = pop.subjects();
    // Users without roles, so their access comes from grants alone.
    let plain: Vec<usize> = (0..USERS)
        .filter(|u| pop.user_roles[*u].is_empty())
        .collect();
    let warm_users: Vec<usize> = plain.iter().copied().take(WARM_USERS).collect();
    let pairs = reachable_pairs(pop, &subjects, &warm_users, 20);
    let ka = (0..USERS)
        .find(|u| pop.user_roles[*u] == Roles::KEY_ADMIN)
        .expect("a Key Administrator");
    let granted: Vec<(Principal, String)> = pairs
        .iter()
        .map(|&(u, o)| (principal(pop, u), pop.object_ids[o].clone()))
        .collect();
    let by_admin: Vec<(Principal, String)> = pairs
        .iter()
        .map(|&(_, o)| (principal(pop, ka), pop.object_ids[o].clone()))
        .collect();
    // Owners of objects, as many as there are warm users.
    let owned: Vec<(Principal, String)> = (0..OBJECTS)
        .filter(|o| pop.user_roles[pop.object_owner[*o]].is_empty())
        .take(WARM_USERS)
        .map(|o| {
            (
                principal(pop, pop.object_owner[o]),
                pop.object_ids[o].clone(),
            )
        })
        .collect();
    let cases = [
        ("a user with a wallet grant", &granted),
        ("the object's owner", &owned),
        ("a Key Administrator (by role)", &by_admin),
    ];
    println!("| request | as | requests | req/s | mean µs | p50 µs | p99 µs | vs system: mean | p50 | p99 |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let pct = |u: f64, s: f64| 100.0 * (u - s) / s;
    let show = |name: &str, who: &str, l: &Lat, sys: Option<&Lat>| {
        let vs = sys.map_or_else(
            || " | | ".to_owned(),
            |s| {
                format!(
                    "{:+.1}% | {:+.1}% | {:+.1}%",
                    pct(l.mean(), s.mean()),
                    pct(l.pct(0.5), s.pct(0.5)),
                    pct(l.pct(0.99), s.pct(0.99))
                )
            },
        );
        println!(
            "| `{name}` | {who} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {vs} |",
            l.0.len(),
            1e6 / l.mean(),
            l.mean(),
            l.pct(0.5),
            l.pct(0.99)
        );
    };
    for (op, name) in [(Op::Get, "get"), (Op::GetMaterial, "get_material")] {
        for (who, reqs) in cases {
            // Warm-up: the callers' subjects are cached, the store's pages are hot.
            for (p, id) in reqs.iter() {
                call(&svc, op, p, id).await;
            }
            let (sys, user) = interleaved(&svc, op, reqs, n).await;
            show(name, who, &user, Some(&sys));
            show(name, "`Principal::system`, interleaved", &sys, None);
        }
    }

    // Cold: the first request of users whose subject is not cached yet.
    let asked: std::collections::HashSet<&str> = owned
        .iter()
        .filter_map(|(p, _)| match &p.kind {
            clavis::service::PrincipalKind::User(id) => Some(id.as_str()),
            _ => None,
        })
        .collect();
    let cold_users: Vec<usize> = plain
        .iter()
        .copied()
        .skip(WARM_USERS)
        .filter(|u| !asked.contains(pop.user_ids[*u].as_str()))
        .take(COLD_USERS)
        .collect();
    let cold: Vec<(Principal, String)> = reachable_pairs(pop, &subjects, &cold_users, 1)
        .into_iter()
        .map(|(u, o)| (principal(pop, u), pop.object_ids[o].clone()))
        .collect();
    let (sys, user) = interleaved(&svc, Op::Get, &cold, cold.len()).await;
    show(
        "get",
        "a user with a wallet grant, first request (subject resolved)",
        &user,
        Some(&sys),
    );
    show("get", "`Principal::system`, interleaved", &sys, None);

    // The parts: what a wallet-granted user's request does that the system's does not.
    let t = Instant::now();
    for &(_, o) in &pairs {
        black_box(
            svc.store()
                .wallets_of_object(&pop.object_ids[o])
                .await
                .expect("wallets"),
        );
    }
    let per_query = t.elapsed().as_secs_f64() * 1e6 / pairs.len() as f64;
    let extra: Vec<usize> = plain
        .iter()
        .copied()
        .skip(WARM_USERS + COLD_USERS)
        .take(500)
        .collect();
    let t = Instant::now();
    let mut wallets = 0;
    for &u in &extra {
        wallets += svc
            .subject(&principal(pop, u))
            .await
            .expect("subject")
            .wallets
            .len();
    }
    let per = t.elapsed().as_secs_f64() * 1e6 / extra.len() as f64;
    // Cached entries live 5 s: refresh them, then time hits only.
    for (p, _) in &granted {
        svc.subject(p).await.expect("subject");
    }
    let t = Instant::now();
    for (p, _) in &granted {
        black_box(svc.subject(p).await.expect("subject"));
    }
    let cached = t.elapsed().as_secs_f64() * 1e9 / granted.len() as f64;
    println!();
    println!("| part | cost |");
    println!("|---|---:|");
    println!("| `KeyService::subject`, cached | {cached:.0} ns |");
    println!(
        "| `KeyService::subject`, resolved from the store (user row, manage grants, wallet grants by every path; {:.1} wallets on average) | {per:.0} µs |",
        wallets as f64 / extra.len() as f64
    );
    println!("| `Store::wallets_of_object` (the one query a wallet-granted user's request adds; owners and administrators skip it) | {per_query:.0} µs |");
    node.stop().await;
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n = env_usize("CLAVIS_BENCH_N", 2000);
    let decisions = env_usize("CLAVIS_BENCH_DECISIONS", 2_000_000);
    let pop = Population::new();
    println!(
        "# access control bench ({} CPUs, load average {})\n",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "?".into())
    );
    pure_decisions(&pop, decisions);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(request_path(&pop, n));
}
