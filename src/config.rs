//! Settings from the environment, with defaults that run out of the box: SQLite under
//! `./data`, file outboxes for mail and SMS, no provincial endpoint.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `DATABASE_URL` | `sqlite://./data/certflow.db` | `sqlite:` or `postgres:` URL |
//! | `CERTFLOW_DATA_DIR` | `./data` | outboxes and local files |
//! | `CERTFLOW_DEFINITIONS` | `./definitions`, else the compiled-in copy | definitions folder |
//! | `CERTFLOW_SMTP_HOST`, `_PORT`, `_TLS`, `_USERNAME`, `_PASSWORD`, `_FROM`, `_CA_FILE` | unset | SMTP server |
//! | `CERTFLOW_SMS_GATEWAY_URL`, `CERTFLOW_SMS_GATEWAY_TOKEN` | unset | HTTP SMS gateway |
//! | `CERTFLOW_SMS_API_URL`, `_KEY_ID`, `_SECRET` or `_SECRET_FILE`, `_SIGN_NAME`, `CERTFLOW_SMS_TEMPLATE_CODES` | unset | signed SMS template API (takes precedence over the gateway) |
//! | `CERTFLOW_PROVINCIAL_URL`, `_KEY_ID`, `_SECRET` or `_SECRET_FILE` | unset | provincial platform |
//! | `CERTFLOW_SITE_NAME`, `CERTFLOW_ICP_FILING`, `CERTFLOW_SITE_CONTACT` | unset | web pages' name and footer (read by `web::WebConfig`) |
//! | `CERTFLOW_REALNAME_URL`, `CERTFLOW_REALNAME_SECRET` or `_SECRET_FILE` | unset | real-name check provider over HTTP (ID number and name, exam faces against the ID photo) |
//! | `CERTFLOW_S3_ENDPOINT`, `_BUCKET`, `_REGION` (default `us-east-1`), `_ACCESS_KEY_ID`, `_SECRET_ACCESS_KEY` or `_SECRET_ACCESS_KEY_FILE` | unset | S3-compatible bucket for uploaded files, instead of `CERTFLOW_DATA_DIR/objects` |
//!
//! Secrets come only from the environment or a file path, never from flags.

use std::path::PathBuf;
use std::time::Duration;

use workers::realname_http::{HttpRealNameProvider, RealNameHttpConfig};

use anyhow::{Context, bail};
use workers::notify::{SignedApiConfig, SmsGatewayConfig, SmtpConfig, Tls};
use workers::object_store::S3Config;
use workers::provincial::ProvincialConfig;

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub data_dir: PathBuf,
    /// `None` means the compiled-in definitions.
    pub definitions_dir: Option<PathBuf>,
    pub smtp: Option<SmtpConfig>,
    pub mail_from: String,
    pub sms_gateway: Option<SmsGatewayConfig>,
    pub sms_api: Option<SignedApiConfig>,
    pub provincial: Option<ProvincialConfig>,
    /// The bucket for uploaded files; `None` keeps them under `data_dir/objects`.
    pub s3: Option<S3Config>,
    /// The real-name check provider; `None` leaves registrations unchecked and sends
    /// exam snapshots to review as unverified.
    pub real_name: Option<RealNameHttpConfig>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty())
}

impl Config {
    pub fn from_env() -> anyhow::Result<Config> {
        let data_dir = PathBuf::from(var("CERTFLOW_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url = var("DATABASE_URL").unwrap_or_else(|| format!("sqlite://{}/certflow.db", data_dir.display()));
        let definitions_dir = match var("CERTFLOW_DEFINITIONS") {
            Some(dir) => Some(PathBuf::from(dir)),
            None => Some(PathBuf::from("./definitions")).filter(|dir| dir.join("pipelines").is_dir()),
        };
        let mail_from = var("CERTFLOW_SMTP_FROM").unwrap_or_else(|| "certflow@localhost".into());

        let smtp = match var("CERTFLOW_SMTP_HOST") {
            Some(host) => {
                let mut smtp = SmtpConfig::new(host, mail_from.clone());
                if let Some(port) = var("CERTFLOW_SMTP_PORT") {
                    smtp.port = port.parse().with_context(|| format!("CERTFLOW_SMTP_PORT={port} is not a port number"))?;
                }
                smtp.tls = match var("CERTFLOW_SMTP_TLS").as_deref() {
                    None | Some("starttls") => Tls::StartTls,
                    Some("implicit") => Tls::Implicit,
                    Some("none") => Tls::None,
                    Some(other) => bail!("CERTFLOW_SMTP_TLS={other} is not one of starttls, implicit, none"),
                };
                smtp.username = var("CERTFLOW_SMTP_USERNAME");
                smtp.password = var("CERTFLOW_SMTP_PASSWORD");
                smtp.root_certificate = var("CERTFLOW_SMTP_CA_FILE").map(PathBuf::from);
                Some(smtp)
            }
            None => None,
        };

        let sms_gateway = var("CERTFLOW_SMS_GATEWAY_URL").map(|url| {
            let mut gateway = SmsGatewayConfig::new(url);
            gateway.token = var("CERTFLOW_SMS_GATEWAY_TOKEN");
            gateway
        });

        let sms_api = match var("CERTFLOW_SMS_API_URL") {
            Some(url) => {
                let secret = secret_from_env("CERTFLOW_SMS_API_SECRET", "CERTFLOW_SMS_API_URL")?;
                let key_id = var("CERTFLOW_SMS_API_KEY_ID").ok_or_else(|| anyhow::anyhow!("CERTFLOW_SMS_API_URL is set but CERTFLOW_SMS_API_KEY_ID is not"))?;
                let sign_name = var("CERTFLOW_SMS_API_SIGN_NAME").ok_or_else(|| anyhow::anyhow!("CERTFLOW_SMS_API_URL is set but CERTFLOW_SMS_API_SIGN_NAME (the registered sign name) is not"))?;
                let mut config = SignedApiConfig::new(url, key_id, secret.into_bytes(), sign_name);
                config.template_codes = SignedApiConfig::parse_template_codes(&var("CERTFLOW_SMS_TEMPLATE_CODES").unwrap_or_default()).map_err(|message| anyhow::anyhow!("CERTFLOW_SMS_TEMPLATE_CODES: {message}"))?;
                Some(config)
            }
            None => None,
        };

        let provincial = match var("CERTFLOW_PROVINCIAL_URL") {
            Some(url) => {
                let secret = match (var("CERTFLOW_PROVINCIAL_SECRET"), var("CERTFLOW_PROVINCIAL_SECRET_FILE")) {
                    (Some(secret), _) => secret,
                    (None, Some(path)) => std::fs::read_to_string(&path).with_context(|| format!("reading CERTFLOW_PROVINCIAL_SECRET_FILE {path}"))?.trim().to_string(),
                    (None, None) => bail!("CERTFLOW_PROVINCIAL_URL is set but neither CERTFLOW_PROVINCIAL_SECRET nor CERTFLOW_PROVINCIAL_SECRET_FILE is"),
                };
                let mut config = ProvincialConfig::new(url, var("CERTFLOW_PROVINCIAL_KEY_ID").unwrap_or_else(|| "dev".into()), secret.into_bytes());
                config.timeout = Duration::from_secs(10);
                Some(config)
            }
            None => None,
        };

        let s3 = match var("CERTFLOW_S3_ENDPOINT") {
            Some(endpoint) => Some(S3Config {
                endpoint,
                bucket: var("CERTFLOW_S3_BUCKET").ok_or_else(|| anyhow::anyhow!("CERTFLOW_S3_ENDPOINT is set but CERTFLOW_S3_BUCKET is not"))?,
                region: var("CERTFLOW_S3_REGION").unwrap_or_else(|| "us-east-1".into()),
                access_key_id: var("CERTFLOW_S3_ACCESS_KEY_ID").ok_or_else(|| anyhow::anyhow!("CERTFLOW_S3_ENDPOINT is set but CERTFLOW_S3_ACCESS_KEY_ID is not"))?,
                secret_access_key: secret_from_env("CERTFLOW_S3_SECRET_ACCESS_KEY", "CERTFLOW_S3_ENDPOINT")?,
                timeout: Duration::from_secs(60),
            }),
            None => None,
        };

        let real_name = match var("CERTFLOW_REALNAME_URL") {
            Some(url) => Some(RealNameHttpConfig { url, secret: secret_from_env("CERTFLOW_REALNAME_SECRET", "CERTFLOW_REALNAME_URL")? }),
            None => None,
        };

        Ok(Config { database_url, data_dir, definitions_dir, smtp, mail_from, sms_gateway, sms_api, provincial, s3, real_name })
    }
}

impl Config {
    /// Returns the real-name check provider, when one is configured.
    pub fn real_name_provider(&self) -> anyhow::Result<Option<std::sync::Arc<dyn domain::realname::RealNameProvider>>> {
        match &self.real_name {
            Some(config) => Ok(Some(std::sync::Arc::new(HttpRealNameProvider::new(config.clone())?))),
            None => Ok(None),
        }
    }

    /// Returns the object store for uploaded files: the S3 bucket when configured,
    /// else the `objects` folder of the data directory.
    pub fn object_store(&self) -> anyhow::Result<std::sync::Arc<dyn workers::object_store::ObjectStore>> {
        Ok(match &self.s3 {
            Some(config) => std::sync::Arc::new(workers::object_store::S3Store::new(config.clone())?),
            None => std::sync::Arc::new(workers::object_store::LocalStore::new(self.data_dir.join("objects"))),
        })
    }
}

/// Reads a secret from `NAME` or from the file named by `NAME_FILE`; `needed_by` names the
/// setting that requires it, for the error.
fn secret_from_env(name: &str, needed_by: &str) -> anyhow::Result<String> {
    let file_var = format!("{name}_FILE");
    match (var(name), var(&file_var)) {
        (Some(secret), _) => Ok(secret),
        (None, Some(path)) => Ok(std::fs::read_to_string(&path).with_context(|| format!("reading {file_var} {path}"))?.trim().to_string()),
        (None, None) => bail!("{needed_by} is set but neither {name} nor {file_var} is"),
    }
}
