//! The language switch: stores the chosen locale in a cookie and goes back.

use axum::extract::{Path, Query};
use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use domain::messages::Locale;
use serde::Deserialize;

use crate::context::{LOCALE_COOKIE, PageContext, is_https, local_path, redirect_with_cookie};
use crate::WebState;

pub fn router() -> Router<WebState> {
    Router::new().route("/lang/{tag}", get(switch))
}

#[derive(Deserialize)]
struct Back {
    back: Option<String>,
}

/// `GET /lang/{zh-CN|en}?back=/path`: keeps the locale for a year.
async fn switch(context: PageContext, Path(tag): Path<String>, Query(back): Query<Back>) -> Response {
    let locale = Locale::parse(&tag);
    let secure = if is_https(&context.headers) { "; Secure" } else { "" };
    let cookie = format!("{LOCALE_COOKIE}={}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax{secure}", locale.tag());
    redirect_with_cookie(&local_path(back.back.as_deref()), HeaderValue::from_str(&cookie).expect("a locale tag makes a valid header value"))
}
