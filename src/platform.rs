//! Building the platform from configuration: the database, the engine with the
//! published definitions, the courseware in the database, and the workers' services.
//! `serve` and the demo share it.

use std::sync::Arc;

use anyhow::{Context, bail};
use domain::catalogue::Catalogue;
use domain::courseware::Courseware;
use domain::messages::Locale;
use workers::notify::{EmailSender, SmsSender};
use workers::provincial::ProvincialClient;
use workers::services::Services;
use workflows::clock::SharedClock;
use workflows::db::Db;
use workflows::runtime::Engine;

use crate::config::Config;
use crate::definitions_cmd;

pub struct Platform {
    pub engine: Engine,
    pub services: Arc<Services>,
}

/// Connects, migrates, validates and publishes the definitions, loads the courseware,
/// and builds the senders. Fails with every definition error listed when the
/// definitions do not validate, since running an invalid pipeline would strand
/// instances.
pub async fn build(config: &Config, clock: SharedClock) -> anyhow::Result<Platform> {
    let db = Db::connect(&config.database_url).await.with_context(|| format!("connecting to {}", redact(&config.database_url)))?;
    db.migrate().await.context("applying migrations")?;
    let engine = Engine::new(db.clone(), clock);

    // Definitions: validate, then publish content never published before. A version
    // staff published since (through `definitions publish` or the API) stays the
    // latest; older versions stay loaded for the instances pinned to them.
    let loaded = definitions_cmd::load(config.definitions_dir.as_deref())?;
    if loaded.set.has_errors() {
        let report: Vec<String> = loaded.set.diagnostics.iter().map(|d| definitions_cmd::render(d, Locale::ZhCn)).collect();
        bail!("流程定义校验未通过 / definitions are invalid:\n{}", report.join("\n"));
    }
    engine.load_published().await?;
    for versioned in &loaded.set.definitions {
        engine.publish_if_new(versioned, "startup", "").await?;
    }

    // Review thresholds: the definitions folder's own review.yaml, else the embedded one.
    if let Some(path) = config.definitions_dir.as_ref().map(|dir| dir.join("review.yaml")).filter(|path| path.is_file()) {
        let settings = domain::review::ReviewSettings::parse(&std::fs::read_to_string(&path)?).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        domain::review::ReviewSettings::install(settings);
    }

    let courseware = match &config.definitions_dir {
        Some(dir) if dir.join("courseware").is_dir() => Courseware::load_dir(&dir.join("courseware")).map_err(|e| anyhow::anyhow!("{}", e.message(Locale::En)))?,
        _ => Courseware::embedded().map_err(|e| anyhow::anyhow!("{}", e.message(Locale::En)))?,
    };
    let (courses, questions) = workers::courseware_store::store_courseware(&db, &courseware, engine.now_ms()).await?;
    tracing::info!(courses, questions, "courseware loaded");

    let outbox_dir = config.data_dir.join("outbox");
    let email = EmailSender::from_config(config.smtp.clone(), outbox_dir.join("mail"), &config.mail_from)?;
    let sms = match &config.sms_api {
        Some(api) => SmsSender::Provider(std::sync::Arc::new(workers::notify::SignedTemplateApi::new(api.clone())?)),
        None => SmsSender::from_config(config.sms_gateway.clone(), outbox_dir.join("sms"))?,
    };
    let provincial = config.provincial.clone().map(ProvincialClient::new).transpose()?;
    if provincial.is_none() {
        tracing::warn!("no provincial endpoint configured; sync records wait in the outbox until one is set");
    }

    let services = Services {
        engine: engine.clone(),
        templates: loaded.templates,
        email,
        sms,
        provincial,
        courseware,
        catalogue: Catalogue::embedded(),
        data_dir: config.data_dir.clone(),
    };
    Ok(Platform { engine, services: Arc::new(services) })
}

/// Hides a password in a database URL for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
