//! Authentication of API callers by bearer token.
//!
//! Tokens are 256-bit random strings; the store keeps only their SHA-256. The initial
//! administrator's token is made by `clavisd init`. The access-control model (users,
//! passwords, roles) builds on this.

use super::{KeyService, Principal, ServiceError};
use crate::secret::KeyMaterial;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Prefix of every Clavis API token, so leaked tokens are recognizable in scans.
pub const TOKEN_PREFIX: &str = "clv1_";

/// A fresh API token (the secret) and the hash to store.
pub fn new_token(random32: &KeyMaterial) -> (String, Vec<u8>) {
    let token = format!(
        "{TOKEN_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(random32.expose_secret())
    );
    let hash = token_hash(&token);
    (token, hash)
}

/// SHA-256 of a token, as stored.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

impl KeyService {
    /// The user a bearer token (API token or login session) belongs to, or
    /// [`ServiceError::Unauthenticated`].
    pub async fn authenticate_token(
        &self,
        token: &str,
        source: Option<String>,
    ) -> Result<Principal, ServiceError> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
            return Err(ServiceError::Unauthenticated);
        }
        let user_id = self
            .store
            .principal_for_token(&token_hash(token), crate::keys::now_secs())
            .await?;
        let user = match user_id {
            Some(id) => self.store.user(&id).await?.filter(|u| u.state == "active"),
            None => None,
        };
        match user {
            Some(u) => Ok(Principal::user(u.name, u.id, source)),
            None => {
                tracing::warn!(
                    source = source.as_deref().unwrap_or("-"),
                    "rejected API token"
                );
                Err(ServiceError::Unauthenticated)
            }
        }
    }

    /// The user who logs in with this client certificate (DER), if any. The TLS layer
    /// has already checked that it chains to the cluster CA.
    pub async fn authenticate_certificate(
        &self,
        cert_der: &[u8],
        source: Option<String>,
    ) -> Result<Option<Principal>, ServiceError> {
        let fingerprint = Sha256::digest(cert_der).to_vec();
        Ok(self
            .store
            .user_by_fingerprint(&fingerprint)
            .await?
            .map(|u| Principal::user(u.name, u.id, source)))
    }
}
