//! `GET /metrics` in the Prometheus text format, and the middleware that times each
//! request by route template.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sqlx::Row;
use workflows::metrics;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

/// Records the latency of each request under its route template (`/api/exams/{id}`),
/// or `unmatched` for paths no route serves.
pub async fn time_request(request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let route = request.extensions().get::<MatchedPath>().map(|path| path.as_str().to_string()).unwrap_or_else(|| "unmatched".to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics::record_http(&method, &route, response.status().as_u16(), started.elapsed());
    response
}

/// `GET /metrics` (public, meant for the internal network; see docs/operations.md): this
/// process's counters and histograms, then backlogs read from the database, which every
/// process reports alike. A database error leaves the database gauges out and sets
/// `certflow_metrics_database_up` to 0.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Metrics in the Prometheus text format 0.0.4", body = String)))]
pub(crate) async fn scrape(State(state): State<AppState>) -> Response {
    let mut out = metrics::render();
    let database_up = match database_gauges(&state, &mut out).await {
        Ok(()) => 1.0,
        Err(error) => {
            tracing::warn!(%error, "metrics: database gauges unavailable");
            0.0
        }
    };
    metrics::write_gauge(&mut out, "certflow_metrics_database_up", "1 when the database gauges below were read.", &[], &[(vec![], database_up)]);
    let mut response = out.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

async fn database_gauges(state: &AppState, out: &mut String) -> Result<(), sqlx::Error> {
    let pool = &state.engine.db.pool;
    let now_ms = state.engine.now_ms();

    let rows = sqlx::query("SELECT kind, COUNT(*) FROM wf_outbox WHERE status = 'pending' GROUP BY kind ORDER BY kind").fetch_all(pool).await?;
    let outbox: Vec<(Vec<String>, f64)> = rows.iter().map(|row| (vec![row.get::<String, _>(0)], row.get::<i64, _>(1) as f64)).collect();
    let sync = outbox.iter().find(|(kind, _)| kind[0] == "sync").map(|(_, count)| *count).unwrap_or(0.0);
    metrics::write_gauge(out, "certflow_outbox_backlog", "Outbox entries not yet done, by kind (notify, sync, job).", &["kind"], &outbox);
    metrics::write_gauge(out, "certflow_sync_backlog", "Provincial sync records not yet accepted by the provincial platform.", &[], &[(vec![], sync)]);

    let due: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM wf_timers WHERE status = 'pending' AND due_at <= $1").bind(now_ms).fetch_one(pool).await?;
    metrics::write_gauge(out, "certflow_timers_due", "Timers due on the engine clock and not yet fired.", &[], &[(vec![], due as f64)]);

    let rows = sqlx::query("SELECT kind, COUNT(*) FROM wf_incidents WHERE status = 'open' GROUP BY kind ORDER BY kind").fetch_all(pool).await?;
    let mut incidents: Vec<(Vec<String>, f64)> = rows.iter().map(|row| (vec![row.get::<String, _>(0)], row.get::<i64, _>(1) as f64)).collect();
    for kind in ["action_failed", "stuck_instance"] {
        if !incidents.iter().any(|(labels, _)| labels[0] == kind) {
            incidents.push((vec![kind.to_string()], 0.0));
        }
    }
    metrics::write_gauge(out, "certflow_incidents_open", "Open incidents, by kind.", &["kind"], &incidents);
    Ok(())
}
