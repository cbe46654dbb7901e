//! The stylesheet, scripts and icon, compiled into the binary and served under
//! `/static/`, so that pages need no CDN. The icon is also served at `/favicon.ico`,
//! where browsers and other clients look for it when a page links none.

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
    Router::new().route("/static/{file}", get(serve)).route("/favicon.ico", get(favicon))
}

/// `GET /favicon.ico`: the site icon, cached for a day.
async fn favicon() -> Response {
    serve_file("favicon.ico", "public, max-age=86400")
}

/// `GET /static/{file}`: a file of `web/static`, cached for an hour.
async fn serve(Path(file): Path<String>) -> Response {
    serve_file(&file, "public, max-age=3600")
}

fn serve_file(file: &str, cache_control: &'static str) -> Response {
    let Some(found) = STATIC.get_file(file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let content_type = match file.rsplit_once('.').map(|(_, extension)| extension) {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    };
    ([(CONTENT_TYPE, content_type), (CACHE_CONTROL, cache_control)], found.contents()).into_response()
}
