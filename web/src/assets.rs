//! The stylesheet and scripts, compiled into the binary and served under `/static/`,
//! so that pages need no CDN.

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use include_dir::{Dir, include_dir};

use crate::WebState;

static STATIC: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/static");

pub fn router() -> Router<WebState> {
    Router::new().route("/static/{file}", get(serve))
}

/// `GET /static/{file}`: a file of `web/static`, cached for an hour.
async fn serve(Path(file): Path<String>) -> Response {
    let Some(found) = STATIC.get_file(&file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let content_type = match file.rsplit_once('.').map(|(_, extension)| extension) {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    };
    ([(CONTENT_TYPE, content_type), (CACHE_CONTROL, "public, max-age=3600")], found.contents()).into_response()
}
