//! The Agent and Discovery services (mutual TLS).
//!
//! Each request is authenticated again from the connection's certificate (so a
//! suspension applies to the next request), parsed with the limits of [`soap`],
//! and carried out by one `service::okm` call, which authorizes and audits it.
//! Answers follow `SOAP/KMS_AgentStub.h`: unqualified child elements, enumerations
//! by their symbolic names (the agents parse in gSOAP's strict mode), hexBinary in
//! upper case.

use super::http::Peer;
use super::soap::{self, Body, Element, Limits};
use super::{
    data_unit_id_hex, data_unit_id_of, external_unique_id_hex, external_unique_id_of, key_id_hex,
    kma_id, kwk_wrap, object_id_of, Fault, FaultCode, OkmState, KMA_VERSION, NS_AGENT,
    NS_DISCOVERY,
};
use crate::audit::Outcome;
use crate::keys::State;
use crate::service::okm::{OkmDataUnit, OkmKey, MAX_OKM_DESCRIPTION};
use crate::service::{Principal, PrincipalKind, ServiceError};
use crate::store::DataUnitLookup;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Most keys returned per RetrieveDataUnitKeys page (`KMS_MAX_PAGE_SIZE`).
pub const MAX_PAGE_SIZE: i64 = 32;
/// Most key-wrapping keys an agent may have registered at once on a node.
const MAX_KWKS_PER_AGENT: usize = 32;

async fn principal(state: &OkmState, peer: &Peer) -> Result<Principal, Fault> {
    let Some(cert) = &peer.cert else {
        return Err(Fault::Client(FaultCode::AccessDenied));
    };
    let svc = &state.svc;
    svc.check_endpoint_address(peer.addr.ip())
        .await
        .map_err(|_| Fault::Client(FaultCode::AccessDenied))?;
    svc.endpoint_for_certificate(cert, Some(peer.addr.to_string()))
        .await
        .map_err(|e| {
            tracing::info!(peer = %peer.addr, error = %e, "OKM agent refused");
            Fault::Client(FaultCode::AccessDenied)
        })
}

/// The fault for a service failure; `not_found` is what "no such thing" means here.
fn fault_of(e: ServiceError, not_found: FaultCode) -> Fault {
    let code = match &e {
        ServiceError::NoReadyKey(_) => FaultCode::NoReadyKeys,
        ServiceError::NotFound(_) | ServiceError::NameNotFound(_) => not_found,
        ServiceError::WrongState(_) if not_found == FaultCode::KeyDoesNotExist => {
            FaultCode::KeyDoesNotExist
        }
        ServiceError::Destroyed(_) => FaultCode::KeyDestroyed,
        ServiceError::AlreadyExists(_) => FaultCode::DuplicateExternalId,
        ServiceError::InvalidArgument(_) | ServiceError::InvalidId(_) => {
            FaultCode::InvalidParameters
        }
        ServiceError::Contended(_) => FaultCode::ServerBusy,
        ServiceError::Forbidden(_)
        | ServiceError::WrongState(_)
        | ServiceError::AddressNotAllowed(_)
        | ServiceError::Unauthenticated
        | ServiceError::UnknownCertificate
        | ServiceError::EndpointSuspended(_)
        | ServiceError::EndpointDeleted(_) => FaultCode::AccessDenied,
        _ => {
            tracing::error!(error = %e, "OKM request failed in the node");
            return Fault::Server;
        }
    };
    Fault::Client(code)
}

fn invalid() -> Fault {
    Fault::Client(FaultCode::InvalidParameters)
}

fn parse(state: &OkmState, body: &[u8], ns: &str) -> Result<soap::Request, Fault> {
    let limits = Limits {
        max_bytes: state.settings.max_request_bytes,
        ..Limits::default()
    };
    let req = soap::parse(body, &limits).map_err(|e| {
        tracing::info!(error = %e, "refused an OKM request");
        invalid()
    })?;
    if req.namespace.as_deref() != Some(ns) {
        return Err(invalid());
    }
    Ok(req)
}

/// A `DataUnit` argument.
struct DuArg {
    id: Option<String>,
    unique_id: Option<String>,
    tag: Option<String>,
    description: Option<String>,
}

fn tag_arg(el: &Element) -> Result<Option<String>, Fault> {
    match el.text_of("ExternalTag") {
        None => Ok(None),
        Some(t) if t.len() <= 64 && crate::service::drives::is_valid_data_unit_id(t) => {
            Ok(Some(t.to_owned()))
        }
        Some(_) => Err(invalid()),
    }
}

fn du_fields(el: &Element) -> Result<DuArg, Fault> {
    let id = match el.text_of("DataUnitID") {
        None => None,
        Some(h) => Some(data_unit_id_of(h).ok_or_else(invalid)?),
    };
    let unique_id = match el.text_of("ExternalUniqueID") {
        None => None,
        Some(h) => Some(external_unique_id_of(h).ok_or_else(invalid)?),
    };
    let description = match el.text_of("Description") {
        Some(d) if d.len() > MAX_OKM_DESCRIPTION => return Err(invalid()),
        d => d.map(str::to_owned),
    };
    Ok(DuArg {
        id,
        unique_id,
        tag: tag_arg(el)?,
        description,
    })
}

fn du_arg(op: &Element) -> Result<DuArg, Fault> {
    du_fields(op.child("DataUnit").ok_or_else(invalid)?)
}

fn du_id(op: &Element) -> Result<String, Fault> {
    du_arg(op)?.id.ok_or_else(invalid)
}

fn write_data_unit(b: &mut Body, du: &OkmDataUnit) {
    let state = if du.keys == 0 {
        "DATA_UNIT_STATE_NO_KEY"
    } else if du.destroyed == du.keys {
        "DATA_UNIT_STATE_SHREDDED"
    } else if du.protecting > 0 {
        "DATA_UNIT_STATE_READABLE_NORMAL"
    } else {
        "DATA_UNIT_STATE_READABLE_NEEDS_REKEY"
    };
    let r = &du.record;
    b.nested("DataUnit", |b| {
        b.text("DataUnitID", &data_unit_id_hex(&r.id).unwrap_or_default())
            .text(
                "ExternalUniqueID",
                &r.external_unique_id
                    .as_deref()
                    .map(external_unique_id_hex)
                    .unwrap_or_default(),
            )
            .text("ExternalTag", r.external_tag.as_deref().unwrap_or(""))
            .text("Description", r.description.as_deref().unwrap_or(""))
            .text("DataUnitState", state);
    });
}

/// The protocol's key state (`KMS_Agent__KeyState`) for a Clavis key.
pub fn key_state_name(state: State, may_protect: bool) -> &'static str {
    match state {
        State::PreActive => "KEY_STATE_READY",
        State::Active if may_protect => "KEY_STATE_PROTECT_AND_PROCESS",
        State::Active => "KEY_STATE_PROCESS_ONLY",
        State::Deactivated => "KEY_STATE_DEACTIVATED",
        State::Compromised => "KEY_STATE_COMPROMISED",
        State::Destroyed => "KEY_STATE_DESTROYED_COMPLETE",
        State::DestroyedCompromised => "KEY_STATE_DESTROYED_COMPROMISED_COMPLETE",
    }
}

fn write_key(
    b: &mut Body,
    name: &str,
    k: &OkmKey,
    kwk: Option<&Zeroizing<[u8; 32]>>,
) -> Result<(), Fault> {
    let material = k.key.material.expose_secret();
    if material.len() != 32 {
        // The protocol has one key type, AES-256 (`KMS_Agent__KeyType`).
        return Err(Fault::Client(FaultCode::KeyDoesNotExist));
    }
    let value = match kwk {
        Some(kwk) => Zeroizing::new(hex::encode_upper(
            kwk_wrap(kwk, material).map_err(|_| Fault::Server)?,
        )),
        None => Zeroizing::new(hex::encode_upper(material)),
    };
    let id = key_id_hex(&k.key.key_id).ok_or(Fault::Server)?;
    b.nested(name, |b| {
        b.text("KeyID", &id)
            .text("KeyState", key_state_name(k.state, k.may_protect))
            .text("KeyType", "KEY_TYPE_AES_256")
            .text("KeyGroupID", &k.key_group)
            .text("Key", &value);
    });
    Ok(())
}

fn endpoint_id(who: &Principal) -> String {
    match &who.kind {
        PrincipalKind::Endpoint(id) => id.clone(),
        _ => String::new(),
    }
}

/// The KWK named by `AgentKWKID`, if the request names one.
fn kwk_for(
    state: &OkmState,
    who: &Principal,
    op: &Element,
) -> Result<Option<Zeroizing<[u8; 32]>>, Fault> {
    let Some(id) = op.text_of("AgentKWKID") else {
        return Ok(None);
    };
    let found = state
        .kwks
        .lock()
        .ok()
        .and_then(|m| m.get(&(endpoint_id(who), id.to_ascii_uppercase())).cloned());
    found
        .map(Some)
        .ok_or(Fault::Client(FaultCode::KwkNotRegistered))
}

fn respond(op: &str, b: Body) -> String {
    soap::response("KMS-Agent", NS_AGENT, op, b)
}

/// The Agent service.
pub(super) async fn agent(state: &OkmState, peer: &Peer, body: &[u8]) -> Result<String, Fault> {
    let who = principal(state, peer).await?;
    let req = match parse(state, body, NS_AGENT) {
        Ok(r) => r,
        Err(f) => {
            state
                .svc
                .okm_note(
                    &who,
                    "okm.request",
                    Outcome::Failed,
                    "malformed or refused SOAP envelope",
                )
                .await;
            return Err(f);
        }
    };
    let svc = &state.svc;
    let op = &req.op;
    let name = op.name.as_str();
    match name {
        "ListKeyGroups" => {
            let groups = svc
                .okm_key_groups(&who)
                .await
                .map_err(|e| fault_of(e, FaultCode::AccessDenied))?;
            let mut b = Body::new();
            b.nested("KeyGroups", |b| {
                for g in &groups {
                    b.nested("item", |b| {
                        b.text("KeyGroupID", &g.id)
                            .text("Description", &g.description);
                    });
                }
            })
            .text("LastPage", "true")
            .nested("NextPageQueryParameters", |b| {
                b.text("NextPageSize", "0")
                    .text("SortOrder", "SORT_ORDER_ASCENDING");
            });
            Ok(respond("ListKeyGroupsResponse", b))
        }
        "CreateDataUnit" => {
            let a = du_fields(op)?;
            let du = svc
                .okm_create_data_unit(&who, a.tag, a.unique_id, a.description)
                .await
                .map_err(|e| fault_of(e, FaultCode::AccessDenied))?;
            let mut b = Body::new();
            write_data_unit(&mut b, &du);
            Ok(respond("CreateDataUnitResponse", b))
        }
        "RetrieveDataUnit" => {
            let a = du_fields(op)?;
            let id = a.id.ok_or_else(invalid)?;
            let du = svc
                .okm_data_unit(&who, DataUnitLookup::Id(&id))
                .await
                .map_err(|e| fault_of(e, FaultCode::AccessDenied))?;
            let mut b = Body::new();
            write_data_unit(&mut b, &du);
            Ok(respond("RetrieveDataUnitResponse", b))
        }
        "RetrieveDataUnitByExternalUniqueID" => {
            let a = du_fields(op)?;
            let uid = a.unique_id.ok_or_else(invalid)?;
            // Found, or else created: the agent library notes that this call "may
            // create a DU" (`KMSAgent.cpp`).
            let du = match svc
                .okm_data_unit(&who, DataUnitLookup::UniqueId(&uid))
                .await
            {
                Ok(du) => du,
                Err(ServiceError::NotFound(_)) => svc
                    .okm_create_data_unit(&who, a.tag, Some(uid), a.description)
                    .await
                    .map_err(|e| fault_of(e, FaultCode::AccessDenied))?,
                Err(e) => return Err(fault_of(e, FaultCode::AccessDenied)),
            };
            let mut b = Body::new();
            write_data_unit(&mut b, &du);
            Ok(respond("RetrieveDataUnitByExternalUniqueIDResponse", b))
        }
        "DisassociateDataUnitKeys" => {
            // Clavis links every key that ever encrypted a medium to it (SPEC 2.5);
            // unlinking would lose the way back from a tape to its keys.
            svc.okm_note(
                &who,
                "okm.disassociate_data_unit_keys",
                Outcome::Failed,
                "not supported: data units keep every key that encrypted them",
            )
            .await;
            Err(Fault::Client(FaultCode::NotSupported))
        }
        "CreateKey" | "CreateKey2" => {
            let id = du_id(op)?;
            let kwk = kwk_for(state, &who, op)?;
            let k = svc
                .okm_create_key(&who, &id)
                .await
                .map_err(|e| fault_of(e, FaultCode::AccessDenied))?;
            let mut b = Body::new();
            write_key(&mut b, "Key", &k, kwk.as_ref())?;
            Ok(respond(&format!("{name}Response"), b))
        }
        "RetrieveProtectAndProcessKey" | "RetrieveProtectAndProcessKey2" => {
            let id = du_id(op)?;
            let kwk = kwk_for(state, &who, op)?;
            let k = svc
                .okm_protect_and_process_key(&who, &id)
                .await
                .map_err(|e| fault_of(e, FaultCode::AccessDenied))?;
            let mut b = Body::new();
            write_key(&mut b, "Key", &k, kwk.as_ref())?;
            Ok(respond(&format!("{name}Response"), b))
        }
        "RetrieveKey" | "RetrieveKey2" => {
            let key_id = op
                .text_of("KeyID")
                .and_then(object_id_of)
                .ok_or(Fault::Client(FaultCode::KeyDoesNotExist))?;
            let kwk = kwk_for(state, &who, op)?;
            let k = svc
                .okm_key(&who, &key_id)
                .await
                .map_err(|e| fault_of(e, FaultCode::KeyDoesNotExist))?;
            let mut b = Body::new();
            write_key(&mut b, "Key", &k, kwk.as_ref())?;
            Ok(respond(&format!("{name}Response"), b))
        }
        "RetrieveDataUnitKeys" | "RetrieveDataUnitKeys2" => {
            let id = du_id(op)?;
            let number = |f: &str| op.text_of(f).and_then(|v| v.parse::<i64>().ok());
            let (Some(size), Some(offset)) = (number("PageSize"), number("PageOffset")) else {
                return Err(invalid());
            };
            if !(1..=MAX_PAGE_SIZE).contains(&size) || offset < 0 {
                return Err(invalid());
            }
            let only = match op.text_of("KeyID") {
                None => None,
                Some(k) => Some(object_id_of(k).ok_or(Fault::Client(FaultCode::KeyDoesNotExist))?),
            };
            let kwk = kwk_for(state, &who, op)?;
            let mut keys = svc
                .okm_data_unit_keys(&who, &id)
                .await
                .map_err(|e| fault_of(e, FaultCode::AccessDenied))?;
            if let Some(k) = &only {
                keys.retain(|x| &x.key.key_id == k);
            }
            let total = i64::try_from(keys.len()).unwrap_or(i64::MAX);
            let start = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(keys.len());
            let end = start
                .saturating_add(usize::try_from(size).unwrap_or(0))
                .min(keys.len());
            let page = &keys[start..end];
            let remaining = total - i64::try_from(end).unwrap_or(total);
            let mut b = Body::new();
            b.text("KeysRemaining", &remaining.to_string());
            let mut err = None;
            b.nested("Keys", |b| {
                for k in page {
                    if let Err(e) = write_key(b, "item", k, kwk.as_ref()) {
                        err = Some(e);
                    }
                }
            });
            if let Some(e) = err {
                return Err(e);
            }
            Ok(respond(&format!("{name}Response"), b))
        }
        "CreateAuditLog" => {
            let condition = op.text_of("Condition").unwrap_or("");
            let outcome = match condition {
                "AUDIT_LOG_SUCCESS_CONDITION" | "0" => Outcome::Success,
                "AUDIT_LOG_ERROR_CONDITION" | "1" => Outcome::Failed,
                "AUDIT_LOG_WARNING_CONDITION" | "2" => Outcome::Success,
                _ => return Err(invalid()),
            };
            let warning = matches!(condition, "AUDIT_LOG_WARNING_CONDITION" | "2");
            let message = op.text_of("Message").unwrap_or("");
            let message = if warning {
                format!("warning: {message}")
            } else {
                message.to_owned()
            };
            svc.okm_agent_audit(&who, outcome, &message)
                .await
                .map_err(|e| fault_of(e, FaultCode::AccessDenied))?;
            Ok(respond("CreateAuditLogResponse", Body::new()))
        }
        "GetAgentKWKPublicKey" => {
            let key = kwk_transport_key(state).await?;
            let pem = {
                use rsa::pkcs8::EncodePublicKey;
                key.to_public_key()
                    .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
                    .map_err(|_| Fault::Server)?
            };
            svc.okm_note(&who, "okm.get_kwk_public_key", Outcome::Success, "")
                .await;
            let mut b = Body::new();
            b.text("KWKPublicKey", &hex::encode_upper(pem.as_bytes()));
            Ok(respond("GetAgentKWKPublicKeyResponse", b))
        }
        "RegisterAgentKWK" => {
            let wrapped = op
                .text_of("AgentKWK")
                .and_then(|h| hex::decode(h).ok())
                .ok_or_else(invalid)?;
            let key = kwk_transport_key(state).await?;
            let plain = Zeroizing::new(
                key.decrypt(rsa::Pkcs1v15Encrypt, &wrapped)
                    .map_err(|_| invalid())?,
            );
            let kwk: [u8; 32] = plain.as_slice().try_into().map_err(|_| invalid())?;
            let kwk = Zeroizing::new(kwk);
            let id_bytes = svc.rot().random(8).map_err(|_| Fault::Server)?;
            let kwk_id = hex::encode_upper(id_bytes.expose_secret());
            let ep = endpoint_id(&who);
            if let Ok(mut m) = state.kwks.lock() {
                if m.keys().filter(|(e, _)| e == &ep).count() >= MAX_KWKS_PER_AGENT {
                    m.retain(|(e, _), _| e != &ep);
                }
                m.insert((ep, kwk_id.clone()), kwk);
            }
            svc.okm_note(
                &who,
                "okm.register_kwk",
                Outcome::Success,
                &format!("key-wrapping key {kwk_id}"),
            )
            .await;
            let mut b = Body::new();
            b.text("AgentKWKID", &kwk_id);
            Ok(respond("RegisterAgentKWKResponse", b))
        }
        _ => {
            svc.okm_note(
                &who,
                "okm.request",
                Outcome::Failed,
                &format!(
                    "unsupported operation {}",
                    name.chars().take(64).collect::<String>()
                ),
            )
            .await;
            Err(Fault::Client(FaultCode::NotSupported))
        }
    }
}

async fn kwk_transport_key(state: &OkmState) -> Result<Arc<rsa::RsaPrivateKey>, Fault> {
    state
        .kwk_key
        .get_or_try_init(|| async {
            tokio::task::spawn_blocking(|| rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048))
                .await
                .map_err(|_| Fault::Server)?
                .map(Arc::new)
                .map_err(|e| {
                    tracing::error!(error = %e, "could not make the OKM key-transport key");
                    Fault::Server
                })
        })
        .await
        .cloned()
}

/// The Discovery service.
pub(super) async fn discovery(state: &OkmState, peer: &Peer, body: &[u8]) -> Result<String, Fault> {
    let who = principal(state, peer).await?;
    let req = parse(state, body, NS_DISCOVERY)?;
    if req.op.name != "DiscoverCluster" {
        return Err(Fault::Client(FaultCode::NotSupported));
    }
    let view = state
        .svc
        .okm_discover(&who)
        .await
        .map_err(|e| fault_of(e, FaultCode::AccessDenied))?;
    let own = state.svc.node().node_id.clone();
    let mut b = Body::new();
    b.text("EntitySiteID", view.agent_site.as_deref().unwrap_or(""));
    b.nested("ArrayOfClusterMembers", |b| {
        for n in &view.nodes {
            let host = if n.id == own {
                // This node: its configured name, else the native agent listener's
                // host, else the OKM listeners' own address when it is a specific one.
                state
                    .settings
                    .advertise_host
                    .clone()
                    .or_else(|| host_of(n.agent_addr.as_deref()))
                    .or_else(|| {
                        let ip = state.settings.agent.ip();
                        (!ip.is_unspecified()).then(|| ip.to_string())
                    })
            } else {
                host_of(n.agent_addr.as_deref())
            };
            let Some(host) = host else { continue };
            let attrs = [
                ("KMAVersion", KMA_VERSION.to_owned()),
                ("KMS-Discovery:Locked", "false".to_owned()),
            ];
            b.nested_attrs("item", &attrs, |b| {
                b.text("KMAID", &kma_id(&n.id).to_string())
                    .text("KMAName", &n.name)
                    .text("KMASiteID", &n.site)
                    .text("KMAHostName", &host)
                    .text("KMANetworkAddress", &host)
                    .text("Enabled", "true")
                    .text("Load", "0")
                    .text("Responding", "true");
            });
        }
    });
    Ok(soap::response(
        "KMS-Discovery",
        NS_DISCOVERY,
        "DiscoverClusterResponse",
        b,
    ))
}

fn host_of(addr: Option<&str>) -> Option<String> {
    let a = addr?;
    match a.parse::<std::net::SocketAddr>() {
        Ok(s) => Some(s.ip().to_string()),
        Err(_) => a
            .rsplit_once(':')
            .map(|(h, _)| h.trim_matches(['[', ']']).to_owned()),
    }
}
