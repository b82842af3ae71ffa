//! Managed objects and their lifecycle.

mod lifecycle;
mod object;

pub use lifecycle::{State, Transition, ALL_STATES};
pub use object::{
    is_valid_object_id, new_object_id, now_secs, Algorithm, Attributes, KmipAttribute, ObjectMeta,
    ObjectType, RevocationReason,
};
