//! Managed objects and their lifecycle.

pub mod asymmetric;
mod lifecycle;
mod object;
pub mod policy;

pub use lifecycle::{State, Transition, ALL_STATES};
pub use object::{
    is_valid_object_id, new_object_id, now_millis, now_secs, Algorithm, Attributes, KmipAttribute,
    Link, LinkKind, ObjectMeta, ObjectType, RevocationReason,
};
pub use policy::KeyPolicy;
