//! Staff accounts of the web page, managed through the local API with the
//! admin credential (`poshuk staff add|list|remove`): a name, a role, and a
//! password the node hashes with argon2 and never stores.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use poshuk_protocol::local::{StaffAccount, StaffAccountRequest, StaffRemoval};

use super::SharedState;
use super::audit::{Noted, noted};
use super::error::{ApiError, blocking, parse_json};
use crate::NodeError;
use crate::store::Role;

/// The shortest password a staff account may have.
pub(crate) const MIN_PASSWORD_CHARS: usize = 12;
/// The longest (argon2 takes any length; this bounds the work).
const MAX_PASSWORD_CHARS: usize = 256;

/// A staff name: 1 to 64 letters, digits and `.`, `_`, `-`, `@`.
fn check_name(name: &str) -> Result<(), ApiError> {
    let fine = !name.is_empty()
        && name.chars().count() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || ".-_@".contains(c));
    if fine {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "a staff name is 1 to 64 letters, digits and . _ - @",
        ))
    }
}

fn store(state: &SharedState) -> Result<&crate::store::Store, ApiError> {
    state.web.as_ref().map(|web| &web.store).ok_or_else(|| {
        ApiError::conflict(
            "web_disabled",
            "the web page is disabled in this node's config ([web] enabled = false)",
        )
    })
}

fn store_failed(error: crate::store::StoreError) -> ApiError {
    ApiError::from(NodeError::Index(error.to_string()))
}

/// `POST /local/v1/staff`: adds an account or changes its password and
/// role (its sessions end).
pub(crate) async fn put_staff(
    State(state): State<SharedState>,
    body: Bytes,
) -> Result<Noted<StaffAccount>, ApiError> {
    let request: StaffAccountRequest = parse_json(&body)?;
    check_name(&request.name)?;
    let role = Role::parse(&request.role)
        .ok_or_else(|| ApiError::bad_request("role must be `searcher` or `admin`"))?;
    let length = request.password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&length) {
        return Err(ApiError::bad_request(format!(
            "a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        )));
    }
    store(&state)?;
    let worker = state.clone();
    let name = request.name.clone();
    blocking(move || {
        let hash = super::web::hash_password(&request.password).map_err(NodeError::Index)?;
        let store = store(&worker).map_err(|error| NodeError::Index(error.message))?;
        store
            .put_staff(&request.name, &hash, role)
            .map_err(|error| NodeError::Index(error.to_string()))
    })
    .await?;
    Ok(noted(
        serde_json::json!({"staff_account": name, "role": role.name()}),
        StaffAccount {
            name,
            role: role.name().into(),
        },
    ))
}

/// `GET /local/v1/staff`.
pub(crate) async fn list_staff(
    State(state): State<SharedState>,
) -> Result<Json<Vec<StaffAccount>>, ApiError> {
    let accounts = store(&state)?.list_staff().map_err(store_failed)?;
    Ok(Json(
        accounts
            .into_iter()
            .map(|account| StaffAccount {
                name: account.name,
                role: account.role,
            })
            .collect(),
    ))
}

/// `POST /local/v1/staff/remove`: removes an account and ends its sessions.
pub(crate) async fn remove_staff(
    State(state): State<SharedState>,
    body: Bytes,
) -> Result<Noted<serde_json::Value>, ApiError> {
    let request: StaffRemoval = parse_json(&body)?;
    if !store(&state)?
        .remove_staff(&request.name)
        .map_err(store_failed)?
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no staff account has this name",
        ));
    }
    Ok(noted(
        serde_json::json!({"staff_removed": request.name}),
        serde_json::json!({"removed": true}),
    ))
}
