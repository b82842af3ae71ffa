//! Seeding benchmark stores quickly: real keys (random, wrapped by the root of trust)
//! written straight into a store, without the API. Shared by benches through
//! `#[path = "common/bulk.rs"] mod bulk;`.

use clavis::keys::{Algorithm, Attributes, ObjectMeta, ObjectType, State};
use clavis::rot::{MasterKeyId, RootOfTrust};
use clavis::store::{Store, StoredObject};

/// Writes `n` real keys (random, wrapped by the root of trust) straight into a
/// store, 1,000 per transaction: the data a large cluster holds, made quickly.
pub async fn bulk_keys(store: &Store, rot: &dyn RootOfTrust, node_id: &str, n: usize, tag: &str) {
    let mk = store
        .master_keys()
        .await
        .expect("master keys")
        .into_iter()
        .find(|m| m.state == "active")
        .expect("active master key");
    let mk = MasterKeyId(mk.id);
    let mut done = 0;
    let hlc = clavis::hlc::Hlc::new();
    while done < n {
        let mut tx = store.begin_write(node_id).await.expect("begin");
        for _ in 0..(n - done).min(1000) {
            let id = clavis::keys::new_object_id();
            let key = rot.random(32).expect("random");
            let wrapped = rot.wrap(&mk, &id, &key).expect("wrap");
            let now = clavis::keys::now_secs();
            let o = StoredObject {
                meta: ObjectMeta {
                    id,
                    object_type: ObjectType::SymmetricKey,
                    algorithm: Some(Algorithm::Aes),
                    length: Some(256),
                    state: State::Active,
                    name: Some(format!("{tag}-{done}")),
                    attributes: Attributes::default(),
                    created_at: now,
                    updated_at: now,
                },
                wrapped: Some(wrapped.to_bytes()),
                master_key_id: Some(mk.0.clone()),
                hlc: clavis::hlc::to_db(hlc.now()),
                origin_node: node_id.to_owned(),
                owner: Some("system".into()),
            };
            tx.insert_object(&o).await.expect("insert");
            done += 1;
        }
        tx.commit().await.expect("commit");
    }
}
