//! `node.json` in the data directory: which node this is. Node identity is local
//! (several nodes may share one PostgreSQL database), so it lives beside the config,
//! not in the database.

use super::{io_err, NodeError};
use std::path::Path;

/// Contents of `node.json`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct NodeFile {
    /// Node ID (UUIDv7).
    pub node_id: String,
    /// Replica (database) the node was initialized against.
    pub replica_id: String,
}

impl NodeFile {
    /// File name inside the data directory.
    pub const NAME: &'static str = "node.json";

    /// Reads `node.json`.
    pub fn load(data_dir: &Path) -> Result<NodeFile, NodeError> {
        let path = data_dir.join(Self::NAME);
        if !path.exists() {
            return Err(NodeError::Other(format!(
                "{} not found: this node is not initialized; run `clavisd init --config FILE`",
                path.display()
            )));
        }
        let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
        serde_json::from_str(&text)
            .map_err(|e| NodeError::Other(format!("{}: {e}", path.display())))
    }

    /// Writes `node.json` atomically.
    pub fn save(&self, data_dir: &Path) -> Result<(), NodeError> {
        let path = data_dir.join(Self::NAME);
        let json = serde_json::to_vec_pretty(self).map_err(|e| NodeError::Other(e.to_string()))?;
        crate::rot::software::write_atomically(&path, &json).map_err(io_err(&path))
    }
}
