//! Headless Chromium driven through chromedriver (Debian's `chromium` and
//! `chromium-driver`), for browser tests of the pages.
//!
//! Each [`Browser`] starts its own chromedriver on a free loopback port and a Chromium
//! with a fresh profile folder, fake camera and microphone, and no background
//! networking. A missing `chromedriver` or `chromium` fails the test: `scripts/test`
//! installs both.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use workflows::testing::TempDir;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// A WebDriver session on a headless Chromium; ends chromedriver when dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: TempDir,
}

impl Browser {
    /// Starts chromedriver and a Chromium session.
    pub async fn start() -> Browser {
        Browser::start_with(None).await
    }

    /// Starts a session that saves downloads into `folder` without asking.
    pub async fn start_downloading_to(folder: &Path) -> Browser {
        Browser::start_with(Some(folder)).await
    }

    async fn start_with(downloads: Option<&Path>) -> Browser {
        assert!(Path::new(CHROMEDRIVER).exists(), "{CHROMEDRIVER} is missing: install Debian's chromium-driver (scripts/test does)");
        assert!(Path::new(CHROMIUM).exists(), "{CHROMIUM} is missing: install Debian's chromium (scripts/test does)");
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = TempDir::new();

        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            "--lang=zh-CN",
        ]
        .iter()
        .map(|arg| arg.to_string())
        .chain([format!("--user-data-dir={}", profile.path.display())])
        .collect::<Vec<_>>();
        let mut prefs = json!({ "intl.accept_languages": "zh-CN" });
        if let Some(folder) = downloads {
            prefs["download.default_directory"] = json!(folder.display().to_string());
            prefs["download.prompt_for_download"] = json!(false);
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args, "prefs": prefs },
        });
        let capabilities = capabilities.as_object().unwrap().clone();

        // chromedriver takes a moment to listen; retry the session for up to 20 s.
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = String::new();
        for _ in 0..80 {
            match ClientBuilder::new(HttpConnector::new()).capabilities(capabilities.clone()).connect(&url).await {
                Ok(client) => return Browser { client, driver, _profile: profile },
                Err(error) => last_error = error.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("no Chromium session through chromedriver at {url}: {last_error}");
    }

    /// Ends the session and chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

/// Returns a loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Phone and desktop viewports of the screenshots: (name, width, height).
pub const VIEWPORTS: [(&str, u32, u32); 2] = [("phone", 360, 780), ("desktop", 1280, 900)];

/// Serves the site over `state` on a free loopback port; returns its base URL.
pub async fn serve(state: &api::AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let config = web::WebConfig { site_name: None, icp_filing: Some("湘ICP备00000000号-1".into()), contact: Some("协会办公室 0731-00000000".into()) };
    let site = web::site(state.clone(), config);
    tokio::spawn(async move { axum::serve(listener, site).await.unwrap() });
    format!("http://{address}")
}

/// Saves screenshots of the current page at each viewport as
/// `docs/screenshots/{name}-{viewport}.png`, when `save` is set, then restores the
/// window size the page had.
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

/// Saves screenshots like [`screenshots`] with the element `focus` (a CSS selector)
/// scrolled into view first.
pub async fn screenshots_of(client: &Client, name: &str, save: bool, focus: &str) {
    if !save {
        return;
    }
    let script = "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})";
    client.execute(script, vec![json!(focus)]).await.unwrap();
    screenshots(client, name, save).await;
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

/// Waits up to 20 s for the page's body to contain `text`.
pub async fn wait_for_text(client: &Client, text: &str) {
    for _ in 0..200 {
        if body_text(client).await.contains(text) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("page {} never showed {text:?}: {}", path(client).await, body_text(client).await);
}
