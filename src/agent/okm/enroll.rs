//! The CA and Certificate services: enrollment with the agent's one-time passphrase.
//!
//! 1. CA service, plain HTTP, `RetrieveRootCACertificate(EntityID)`: the root CA
//!    certificate (PEM bytes as hexBinary), the hash iteration count and a fresh
//!    20-byte challenge, remembered for this agent ID for [`CHALLENGE_TTL`].
//! 2. Certificate service, server-authenticated TLS, `RetrieveEntityCertificate(
//!    EntityID, ClientAuthenticationResponse, ServerAuthenticationChallenge)`: the
//!    node checks the agent's HMAC against the secret derived from the pending
//!    passphrase, answers with its own HMAC over the agent's challenge, and returns a
//!    certificate for a key pair made here (the protocol has no CSR) together with
//!    that key (PEM). The passphrase is then spent (see `service::okm`).
//!
//! A wrong proof, an unknown agent, a used or expired passphrase and a missing
//! challenge all get fault 1019 and change nothing but the audit trail and the
//! failure count; after [`MAX_FAILED_ENROLLMENTS`] the agent is refused for
//! [`LOCKOUT`].

use super::http::Peer;
use super::soap::{self, Body, Limits};
use super::{
    authentication_secret, challenge_response, Fault, FaultCode, OkmState, AUTH_LEN, CHALLENGE_TTL,
    LOCKOUT, MAX_FAILED_ENROLLMENTS, NS_CA, NS_CERTIFICATE,
};
use crate::secret::ct_eq;
use secrecy::ExposeSecret;
use std::time::Instant;
use zeroize::Zeroizing;

fn limits(state: &OkmState) -> Limits {
    Limits {
        max_bytes: state.settings.max_request_bytes,
        ..Limits::default()
    }
}

fn parse(state: &OkmState, body: &[u8], ns: &str) -> Result<soap::Request, Fault> {
    let req = soap::parse(body, &limits(state)).map_err(|e| {
        tracing::info!(error = %e, "refused an OKM request");
        Fault::Client(FaultCode::InvalidParameters)
    })?;
    if req.namespace.as_deref() != Some(ns) {
        return Err(Fault::Client(FaultCode::InvalidParameters));
    }
    Ok(req)
}

fn agent_key(id: &str) -> String {
    id.to_ascii_lowercase()
}

/// The CA service.
pub(super) async fn ca(state: &OkmState, peer: &Peer, body: &[u8]) -> Result<String, Fault> {
    let req = parse(state, body, NS_CA)?;
    match req.op.name.as_str() {
        "RetrieveRootCACertificate" => {
            let entity = req.op.text_of("EntityID").unwrap_or("");
            if entity.len() > crate::service::okm::MAX_OKM_ID {
                return Err(Fault::Client(FaultCode::InvalidParameters));
            }
            let random = state.svc.rot().random(AUTH_LEN).map_err(|e| {
                tracing::error!(error = %e, "no random bytes for an OKM challenge");
                Fault::Server
            })?;
            let mut challenge = Zeroizing::new([0u8; AUTH_LEN]);
            challenge.copy_from_slice(random.expose_secret());
            let hex_challenge = hex::encode_upper(&challenge[..]);
            if let Ok(mut m) = state.challenges.lock() {
                let now = Instant::now();
                m.retain(|_, (_, at)| now.duration_since(*at) < CHALLENGE_TTL);
                if m.len() < 10_000 {
                    m.insert(agent_key(entity), (challenge, now));
                }
            }
            tracing::info!(peer = %peer.addr, agent = %entity, "OKM root CA certificate requested");
            let mut b = Body::new();
            b.text(
                "RootCACertificate",
                &hex::encode_upper(state.ca_pem.as_bytes()),
            )
            .text(
                "AuthenticationHashIterationCount",
                &state.settings.iterations.to_string(),
            )
            .text("ClientAuthenticationChallenge", &hex_challenge);
            Ok(soap::response(
                "KMS-CA",
                NS_CA,
                "RetrieveRootCACertificateResponse",
                b,
            ))
        }
        "RetrieveLocalClock" => {
            let now = time::OffsetDateTime::now_utc();
            let text = now
                .format(&time::format_description::well_known::Rfc3339)
                .map_err(|_| Fault::Server)?;
            let mut b = Body::new();
            b.text("CurrentTime", &text);
            Ok(soap::response(
                "KMS-CA",
                NS_CA,
                "RetrieveLocalClockResponse",
                b,
            ))
        }
        _ => Err(Fault::Client(FaultCode::NotSupported)),
    }
}

fn hex20(v: Option<&str>) -> Option<[u8; AUTH_LEN]> {
    let b = hex::decode(v?).ok()?;
    b.try_into().ok()
}

/// The Certificate service.
pub(super) async fn certificate(
    state: &OkmState,
    peer: &Peer,
    body: &[u8],
) -> Result<String, Fault> {
    let req = parse(state, body, NS_CERTIFICATE)?;
    if req.op.name != "RetrieveEntityCertificate" {
        return Err(Fault::Client(FaultCode::NotSupported));
    }
    let source = Some(peer.addr.to_string());
    let entity = req.op.text_of("EntityID").unwrap_or("").to_owned();
    let (Some(client_response), Some(server_challenge)) = (
        hex20(req.op.text_of("ClientAuthenticationResponse")),
        hex20(req.op.text_of("ServerAuthenticationChallenge")),
    ) else {
        return Err(Fault::Client(FaultCode::InvalidParameters));
    };
    if entity.is_empty() || entity.len() > crate::service::okm::MAX_OKM_ID {
        return Err(Fault::Client(FaultCode::InvalidParameters));
    }
    let key = agent_key(&entity);
    let locked_out = state.failures.lock().is_ok_and(|f| {
        f.get(&key)
            .is_some_and(|(n, at)| *n >= MAX_FAILED_ENROLLMENTS && at.elapsed() < LOCKOUT)
    });
    if locked_out {
        return refused(
            state,
            &entity,
            &source,
            "too many failed enrollments; try again later",
        )
        .await;
    }
    let challenge = state
        .challenges
        .lock()
        .ok()
        .and_then(|mut m| m.remove(&key))
        .filter(|(_, at)| at.elapsed() < CHALLENGE_TTL);
    let Some((challenge, _)) = challenge else {
        return refused(
            state,
            &entity,
            &source,
            "no outstanding challenge: retrieve the root CA certificate first",
        )
        .await;
    };
    let pending = match state.svc.okm_pending(&entity).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            count_failure(state, &key);
            return refused(
                state,
                &entity,
                &source,
                "no pending passphrase for this agent",
            )
            .await;
        }
        Err(e) => {
            tracing::error!(error = %e, "OKM enrollment lookup failed");
            return Err(Fault::Server);
        }
    };
    let iterations = state.settings.iterations;
    let passphrase = Zeroizing::new(pending.passphrase.expose_secret().as_bytes().to_vec());
    let secret =
        tokio::task::spawn_blocking(move || authentication_secret(&passphrase, iterations))
            .await
            .map_err(|_| Fault::Server)?;
    let expected = challenge_response(&secret, state.ca_pem.as_bytes(), &challenge[..]);
    if !ct_eq(&expected, &client_response) {
        count_failure(state, &key);
        return refused(state, &entity, &source, "wrong passphrase proof").await;
    }
    let server_response = challenge_response(&secret, state.ca_pem.as_bytes(), &server_challenge);
    let name = pending.agent_id.clone();
    let made = tokio::task::spawn_blocking(move || agent_key_pair(&name))
        .await
        .map_err(|_| Fault::Server)?;
    let (key_pem, csr_pem) = made.map_err(|e| {
        tracing::error!(error = %e, "could not make an OKM agent key pair");
        Fault::Server
    })?;
    let enrolled = match state
        .svc
        .okm_enroll(&pending, &csr_pem, source.clone())
        .await
    {
        Ok(e) => e,
        Err(crate::service::ServiceError::InvalidEnrollmentToken) => {
            count_failure(state, &key);
            return refused(state, &entity, &source, "the passphrase is used or expired").await;
        }
        Err(e) => {
            tracing::error!(error = %e, "OKM enrollment failed");
            return Err(Fault::Server);
        }
    };
    if let Ok(mut f) = state.failures.lock() {
        f.remove(&key);
    }
    let mut b = Body::new();
    b.text(
        "ServerAuthenticationResponse",
        &hex::encode_upper(server_response),
    )
    .text(
        "Certificate",
        &hex::encode_upper(enrolled.certificate_pem.as_bytes()),
    )
    .text(
        "WrappedPrivateKeyMaterial",
        &hex::encode_upper(key_pem.as_bytes()),
    );
    Ok(soap::response(
        "KMS-Certificate",
        NS_CERTIFICATE,
        "RetrieveEntityCertificateResponse",
        b,
    ))
}

async fn refused(
    state: &OkmState,
    entity: &str,
    source: &Option<String>,
    why: &str,
) -> Result<String, Fault> {
    tracing::info!(agent = %entity, reason = %why, "OKM enrollment refused");
    state
        .svc
        .okm_enroll_refused(entity, source.clone(), why)
        .await;
    Err(Fault::Client(FaultCode::InvalidPassphrase))
}

fn count_failure(state: &OkmState, key: &str) {
    if let Ok(mut f) = state.failures.lock() {
        if f.len() > 10_000 {
            f.retain(|_, (_, at)| at.elapsed() < LOCKOUT);
        }
        let e = f.entry(key.to_owned()).or_insert((0, Instant::now()));
        if e.1.elapsed() >= LOCKOUT {
            *e = (0, Instant::now());
        }
        e.0 += 1;
        e.1 = Instant::now();
    }
}

/// An RSA-2048 key pair for an agent (the appliance's `KEY_SIZE`), as PKCS#8 PEM,
/// and a CSR for it naming the agent.
fn agent_key_pair(agent_id: &str) -> Result<(Zeroizing<String>, String), String> {
    use rsa::pkcs8::EncodePrivateKey;
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).map_err(|e| e.to_string())?;
    let pem = key
        .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
        .map_err(|e| e.to_string())?;
    let pem = Zeroizing::new(pem.as_str().to_owned());
    let kp = rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256)
        .map_err(|e| e.to_string())?;
    let mut params =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, agent_id);
    let csr = params
        .serialize_request(&kp)
        .map_err(|e| e.to_string())?
        .pem()
        .map_err(|e| e.to_string())?;
    Ok((pem, csr))
}
