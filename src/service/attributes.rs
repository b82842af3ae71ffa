//! Editing an object's descriptive attributes (name, usage mask, custom and other KMIP
//! attributes). Lifecycle state and dates are not editable here: they change only
//! through activate, revoke and destroy.

use super::{check_name, KeyService, Principal, ServiceError};
use crate::keys::{Attributes, ObjectMeta};

impl KeyService {
    /// Applies `edit` to the object's name and attributes in one logged change.
    ///
    /// Whatever `edit` does to lifecycle dates or the revocation reason is discarded.
    pub async fn edit_attributes(
        &self,
        who: &Principal,
        id: &str,
        edit: impl Fn(&mut Option<String>, &mut Attributes) -> Result<(), ServiceError>,
    ) -> Result<ObjectMeta, ServiceError> {
        self.modify(who, "object.edit_attributes", id, |obj, _now| {
            let before = obj.meta.attributes.clone();
            edit(&mut obj.meta.name, &mut obj.meta.attributes)?;
            check_name(obj.meta.name.as_deref())?;
            let a = &mut obj.meta.attributes;
            a.activation_date = before.activation_date;
            a.deactivation_date = before.deactivation_date;
            a.destroy_date = before.destroy_date;
            a.compromise_date = before.compromise_date;
            a.revocation_reason = before.revocation_reason;
            a.revocation_message = before.revocation_message;
            Ok(())
        })
        .await
    }
}
