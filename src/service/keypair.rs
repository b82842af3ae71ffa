//! Key pairs: both halves generated together, stored wrapped, linked to each other,
//! in one transaction.

use super::{check_name, KeyService, NewObject, Principal, ServiceError};
use crate::keys::asymmetric::{generate, AsymmetricError};
use crate::keys::{new_object_id, Algorithm, Attributes, Link, LinkKind, ObjectMeta, ObjectType};
use crate::secret::KeyMaterial;

/// A request for a key pair.
#[derive(Debug, Clone)]
pub struct CreateKeyPair {
    /// RSA or EC.
    pub algorithm: Algorithm,
    /// Modulus bits (RSA) or curve size (EC: 256 or 384).
    pub length: u32,
    /// Name of the private key.
    pub private_name: Option<String>,
    /// Name of the public key.
    pub public_name: Option<String>,
    /// Activate both at once.
    pub activate: bool,
    /// Further attributes of the private key.
    pub private_attributes: Attributes,
    /// Further attributes of the public key.
    pub public_attributes: Attributes,
}

impl From<AsymmetricError> for ServiceError {
    fn from(e: AsymmetricError) -> ServiceError {
        match e {
            AsymmetricError::Unsupported(m) => ServiceError::InvalidArgument(m),
            other => ServiceError::Crypto(other.to_string()),
        }
    }
}

impl KeyService {
    /// Generates a key pair; returns (private, public).
    pub async fn create_key_pair(
        &self,
        who: &Principal,
        req: CreateKeyPair,
    ) -> Result<(ObjectMeta, ObjectMeta), ServiceError> {
        if !matches!(req.algorithm, Algorithm::Rsa | Algorithm::Ec)
            || !req.algorithm.allowed_lengths().contains(&req.length)
        {
            return Err(ServiceError::InvalidArgument(format!(
                "algorithm/length: key pairs are RSA 2048/3072/4096 or EC 256/384, not {} {}",
                req.algorithm.as_str(),
                req.length
            )));
        }
        check_name(req.private_name.as_deref())?;
        check_name(req.public_name.as_deref())?;
        let (alg, bits) = (req.algorithm, req.length);
        // RSA generation takes up to seconds: keep it off the async workers.
        let pair = tokio::task::spawn_blocking(move || generate(alg, bits))
            .await
            .map_err(|_| ServiceError::Crypto("key generation task failed".into()))??;
        let (private_id, public_id) = (new_object_id(), new_object_id());
        let mut private_attributes = req.private_attributes;
        private_attributes.links = vec![Link {
            kind: LinkKind::PublicKey,
            id: public_id.clone(),
        }];
        let mut public_attributes = req.public_attributes;
        public_attributes.links = vec![Link {
            kind: LinkKind::PrivateKey,
            id: private_id.clone(),
        }];
        let private = self.build_object(
            private_id,
            NewObject {
                object_type: ObjectType::PrivateKey,
                algorithm: Some(alg),
                length: Some(bits),
                name: req.private_name,
                activate: req.activate,
                attributes: private_attributes,
            },
            &pair.private_der,
        )?;
        let public = self.build_object(
            public_id,
            NewObject {
                object_type: ObjectType::PublicKey,
                algorithm: Some(alg),
                length: Some(bits),
                name: req.public_name,
                activate: req.activate,
                attributes: public_attributes,
            },
            &KeyMaterial::new(pair.public_der),
        )?;
        let mut objs = [private, public];
        let r = self.insert_objects(who, "key.create_pair", &mut objs).await;
        self.audit_failure(who, "key.create_pair", None, r).await?;
        let [private, public] = objs;
        Ok((private.meta, public.meta))
    }
}
