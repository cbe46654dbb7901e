//! The handlebars templates of the pages, compiled into the binary from
//! `web/templates`, and the helpers they use.
//!
//! - `{{t "web.login.title" name=value}}` renders a catalogue message in the page's
//!   locale (the root `locale` key), filling `{name}` placeholders, HTML-escaped.
//! - `{{eq a b}}` compares two values, for `{{#if (eq …)}}`.
//!
//! Templates do not run in strict mode, because optional data (a form's errors, a
//! card that is not issued) is simply absent. A message code unknown to the catalogue
//! fails the render.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::messages::{self, Locale};
use handlebars::{Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason, handlebars_helper};
use include_dir::{Dir, include_dir};
use serde_json::{Value, json};

use crate::config::WebConfig;

static TEMPLATES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// Security headers of every page. Scripts and styles come only from this site; the
/// camera and microphone may be used by this site's pages only.
const PAGE_HEADERS: [(&str, &str); 5] = [
    ("content-security-policy", "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
    ("permissions-policy", "camera=(self), microphone=(self), geolocation=()"),
];

/// The registry of page templates.
pub struct Views {
    registry: Handlebars<'static>,
}

handlebars_helper!(eq_helper: |left: Json, right: Json| left == right);

impl Views {
    /// Loads the templates compiled into the binary: `layout.hbs` as the `layout`
    /// partial, and every `pages/NAME.hbs` as `NAME`.
    pub fn embedded() -> Result<Views, handlebars::TemplateError> {
        let mut registry = Handlebars::new();
        registry.register_helper("t", Box::new(translate));
        registry.register_helper("eq", Box::new(eq_helper));
        for file in template_files(&TEMPLATES) {
            let path = file.path().to_string_lossy().replace('\\', "/");
            let name = path.trim_start_matches("pages/").trim_end_matches(".hbs").to_string();
            let text = file.contents_utf8().unwrap_or_default();
            registry.register_template_string(&name, text)?;
        }
        Ok(Views { registry })
    }

    /// Renders page `name` with `data` as an HTML response with `status`.
    pub fn page(&self, status: StatusCode, name: &str, data: Value) -> Response {
        match self.registry.render(name, &data) {
            Ok(html) => html_response(status, html),
            Err(error) => {
                tracing::error!(page = name, error = %error, "page template failed to render");
                let locale = Locale::parse(data["locale"].as_str().unwrap_or(""));
                html_response(StatusCode::INTERNAL_SERVER_ERROR, messages::text(locale, "web.internal", &[]))
            }
        }
    }

    /// Renders the error page with `message`.
    pub fn error_page(&self, locale: Locale, config: &WebConfig, status: StatusCode, message: &str) -> Response {
        let data = json!({
            "locale": locale.tag(),
            "is_en": locale == Locale::En,
            "csrf": "",
            "signed_in": false,
            "path": "/",
            "site": config,
            "title": "web.error.title",
            "message": message,
        });
        self.page(status, "error", data)
    }

    /// Returns whether template `name` exists.
    pub fn has(&self, name: &str) -> bool {
        self.registry.has_template(name)
    }
}

/// Returns every `.hbs` file under `dir`, at any depth.
fn template_files(dir: &'static Dir<'static>) -> Vec<&'static include_dir::File<'static>> {
    let mut files: Vec<&'static include_dir::File<'static>> = dir.files().filter(|file| file.path().extension().is_some_and(|extension| extension == "hbs")).collect();
    for child in dir.dirs() {
        files.extend(template_files(child));
    }
    files
}

fn html_response(status: StatusCode, html: String) -> Response {
    let mut response = (status, [(CONTENT_TYPE, "text/html; charset=utf-8"), (CACHE_CONTROL, "no-store")], html).into_response();
    for (name, value) in PAGE_HEADERS {
        response.headers_mut().insert(HeaderName::from_static(name), value.parse().expect("a static header value"));
    }
    response
}

/// The `t` helper: a catalogue message in the locale of the root context.
fn translate(helper: &Helper, _: &Handlebars, context: &Context, _: &mut RenderContext, out: &mut dyn Output) -> HelperResult {
    let code = helper
        .param(0)
        .and_then(|param| param.value().as_str())
        .ok_or_else(|| RenderErrorReason::ParamTypeMismatchForName("t", "0".into(), "message code".into()))?;
    if !messages::Catalogue::global().contains(code) {
        return Err(RenderErrorReason::Other(format!("message code {code} is not in the catalogue")).into());
    }
    let locale = Locale::parse(context.data()["locale"].as_str().unwrap_or(""));
    let args: Vec<(String, String)> = helper
        .hash()
        .iter()
        .map(|(name, value)| {
            let text = match value.value() {
                Value::String(text) => text.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (name.to_string(), text)
        })
        .collect();
    let borrowed: Vec<(&str, &str)> = args.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    out.write(&handlebars::html_escape(&messages::text(locale, code, &borrowed)))?;
    Ok(())
}
