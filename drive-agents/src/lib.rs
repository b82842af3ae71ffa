//! The Clavis drive agent: serves tape drives keys from a Clavis cluster.
#![warn(missing_docs)]
