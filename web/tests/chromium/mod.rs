//! Headless Chromium driven through chromedriver (Debian's `chromium` and
//! `chromium-driver`), for browser tests of the pages.
//!
//! Each [`Browser`] starts its own chromedriver on a free loopback port and a Chromium
//! with a fresh profile folder, fake camera and microphone, and no background
//! networking. A missing `chromedriver` or `chromium` fails the test: `scripts/test`
//! installs both.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
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
