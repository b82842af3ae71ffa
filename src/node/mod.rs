//! The node: initialization (`clavisd init`) and serving (`clavisd run`).

mod identity;
mod init;
mod join;
mod join_cluster;
mod master_key;
mod restore;
mod rot;
mod run;

pub use identity::NodeFile;
pub use init::{init, InitOutput};
pub use join::{join, JoinOutput};
pub use join_cluster::{factory_reset, join_cluster, JoinClusterOutput};
pub use master_key::{import_master_key, Imported};
pub use restore::{check_rewrap_target, restore, rewrap_restored, RestoreOutput, RewrapTarget};
pub use rot::open_rot;
pub use run::{start, RunningNode};

/// Failures starting or initializing a node. Each names what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// Configuration problem.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Root of trust problem.
    #[error("root of trust: {0}")]
    Rot(#[from] crate::rot::RotError),
    /// Database problem.
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    /// Service problem.
    #[error(transparent)]
    Service(#[from] crate::service::ServiceError),
    /// TLS problem.
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Anything else, described.
    #[error("{0}")]
    Other(String),
}

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> NodeError + '_ {
    move |source| NodeError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Binding IDs of the node's own wrapped credentials.
pub const CA_CREDENTIAL_ID: &str = "cluster-ca";

/// Binding ID of a node's TLS key.
pub fn node_tls_credential_id(node_id: &str) -> String {
    format!("node-tls:{node_id}")
}
