//! The access-control rules of SPEC 5.2–5.5 (from the seed's sections 2.3–2.5), one
//! table per rule group, each row naming the rule it checks.
//!
//! Two layers:
//! - **Pure rows** against `authz::authorize` with hand-built subjects: fast, and they
//!   pin the decision function itself.
//! - **Service rows** against a real node in this process (software root of trust,
//!   SQLite): fixtures are built as `Principal::system("setup")`, and the rows act as
//!   the users they name (`Principal::user` with the created user's ID), so grants are
//!   resolved from the store exactly as for a REST or KMIP caller.
//!
//! A failing row prints its rule; every row of a table runs even when an earlier one
//! failed, and the test then lists all the rules that failed.

mod common;

use clavis::authz::{
    authorize, AccessLevel, Action, ManageTarget, ObjectFacts, Privileges, Roles, Subject,
    SubjectKind,
};
use clavis::keys::Algorithm;
use clavis::names::{NameKind, OBJECT_NAME_RULE, USER_NAME_RULE};
use clavis::service::wallets::GranteeKind;
use clavis::service::{CreateKey, KeyService, Principal, PrincipalKind, ServiceError};
use clavis::store::audit::AuditFilter;
use common::node::{NodeDir, SOFTWARE_ROT};
use secrecy::SecretString;
use std::fmt::Debug;
use std::time::Duration;

// =================================================================================
// The harness

/// What a row expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The action is allowed.
    Allow,
    /// The action is refused as not authorized, and the refusal's message contains this
    /// text (the rule as the caller reads it; "" accepts any message).
    Deny(&'static str),
    /// (Service rows.) The request is refused as invalid or conflicting, not as
    /// unauthorized, with a message containing this text.
    Invalid(&'static str),
}
use Expect::{Allow, Deny, Invalid};

/// One row of a pure table.
struct Row<'a> {
    rule: &'static str,
    who: Subject,
    action: Action<'a>,
    expect: Expect,
}

fn row<'a>(rule: &'static str, who: Subject, action: Action<'a>, expect: Expect) -> Row<'a> {
    Row {
        rule,
        who,
        action,
        expect,
    }
}

/// Runs every row of `table` and fails listing each rule whose row disagreed.
fn run_table(table: &str, rows: Vec<Row<'_>>) {
    assert!(!rows.is_empty(), "{table}: no rows");
    let mut failures = Vec::new();
    for r in &rows {
        let got = authorize(&r.who, &r.action);
        let ok = match (&got, r.expect) {
            (Ok(()), Allow) => true,
            (Err(d), Deny(why)) => d.0.contains(why),
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "  rule: {}\n    action {} by {:?}: expected {:?}, got {:?}",
                r.rule,
                r.action.name(),
                r.who.kind,
                r.expect,
                got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{table}: {} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// Subjects built by hand: what `KeyService::subject` would resolve from the store.
trait Build: Sized {
    fn roles(self, r: Roles) -> Self;
    fn forward(self, r: Roles) -> Self;
    fn privilege(self, p: Privileges) -> Self;
    fn wallet(self, id: &str, level: AccessLevel) -> Self;
    fn manages_endpoint(self, id: &str) -> Self;
    fn manages_group(self, id: &str) -> Self;
}

impl Build for Subject {
    fn roles(mut self, r: Roles) -> Self {
        self.roles |= r;
        self
    }
    /// Holds `r` with forward grant (and so holds `r`).
    fn forward(mut self, r: Roles) -> Self {
        self.roles |= r;
        self.forward_roles |= r;
        self
    }
    fn privilege(mut self, p: Privileges) -> Self {
        self.privileges |= p;
        self
    }
    fn wallet(mut self, id: &str, level: AccessLevel) -> Self {
        self.add_wallet_access(id, level);
        self
    }
    fn manages_endpoint(mut self, id: &str) -> Self {
        self.managed_endpoints.insert(id.to_owned());
        self
    }
    fn manages_group(mut self, id: &str) -> Self {
        self.managed_endpoint_groups.insert(id.to_owned());
        self
    }
}

/// The acting user; rows that need "somebody else" use `OTHER`.
const ME: &str = "u-me";
const OTHER: &str = "u-other";

fn user() -> Subject {
    Subject::new(SubjectKind::User(ME.into()))
}
fn sa() -> Subject {
    user().roles(Roles::SYSTEM_ADMIN)
}
fn ka() -> Subject {
    user().roles(Roles::KEY_ADMIN)
}
fn am() -> Subject {
    user().roles(Roles::AUDIT_MANAGER)
}
fn endpoint(id: &str) -> Subject {
    Subject::new(SubjectKind::Endpoint(id.into()))
}

use AccessLevel::{ManageWallet as MW, ReadModify as RM, ReadOnly as RO};

fn grant_role(role: Roles, grantee_roles: Roles, separation: bool) -> Action<'static> {
    Action::GrantRole {
        role,
        grantee_roles,
        separation_enforced: separation,
    }
}

fn privilege(p: Privileges, grantee: &'static str, revoke: bool) -> Action<'static> {
    Action::ChangePrivilege {
        privilege: p,
        grantee_id: grantee,
        revoke,
    }
}

fn manage(target: ManageTarget, grantee: &'static str, revoke: bool) -> Action<'static> {
    Action::ChangeManage {
        target,
        grantee_id: grantee,
        revoke,
    }
}

// =================================================================================
// Pure rows: SPEC 5.2 roles

#[test]
#[rustfmt::skip]
fn roles_duties_forward_grant_and_separation() {
    let (sa_r, ka_r, am_r) = (Roles::SYSTEM_ADMIN, Roles::KEY_ADMIN, Roles::AUDIT_MANAGER);
    let none = Roles::empty();
    run_table(
        "SPEC 5.2 roles",
        vec![
            // Duties.
            row("5.2 SA duties: a System Administrator creates and manages users", sa(), Action::ManageUsers, Allow),
            row("5.2 SA duties: a Key Administrator does not manage users", ka(), Action::ManageUsers, Deny("System Administrator")),
            row("5.2 SA duties: an Audit Manager does not manage users", am(), Action::ManageUsers, Deny("System Administrator")),
            row("5.2 SA duties: a user without roles does not manage users", user(), Action::ManageUsers, Deny("System Administrator")),
            row("5.2 SA duties: a System Administrator changes settings", sa(), Action::ManageSettings, Allow),
            row("5.2 SA duties: a Key Administrator does not change settings", ka(), Action::ManageSettings, Deny("System Administrator")),
            row("5.2 SA duties: an Audit Manager does not change settings", am(), Action::ManageSettings, Deny("System Administrator")),
            row("5.2 SA duties: a System Administrator registers endpoints", sa(), Action::CreateEndpoint, Allow),
            row("5.2 SA duties: a Key Administrator does not register endpoints", ka(), Action::CreateEndpoint, Deny("Create Endpoint")),
            row("5.2 KA duties: a Key Administrator creates endpoint groups", ka(), Action::CreateEndpointGroup, Allow),
            row("5.2 KA duties: a System Administrator does not create endpoint groups", sa(), Action::CreateEndpointGroup, Deny("Create Endpoint Group")),
            row("5.2 AM duties: an Audit Manager exports audit records", am(), Action::AuditExport, Allow),
            row("5.2 AM duties: only Audit Managers export (not a System Administrator)", sa(), Action::AuditExport, Deny("Audit Manager")),
            row("5.2 AM duties: only Audit Managers export (not a Key Administrator)", ka(), Action::AuditExport, Deny("Audit Manager")),
            row("5.2 AM duties: an Audit Manager deletes old audit records", am(), Action::AuditDelete, Allow),
            row("5.2 AM duties: only Audit Managers delete (not a System Administrator)", sa(), Action::AuditDelete, Deny("Audit Manager")),
            row("5.2 AM duties: only Audit Managers delete (not all other roles together)", user().roles(sa_r | ka_r), Action::AuditDelete, Deny("Audit Manager")),
            row("5.2 AM duties: an Audit Manager reads the audit trail", am(), Action::AuditRead, Allow),
            row("5.2 AM duties: a Key Administrator does not read the audit trail", ka(), Action::AuditRead, Deny("Audit Manager")),
            row("5.2 AM duties: a user without roles does not read the audit trail", user(), Action::AuditRead, Deny("Audit Manager")),
            // Forward grant: granting.
            row("5.2 forward grant: a System Administrator with forward grant grants the role", user().forward(sa_r), grant_role(sa_r, none, false), Allow),
            row("5.2 forward grant: a System Administrator without forward grant cannot grant the role", sa(), grant_role(sa_r, none, false), Deny("forward grant")),
            row("5.2 forward grant: a Key Administrator with forward grant grants the role", user().forward(ka_r), grant_role(ka_r, none, false), Allow),
            row("5.2 forward grant: a Key Administrator without forward grant cannot grant the role", ka(), grant_role(ka_r, none, false), Deny("forward grant")),
            row("5.2 forward grant: an Audit Manager with forward grant grants the role", user().forward(am_r), grant_role(am_r, none, false), Allow),
            row("5.2 forward grant: an Audit Manager without forward grant cannot grant the role", am(), grant_role(am_r, none, false), Deny("forward grant")),
            row("5.2 forward grant: forward grant on one role does not let its holder grant another it holds", user().forward(sa_r).roles(ka_r), grant_role(ka_r, none, false), Deny("forward grant")),
            row("5.2 forward grant: a System Administrator with forward grant cannot grant Key Administrator", user().forward(sa_r), grant_role(ka_r, none, false), Deny("forward grant")),
            row("5.2 forward grant: a holder of two roles with forward grant grants either (KA)", user().forward(sa_r | ka_r), grant_role(ka_r, none, false), Allow),
            row("5.2 forward grant: a user without roles grants nothing", user(), grant_role(am_r, none, false), Deny("forward grant")),
            // Forward grant: revoking.
            row("5.2 forward grant: revoking needs it too (SA with forward grant revokes SA)", user().forward(sa_r), Action::RevokeRole { role: sa_r }, Allow),
            row("5.2 forward grant: a System Administrator without forward grant cannot revoke the role", sa(), Action::RevokeRole { role: sa_r }, Deny("forward grant")),
            row("5.2 forward grant: a Key Administrator with forward grant revokes the role", user().forward(ka_r), Action::RevokeRole { role: ka_r }, Allow),
            row("5.2 forward grant: a Key Administrator without forward grant cannot revoke the role", ka(), Action::RevokeRole { role: ka_r }, Deny("forward grant")),
            row("5.2 forward grant: an Audit Manager without forward grant cannot revoke the role", am(), Action::RevokeRole { role: am_r }, Deny("forward grant")),
            row("5.2 forward grant: a Key Administrator with forward grant cannot revoke System Administrator", user().forward(ka_r), Action::RevokeRole { role: sa_r }, Deny("forward grant")),
            // Separation of roles.
            row("5.2 separation: when enforced, a user holding one role cannot be granted a second", user().forward(ka_r), grant_role(ka_r, sa_r, true), Deny("separation of roles")),
            row("5.2 separation: when enforced, an Audit Manager cannot also become System Administrator", user().forward(sa_r), grant_role(sa_r, am_r, true), Deny("separation of roles")),
            row("5.2 separation: when enforced, a user without roles can still be granted one", user().forward(ka_r), grant_role(ka_r, none, true), Allow),
            row("5.2 separation: when enforced, re-granting the role a user already holds is allowed", user().forward(ka_r), grant_role(ka_r, ka_r, true), Allow),
            row("5.2 separation: when not enforced, one user may hold two roles", user().forward(ka_r), grant_role(ka_r, sa_r, false), Allow),
            // Quorum proposals go by role; votes by membership.
            row("5.6 quorum: asking for an operation needs the role it names", sa(), Action::ProposeQuorum { needs: sa_r }, Allow),
            row("5.6 quorum: another role does not ask for it", ka(), Action::ProposeQuorum { needs: sa_r }, Deny("System Administrator")),
            row("5.6 quorum: members vote", user(), Action::QuorumVote { is_member: true }, Allow),
            row("5.6 quorum: non-members (even administrators) do not vote", user().roles(sa_r | ka_r | am_r), Action::QuorumVote { is_member: false }, Deny("quorum members")),
        ],
    );
}

// =================================================================================
// Pure rows: SPEC 5.3 endpoint privileges

#[test]
#[rustfmt::skip]
fn endpoint_privileges() {
    use ManageTarget::{Endpoint as EP, EndpointGroup as EG};
    let ce = Privileges::CREATE_ENDPOINT;
    let ceg = Privileges::CREATE_ENDPOINT_GROUP;
    let set_default = |ep: &'static str, w: &'static str| Action::SetDefaultWallet {
        endpoint_id: ep,
        wallet_id: w,
    };
    run_table(
        "SPEC 5.3 endpoint privileges",
        vec![
            // Who grants what.
            row("5.3 only SA grants Create Endpoint: a System Administrator does", sa(), privilege(ce, OTHER, false), Allow),
            row("5.3 only SA grants Create Endpoint: a Key Administrator does not", ka(), privilege(ce, OTHER, false), Deny("System Administrators")),
            row("5.3 holders of Create Endpoint cannot grant it", user().privilege(ce), privilege(ce, OTHER, false), Deny("System Administrators")),
            row("5.3 holders of Create Endpoint cannot revoke it from others", user().privilege(ce), privilege(ce, OTHER, true), Deny("System Administrators")),
            row("5.3 only SA revokes Create Endpoint: a System Administrator does", sa(), privilege(ce, OTHER, true), Allow),
            row("5.3 only KA grants Create Endpoint Group: a Key Administrator does", ka(), privilege(ceg, OTHER, false), Allow),
            row("5.3 only KA grants Create Endpoint Group: a System Administrator does not", sa(), privilege(ceg, OTHER, false), Deny("Key Administrators")),
            row("5.3 holders of Create Endpoint Group cannot grant it", user().privilege(ceg), privilege(ceg, OTHER, false), Deny("Key Administrators")),
            row("5.3 only KA revokes Create Endpoint Group: a Key Administrator does", ka(), privilege(ceg, OTHER, true), Allow),
            row("5.3 only SA grants Manage Endpoint: a System Administrator does", sa(), manage(EP, OTHER, false), Allow),
            row("5.3 only SA grants Manage Endpoint: a Key Administrator does not", ka(), manage(EP, OTHER, false), Deny("System Administrators")),
            row("5.3 holders of Manage Endpoint cannot grant it", user().manages_endpoint("ep1"), manage(EP, OTHER, false), Deny("System Administrators")),
            row("5.3 only KA grants Manage Endpoint Group: a Key Administrator does", ka(), manage(EG, OTHER, false), Allow),
            row("5.3 only KA grants Manage Endpoint Group: a System Administrator does not", sa(), manage(EG, OTHER, false), Deny("Key Administrators")),
            row("5.3 holders of Manage Endpoint Group cannot grant it", user().manages_group("g1"), manage(EG, OTHER, false), Deny("Key Administrators")),
            row("5.3 only SA revokes Manage Endpoint: a System Administrator does", sa(), manage(EP, OTHER, true), Allow),
            row("5.3 only KA revokes Manage Endpoint Group: a System Administrator does not", sa(), manage(EG, OTHER, true), Deny("Key Administrators")),
            // Nobody revokes their own.
            row("5.3 no self-revoke: a System Administrator cannot revoke their own Create Endpoint", sa().privilege(ce), privilege(ce, ME, true), Deny("their own")),
            row("5.3 no self-revoke: a Key Administrator cannot revoke their own Create Endpoint Group", ka().privilege(ceg), privilege(ceg, ME, true), Deny("their own")),
            row("5.3 no self-revoke: a System Administrator cannot revoke their own Manage Endpoint", sa().manages_endpoint("ep1"), manage(EP, ME, true), Deny("their own")),
            row("5.3 no self-revoke: a Key Administrator cannot revoke their own Manage Endpoint Group", ka().manages_group("g1"), manage(EG, ME, true), Deny("their own")),
            row("5.3 no self-revoke: not even with every role", user().forward(Roles::all()).privilege(ce | ceg), privilege(ce, ME, true), Deny("their own")),
            row("5.3 no self-revoke applies to revoking only: a System Administrator grants themselves Create Endpoint", sa(), privilege(ce, ME, false), Allow),
            // Creating.
            row("5.3 Create Endpoint: its holder registers endpoints", user().privilege(ce), Action::CreateEndpoint, Allow),
            row("5.3 Create Endpoint: a user without it or SA does not", user(), Action::CreateEndpoint, Deny("Create Endpoint")),
            row("5.3 Create Endpoint Group: its holder creates endpoint groups", user().privilege(ceg), Action::CreateEndpointGroup, Allow),
            row("5.3 Create Endpoint Group: Create Endpoint does not create groups", user().privilege(ce), Action::CreateEndpointGroup, Deny("Create Endpoint Group")),
            row("5.3 Create Endpoint Group: a user without it or KA does not", user(), Action::CreateEndpointGroup, Deny("Create Endpoint Group")),
            // Managing one endpoint.
            row("5.3 SA manages any endpoint", sa(), Action::ManageEndpoint { endpoint_id: "ep9" }, Allow),
            row("5.3 Manage Endpoint: its holder suspends, resumes, deletes that endpoint", user().manages_endpoint("ep1"), Action::ManageEndpoint { endpoint_id: "ep1" }, Allow),
            row("5.3 Manage Endpoint: it covers only the endpoint it was granted on", user().manages_endpoint("ep1"), Action::ManageEndpoint { endpoint_id: "ep2" }, Deny("Manage Endpoint")),
            row("5.3 to suspend an endpoint a user needs Manage Endpoint or SA (Create Endpoint is not enough)", user().privilege(ce), Action::ManageEndpoint { endpoint_id: "ep1" }, Deny("Manage Endpoint")),
            row("5.3 to suspend an endpoint a Key Administrator needs Manage Endpoint too", ka(), Action::ManageEndpoint { endpoint_id: "ep1" }, Deny("Manage Endpoint")),
            row("5.3 to suspend an endpoint a user without privileges is refused", user(), Action::ManageEndpoint { endpoint_id: "ep1" }, Deny("Manage Endpoint")),
            // Managing one endpoint group.
            row("5.3 KA manages any endpoint group", ka(), Action::ManageEndpointGroup { group_id: "g9" }, Allow),
            row("5.3 Manage Endpoint Group: its holder adds and removes members of that group", user().manages_group("g1"), Action::ManageEndpointGroup { group_id: "g1" }, Allow),
            row("5.3 Manage Endpoint Group: it covers only the group it was granted on", user().manages_group("g1"), Action::ManageEndpointGroup { group_id: "g2" }, Deny("Manage Endpoint Group")),
            row("5.3 a System Administrator does not manage endpoint groups by role", sa(), Action::ManageEndpointGroup { group_id: "g1" }, Deny("Manage Endpoint Group")),
            row("5.3 Create Endpoint Group alone does not manage an existing group", user().privilege(ceg), Action::ManageEndpointGroup { group_id: "g1" }, Deny("Manage Endpoint Group")),
            // Default wallet.
            row("5.3 default wallet: Manage Endpoint plus Manage Wallet sets it", user().manages_endpoint("ep1").wallet("w1", MW), set_default("ep1", "w1"), Allow),
            row("5.3 default wallet: Manage Endpoint with Read and Modify on the wallet is not full access", user().manages_endpoint("ep1").wallet("w1", RM), set_default("ep1", "w1"), Deny("Manage Wallet")),
            row("5.3 default wallet: Manage Endpoint with Read Only on the wallet is refused", user().manages_endpoint("ep1").wallet("w1", RO), set_default("ep1", "w1"), Deny("Manage Wallet")),
            row("5.3 default wallet: Manage Endpoint without access to the wallet is refused", user().manages_endpoint("ep1"), set_default("ep1", "w1"), Deny("Manage Wallet")),
            row("5.3 default wallet: Manage Wallet without Manage Endpoint is refused", user().wallet("w1", MW), set_default("ep1", "w1"), Deny("Manage Endpoint")),
            row("5.3 default wallet: Manage Endpoint on another endpoint is refused", user().manages_endpoint("ep2").wallet("w1", MW), set_default("ep1", "w1"), Deny("Manage Endpoint")),
            row("5.3 default wallet: a System Administrator with Manage Wallet sets it", sa().wallet("w1", MW), set_default("ep1", "w1"), Allow),
            row("5.3 default wallet: a System Administrator without wallet access is refused", sa(), set_default("ep1", "w1"), Deny("Manage Wallet")),
            row("5.3 default wallet: a Key Administrator (full wallet access) without Manage Endpoint is refused", ka(), set_default("ep1", "w1"), Deny("Manage Endpoint")),
            row("5.3 default wallet: SA and KA together set it", user().roles(Roles::SYSTEM_ADMIN | Roles::KEY_ADMIN), set_default("ep1", "w1"), Allow),
        ],
    );
}

// =================================================================================
// Pure rows: SPEC 5.4 wallets and objects

#[test]
#[rustfmt::skip]
fn wallets_and_access_levels() {
    let w1 = vec!["w1".to_owned()];
    let w1w2 = vec!["w1".to_owned(), "w2".to_owned()];
    let none: Vec<String> = Vec::new();
    let in_w1 = ObjectFacts {
        owner: Some("user:someone-else"),
        wallets: &w1,
    };
    let in_w1_w2 = ObjectFacts {
        owner: Some("user:someone-else"),
        wallets: &w1w2,
    };
    let mine = ObjectFacts {
        owner: Some("user:u-me"),
        wallets: &none,
    };
    let unowned = ObjectFacts {
        owner: None,
        wallets: &none,
    };
    let read = Action::ReadObject;
    let use_ = Action::UseObject;
    let modify = Action::ModifyObject;
    let manage_w1 = Action::ManageWallet { wallet_id: "w1" };
    let view_w1 = Action::ViewWallet { wallet_id: "w1" };
    let grant_w1 = |level| Action::GrantWalletAccess {
        wallet_id: "w1",
        level,
    };
    let u = user;
    run_table(
        "SPEC 5.4 wallets",
        vec![
            // Read Only.
            row("5.4 Read Only reads the objects' metadata", u().wallet("w1", RO), read(in_w1), Allow),
            row("5.4 Read Only reads the objects' material", u().wallet("w1", RO), use_(in_w1), Allow),
            row("5.4 Read Only cannot modify", u().wallet("w1", RO), modify(in_w1), Deny("Read and Modify")),
            row("5.4 Read Only sees the wallet", u().wallet("w1", RO), view_w1.clone(), Allow),
            row("5.4 Read Only cannot manage the wallet", u().wallet("w1", RO), manage_w1.clone(), Deny("Manage Wallet")),
            row("5.4 Read Only cannot grant, not even Read Only", u().wallet("w1", RO), grant_w1(RO), Deny("Manage Wallet")),
            // Read and Modify.
            row("5.4 Read and Modify modifies the objects", u().wallet("w1", RM), modify(in_w1), Allow),
            row("5.4 Read and Modify reads them", u().wallet("w1", RM), use_(in_w1), Allow),
            row("5.4 Read and Modify cannot add or remove objects (Manage Wallet)", u().wallet("w1", RM), manage_w1.clone(), Deny("Manage Wallet")),
            row("5.4 Read and Modify cannot grant access", u().wallet("w1", RM), grant_w1(RO), Deny("Manage Wallet")),
            // Manage Wallet.
            row("5.4 Manage Wallet adds/removes objects, changes settings, deletes the wallet", u().wallet("w1", MW), manage_w1.clone(), Allow),
            row("5.4 Manage Wallet grants Read Only (below its level)", u().wallet("w1", MW), grant_w1(RO), Allow),
            row("5.4 Manage Wallet grants Read and Modify (below its level)", u().wallet("w1", MW), grant_w1(RM), Allow),
            row("5.4 Manage Wallet grants Manage Wallet (at its level)", u().wallet("w1", MW), grant_w1(MW), Allow),
            row("5.4 Manage Wallet modifies the objects", u().wallet("w1", MW), modify(in_w1), Allow),
            row("5.4 Manage Wallet on another wallet does not manage this one", u().wallet("w2", MW), manage_w1.clone(), Deny("Manage Wallet")),
            row("5.4 Manage Wallet on another wallet does not grant on this one", u().wallet("w2", MW), grant_w1(RO), Deny("Manage Wallet")),
            // No access.
            row("5.4 no grant: the object cannot be read", u(), read(in_w1), Deny("wallet")),
            row("5.4 no grant: the object cannot be used", u(), use_(in_w1), Deny("wallet")),
            row("5.4 no grant: the object cannot be modified", u(), modify(in_w1), Deny("wallet")),
            row("5.4 no grant: the wallet cannot be seen", u(), view_w1.clone(), Deny("access")),
            row("5.4 access to another wallet does not reach this object", u().wallet("w2", MW), use_(in_w1), Deny("wallet")),
            row("5.4 objects in no wallet are reached by their owner and administrators only", u().wallet("w1", MW), read(unowned), Deny("wallet")),
            // The union of grants: the highest level of the object's wallets.
            row("5.4 union: Read Only on one wallet and Read and Modify on another holding the object modifies", u().wallet("w1", RO).wallet("w2", RM), modify(in_w1_w2), Allow),
            row("5.4 union: the highest of two grants on one wallet wins", u().wallet("w1", RO).wallet("w1", MW).wallet("w1", RO), manage_w1.clone(), Allow),
            // Owners.
            row("5.4 owners have full access: read", u(), read(mine), Allow),
            row("5.4 owners have full access: use", u(), use_(mine), Allow),
            row("5.4 owners have full access: modify", u(), modify(mine), Allow),
            row("5.4 anyone may create objects (and owns them)", u(), Action::CreateObject, Allow),
            row("5.4 anyone may create wallets (and manages them)", u(), Action::CreateWallet, Allow),
            // Roles.
            row("5.2 KA has full access to all objects: read", ka(), read(in_w1), Allow),
            row("5.2 KA has full access to all objects: use the material", ka(), use_(in_w1), Allow),
            row("5.2 KA has full access to all objects: modify", ka(), modify(in_w1), Allow),
            row("5.2 KA has full access to all objects: those in no wallet too", ka(), use_(unowned), Allow),
            row("5.2 KA has full access to all wallets: manage", ka(), manage_w1.clone(), Allow),
            row("5.2 KA controls access to all wallets: grant Manage Wallet", ka(), grant_w1(MW), Allow),
            row("5.2 KA sees every wallet", ka(), view_w1.clone(), Allow),
            row("5.2 AM reads the metadata of all objects", am(), read(in_w1), Allow),
            row("5.2 AM reads the metadata of objects in no wallet", am(), read(unowned), Allow),
            row("5.2 AM cannot use key material", am(), use_(in_w1), Deny("key material")),
            row("5.2 AM cannot modify objects", am(), modify(in_w1), Deny("Read and Modify")),
            row("5.2 AM sees every wallet", am(), view_w1.clone(), Allow),
            row("5.2 AM does not manage wallets", am(), manage_w1.clone(), Deny("Manage Wallet")),
            row("5.2 SA has no object access by role: read", sa(), read(in_w1), Deny("wallet")),
            row("5.2 SA has no object access by role: use", sa(), use_(in_w1), Deny("wallet")),
            row("5.2 SA has no object access by role: modify", sa(), modify(in_w1), Deny("wallet")),
            row("5.2 SA has no wallet access by role", sa(), manage_w1.clone(), Deny("Manage Wallet")),
            row("5.2 SA does not see wallets by role", sa(), view_w1.clone(), Deny("access")),
            row("5.2 SA does not grant wallet access by role", sa(), grant_w1(RO), Deny("Manage Wallet")),
            row("5.2 SA with a wallet grant has that grant's access", sa().wallet("w1", RO), use_(in_w1), Allow),
            // The node itself.
            row("system: the node itself is not limited by grants", Subject::system(), use_(in_w1), Allow),
        ],
    );
}

// =================================================================================
// Pure rows: endpoints

#[test]
#[rustfmt::skip]
fn endpoints_use_objects_and_administer_nothing() {
    let w1 = vec!["w1".to_owned()];
    let none: Vec<String> = Vec::new();
    let own = ObjectFacts {
        owner: Some("endpoint:e1"),
        wallets: &none,
    };
    let others = ObjectFacts {
        owner: Some("endpoint:e2"),
        wallets: &none,
    };
    let in_w1 = ObjectFacts {
        owner: Some("user:someone"),
        wallets: &w1,
    };
    let e = || endpoint("e1");
    let mut rows = vec![
        row("5.4 endpoints own their objects: read", e(), Action::ReadObject(own), Allow),
        row("5.4 endpoints own their objects: get the material", e(), Action::UseObject(own), Allow),
        row("5.4 endpoints own their objects: modify", e(), Action::ModifyObject(own), Allow),
        row("5.4 endpoints create objects", e(), Action::CreateObject, Allow),
        row("5.4 an endpoint cannot read another endpoint's object", e(), Action::ReadObject(others), Deny("neither owns")),
        row("5.4 an endpoint cannot get another endpoint's key", e(), Action::UseObject(others), Deny("neither owns")),
        row("5.4 an endpoint cannot modify another endpoint's object", e(), Action::ModifyObject(others), Deny("ownership")),
        row("5.4 an endpoint without access to a wallet cannot get its keys", e(), Action::UseObject(in_w1), Deny("wallet")),
        row("5.4 an endpoint with Read Only on the wallet gets its keys", e().wallet("w1", RO), Action::UseObject(in_w1), Allow),
        row("5.4 an endpoint with Read Only on the wallet reads attributes", e().wallet("w1", RO), Action::ReadObject(in_w1), Allow),
        row("5.4 an endpoint with Read Only on the wallet cannot modify or destroy", e().wallet("w1", RO), Action::ModifyObject(in_w1), Deny("Read and Modify")),
        row("5.4 an endpoint with Read and Modify on the wallet modifies", e().wallet("w1", RM), Action::ModifyObject(in_w1), Allow),
        row("5.4 an endpoint with Manage Wallet on the wallet modifies", e().wallet("w1", MW), Action::ModifyObject(in_w1), Allow),
    ];
    // Endpoints administer nothing, not even with a Manage Wallet grant.
    let admin_actions: Vec<(&'static str, Action<'static>)> = vec![
        ("5.4 endpoints never administer: no wallet creation", Action::CreateWallet),
        ("5.4 endpoints never administer: no wallet management, even holding Manage Wallet", Action::ManageWallet { wallet_id: "w1" }),
        ("5.4 endpoints never administer: no granting, even holding Manage Wallet", Action::GrantWalletAccess { wallet_id: "w1", level: RO }),
        ("5.4 endpoints never administer: no wallet listing", Action::ViewWallet { wallet_id: "w1" }),
        ("5.4 endpoints never administer: no users", Action::ManageUsers),
        ("5.4 endpoints never administer: no roles", grant_role(Roles::KEY_ADMIN, Roles::empty(), false)),
        ("5.4 endpoints never administer: no privileges", privilege(Privileges::CREATE_ENDPOINT, OTHER, false)),
        ("5.4 endpoints never administer: no endpoint registration", Action::CreateEndpoint),
        ("5.4 endpoints never administer: not even themselves", Action::ManageEndpoint { endpoint_id: "e1" }),
        ("5.4 endpoints never administer: no default wallet", Action::SetDefaultWallet { endpoint_id: "e1", wallet_id: "w1" }),
        ("5.4 endpoints never administer: no endpoint groups", Action::CreateEndpointGroup),
        ("5.4 endpoints never administer: not their endpoint group", Action::ManageEndpointGroup { group_id: "g1" }),
        ("5.4 endpoints never administer: no settings", Action::ManageSettings),
        ("5.4 endpoints never administer: no audit trail", Action::AuditRead),
        ("5.4 endpoints never administer: no directory", Action::ViewDirectory),
    ];
    for (rule, action) in admin_actions {
        rows.push(row(
            rule,
            e().wallet("w1", MW).manages_endpoint("e1").manages_group("g1"),
            action,
            Deny("endpoints may not perform administrative actions"),
        ));
    }
    run_table("endpoints", rows);
}

// =================================================================================
// Pure rows: SPEC 5.5 names

#[test]
#[rustfmt::skip]
fn names_pure() {
    struct NameRow {
        rule: &'static str,
        kind: NameKind,
        name: String,
        ok: bool,
    }
    let n = |rule, kind, name: &str, ok| NameRow {
        rule,
        kind,
        name: name.to_owned(),
        ok,
    };
    let all = [
        NameKind::User,
        NameKind::UserGroup,
        NameKind::Endpoint,
        NameKind::EndpointGroup,
        NameKind::Wallet,
    ];
    let mut rows = vec![
        n("5.5 user names: letters, digits, _", NameKind::User, "p_smith_2", true),
        n("5.5 user names: no `.`", NameKind::User, "p.smith", false),
        n("5.5 user names: no `-`", NameKind::User, "p-smith", false),
        n("5.5 user names: no space", NameKind::User, "p smith", false),
        n("5.5 user names: no `@`", NameKind::User, "psmith@corp", false),
        n("5.5 user names: ASCII letters only", NameKind::User, "pšmith", false),
        n("5.5 names: not empty (users)", NameKind::User, "", false),
    ];
    for k in [
        NameKind::UserGroup,
        NameKind::Endpoint,
        NameKind::EndpointGroup,
        NameKind::Wallet,
    ] {
        rows.push(n("5.5 object names: letters, digits, _ . -", k, "Tape_Lib-2.site", true));
        rows.push(n("5.5 object names: no space", k, "tape lib", false));
        rows.push(n("5.5 object names: no `/`", k, "tape/lib", false));
        rows.push(n("5.5 object names: no `:`", k, "tape:lib", false));
        rows.push(n("5.5 object names: ASCII letters only", k, "bänd", false));
        rows.push(n("5.5 names: not empty", k, "", false));
    }
    for k in all {
        rows.push(n("5.5 names: 120 bytes are accepted", k, &"a".repeat(120), true));
        rows.push(n("5.5 names: a 121-byte name is refused", k, &"a".repeat(121), false));
    }
    let mut failures = Vec::new();
    for r in &rows {
        let got = r.kind.check(&r.name);
        let good = match (&got, r.ok) {
            (Ok(()), true) => true,
            // The message names the kind and its rule.
            (Err(m), false) => m.contains(r.kind.noun()) && m.contains(r.kind.rule()),
            _ => false,
        };
        if !good {
            failures.push(format!(
                "  rule: {} ({:?} {:?}): got {got:?}",
                r.rule,
                r.kind,
                r.name.chars().take(20).collect::<String>()
            ));
        }
    }
    // Case: every kind but wallets compares names case-insensitively.
    for k in all {
        let same = k.key("PSmith") == k.key("psmith");
        if same == k.case_sensitive() {
            failures.push(format!(
                "  rule: 5.5 {} names are case-{}",
                k.noun(),
                if k == NameKind::Wallet {
                    "sensitive"
                } else {
                    "insensitive"
                }
            ));
        }
    }
    assert_eq!(NameKind::User.rule(), USER_NAME_RULE);
    assert_eq!(NameKind::Wallet.rule(), OBJECT_NAME_RULE);
    assert!(
        failures.is_empty(),
        "SPEC 5.5 names: {} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// =================================================================================
// Service rows: a real node in this process

/// A node (software root of trust, SQLite) started in this process.
struct Node {
    node: clavis::node::RunningNode,
    // Last, so the node's files outlive the node.
    _dir: NodeDir,
}

async fn node() -> Node {
    let dir = NodeDir::new(None, SOFTWARE_ROT);
    dir.init().await;
    let node = clavis::node::start(&dir.config())
        .await
        .expect("node starts");
    Node { node, _dir: dir }
}

impl Node {
    fn svc(&self) -> &KeyService {
        &self.node.service
    }
}

/// Builds fixtures: the node itself, not limited by grants.
fn setup() -> Principal {
    Principal::system("setup")
}

/// The address requests of the users in these tests come from (for the audit trail).
const SOURCE: &str = "198.51.100.7";

/// Creates user `name` (no roles, no password) and returns it as a caller.
async fn new_user(svc: &KeyService, name: &str) -> Principal {
    let info = svc
        .create_user(&setup(), name, None)
        .await
        .unwrap_or_else(|e| panic!("create user {name}: {e}"));
    Principal::user(info.name, info.id, Some(SOURCE.into()))
}

/// Creates user `name` holding `roles` (without forward grant).
async fn new_admin(svc: &KeyService, name: &str, roles: Roles) -> Principal {
    let who = new_user(svc, name).await;
    for r in roles.iter() {
        svc.grant_role(&setup(), name, r, false)
            .await
            .unwrap_or_else(|e| panic!("grant {r:?} to {name}: {e}"));
    }
    who
}

/// An endpoint registered by the node, as a caller (the KMIP listener makes the same
/// principal from the endpoint's certificate).
async fn new_endpoint(svc: &KeyService, name: &str, default_wallet: Option<&str>) -> Principal {
    let (info, _token) = svc
        .register_endpoint(&setup(), name, "kmip", None, default_wallet)
        .await
        .unwrap_or_else(|e| panic!("register {name}: {e}"));
    Principal {
        name: info.name,
        source: Some(SOURCE.into()),
        kind: PrincipalKind::Endpoint(info.id),
    }
}

fn aes(name: &str) -> CreateKey {
    CreateKey {
        algorithm: Algorithm::Aes,
        length: 256,
        name: Some(name.into()),
        activate: false,
        attributes: Default::default(),
    }
}

/// Collects the outcome of every service row; `finish` fails listing the rules whose
/// rows disagreed.
struct Rules {
    table: &'static str,
    rows: usize,
    failures: Vec<String>,
}

impl Rules {
    fn new(table: &'static str) -> Rules {
        Rules {
            table,
            rows: 0,
            failures: Vec::new(),
        }
    }

    /// Checks one request's outcome against `expect`; returns its value when it
    /// succeeded.
    fn check<T>(&mut self, rule: &str, got: Result<T, ServiceError>, expect: Expect) -> Option<T> {
        self.rows += 1;
        let ok = match (&got, expect) {
            (Ok(_), Allow) => true,
            (Err(ServiceError::Forbidden(m)), Deny(why)) => m.contains(why),
            (Err(e), Invalid(why)) => {
                !matches!(e, ServiceError::Forbidden(_)) && e.to_string().contains(why)
            }
            _ => false,
        };
        if !ok {
            let shown = match &got {
                Ok(_) => "Ok(..)".to_owned(),
                Err(e) => format!("Err({e:?})"),
            };
            self.failures.push(format!(
                "  rule: {rule}\n    expected {expect:?}, got {shown}"
            ));
        }
        got.ok()
    }

    /// A row that is a fact about the state rather than a request's outcome.
    fn fact(&mut self, rule: &str, holds: bool, detail: impl Debug) {
        self.rows += 1;
        if !holds {
            self.failures
                .push(format!("  rule: {rule}\n    does not hold: {detail:?}"));
        }
    }

    fn finish(self) {
        assert!(
            self.failures.is_empty(),
            "{}: {} of {} rows failed:\n{}",
            self.table,
            self.failures.len(),
            self.rows,
            self.failures.join("\n")
        );
    }
}

use clavis::keys::RevocationReason::CessationOfOperation as CESSATION;
use ManageTarget::{Endpoint as MANAGE_EP, EndpointGroup as MANAGE_EG};

async fn managed_endpoints(svc: &KeyService, user: &str) -> Vec<String> {
    svc.get_user(&setup(), user)
        .await
        .expect("user")
        .managed_endpoints
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[rustfmt::skip]
async fn service_endpoint_privileges() {
    let n = node().await;
    let svc = n.svc();
    let mut r = Rules::new("SPEC 5.3 endpoint privileges (service)");
    let ce = Privileges::CREATE_ENDPOINT;
    let sysadm = new_admin(svc, "sysadm", Roles::SYSTEM_ADMIN).await;
    let sysadm2 = new_admin(svc, "sysadm2", Roles::SYSTEM_ADMIN).await;
    let keyadm = new_admin(svc, "keyadm", Roles::KEY_ADMIN).await;
    let carol = new_user(svc, "carol").await;

    r.check("5.3 only SA grants Create Endpoint: a Key Administrator is refused",
        svc.change_privilege(&keyadm, "carol", ce, false).await, Deny("System Administrators"));
    r.check("5.3 only SA grants Create Endpoint: a System Administrator grants it",
        svc.change_privilege(&sysadm, "carol", ce, false).await, Allow);
    r.check("5.3 holders of Create Endpoint cannot grant it",
        svc.change_privilege(&carol, "keyadm", ce, false).await, Deny("System Administrators"));

    // Creator gets Manage.
    r.check("5.3 a user with Create Endpoint registers an endpoint",
        svc.register_endpoint(&carol, "ep-carol", "kmip", None, None).await, Allow);
    let m = managed_endpoints(svc, "carol").await;
    r.fact("5.3 creator gets manage: the creator holds Manage Endpoint on it", m == ["ep-carol"], &m);
    r.check("5.3 creator gets manage: the creator suspends it",
        svc.suspend_endpoint(&carol, "ep-carol").await, Allow);
    r.check("5.3 creator gets manage: the creator resumes it",
        svc.resume_endpoint(&carol, "EP-CAROL").await, Allow);
    r.check("5.3 no self-revoke: a user cannot revoke their own Manage Endpoint",
        svc.change_manage(&carol, "carol", MANAGE_EP, "ep-carol", true).await, Deny("their own"));
    r.check("5.3 no self-revoke: a user cannot revoke their own Create Endpoint",
        svc.change_privilege(&carol, "carol", ce, true).await, Deny("their own"));
    svc.change_privilege(&sysadm2, "sysadm", ce, false).await.expect("CE to sysadm");
    r.check("5.3 no self-revoke: a System Administrator cannot revoke their own Create Endpoint",
        svc.change_privilege(&sysadm, "sysadm", ce, true).await, Deny("their own"));
    svc.change_privilege(&sysadm2, "sysadm", ce, true).await.expect("CE from sysadm");

    // The creator's Manage can be revoked; Create stays.
    r.check("5.3 the creator's Manage Endpoint can be revoked by a System Administrator",
        svc.change_manage(&sysadm, "carol", MANAGE_EP, "ep-carol", true).await, Allow);
    r.check("5.3 once Manage Endpoint is revoked, the creator cannot suspend the endpoint",
        svc.suspend_endpoint(&carol, "ep-carol").await, Deny("Manage Endpoint"));
    r.check("5.3 once Manage Endpoint is revoked, the creator cannot delete the endpoint",
        svc.delete_endpoint(&carol, "ep-carol").await, Deny("Manage Endpoint"));
    r.check("5.3 revoking Manage Endpoint leaves Create Endpoint: the user registers another",
        svc.register_endpoint(&carol, "ep-carol2", "kmip", None, None).await, Allow);
    r.check("5.3 fall-back: with no manager left, a System Administrator manages the endpoint",
        svc.suspend_endpoint(&sysadm, "ep-carol").await, Allow);
    r.check("5.3 only SA revokes Create Endpoint: a Key Administrator is refused",
        svc.change_privilege(&keyadm, "carol", ce, true).await, Deny("System Administrators"));
    r.check("5.3 a System Administrator revokes Create Endpoint",
        svc.change_privilege(&sysadm, "carol", ce, true).await, Allow);
    r.check("5.3 revoking Create Endpoint leaves Manage Endpoint on what the user created",
        svc.suspend_endpoint(&carol, "ep-carol2").await, Allow);
    r.check("5.3 after Create Endpoint is revoked the user registers no more endpoints",
        svc.register_endpoint(&carol, "ep-carol3", "kmip", None, None).await, Deny("Create Endpoint"));

    // A System Administrator manages by role; a grant only with the privilege.
    r.check("5.2 a System Administrator without Create Endpoint registers endpoints by role",
        svc.register_endpoint(&sysadm, "ep-sa", "kmip", None, None).await, Allow);
    let m = managed_endpoints(svc, "sysadm").await;
    r.fact("5.3 a System Administrator without the privilege who creates an endpoint gets no Manage grant", m.is_empty(), &m);
    svc.change_privilege(&sysadm2, "sysadm", ce, false).await.expect("CE to sysadm");
    r.check("5.3 a System Administrator holding Create Endpoint registers an endpoint",
        svc.register_endpoint(&sysadm, "ep-sa2", "kmip", None, None).await, Allow);
    let m = managed_endpoints(svc, "sysadm").await;
    r.fact("5.3 a System Administrator holding Create Endpoint gets Manage on what they create", m == ["ep-sa2"], &m);
    svc.revoke_role(&setup(), "sysadm", Roles::SYSTEM_ADMIN).await.expect("revoke SA");
    r.check("5.3 once the SA role is revoked, its former holder no longer manages endpoints it did not create",
        svc.suspend_endpoint(&sysadm, "ep-sa").await, Deny("Manage Endpoint"));
    r.check("5.3 once the SA role is revoked, its former holder still manages the endpoint created with Create Endpoint",
        svc.suspend_endpoint(&sysadm, "ep-sa2").await, Allow);

    // Manage granted on one endpoint to a user who did not create it.
    let dan = new_user(svc, "dan").await;
    let erin = new_user(svc, "erin").await;
    r.check("5.3 only SA grants Manage Endpoint: a Key Administrator is refused",
        svc.change_manage(&keyadm, "dan", MANAGE_EP, "ep-sa", false).await, Deny("System Administrators"));
    r.check("5.3 a System Administrator grants Manage Endpoint on any endpoint",
        svc.change_manage(&sysadm2, "dan", MANAGE_EP, "ep-sa", false).await, Allow);
    svc.change_manage(&sysadm2, "erin", MANAGE_EP, "ep-sa", false).await.expect("manage to erin");
    r.check("5.3 holders of Manage Endpoint cannot grant it",
        svc.change_manage(&dan, "carol", MANAGE_EP, "ep-sa", false).await, Deny("System Administrators"));
    r.check("5.3 Manage Endpoint granted on an endpoint: its holder suspends it",
        svc.suspend_endpoint(&dan, "ep-sa").await, Allow);
    r.check("5.3 Manage Endpoint covers only its endpoint",
        svc.resume_endpoint(&dan, "ep-carol2").await, Deny("Manage Endpoint"));
    r.check("5.3 Manage Endpoint: its holder issues a new enrollment token",
        svc.resume_endpoint(&dan, "ep-sa").await.and(svc.issue_enrollment_token(&dan, "ep-sa").await), Allow);
    svc.delete_user(&sysadm2, "dan").await.expect("delete dan");
    r.check("5.3 when a manager is deleted, other users holding Manage Endpoint still manage",
        svc.suspend_endpoint(&erin, "ep-sa").await, Allow);
    r.check("5.3 when a manager is deleted, System Administrators still manage",
        svc.resume_endpoint(&sysadm2, "ep-sa").await, Allow);
    r.check("5.3 a user without privileges cannot suspend an endpoint",
        svc.suspend_endpoint(&carol, "ep-sa").await, Deny("Manage Endpoint"));
    r.finish();
}

/// The level `who` holds on wallet `name`, as resolved from the store.
async fn level(svc: &KeyService, who: &Principal, wallet: &str) -> Option<AccessLevel> {
    let id = svc
        .store()
        .wallet_by_name(wallet)
        .await
        .expect("store")
        .expect("wallet")
        .id;
    svc.subject(who).await.expect("subject").wallet_level(&id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[rustfmt::skip]
async fn service_endpoint_groups_and_the_union_of_grants() {
    let n = node().await;
    let svc = n.svc();
    let mut r = Rules::new("SPEC 5.3/5.4 endpoint groups and wallet grants (service)");
    let ceg = Privileges::CREATE_ENDPOINT_GROUP;
    let (eg, ug) = (NameKind::EndpointGroup, NameKind::UserGroup);
    let (by_user, by_ug, by_eg) = (GranteeKind::User, GranteeKind::UserGroup, GranteeKind::EndpointGroup);
    let sysadm = new_admin(svc, "sysadm", Roles::SYSTEM_ADMIN).await;
    let keyadm = new_admin(svc, "keyadm", Roles::KEY_ADMIN).await;
    let gina = new_user(svc, "gina").await;
    let _hank = new_user(svc, "hank").await;

    r.check("5.3 only KA grants Create Endpoint Group: a System Administrator is refused",
        svc.change_privilege(&sysadm, "gina", ceg, false).await, Deny("Key Administrators"));
    r.check("5.3 only KA grants Create Endpoint Group: a Key Administrator grants it",
        svc.change_privilege(&keyadm, "gina", ceg, false).await, Allow);
    r.check("5.3 holders of Create Endpoint Group cannot grant it",
        svc.change_privilege(&gina, "hank", ceg, false).await, Deny("Key Administrators"));
    r.check("5.3 a user with Create Endpoint Group creates a group",
        svc.create_group(&gina, eg, "eg-tape", None).await, Allow);
    let g = svc.get_group(&setup(), eg, "EG-Tape").await.expect("group");
    r.fact("5.3 creator gets manage: the group's creator holds Manage Endpoint Group on it", g.managers == ["gina"], &g.managers);
    r.check("5.3 a System Administrator does not create endpoint groups by role",
        svc.create_group(&sysadm, eg, "eg-sa", None).await, Deny("Create Endpoint Group"));

    // A wallet with a key in it, both the Key Administrator's.
    svc.create_wallet(&keyadm, "w_tape", None).await.expect("wallet");
    let k = svc.create_key(&keyadm, aes("tape-key")).await.expect("key").id;
    svc.add_to_wallet(&keyadm, "w_tape", &k).await.expect("add key");

    r.check("5.4 without a grant the group manager cannot read the key",
        svc.get(&gina, &k).await, Deny("wallet"));
    r.check("5.4 a Key Administrator grants the endpoint group Read Only (group names are case-insensitive)",
        svc.grant_wallet(&keyadm, "w_tape", by_eg, "EG-TAPE", AccessLevel::ReadOnly).await, Allow);
    r.check("5.3 a Manage Endpoint Group holder inherits the group's wallet access: gets the key",
        svc.get_material(&gina, &k).await, Allow);
    r.check("5.3 the inherited access is the group's level: Read Only cannot modify",
        svc.activate(&gina, &k).await, Deny("Read and Modify"));

    // The union: the highest level over every path.
    svc.grant_wallet(&keyadm, "w_tape", by_user, "gina", AccessLevel::ReadModify).await.expect("direct RM");
    r.fact("5.4 union: direct Read and Modify plus group Read Only is Read and Modify",
        level(svc, &gina, "w_tape").await == Some(AccessLevel::ReadModify), level(svc, &gina, "w_tape").await);
    r.check("5.4 union: with Read and Modify through any path the user modifies",
        svc.activate(&gina, &k).await, Allow);
    svc.create_group(&sysadm, ug, "ug-ops", None).await.expect("user group");
    svc.add_member(&sysadm, ug, "UG-Ops", "GINA").await.expect("member");
    r.check("5.4 a Key Administrator grants a user group Manage Wallet",
        svc.grant_wallet(&keyadm, "w_tape", by_ug, "ug-ops", AccessLevel::ManageWallet).await, Allow);
    r.fact("5.4 union: a user group's Manage Wallet lifts its member to Manage Wallet",
        level(svc, &gina, "w_tape").await == Some(AccessLevel::ManageWallet), level(svc, &gina, "w_tape").await);
    r.check("5.4 Manage Wallet through a user group grants access to others",
        svc.grant_wallet(&gina, "w_tape", by_user, "hank", AccessLevel::ReadOnly).await, Allow);
    svc.remove_member(&sysadm, ug, "ug-ops", "gina").await.expect("remove member");
    r.check("5.4 leaving the user group removes that path: no more granting",
        svc.grant_wallet(&gina, "w_tape", by_user, "hank", AccessLevel::ReadOnly).await, Deny("Manage Wallet"));
    svc.revoke_wallet(&keyadm, "w_tape", by_user, "gina").await.expect("revoke direct");
    r.fact("5.4 revoking the direct grant leaves the group path (Read Only)",
        level(svc, &gina, "w_tape").await == Some(AccessLevel::ReadOnly), level(svc, &gina, "w_tape").await);

    // Revoking a wallet grant from an endpoint group removes only that path.
    svc.create_group(&keyadm, eg, "eg-disk", None).await.expect("eg-disk");
    r.check("5.3 only KA grants Manage Endpoint Group: a System Administrator is refused",
        svc.change_manage(&sysadm, "gina", MANAGE_EG, "eg-disk", false).await, Deny("Key Administrators"));
    r.check("5.3 a Key Administrator grants Manage Endpoint Group on any group",
        svc.change_manage(&keyadm, "gina", MANAGE_EG, "eg-disk", false).await, Allow);
    r.check("5.3 holders of Manage Endpoint Group cannot grant it",
        svc.change_manage(&gina, "hank", MANAGE_EG, "eg-disk", false).await, Deny("Key Administrators"));
    svc.grant_wallet(&keyadm, "w_tape", by_eg, "eg-disk", AccessLevel::ReadOnly).await.expect("eg-disk RO");
    svc.grant_wallet(&keyadm, "w_tape", by_user, "gina", AccessLevel::ReadOnly).await.expect("direct RO");
    r.check("5.4 a Key Administrator revokes a wallet grant from an endpoint group",
        svc.revoke_wallet(&keyadm, "w_tape", by_eg, "eg-tape").await, Allow);
    r.check("5.4 revoking the group's grant leaves the manager's direct grant",
        svc.get(&gina, &k).await, Allow);
    svc.revoke_wallet(&keyadm, "w_tape", by_user, "gina").await.expect("revoke direct");
    r.check("5.4 revoking the group's grant leaves the grants of other groups the user manages",
        svc.get(&gina, &k).await, Allow);
    svc.revoke_wallet(&keyadm, "w_tape", by_eg, "eg-disk").await.expect("revoke eg-disk");
    r.check("5.4 with every path revoked the user has no access",
        svc.get(&gina, &k).await, Deny("wallet"));

    // Revoking Manage Endpoint Group ends the inheritance.
    svc.grant_wallet(&keyadm, "w_tape", by_eg, "eg-tape", AccessLevel::ReadOnly).await.expect("eg-tape RO");
    r.check("5.3 the group manager inherits the group's access again",
        svc.get(&gina, &k).await, Allow);
    r.check("5.3 no self-revoke: a user cannot revoke their own Manage Endpoint Group",
        svc.change_manage(&gina, "gina", MANAGE_EG, "eg-tape", true).await, Deny("their own"));
    r.check("5.3 no self-revoke: a user cannot revoke their own Create Endpoint Group",
        svc.change_privilege(&gina, "gina", ceg, true).await, Deny("their own"));
    r.check("5.3 only KA revokes Manage Endpoint Group: a Key Administrator does",
        svc.change_manage(&keyadm, "gina", MANAGE_EG, "eg-tape", true).await, Allow);
    r.check("5.3 a Manage Endpoint Group holder loses the group's wallet access when the privilege is revoked",
        svc.get(&gina, &k).await, Deny("wallet"));
    r.check("5.3 revoking Manage Endpoint Group leaves Create Endpoint Group",
        svc.create_group(&gina, eg, "eg-new", None).await, Allow);

    // Members and management of a group.
    let ep1 = new_endpoint(svc, "ep-t1", None).await;
    let ep2 = new_endpoint(svc, "ep-t2", None).await;
    r.check("5.3 once its manager's privilege is revoked, the user cannot add endpoints to the group",
        svc.add_member(&gina, eg, "eg-tape", "ep-t1").await, Deny("Manage Endpoint Group"));
    r.check("5.3 a System Administrator does not add endpoints to groups by role",
        svc.add_member(&sysadm, eg, "eg-tape", "ep-t1").await, Deny("Manage Endpoint Group"));
    r.check("5.3 fall-back: with no manager left, a Key Administrator manages the group",
        svc.add_member(&keyadm, eg, "eg-tape", "EP-T1").await, Allow);
    r.check("5.3 a group manager adds endpoints to the group it manages",
        svc.add_member(&gina, eg, "eg-new", "ep-t2").await, Allow);
    r.check("5.4 an endpoint group's grant reaches its member endpoints",
        svc.get_material(&ep1, &k).await, Allow);
    r.check("5.4 an endpoint outside the group has no access",
        svc.get_material(&ep2, &k).await, Deny("wallet"));
    svc.remove_member(&keyadm, eg, "eg-tape", "ep-t1").await.expect("remove ep-t1");
    r.check("5.4 an endpoint removed from the group loses the group's access",
        svc.get_material(&ep1, &k).await, Deny("wallet"));

    // A manager with Manage Wallet inherited from the group revokes the group's grant.
    svc.grant_wallet(&keyadm, "w_tape", by_eg, "eg-new", AccessLevel::ManageWallet).await.expect("eg-new MW");
    r.check("5.4 an endpoint group's manager with inherited Manage Wallet grants at or below it",
        svc.grant_wallet(&gina, "w_tape", by_user, "hank", AccessLevel::ReadModify).await, Allow);
    r.check("5.4 an endpoint group's manager with Manage Wallet revokes the group's own grant, though it was inherited from it",
        svc.revoke_wallet(&gina, "w_tape", by_eg, "eg-new").await, Allow);
    r.check("5.4 ... and with it the inherited access is gone",
        svc.get(&gina, &k).await, Deny("wallet"));
    r.check("5.4 ... and so is the member endpoint's",
        svc.get(&ep2, &k).await, Deny("wallet"));

    // Deleting the group's creator does not affect the group.
    svc.delete_user(&sysadm, "gina").await.expect("delete gina");
    let g = svc.get_group(&setup(), eg, "eg-new").await;
    r.fact("5.3 deleting an endpoint group's creator leaves the group", g.as_ref().is_ok_and(|g| g.members == ["ep-t2"]), g.map(|g| g.members));
    r.check("5.3 ... and a Key Administrator manages it",
        svc.remove_member(&keyadm, eg, "eg-new", "ep-t2").await, Allow);
    r.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[rustfmt::skip]
async fn service_wallet_levels_and_roles_on_objects() {
    let n = node().await;
    let svc = n.svc();
    let mut r = Rules::new("SPEC 5.2/5.4 wallet levels and roles on objects (service)");
    let by_user = GranteeKind::User;
    let keyadm = new_admin(svc, "keyadm", Roles::KEY_ADMIN).await;
    let sysadm = new_admin(svc, "sysadm", Roles::SYSTEM_ADMIN).await;
    let audit = new_admin(svc, "auditor", Roles::AUDIT_MANAGER).await;
    let olga = new_user(svc, "olga").await;
    let ro = new_user(svc, "rita").await;
    let rm = new_user(svc, "ravi").await;
    let mw = new_user(svc, "mona").await;

    // Olga owns a key and a wallet holding it.
    let k = svc.create_key(&olga, aes("olga-key")).await.expect("key").id;
    let owned = svc.store().get_object(&k).await.expect("store").expect("object").owner;
    r.fact("5.4 objects are owned by their creator", owned.as_deref() == Some(format!("user:{}", user_id(&olga)).as_str()), &owned);
    r.check("5.4 anyone creates a wallet", svc.create_wallet(&olga, "w_olga", None).await, Allow);
    r.fact("5.4 the wallet's creator manages it",
        level(svc, &olga, "w_olga").await == Some(AccessLevel::ManageWallet), level(svc, &olga, "w_olga").await);
    r.check("5.4 Manage Wallet adds objects (with Read and Modify on them: the owner's)",
        svc.add_to_wallet(&olga, "w_olga", &k).await, Allow);
    r.check("5.4 owners have full access: use", svc.get_material(&olga, &k).await, Allow);
    r.check("5.4 owners have full access: modify", svc.activate(&olga, &k).await, Allow);
    for (who, l) in [("rita", AccessLevel::ReadOnly), ("ravi", AccessLevel::ReadModify), ("mona", AccessLevel::ManageWallet)] {
        svc.grant_wallet(&olga, "w_olga", by_user, who, l).await.expect("grant");
    }
    r.check("5.4 Read Only reads metadata", svc.get(&ro, &k).await, Allow);
    r.check("5.4 Read Only reads the material", svc.get_material(&ro, &k).await, Allow);
    r.check("5.4 Read Only cannot modify attributes",
        svc.edit_attributes(&ro, &k, |_, _| Ok(())).await, Deny("Read and Modify"));
    r.check("5.4 Read Only cannot revoke", svc.revoke(&ro, &k, CESSATION, None).await, Deny("Read and Modify"));
    r.check("5.4 Read Only cannot destroy", svc.destroy(&ro, &k).await, Deny("Read and Modify"));
    r.check("5.4 Read Only cannot grant", svc.grant_wallet(&ro, "w_olga", by_user, "sysadm", AccessLevel::ReadOnly).await, Deny("Manage Wallet"));
    r.check("5.4 Read and Modify modifies attributes", svc.edit_attributes(&rm, &k, |_, _| Ok(())).await, Allow);
    r.check("5.4 Read and Modify cannot grant", svc.grant_wallet(&rm, "w_olga", by_user, "sysadm", AccessLevel::ReadOnly).await, Deny("Manage Wallet"));
    let k2 = svc.create_key(&rm, aes("ravi-key")).await.expect("key").id;
    r.check("5.4 Read and Modify cannot add objects", svc.add_to_wallet(&rm, "w_olga", &k2).await, Deny("Manage Wallet"));
    r.check("5.4 Read and Modify cannot remove objects", svc.remove_from_wallet(&rm, "w_olga", &k).await, Deny("Manage Wallet"));
    r.check("5.4 Read and Modify cannot delete the wallet", svc.delete_wallet(&rm, "w_olga").await, Deny("Manage Wallet"));
    r.check("5.4 Manage Wallet grants at its own level", svc.grant_wallet(&mw, "w_olga", by_user, "sysadm", AccessLevel::ManageWallet).await, Allow);
    r.check("5.4 Manage Wallet revokes", svc.revoke_wallet(&mw, "w_olga", by_user, "sysadm").await, Allow);
    let k3 = svc.create_key(&keyadm, aes("ka-key")).await.expect("key").id;
    svc.create_wallet(&keyadm, "w_ka", None).await.expect("w_ka");
    svc.add_to_wallet(&keyadm, "w_ka", &k3).await.expect("add");
    svc.grant_wallet(&keyadm, "w_ka", by_user, "mona", AccessLevel::ReadOnly).await.expect("grant");
    r.check("5.4 adding an object needs Read and Modify on it: Manage Wallet with Read Only on the object is refused",
        svc.add_to_wallet(&mw, "w_olga", &k3).await, Deny("Read and Modify"));
    r.check("5.4 a wallet one cannot see is refused like one that does not exist",
        svc.add_to_wallet(&mw, "w_nobody", &k3).await, Deny("no access"));

    // Roles on objects.
    r.check("5.2 KA has full access to all objects: material", svc.get_material(&keyadm, &k).await, Allow);
    r.check("5.2 KA has full access to all objects: lifecycle", svc.revoke(&keyadm, &k2, CESSATION, None).await.or(svc.activate(&keyadm, &k2).await), Allow);
    r.check("5.2 KA manages every wallet", svc.remove_from_wallet(&keyadm, "w_olga", &k).await.and(svc.add_to_wallet(&keyadm, "w_olga", &k).await), Allow);
    r.check("5.2 AM reads every object's metadata", svc.get(&audit, &k).await, Allow);
    r.check("5.2 AM cannot use key material", svc.get_material(&audit, &k).await, Deny("key material"));
    r.check("5.2 AM cannot modify objects", svc.destroy(&audit, &k2).await, Deny(""));
    r.check("5.2 SA has no object access by role: metadata", svc.get(&sysadm, &k).await, Deny("wallet"));
    r.check("5.2 SA has no object access by role: material", svc.get_material(&sysadm, &k).await, Deny("wallet"));
    r.check("5.2 SA has no object access by role: lifecycle", svc.revoke(&sysadm, &k, CESSATION, None).await, Deny(""));
    let seen = svc.list(&sysadm, Default::default()).await.map(|v| v.len());
    r.fact("5.2 SA has no object access by role: lists nothing", matches!(seen, Ok(0)), &seen);
    let seen = svc.list(&audit, Default::default()).await.map(|v| v.len());
    r.fact("5.2 AM lists every object", matches!(seen, Ok(3)), &seen);
    let seen = svc.list(&ro, Default::default()).await.map(|v| v.iter().map(|m| m.id.clone()).collect::<Vec<_>>());
    r.fact("5.4 a Read Only user lists the wallet's objects only", seen.as_ref().is_ok_and(|v| v == std::slice::from_ref(&k)), &seen);
    r.check("5.4 Manage Wallet deletes the wallet", svc.delete_wallet(&mw, "w_olga").await, Allow);
    r.check("5.4 with the wallet deleted its grants are gone", svc.get(&ro, &k).await, Deny("wallet"));
    r.finish();
}

fn user_id(p: &Principal) -> &str {
    match &p.kind {
        PrincipalKind::User(id) | PrincipalKind::Endpoint(id) => id,
        PrincipalKind::System => "system",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[rustfmt::skip]
async fn service_endpoint_objects_and_default_wallets() {
    let n = node().await;
    let svc = n.svc();
    let mut r = Rules::new("SPEC 5.3/5.4 endpoints' objects and default wallets (service)");
    let by_user = GranteeKind::User;
    let sysadm = new_admin(svc, "sysadm", Roles::SYSTEM_ADMIN).await;
    let keyadm = new_admin(svc, "keyadm", Roles::KEY_ADMIN).await;
    let carol = new_user(svc, "carol").await;
    svc.change_privilege(&sysadm, "carol", Privileges::CREATE_ENDPOINT, false).await.expect("CE");
    let (info, _) = svc.register_endpoint(&carol, "ep-a", "kmip", None, None).await.expect("ep-a");
    let ep_a = Principal { name: info.name, source: None, kind: PrincipalKind::Endpoint(info.id.clone()) };
    svc.create_wallet(&keyadm, "w_up", None).await.expect("w_up");
    let w_up = svc.store().wallet_by_name("w_up").await.expect("store").expect("w_up").id;

    r.check("5.3 default wallet: Manage Endpoint without access to the wallet is refused",
        svc.set_default_wallet(&carol, "ep-a", Some("w_up")).await, Deny("Manage Wallet"));
    svc.grant_wallet(&keyadm, "w_up", by_user, "carol", AccessLevel::ReadModify).await.expect("RM");
    r.check("5.3 default wallet: Manage Endpoint with Read and Modify (not full access) is refused",
        svc.set_default_wallet(&carol, "ep-a", Some("w_up")).await, Deny("Manage Wallet"));
    svc.grant_wallet(&keyadm, "w_up", by_user, "carol", AccessLevel::ManageWallet).await.expect("MW");
    r.check("5.3 default wallet: a System Administrator without access to the wallet is refused",
        svc.set_default_wallet(&sysadm, "ep-a", Some("w_up")).await, Deny("Manage Wallet"));
    r.check("5.3 default wallet: a Key Administrator without Manage Endpoint is refused",
        svc.set_default_wallet(&keyadm, "ep-a", Some("w_up")).await, Deny("Manage Endpoint"));
    r.check("5.3 default wallet: Manage Endpoint plus Manage Wallet sets it",
        svc.set_default_wallet(&carol, "ep-a", Some("w_up")).await, Allow);
    svc.revoke_wallet(&keyadm, "w_up", by_user, "carol").await.expect("revoke");
    let ep = svc.get_endpoint(&setup(), "ep-a").await.expect("ep-a");
    r.fact("5.3 revoking the wallet access afterwards does not change the endpoint's default wallet",
        ep.default_wallet.as_deref() == Some(w_up.as_str()), &ep.default_wallet);

    // The endpoint's objects.
    let k = r.check("5.4 an endpoint creates keys", svc.create_key(&ep_a, aes("ep-key")).await, Allow)
        .map(|m| m.id)
        .unwrap_or_default();
    let obj = svc.store().get_object(&k).await.expect("store");
    r.fact("5.4 objects created by an endpoint belong to the endpoint",
        obj.as_ref().and_then(|o| o.owner.clone()) == Some(format!("endpoint:{}", info.id)), obj.map(|o| o.owner));
    let in_wallets = svc.store().wallets_of_object(&k).await.expect("store");
    r.fact("5.4 an endpoint's new objects land in its default wallet", in_wallets == [w_up.clone()], &in_wallets);
    r.check("5.4 an endpoint gets its own key", svc.get_material(&ep_a, &k).await, Allow);
    r.check("5.4 an endpoint modifies its own key", svc.activate(&ep_a, &k).await, Allow);
    r.check("5.3 the endpoint's creator and manager gets no implicit access to its objects",
        svc.get(&carol, &k).await, Deny("wallet"));
    r.check("5.3 a System Administrator (who manages every endpoint) gets no access to its objects",
        svc.get(&sysadm, &k).await, Deny("wallet"));
    r.check("5.2 a Key Administrator reaches the endpoint's objects", svc.get_material(&keyadm, &k).await, Allow);
    let ep_b = new_endpoint(svc, "ep-b", Some("w_up")).await;
    let ep_c = new_endpoint(svc, "ep-c", None).await;
    r.check("5.4 endpoints sharing a default wallet share its contents",
        svc.get_material(&ep_b, &k).await, Allow);
    r.check("5.4 an endpoint without access to the wallet cannot get the key",
        svc.get_material(&ep_c, &k).await, Deny("wallet"));
    r.check("5.4 an endpoint without access to the wallet cannot read its attributes",
        svc.get(&ep_c, &k).await, Deny("wallet"));
    r.check("5.4 an endpoint without access cannot destroy the key",
        svc.destroy(&ep_c, &k).await, Deny(""));
    let seen = svc.list(&ep_c, Default::default()).await.map(|v| v.len());
    r.fact("5.4 an endpoint without access does not find the key", matches!(seen, Ok(0)), &seen);
    let k_c = svc.create_key(&ep_c, aes("c-key")).await.expect("c key").id;
    r.fact("5.4 an endpoint without a default wallet keeps its objects in no wallet",
        svc.store().wallets_of_object(&k_c).await.expect("store").is_empty(), &k_c);
    r.check("5.4 another endpoint cannot get it", svc.get_material(&ep_a, &k_c).await, Deny("neither owns"));

    // Endpoints administer nothing.
    r.check("5.4 endpoints never administer: no wallets", svc.create_wallet(&ep_a, "w_ep", None).await, Deny("endpoints may not"));
    r.check("5.4 endpoints never administer: no grants", svc.grant_wallet(&ep_a, "w_up", by_user, "carol", AccessLevel::ReadOnly).await, Deny(""));
    r.check("5.4 endpoints never administer: no other endpoint", svc.suspend_endpoint(&ep_a, "ep-b").await, Deny("endpoints may not"));
    r.check("5.4 endpoints never administer: not themselves", svc.suspend_endpoint(&ep_a, "ep-a").await, Deny("endpoints may not"));
    r.check("5.4 endpoints never administer: no users", svc.create_user(&ep_a, "sneaky", None).await, Deny("endpoints may not"));
    r.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[rustfmt::skip]
async fn service_roles_forward_grant_and_separation() {
    let n = node().await;
    let svc = n.svc();
    let mut r = Rules::new("SPEC 5.2 roles (service)");
    let (sa, ka, am) = (Roles::SYSTEM_ADMIN, Roles::KEY_ADMIN, Roles::AUDIT_MANAGER);
    let ka1 = new_admin(svc, "ka1", ka).await;
    let ka2 = new_user(svc, "ka2").await;
    svc.grant_role(&setup(), "ka2", ka, true).await.expect("KA with forward grant");
    let sa1 = new_admin(svc, "sa1", sa).await;
    let am1 = new_admin(svc, "am1", am).await;
    let u1 = new_user(svc, "u1").await;
    let _u2 = new_user(svc, "u2").await;

    r.check("5.2 forward grant: a Key Administrator without forward grant cannot grant the role",
        svc.grant_role(&ka1, "u1", ka, false).await, Deny("forward grant"));
    r.check("5.2 forward grant: a Key Administrator with forward grant grants the role",
        svc.grant_role(&ka2, "u1", ka, false).await, Allow);
    r.check("5.2 forward grant: a Key Administrator without forward grant cannot revoke the role",
        svc.revoke_role(&ka1, "u1", ka).await, Deny("forward grant"));
    r.check("5.2 forward grant: a Key Administrator with forward grant revokes the role",
        svc.revoke_role(&ka2, "u1", ka).await, Allow);
    r.check("5.2 forward grant: its holder may pass the role on with forward grant",
        svc.grant_role(&ka2, "u1", ka, true).await, Allow);
    r.check("5.2 forward grant: ... and that user grants it onward",
        svc.grant_role(&u1, "u2", ka, false).await, Allow);
    r.check("5.2 forward grant: forward grant on Key Administrator does not grant System Administrator",
        svc.grant_role(&ka2, "u2", sa, false).await, Deny("forward grant"));
    r.check("5.2 forward grant: a System Administrator without forward grant cannot grant the role",
        svc.grant_role(&sa1, "u2", sa, false).await, Deny("forward grant"));
    r.check("5.2 forward grant: an Audit Manager without forward grant cannot grant the role",
        svc.grant_role(&am1, "u2", am, false).await, Deny("forward grant"));
    let u2 = svc.get_user(&setup(), "u2").await.expect("u2");
    r.fact("5.2 a role granted without forward grant is held without it", u2.roles == ["key_admin"] && u2.forward_roles.is_empty(), (&u2.roles, &u2.forward_roles));

    // Separation of roles.
    svc.grant_role(&setup(), "am1", sa, false).await.expect("second role");
    let on = svc.set_setting(&setup(), "separation_of_roles", serde_json::json!(true)).await;
    r.check("5.2 separation cannot be switched on while a user holds two roles (the message names them)",
        on, Invalid("am1"));
    r.check("5.2 only System Administrators change settings",
        svc.set_setting(&ka2, "separation_of_roles", serde_json::json!(false)).await, Deny("System Administrator"));
    // The initial administrator holds all three roles; so does nobody else after this.
    svc.revoke_role(&setup(), "am1", sa).await.expect("revoke");
    svc.revoke_role(&setup(), "admin", ka).await.expect("revoke");
    svc.revoke_role(&setup(), "admin", am).await.expect("revoke");
    r.check("5.2 separation is switched on once nobody holds two roles",
        svc.set_setting(&setup(), "separation_of_roles", serde_json::json!(true)).await, Allow);
    r.check("5.2 separation: a user holding a role cannot be granted a second",
        svc.grant_role(&ka2, "sa1", ka, false).await, Deny("separation of roles"));
    r.check("5.2 separation: not even by the node itself",
        svc.grant_role(&setup(), "sa1", ka, false).await, Deny("separation of roles"));
    r.check("5.2 separation: a user without roles can be granted one",
        svc.grant_role(&ka2, "ka1", ka, true).await, Allow);
    r.check("5.2 separation: users holding a role can still be granted endpoint privileges",
        svc.change_privilege(&sa1, "ka1", Privileges::CREATE_ENDPOINT, false).await, Allow);
    r.check("5.2 separation: ... and endpoint group privileges",
        svc.change_privilege(&ka2, "sa1", Privileges::CREATE_ENDPOINT_GROUP, false).await, Allow);
    let s = svc.settings().await.expect("settings");
    r.fact("5.2 the setting reads back on", s.separation_of_roles, &s);
    r.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[rustfmt::skip]
async fn service_deleting_a_user_removes_their_grants() {
    let n = node().await;
    let svc = n.svc();
    let mut r = Rules::new("SPEC 5.3/5.4 deleting users (service)");
    let sysadm = new_admin(svc, "sysadm", Roles::SYSTEM_ADMIN).await;
    let keyadm = new_admin(svc, "keyadm", Roles::KEY_ADMIN).await;
    let dave = new_user(svc, "dave").await;
    let dave_id = user_id(&dave).to_owned();
    svc.create_wallet(&keyadm, "w1", None).await.expect("w1");
    let k = svc.create_key(&keyadm, aes("k")).await.expect("key").id;
    svc.add_to_wallet(&keyadm, "w1", &k).await.expect("add");
    svc.grant_wallet(&keyadm, "w1", GranteeKind::User, "dave", AccessLevel::ReadModify).await.expect("grant");
    svc.create_group(&sysadm, NameKind::UserGroup, "ug", None).await.expect("ug");
    svc.add_member(&sysadm, NameKind::UserGroup, "ug", "dave").await.expect("member");
    svc.create_group(&keyadm, NameKind::EndpointGroup, "eg", None).await.expect("eg");
    svc.change_manage(&keyadm, "dave", MANAGE_EG, "eg", false).await.expect("MEG");
    new_endpoint(svc, "ep", None).await;
    svc.change_manage(&sysadm, "dave", MANAGE_EP, "ep", false).await.expect("ME");
    r.check("before deletion the user reaches the key", svc.get(&dave, &k).await, Allow);

    r.check("5.2 only System Administrators delete users", svc.delete_user(&keyadm, "dave").await, Deny("System Administrator"));
    r.check("5.2 a System Administrator deletes a user", svc.delete_user(&sysadm, "DAVE").await, Allow);
    let st = svc.store();
    let wallets = st.user_wallet_access(&dave_id).await.expect("store");
    r.fact("deleting a user removes their wallet grants", wallets.is_empty(), &wallets);
    let manage = st.manage_grants_of(&dave_id).await.expect("store");
    r.fact("deleting a user removes their Manage Endpoint and Manage Endpoint Group grants", manage.is_empty(), &manage);
    let groups = st.groups_of(&dave_id).await.expect("store");
    r.fact("deleting a user removes their group memberships", groups.is_empty(), &groups);
    let g = svc.get_group(&setup(), NameKind::EndpointGroup, "eg").await.expect("eg");
    r.fact("deleting a user leaves no manager behind on the group", g.managers.is_empty(), &g.managers);
    r.check("a deleted user's requests are refused", svc.get(&dave, &k).await, Invalid("authentication required"));
    let dave2 = new_user(svc, "dave").await;
    r.fact("the name is free again, for a new account", user_id(&dave2) != dave_id, user_id(&dave2));
    r.check("a new user of the same name inherits nothing", svc.get(&dave2, &k).await, Deny("wallet"));
    r.check("5.3 fall-back: a deleted manager's endpoint group is managed by Key Administrators",
        svc.delete_group(&keyadm, NameKind::EndpointGroup, "eg").await, Allow);
    r.check("a System Administrator cannot delete their own account",
        svc.delete_user(&sysadm, "sysadm").await, Invalid("your own account"));
    r.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[rustfmt::skip]
async fn service_names_everywhere_a_name_enters() {
    let n = node().await;
    let svc = n.svc();
    let mut r = Rules::new("SPEC 5.5 names (service)");
    let (ug, eg) = (NameKind::UserGroup, NameKind::EndpointGroup);
    let sys = setup();
    let pw = SecretString::from("psmith-password-0123");

    // Case.
    r.check("5.5 a user named psmith is created", svc.create_user(&sys, "psmith", Some(pw.clone())).await, Allow);
    r.check("5.5 psmith and PSMITH are one user: the second is refused",
        svc.create_user(&sys, "PSMITH", None).await, Invalid("exists already"));
    let u = svc.get_user(&sys, "PSmith").await.map(|u| u.name);
    r.fact("5.5 psmith and PSMITH are one user: looked up in any case", matches!(&u, Ok(n) if n == "psmith"), &u);
    let s = svc.login("PSMITH", &pw, None).await.map(|s| s.user);
    r.fact("5.5 psmith and PSMITH are one user: logs in under either", matches!(&s, Ok(n) if n == "psmith"), s.map_err(|e| e.to_string()));
    r.check("5.5 wallet_hr is created", svc.create_wallet(&sys, "wallet_hr", None).await, Allow);
    r.check("5.5 wallet_hr and WALLET_HR are two wallets: the second is created too",
        svc.create_wallet(&sys, "WALLET_HR", None).await, Allow);
    r.check("5.5 wallet names are case-sensitive: wallet_hr exists once",
        svc.create_wallet(&sys, "wallet_hr", None).await, Invalid("exists already"));
    r.check("5.5 wallet names are case-sensitive: Wallet_HR is neither of them",
        svc.get_wallet(&sys, "Wallet_HR").await, Invalid("case-sensitive"));
    let a = svc.store().wallet_by_name("wallet_hr").await.expect("store").map(|w| w.id);
    let b = svc.store().wallet_by_name("WALLET_HR").await.expect("store").map(|w| w.id);
    r.fact("5.5 wallet_hr and WALLET_HR are two wallets with their own IDs", a.is_some() && b.is_some() && a != b, (&a, &b));
    let psmith = svc.get_user(&sys, "psmith").await.expect("psmith");
    let psmith = Principal::user(psmith.name, psmith.id, None);
    svc.grant_wallet(&sys, "wallet_hr", GranteeKind::User, "PSMITH", AccessLevel::ReadOnly).await.expect("grant");
    r.fact("5.5 a grant on wallet_hr (to PSMITH, i.e. psmith) gives nothing on WALLET_HR",
        level(svc, &psmith, "wallet_hr").await == Some(AccessLevel::ReadOnly) && level(svc, &psmith, "WALLET_HR").await.is_none(),
        (level(svc, &psmith, "wallet_hr").await, level(svc, &psmith, "WALLET_HR").await));
    r.check("5.5 user group names are case-insensitive", svc.create_group(&sys, ug, "Ops", None).await.and(svc.create_group(&sys, ug, "OPS", None).await), Invalid("exists already"));
    r.check("5.5 endpoint group names are case-insensitive", svc.create_group(&sys, eg, "Libs", None).await.and(svc.create_group(&sys, eg, "libs", None).await), Invalid("exists already"));
    r.check("5.5 endpoint names are case-insensitive",
        svc.register_endpoint(&sys, "Tape-Lib", "kmip", None, None).await.and(svc.register_endpoint(&sys, "TAPE-LIB", "kmip", None, None).await),
        Invalid("case-insensitive"));

    // Characters and length, for every kind, with the rule in the message.
    let long = |c: char, len: usize| std::iter::repeat_n(c, len).collect::<String>();
    r.check("5.5 user names: letters, digits and _", svc.create_user(&sys, "p_smith_2", None).await, Allow);
    r.check("5.5 user names: a `.` is refused, naming the rule", svc.create_user(&sys, "p.smith", None).await, Invalid(USER_NAME_RULE));
    r.check("5.5 user names: a `-` is refused, naming the rule", svc.create_user(&sys, "p-smith", None).await, Invalid(USER_NAME_RULE));
    r.check("5.5 user names: 120 bytes are accepted", svc.create_user(&sys, &long('u', 120), None).await, Allow);
    r.check("5.5 user names: a 121-byte name is refused, naming the rule", svc.create_user(&sys, &long('u', 121), None).await, Invalid(USER_NAME_RULE));
    r.check("5.5 user group names: letters, digits, _ . -", svc.create_group(&sys, ug, "ops.team_1-a", None).await, Allow);
    r.check("5.5 user group names: 120 bytes are accepted", svc.create_group(&sys, ug, &long('g', 120), None).await, Allow);
    r.check("5.5 user group names: a 121-byte name is refused, naming the rule", svc.create_group(&sys, ug, &long('g', 121), None).await, Invalid(OBJECT_NAME_RULE));
    r.check("5.5 user group names: a space is refused, naming the rule", svc.create_group(&sys, ug, "ops team", None).await, Invalid(OBJECT_NAME_RULE));
    r.check("5.5 endpoint group names: letters, digits, _ . -", svc.create_group(&sys, eg, "libs.site_1-a", None).await, Allow);
    r.check("5.5 endpoint group names: 120 bytes are accepted", svc.create_group(&sys, eg, &long('e', 120), None).await, Allow);
    r.check("5.5 endpoint group names: a 121-byte name is refused, naming the rule", svc.create_group(&sys, eg, &long('e', 121), None).await, Invalid(OBJECT_NAME_RULE));
    r.check("5.5 endpoint group names: a `/` is refused, naming the rule", svc.create_group(&sys, eg, "libs/a", None).await, Invalid(OBJECT_NAME_RULE));
    r.check("5.5 endpoint names: letters, digits, _ . -", svc.register_endpoint(&sys, "tape.lib_1-a", "kmip", None, None).await, Allow);
    r.check("5.5 endpoint names: 120 bytes are accepted", svc.register_endpoint(&sys, &long('p', 120), "kmip", None, None).await, Allow);
    r.check("5.5 endpoint names: a 121-byte name is refused, naming the rule", svc.register_endpoint(&sys, &long('p', 121), "kmip", None, None).await, Invalid(OBJECT_NAME_RULE));
    r.check("5.5 endpoint names: a space is refused, naming the rule", svc.register_endpoint(&sys, "tape lib", "kmip", None, None).await, Invalid(OBJECT_NAME_RULE));
    r.check("5.5 wallet names: letters, digits, _ . -", svc.create_wallet(&sys, "hr.keys_1-a", None).await, Allow);
    r.check("5.5 wallet names: 120 bytes are accepted", svc.create_wallet(&sys, &long('w', 120), None).await, Allow);
    r.check("5.5 wallet names: a 121-byte name is refused, naming the rule", svc.create_wallet(&sys, &long('w', 121), None).await, Invalid(OBJECT_NAME_RULE));
    r.check("5.5 wallet names: non-ASCII letters are refused, naming the rule", svc.create_wallet(&sys, "wället", None).await, Invalid(OBJECT_NAME_RULE));
    // Names are checked wherever they enter, not only at creation.
    r.check("5.5 names are checked on lookup too: a 121-byte grantee",
        svc.grant_wallet(&sys, "wallet_hr", GranteeKind::User, &long('u', 121), AccessLevel::ReadOnly).await, Invalid(USER_NAME_RULE));
    r.check("5.5 names are checked on lookup too: a 121-byte wallet",
        svc.get_wallet(&sys, &long('w', 121)).await, Invalid(OBJECT_NAME_RULE));
    r.check("5.5 names are checked on lookup too: a 121-byte endpoint group",
        svc.add_member(&sys, eg, &long('e', 121), "tape.lib_1-a").await, Invalid(OBJECT_NAME_RULE));
    r.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[rustfmt::skip]
async fn service_account_lockout() {
    let n = node().await;
    let svc = n.svc();
    let mut r = Rules::new("SPEC 5.1 lockout (service)");
    let sys = setup();
    let pw = SecretString::from("lucy-password-0123");
    let wrong = SecretString::from("not-lucys-password");
    svc.create_user(&sys, "lucy", Some(pw.clone())).await.expect("lucy");
    svc.set_setting(&sys, "lockout_secs", serde_json::json!(3)).await.expect("lockout_secs");
    let login = |p: &SecretString| {
        let p = p.clone();
        async move { svc.login("lucy", &p, Some(SOURCE.into())).await.map(|_| ()) }
    };

    // Two wrong, one right: the count starts again.
    for i in 1..=2 {
        r.check(if i == 1 { "5.1 a wrong password is refused" } else { "5.1 a second wrong password is refused" },
            login(&wrong).await, Invalid("wrong user name or password"));
    }
    r.check("5.1 two wrong passwords do not lock", login(&pw).await, Allow);
    for _ in 1..=2 {
        login(&wrong).await.expect_err("wrong");
    }
    r.check("5.1 a success resets the count: two more wrong passwords do not lock either", login(&pw).await, Allow);

    // Three in a row lock, and the right password does not open a locked account.
    for _ in 1..=3 {
        login(&wrong).await.expect_err("wrong");
    }
    r.check("5.1 three wrong passwords in a row lock the account: the right one is refused",
        login(&pw).await, Invalid("locked"));
    r.check("5.1 a locked account answers locked to wrong passwords too",
        login(&wrong).await, Invalid("locked"));
    let u = svc.get_user(&sys, "lucy").await.expect("lucy");
    r.fact("5.1 the account shows when its lock ends", u.locked_until.is_some(), u.locked_until);
    // The lock lasts `lockout_secs` (3) counted from the whole second it began: at least
    // 2 s remain one second after it began.
    tokio::time::sleep(Duration::from_secs(1)).await;
    r.check("5.1 a locked account stays locked even with the right password until the lock expires",
        login(&pw).await, Invalid("locked"));
    let until = u.locked_until.unwrap_or(0);
    while clavis::keys::now_secs() <= until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    r.check("5.1 once the lock expires the right password works", login(&pw).await, Allow);
    r.check("5.1 after the lock a wrong password counts from one again", login(&wrong).await, Invalid("wrong user name"));
    r.check("5.1 ... so the right one still works", login(&pw).await, Allow);

    // The refusal while locked is in the audit trail.
    let recs = svc
        .audit_records(&sys, AuditFilter { actor: Some("lucy".into()), action: Some("user.login".into()), limit: 1000, ..Default::default() })
        .await
        .expect("audit");
    let denied = recs.iter().filter(|a| a.outcome == "denied" && a.detail.as_deref() == Some("account locked")).count();
    let failed = recs.iter().filter(|a| a.outcome == "failed").count();
    r.fact("6.1 refusals of a locked account are audited", denied == 3, denied);
    r.fact("6.1 wrong passwords are audited", failed == 8, failed);
    r.fact("6.1 logins are audited with their source", recs.iter().all(|a| a.source.as_deref() == Some(SOURCE)), recs.len());
    r.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[rustfmt::skip]
async fn service_denials_are_audited() {
    let n = node().await;
    let svc = n.svc();
    let mut r = Rules::new("denials in the audit trail (service)");
    let keyadm = new_admin(svc, "keyadm", Roles::KEY_ADMIN).await;
    let auditor = new_admin(svc, "auditor", Roles::AUDIT_MANAGER).await;
    let eve = new_user(svc, "eve").await;
    let ep = new_endpoint(svc, "ep-eve", None).await;
    let k = svc.create_key(&keyadm, aes("k")).await.expect("key").id;

    r.check("5.2 a user without roles cannot create users", svc.create_user(&eve, "mallory", None).await, Deny("System Administrator"));
    r.check("5.4 a user without access cannot read a key", svc.get(&eve, &k).await, Deny("wallet"));
    r.check("5.4 an endpoint without access cannot get a key", svc.get_material(&ep, &k).await, Deny("wallet"));
    r.check("6.3 a user without the Audit Manager role cannot read the trail", svc.audit_records(&eve, AuditFilter { limit: 10, ..Default::default() }).await, Deny("Audit Manager"));
    let all = r
        .check("6.3 an Audit Manager reads the trail", svc.audit_records(&auditor, AuditFilter { limit: 1000, ..Default::default() }).await, Allow)
        .unwrap_or_default();
    let find = |actor: &str, action: &str, object: Option<&str>| {
        all.iter().find(|a| {
            a.actor == actor && a.action == action && a.outcome == "denied" && (object.is_none() || a.object.as_deref() == object)
        })
    };
    let rec = find("eve", "user.manage", None);
    r.fact("denials are audited: who, what, from where, and the rule",
        rec.is_some_and(|a| a.actor_kind == "user" && a.source.as_deref() == Some(SOURCE) && a.detail.as_deref().is_some_and(|d| d.contains("System Administrator"))),
        rec);
    let rec = find("eve", "object.read", Some(&k));
    r.fact("denials are audited: naming the object", rec.is_some(), rec);
    let rec = find("ep-eve", "object.use", Some(&k));
    r.fact("denials are audited: endpoints' too", rec.is_some_and(|a| a.actor_kind == "endpoint"), rec);
    let rec = find("eve", "audit.read", None);
    r.fact("denials are audited: a refused audit read too", rec.is_some(), rec);
    let successes = all.iter().filter(|a| a.actor == "eve" && a.outcome != "denied").count();
    r.fact("refused requests leave no success or failure records", successes == 0, successes);
    r.finish();
}

/// The kind of a service error, for comparing two refusals.
fn kind_of<T>(r: &Result<T, ServiceError>) -> String {
    match r {
        Ok(_) => "Ok".into(),
        Err(e) => format!("{e:?}")
            .split(['(', ' ', '{'])
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[rustfmt::skip]
async fn service_wallet_names_do_not_leak() {
    let n = node().await;
    let svc = n.svc();
    let mut r = Rules::new("wallets one cannot see (service)");
    let keyadm = new_admin(svc, "keyadm", Roles::KEY_ADMIN).await;
    let eve = new_user(svc, "eve").await;
    svc.create_wallet(&keyadm, "w_secret", None).await.expect("wallet");
    let k = svc.create_key(&eve, aes("eve-key")).await.expect("key").id;
    let by_user = GranteeKind::User;
    for (op, real, none) in [
        ("get", kind_of(&svc.get_wallet(&eve, "w_secret").await), kind_of(&svc.get_wallet(&eve, "w_none").await)),
        ("grant", kind_of(&svc.grant_wallet(&eve, "w_secret", by_user, "eve", AccessLevel::ReadOnly).await), kind_of(&svc.grant_wallet(&eve, "w_none", by_user, "eve", AccessLevel::ReadOnly).await)),
        ("revoke", kind_of(&svc.revoke_wallet(&eve, "w_secret", by_user, "keyadm").await), kind_of(&svc.revoke_wallet(&eve, "w_none", by_user, "keyadm").await)),
        ("add an object", kind_of(&svc.add_to_wallet(&eve, "w_secret", &k).await), kind_of(&svc.add_to_wallet(&eve, "w_none", &k).await)),
        ("delete", kind_of(&svc.delete_wallet(&eve, "w_secret").await), kind_of(&svc.delete_wallet(&eve, "w_none").await)),
    ] {
        let rule = format!("5.4 a wallet that does not exist answers like one the caller cannot see ({op})");
        r.fact(&rule, real == none && real == "Forbidden", (real, none));
    }
    r.finish();
}
