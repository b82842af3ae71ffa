//! Access control (SPEC 5): roles and privileges, wallets and their access levels, the
//! resolved rights of a caller, and the one decision function every transport goes
//! through (by way of the service layer).
//!
//! The rules, briefly (docs/access-control.md has them in full):
//! - System Administrators manage users, endpoints and settings; Key Administrators
//!   every security object, wallets and endpoint groups; Audit Managers the audit trail.
//!   A role is granted onward only by someone holding it with forward grant.
//! - Users without roles work through endpoint privileges and wallet grants; a user's
//!   wallet access is the union of direct grants, user-group grants and the grants of
//!   endpoint groups the user manages.
//! - Endpoints use objects they own or reach through wallets, and administer nothing.

mod cidr;
mod decide;
mod roles;
mod subject;

pub use cidr::{AllowList, Cidr};
pub use decide::{authorize, Action, Denied, ManageTarget, ObjectFacts};
pub use roles::{AccessLevel, Privileges, Roles};
pub use subject::{Subject, SubjectKind};
