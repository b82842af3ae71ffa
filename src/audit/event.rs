//! What one audit record says: who did what to which object, from where, with what result.

use serde::{Deserialize, Serialize};

/// The kind of actor behind an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    /// A person with a Clavis account (REST API, CLI).
    User,
    /// An enrolled endpoint (KMIP client, drive agent).
    Endpoint,
    /// The node itself (maintenance tasks, recovery).
    System,
}

impl ActorKind {
    /// Stable text form, as stored and hashed.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Endpoint => "endpoint",
            ActorKind::System => "system",
        }
    }

    /// Parses [`ActorKind::as_str`] output.
    pub fn parse(s: &str) -> Option<ActorKind> {
        match s {
            "user" => Some(ActorKind::User),
            "endpoint" => Some(ActorKind::Endpoint),
            "system" => Some(ActorKind::System),
            _ => None,
        }
    }
}

/// How the action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Done.
    Success,
    /// Refused by access control.
    Denied,
    /// Attempted and failed (bad input, wrong state, ...).
    Failed,
}

impl Outcome {
    /// Stable text form, as stored and hashed.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }

    /// Parses [`Outcome::as_str`] output.
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "success" => Some(Outcome::Success),
            "denied" => Some(Outcome::Denied),
            "failed" => Some(Outcome::Failed),
            _ => None,
        }
    }
}

/// An action to record. Never carries key material or passwords.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// User name, endpoint name, or `system`.
    pub actor: String,
    /// What the actor is.
    pub actor_kind: ActorKind,
    /// Dotted action name, e.g. `key.create`, `user.grant_role`, `authz.denied`.
    pub action: String,
    /// The object acted on (object ID, user name, wallet name...), if any.
    pub object: Option<String>,
    /// Source address of the request, if it came over the network.
    pub source: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Short free text: the reason for a denial or failure, or parameters worth keeping.
    pub detail: Option<String>,
}
