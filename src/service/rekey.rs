//! Re-key: a new symmetric key replacing an old one, linked both ways, in one
//! transaction. The new key copies the old key's algorithm, length, name and
//! descriptive attributes; it starts Active if the old one was ever activated.

use super::authz::ObjectOp;
use super::{KeyService, NewObject, Principal, ServiceError};
use crate::audit::Outcome;
use crate::authz::Action;
use crate::hlc::to_db;
use crate::keys::{
    new_object_id, now_millis, now_secs, Algorithm, Attributes, Link, LinkKind, ObjectMeta,
    ObjectType,
};
use crate::store::StoreError;

impl KeyService {
    /// Re-keys symmetric key `id`; returns the new key.
    pub async fn rekey(&self, who: &Principal, id: &str) -> Result<ObjectMeta, ServiceError> {
        let r = self.rekey_inner(who, id).await;
        self.audit_failure(who, "key.rekey", Some(id), r).await
    }

    async fn rekey_inner(&self, who: &Principal, id: &str) -> Result<ObjectMeta, ServiceError> {
        let subject = self.subject(who).await?;
        for attempt in 0..5 {
            let mut old = self.load(id).await?;
            if attempt == 0 {
                self.authorize_object(who, &old, ObjectOp::Modify).await?;
                self.decide(who, &subject, &Action::CreateObject, Some(id))
                    .await?;
            }
            if old.meta.object_type != ObjectType::SymmetricKey {
                return Err(ServiceError::WrongUse(format!(
                    "object {id} is not a symmetric key; only symmetric keys are re-keyed"
                )));
            }
            if old.meta.state.is_destroyed() {
                return Err(ServiceError::Destroyed(old.meta.id));
            }
            let algorithm = old.meta.algorithm.unwrap_or(Algorithm::Aes);
            let length = old.meta.length.unwrap_or(256);
            let material = self.rot.random(length as usize / 8)?;
            let new_id = new_object_id();
            let attributes = Attributes {
                custom: old.meta.attributes.custom.clone(),
                usage_mask: old.meta.attributes.usage_mask,
                kmip: old.meta.attributes.kmip.clone(),
                links: vec![Link {
                    kind: LinkKind::Replaced,
                    id: old.meta.id.clone(),
                }],
                ..Attributes::default()
            };
            let mut new = self.build_object(
                new_id.clone(),
                NewObject {
                    object_type: ObjectType::SymmetricKey,
                    algorithm: Some(algorithm),
                    length: Some(length),
                    name: old.meta.name.clone(),
                    activate: old.meta.attributes.activation_date.is_some(),
                    attributes,
                },
                &material,
            )?;
            let expected = old.hlc;
            old.meta
                .attributes
                .links
                .retain(|l| l.kind != LinkKind::Replacement);
            old.meta.attributes.links.push(Link {
                kind: LinkKind::Replacement,
                id: new_id,
            });
            old.meta.updated_at = now_secs();
            old.hlc = to_db(self.hlc.after(old.hlc));
            old.origin_node = self.node.node_id.clone();
            // The replacement belongs to whoever re-keys and sits in the old key's wallets.
            new.owner = Some(subject.owner_tag());
            let wallets = self.store.wallets_of_object(id).await?;
            let mut tx = self.store.begin_write(&self.node.node_id).await?;
            tx.insert_object(&new).await?;
            for w in &wallets {
                tx.add_wallet_object(
                    w,
                    &new.meta.id,
                    new.owner.as_deref(),
                    old.meta.updated_at,
                    new.hlc,
                )
                .await?;
            }
            match tx.update_object(&old, expected).await {
                Ok(_) => {
                    let ev = self.event(
                        who,
                        "key.rekey",
                        Some(id),
                        Outcome::Success,
                        Some(format!("replacement {}", new.meta.id)),
                    );
                    tx.append_audit(&ev, now_millis()).await?;
                    tx.commit().await?;
                    return Ok(new.meta);
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Contended(id.to_owned()))
    }
}
