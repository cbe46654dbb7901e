//! [`Allowed`]: a [`Caller`] whose role the extractor checks, before axum reads the
//! request body.
//!
//! axum runs the `FromRequestParts` extractors of a handler in argument order and the
//! body extractor (`Json`, `Multipart`, `Bytes`) last. A handler that takes a plain
//! [`Caller`] and checks the role inside the function returns 400 for a malformed body even to
//! a caller without the role, which reveals the route's body shape to that caller. A
//! handler that takes `Allowed<R>` rejects such a caller with 401 or 403 whatever it sent.
//! Handlers that read a body or a query string take `Allowed<R>`; checks that depend on
//! the subject (the unit admin's own unit, the operator's own enrollment) stay in the
//! handler.

use std::marker::PhantomData;
use std::ops::Deref;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::{Caller, Role};
use crate::error::ApiError;
use crate::AppState;

/// A set of roles that may call a route.
pub trait RoleSet: Send + Sync + 'static {
    const ROLES: &'static [Role];
}

/// The caller of a route, extracted only when its role is in `R`. A request without a
/// session is rejected with 401 and a session of another role with 403.
pub struct Allowed<R: RoleSet> {
    caller: Caller,
    roles: PhantomData<R>,
}

impl<R: RoleSet> Deref for Allowed<R> {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.caller
    }
}

impl<R: RoleSet> FromRequestParts<AppState> for Allowed<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Allowed<R>, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(R::ROLES)?;
        Ok(Allowed { caller, roles: PhantomData })
    }
}

macro_rules! role_set {
    ($(#[$doc:meta])* $name:ident = [$($role:ident),+]) => {
        $(#[$doc])*
        pub struct $name;

        impl RoleSet for $name {
            const ROLES: &'static [Role] = &[$(Role::$role),+];
        }
    };
}

role_set!(
    /// Operators.
    Operators = [Operator]
);
role_set!(
    /// Association staff: administrators and reviewers.
    Staff = [AssociationAdmin, Reviewer]
);
role_set!(
    /// Association administrators.
    Admins = [AssociationAdmin]
);
role_set!(
    /// Unit administrators.
    UnitAdmins = [UnitAdmin]
);
role_set!(
    /// Unit administrators and association staff.
    UnitAdminsAndStaff = [UnitAdmin, AssociationAdmin, Reviewer]
);
role_set!(
    /// Unit administrators and association administrators.
    UnitAdminsAndAdmins = [UnitAdmin, AssociationAdmin]
);
role_set!(
    /// Every session role except training institutions' accounts.
    AllButInstitutions = [Operator, UnitAdmin, AssociationAdmin, Reviewer]
);
