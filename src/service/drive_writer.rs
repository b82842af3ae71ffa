//! Group commit for drive key requests.
//!
//! A drive's request for a key is a write (a pool key becomes a managed object, the
//! data unit gains a link, the audit trail a record), and a backup window sends many
//! at once. One writer task applies every request waiting at that moment in one
//! transaction, so a burst costs one commit instead of one per request. If the batch
//! fails, each request is retried in a transaction of its own, so one bad request
//! cannot fail its neighbours.

use crate::audit::AuditEvent;
use crate::keys::{
    now_millis, now_secs, Algorithm, Attributes, KeyPolicy, ObjectMeta, ObjectType, State,
};
use crate::store::{
    DataUnitKeyRecord, DataUnitRecord, KeyUse, NewWalletObject, PoolKeyRecord, Store, StoreError,
    StoredObject, WriteTx,
};
use std::collections::{HashMap, VecDeque};
use tokio::sync::{mpsc, oneshot};

const MAX_BATCH: usize = 256;
const QUEUE: usize = 4096;
/// KMIP Cryptographic Usage Mask: Encrypt | Decrypt.
const USAGE_ENCRYPT_DECRYPT: u32 = 0x04 | 0x08;

/// The data unit a new key is for.
#[derive(Debug, Clone)]
pub(crate) enum DataUnitTarget {
    /// Known already.
    Existing(String),
    /// A medium not seen before: looked up in the batch's transaction by its external
    /// unique ID, else by its tag in the key group, and created if neither finds it.
    New(DataUnitRecord),
}

/// One request to the writer.
#[derive(Debug)]
pub(crate) enum DriveOp {
    /// Take a pool key for a data unit.
    Take {
        wallet_id: String,
        policy: KeyPolicy,
        owner: String,
        data_unit: Box<DataUnitTarget>,
        hlc: i64,
        event: AuditEvent,
    },
    /// Record uses of keys on data units (possibly none: then only the audit record).
    Use {
        links: Vec<(String, String, KeyUse)>,
        hlc: i64,
        event: AuditEvent,
    },
}

/// What a request came to.
#[derive(Debug)]
pub(crate) enum DriveOpDone {
    /// A pool key is now this object, linked to this data unit.
    Taken {
        key: Box<PoolKeyRecord>,
        meta: Box<ObjectMeta>,
        data_unit_id: String,
    },
    /// The pool was empty; nothing was written.
    Empty,
    /// The medium of a [`DataUnitTarget::New`] has a data unit already; nothing was
    /// written, and the caller decides which key it gets.
    Exists(Box<DataUnitRecord>),
    /// Uses recorded.
    Used,
}

type Reply = oneshot::Sender<Result<DriveOpDone, String>>;

/// Handle to the writer task.
pub(crate) struct DriveWriter {
    tx: mpsc::Sender<(DriveOp, Reply)>,
}

impl DriveWriter {
    /// Starts the writer on the current runtime.
    pub(crate) fn start(store: Store, node_id: String) -> DriveWriter {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, node_id, rx));
        DriveWriter { tx }
    }

    /// Applies `op` and returns once it is committed.
    pub(crate) async fn submit(&self, op: DriveOp) -> Result<DriveOpDone, String> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send((op, reply))
            .await
            .map_err(|_| "the drive request writer has stopped".to_owned())?;
        done.await
            .map_err(|_| "the drive request writer stopped before committing".to_owned())?
    }
}

async fn run(store: Store, node_id: String, mut rx: mpsc::Receiver<(DriveOp, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match apply_all(&store, &node_id, &batch).await {
            Ok(results) => {
                for ((_, reply), r) in batch.drain(..).zip(results) {
                    let _ = reply.send(Ok(r));
                }
            }
            Err(e) if batch.len() > 1 => {
                tracing::warn!(error = %e, requests = batch.len(), "drive request batch failed; retrying one by one");
                for (op, reply) in batch.drain(..) {
                    let one = [(op, ())];
                    let r = apply_all(&store, &node_id, &one)
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|mut v| v.pop().ok_or_else(|| "no result".to_owned()));
                    let _ = reply.send(r);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "drive request failed in the store");
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

/// Pool keys taken for a batch, per (wallet, algorithm, length).
type Ready<'a> = HashMap<(&'a str, &'static str, u32), VecDeque<PoolKeyRecord>>;

async fn apply_all<'a, R>(
    store: &Store,
    node_id: &str,
    batch: &'a [(DriveOp, R)],
) -> Result<Vec<DriveOpDone>, StoreError> {
    let mut tx = store.begin_write(node_id).await?;
    let found = look_up(&mut tx, batch).await?;
    // One statement takes every pool key the batch needs from each key group, instead
    // of a select and a delete per request.
    let mut wanted: HashMap<(&'a str, &'static str, u32), usize> = HashMap::new();
    for (op, _) in batch {
        if let DriveOp::Take {
            wallet_id,
            policy,
            data_unit,
            ..
        } = op
        {
            if found.get(wallet_id, data_unit).is_some() {
                continue;
            }
            *wanted
                .entry((wallet_id.as_str(), policy.algorithm.as_str(), policy.length))
                .or_default() += 1;
        }
    }
    let mut ready: Ready<'a> = HashMap::with_capacity(wanted.len());
    for ((wallet, alg, len), n) in wanted {
        let keys = tx.take_pool_keys(node_id, wallet, alg, len, n).await?;
        ready.insert((wallet, alg, len), keys.into());
    }
    let mut pending = Pending::default();
    let mut out = Vec::with_capacity(batch.len());
    for (op, _) in batch {
        out.push(apply(&mut tx, node_id, op, &found, &mut ready, &mut pending).await?);
    }
    // The batch's new objects, wallet entries, data units and first links in
    // multi-row statements (in that order: each refers to the ones before), and one
    // chain append: a few statements per batch instead of several per request.
    tx.insert_objects(&pending.objects).await?;
    tx.add_new_objects_to_wallets(&pending.wallet_rows).await?;
    tx.insert_data_units(&pending.units).await?;
    tx.insert_first_links(&pending.links).await?;
    tx.append_audit_batch(&pending.events, now_millis()).await?;
    tx.commit().await?;
    Ok(out)
}

/// Rows a batch writes together at its end.
#[derive(Default)]
struct Pending {
    /// Pool keys become these objects.
    objects: Vec<StoredObject>,
    /// ... in these wallets.
    wallet_rows: Vec<NewWalletObject>,
    /// New data units.
    units: Vec<DataUnitRecord>,
    /// Medium → ID of a new data unit above, so a second request for the same medium
    /// in the batch finds it.
    unit_by_medium: HashMap<Medium, String>,
    /// First links of pool keys, with their HLC.
    links: Vec<(DataUnitKeyRecord, i64)>,
    events: Vec<AuditEvent>,
}

/// How a request names a medium not seen before.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Medium {
    UniqueId(String),
    /// Key group and external tag.
    Tag(String, String),
}

impl Medium {
    fn of(wallet_id: &str, rec: &DataUnitRecord) -> Option<Medium> {
        match (&rec.external_unique_id, &rec.external_tag) {
            (Some(uid), _) => Some(Medium::UniqueId(uid.clone())),
            (None, Some(tag)) => Some(Medium::Tag(wallet_id.to_owned(), tag.clone())),
            (None, None) => None,
        }
    }
}

/// The data units that the batch's new-medium requests name and that exist already.
#[derive(Default)]
struct Found(HashMap<Medium, DataUnitRecord>);

impl Found {
    fn get(&self, wallet_id: &str, target: &DataUnitTarget) -> Option<&DataUnitRecord> {
        match target {
            DataUnitTarget::New(rec) => self.0.get(&Medium::of(wallet_id, rec)?),
            DataUnitTarget::Existing(_) => None,
        }
    }
}

/// Looks up every new-medium request's data unit, one statement per key group.
async fn look_up<R>(tx: &mut WriteTx, batch: &[(DriveOp, R)]) -> Result<Found, StoreError> {
    let mut asked: HashMap<&str, (Vec<&str>, Vec<&str>)> = HashMap::new();
    for (op, _) in batch {
        if let DriveOp::Take {
            wallet_id,
            data_unit,
            ..
        } = op
        {
            if let DataUnitTarget::New(rec) = data_unit.as_ref() {
                let (uids, tags) = asked.entry(wallet_id.as_str()).or_default();
                match (&rec.external_unique_id, &rec.external_tag) {
                    (Some(uid), _) => uids.push(uid),
                    (None, Some(tag)) => tags.push(tag),
                    (None, None) => {}
                }
            }
        }
    }
    let mut found = Found::default();
    for (wallet_id, (uids, tags)) in asked {
        // Oldest first: the first data unit seen for a medium is the one it gets.
        for du in tx.live_data_units_matching(wallet_id, &uids, &tags).await? {
            if let Some(uid) = du
                .external_unique_id
                .as_deref()
                .filter(|u| uids.contains(u))
            {
                found
                    .0
                    .entry(Medium::UniqueId(uid.to_owned()))
                    .or_insert_with(|| du.clone());
            }
            if let Some(tag) = du
                .external_tag
                .as_deref()
                .filter(|t| du.wallet_id == wallet_id && tags.contains(t))
            {
                found
                    .0
                    .entry(Medium::Tag(wallet_id.to_owned(), tag.to_owned()))
                    .or_insert(du);
            }
        }
    }
    Ok(found)
}

async fn apply<'a>(
    tx: &mut WriteTx,
    node_id: &str,
    op: &'a DriveOp,
    found: &Found,
    ready: &mut Ready<'a>,
    pending: &mut Pending,
) -> Result<DriveOpDone, StoreError> {
    let at_ms = now_millis();
    match op {
        DriveOp::Take {
            wallet_id,
            policy,
            owner,
            data_unit,
            hlc,
            event,
        } => {
            if let Some(du) = found.get(wallet_id, data_unit) {
                return Ok(DriveOpDone::Exists(Box::new(du.clone())));
            }
            let Some(key) = ready
                .get_mut(&(wallet_id.as_str(), policy.algorithm.as_str(), policy.length))
                .and_then(VecDeque::pop_front)
            else {
                return Ok(DriveOpDone::Empty);
            };
            let now = now_secs();
            let (protect_stop, deactivation) = policy.dates_from(now);
            let obj = StoredObject {
                meta: ObjectMeta {
                    id: key.id.clone(),
                    object_type: ObjectType::SymmetricKey,
                    algorithm: Some(Algorithm::Aes),
                    length: Some(policy.length),
                    state: State::Active,
                    name: None,
                    attributes: Attributes {
                        activation_date: Some(now),
                        protect_stop_date: protect_stop,
                        deactivation_date: deactivation,
                        digest_sha256: Some(key.digest_sha256.clone()),
                        usage_mask: Some(USAGE_ENCRYPT_DECRYPT),
                        ..Attributes::default()
                    },
                    created_at: now,
                    updated_at: now,
                },
                wrapped: Some(key.wrapped.clone()),
                master_key_id: Some(key.master_key_id.clone()),
                hlc: *hlc,
                origin_node: node_id.to_owned(),
                owner: Some(owner.clone()),
            };
            pending.wallet_rows.push(NewWalletObject {
                wallet_id: wallet_id.clone(),
                object_id: key.id.clone(),
                added_by: Some(owner.clone()),
                created_at: now,
                hlc: *hlc,
            });
            let data_unit_id = match data_unit.as_ref() {
                DataUnitTarget::Existing(id) => id.clone(),
                DataUnitTarget::New(rec) => {
                    let medium = Medium::of(wallet_id, rec);
                    match medium.as_ref().and_then(|m| pending.unit_by_medium.get(m)) {
                        // Created earlier in this batch: both keys go on it.
                        Some(id) => id.clone(),
                        None => {
                            if let Some(m) = medium {
                                pending.unit_by_medium.insert(m, rec.id.clone());
                            }
                            pending.units.push(rec.clone());
                            rec.id.clone()
                        }
                    }
                }
            };
            // A pool key has never been used: its link is new.
            pending.links.push((
                DataUnitKeyRecord {
                    data_unit_id: data_unit_id.clone(),
                    key_id: key.id.clone(),
                    first_used_at: at_ms,
                    last_used_at: at_ms,
                    writes: 1,
                    reads: 0,
                    bytes_written: 0,
                    bytes_read: 0,
                },
                *hlc,
            ));
            let mut ev = event.clone();
            ev.object = Some(key.id.clone());
            ev.detail = Some(format!("data unit {data_unit_id}, new key from the pool"));
            pending.events.push(ev);
            let meta = Box::new(obj.meta.clone());
            pending.objects.push(obj);
            Ok(DriveOpDone::Taken {
                meta,
                key: Box::new(key),
                data_unit_id,
            })
        }
        DriveOp::Use { links, hlc, event } => {
            for (du, key, use_) in links {
                tx.record_key_use(du, key, *use_, at_ms, *hlc).await?;
            }
            pending.events.push(event.clone());
            Ok(DriveOpDone::Used)
        }
    }
}
