//! Real-name checks (实名核验) through the deployment's provider, if one is configured:
//! the ID number against the name at registration, and exam snapshots against the ID
//! photo. See `domain::realname` for the interface and docs/verification.md.

use base64::Engine as _;
use domain::realname::{CheckResult, status_after};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::mask;
use crate::AppState;

/// Checks a newly registered operator's ID number and name, and stores the outcome in
/// `operators.real_name_status`. Returns the outcome, or `None` when there is no
/// provider or it could not be reached.
pub async fn check_registration(state: &AppState, operator_id: &str, id_number: &str, name: &str) -> Result<Option<&'static str>, ApiError> {
    let Some(provider) = &state.real_name else { return Ok(None) };
    let status = match provider.check_identity(id_number, name).await {
        Ok(result) => status_after(result),
        Err(error) => {
            tracing::warn!(operator = %operator_id, id_number = %mask::id_number(id_number), %error, "real-name check failed; the operator stays unchecked");
            return Ok(None);
        }
    };
    sqlx::query("UPDATE operators SET real_name_status = $1, updated_at = $2 WHERE id = $3")
        .bind(status)
        .bind(state.now_ms())
        .bind(operator_id)
        .execute(&state.engine.db.pool)
        .await?;
    tracing::info!(operator = %operator_id, status, "real-name check done");
    Ok(Some(status))
}

/// Returns one face check per snapshot that carries an image (a `data:image/jpeg;base64,`
/// URL in `image`): `passed` on a match, `failed` on a mismatch, `unverified` with a
/// reason when the provider cannot check or fails, or when there is no provider. The
/// exam screening sends anything but `passed` to a reviewer.
pub async fn face_checks(state: &AppState, attempt_id: &str, id_number: Option<&str>, snapshots: &[Value]) -> Vec<Value> {
    let (Some(provider), Some(id_number)) = (&state.real_name, id_number) else {
        return if snapshots.is_empty() { Vec::new() } else { vec![json!({ "result": "unverified", "reason": "no_face_provider", "snapshots": snapshots.len() })] };
    };

    let mut checks = Vec::new();
    for (index, snapshot) in snapshots.iter().enumerate() {
        let Some(jpeg) = snapshot.get("image").and_then(Value::as_str).and_then(decode_jpeg_data_url) else {
            checks.push(json!({ "result": "unverified", "reason": "no_image", "snapshot": index }));
            continue;
        };
        let check = match provider.match_face(id_number, &jpeg).await {
            Ok(CheckResult::Match) => json!({ "result": "passed", "source": "provider", "snapshot": index }),
            Ok(CheckResult::Mismatch) => json!({ "result": "failed", "source": "provider", "snapshot": index }),
            Ok(CheckResult::Unsupported) => json!({ "result": "unverified", "reason": "provider_unsupported", "snapshot": index }),
            Err(error) => {
                tracing::warn!(attempt = %attempt_id, snapshot = index, %error, "face comparison failed; the snapshot goes to review unverified");
                json!({ "result": "unverified", "reason": "provider_error", "snapshot": index })
            }
        };
        checks.push(check);
    }
    checks
}

/// Returns the bytes of a `data:image/jpeg;base64,…` URL, or `None` for anything else.
fn decode_jpeg_data_url(url: &str) -> Option<Vec<u8>> {
    let encoded = url.strip_prefix("data:image/jpeg;base64,")?;
    base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()
}
