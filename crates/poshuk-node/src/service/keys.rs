//! The local API's key handlers: installing a sealed epoch key, from a file
//! or from the coordinator's relay. Either starts the re-key.

use axum::body::Bytes;
use axum::extract::State;
use poshuk_core::Epoch;
use poshuk_protocol::{FetchKey, Installed};

use super::SharedState;
use super::audit::{Noted, noted};
use super::error::{ApiError, blocking, parse_optional_json};
use super::search::coordinator_error;

/// `POST /local/v1/keys/install`: a sealed key file as the body.
pub(crate) async fn install(
    State(state): State<SharedState>,
    body: Bytes,
) -> Result<Noted<Installed>, ApiError> {
    let epoch = install_sealed(&state, body.to_vec()).await?;
    Ok(noted(
        serde_json::json!({"epoch": epoch.0}),
        Installed { epoch: epoch.0 },
    ))
}

/// `POST /local/v1/keys/fetch`: fetch this partner's sealed key from the
/// coordinator's relay (by default the epoch after the newest this node
/// holds) and install it.
pub(crate) async fn fetch(
    State(state): State<SharedState>,
    body: Bytes,
) -> Result<Noted<Installed>, ApiError> {
    let request: FetchKey = parse_optional_json(&body)?;
    let Some(link) = state.coordinator.as_ref() else {
        return Err(ApiError::bad_request(
            "this node has no [coordinator] in its config: install the sealed file directly",
        ));
    };
    let epoch = request.epoch.unwrap_or_else(|| state.next_epoch().0);
    let sealed = link.sealed_key(epoch).await.map_err(coordinator_error)?;
    let epoch = install_sealed(&state, sealed).await?;
    Ok(noted(
        serde_json::json!({"epoch": epoch.0}),
        Installed { epoch: epoch.0 },
    ))
}

async fn install_sealed(state: &SharedState, sealed: Vec<u8>) -> Result<Epoch, ApiError> {
    let worker = state.clone();
    let epoch = blocking(move || worker.install_sealed(&sealed)).await?;
    state.start_rekey();
    Ok(epoch)
}
