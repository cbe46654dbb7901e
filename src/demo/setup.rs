//! The association's set-up through the API, shared by the demo, the crash drill and the
//! exam peak load test: a staff account and its token, units with their first admins,
//! and training institutions. Each step keeps what an earlier run against the same
//! database created, so a rerun continues where the last one stopped.

use anyhow::Context;
use serde_json::{Value, json};
use workflows::db::Db;

use super::client::Client;

/// The first admin account of a unit, created with the unit.
pub(crate) struct UnitAdmin<'a> {
    pub login: &'a str,
    pub password: &'a str,
    pub display_name: &'a str,
    pub mobile: Option<&'a str>,
}

/// Creates the staff account unless its login exists already, logs it in by password and
/// returns the session token.
pub(crate) async fn staff_token(client: &Client, db: &Db, now_ms: i64, account: &api::NewAccount<'_>) -> anyhow::Result<String> {
    if let Err(error) = api::create_account(db, account, now_ms).await {
        if error.status() != axum::http::StatusCode::CONFLICT {
            anyhow::bail!("creating staff account {} failed: {}", account.login, crate::admin_cmd::api_error_text(error).await);
        }
    }
    let credentials = json!({ "login": account.login, "password": account.password });
    let reply = client.post("/api/auth/password-login", None, &credentials).await?.expect("staff login")?;
    let token = reply["token"].as_str().with_context(|| format!("the login of {} returned no token: {reply}", account.login))?;
    Ok(token.to_string())
}

/// Registers a unit with its first admin as association staff (`admin_token`), or keeps
/// the unit already registered under `uscc`.
pub(crate) async fn register_unit(client: &Client, admin_token: &str, uscc: &str, name: &str, region_code: &str, admin: &UnitAdmin<'_>) -> anyhow::Result<()> {
    let body = json!({
        "uscc": uscc, "name": name, "region_code": region_code,
        "admin": { "login": admin.login, "password": admin.password, "display_name": admin.display_name, "mobile": admin.mobile },
    });
    let reply = client.post("/api/units", Some(admin_token), &body).await?;
    if !reply.ok() && reply.code() != "units.uscc_taken" {
        anyhow::bail!("registering unit {uscc} ({name}) failed with {}: {}", reply.status, reply.body);
    }
    Ok(())
}

/// Registers an institution that teaches `items` as association staff (`admin_token`),
/// or reads the one already stored under `uscc`. Returns its `id`, `key_id` and `secret`
/// (hex), as the API returns them.
pub(crate) async fn register_institution(client: &Client, db: &Db, admin_token: &str, name: &str, uscc: &str, items: &[&str]) -> anyhow::Result<Value> {
    let body = json!({ "name": name, "uscc": uscc, "items": items });
    let reply = client.post("/api/institutions", Some(admin_token), &body).await?;
    if reply.ok() {
        return Ok(reply.body);
    }
    let row: Option<(String, String, String)> = sqlx::query_as("SELECT id, key_id, secret FROM institutions WHERE uscc = $1").bind(uscc).fetch_optional(&db.pool).await?;
    let (id, key_id, secret) = row.with_context(|| format!("registering institution {uscc} ({name}) failed with {}: {}", reply.status, reply.body))?;
    Ok(json!({ "id": id, "key_id": key_id, "secret": secret }))
}
