//! Steps of the browser tests: serving the site on loopback, filling, clicking, waiting
//! for text and saving screenshots at phone and desktop widths.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::{Client, Locator};

/// Phone and desktop viewports of the screenshots: (name, width, height).
pub const VIEWPORTS: [(&str, u32, u32); 2] = [("phone", 360, 780), ("desktop", 1280, 900)];

/// Serves the whole site over `state` on a free loopback port; returns its base URL.
pub async fn serve(state: api::AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let config = web::WebConfig { site_name: None, icp_filing: Some("湘ICP备00000000号-1".into()), contact: Some("协会办公室 0731-00000000".into()) };
    let site = web::site(state, config);
    tokio::spawn(async move { axum::serve(listener, site).await.unwrap() });
    format!("http://{address}")
}

/// Saves `{name}-{viewport}.png` in `docs/screenshots/` at each viewport when `save` is
/// set, then restores the window size the page had.
pub async fn screenshots(client: &Client, name: &str, save: bool) {
    if !save {
        return;
    }
    let (width_before, height_before) = client.get_window_size().await.unwrap();
    let folder = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/screenshots"));
    std::fs::create_dir_all(&folder).unwrap();
    for (viewport, width, height) in VIEWPORTS {
        client.set_window_size(width, height).await.unwrap();
        let png = client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::write(folder.join(format!("{name}-{viewport}.png")), png).unwrap();
    }
    client.set_window_size(width_before as u32, height_before as u32).await.unwrap();
}

pub async fn fill(client: &Client, id: &str, text: &str) {
    let field = client.wait().for_element(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

pub async fn click(client: &Client, css: &str) {
    client.wait().for_element(Locator::Css(css)).await.unwrap().click().await.unwrap();
}

pub async fn path(client: &Client) -> String {
    client.current_url().await.unwrap().path().to_string()
}

/// Returns the text of the page's body, or nothing while a navigation replaces it.
pub async fn body_text(client: &Client) -> String {
    match client.find(Locator::Css("body")).await {
        Ok(body) => body.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits up to 10 s for the page's body to contain `text`.
pub async fn wait_for_text(client: &Client, text: &str) {
    for _ in 0..100 {
        if body_text(client).await.contains(text) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("page {} never showed {text:?}: {}", path(client).await, body_text(client).await);
}
