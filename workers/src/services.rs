//! The senders, clients and data the workers use for side effects, built once per
//! process and shared by every job.

use std::path::PathBuf;

use domain::catalogue::Catalogue;
use domain::courseware::Courseware;
use workflows::runtime::Engine;

use crate::notify::{EmailSender, SmsSender, Templates};
use crate::provincial::ProvincialClient;

pub struct Services {
    pub engine: Engine,
    pub templates: Templates,
    pub email: EmailSender,
    pub sms: SmsSender,
    /// `None` until a provincial endpoint is configured; sync entries wait meanwhile.
    pub provincial: Option<ProvincialClient>,
    pub courseware: Courseware,
    pub catalogue: &'static Catalogue,
    /// Folder of the file outboxes and other local sinks.
    pub data_dir: PathBuf,
}

impl Services {
    /// The outbox kinds this process can perform now.
    pub fn action_kinds(&self) -> Vec<&'static str> {
        if self.provincial.is_some() { vec!["notify", "sync", "job"] } else { vec!["notify", "job"] }
    }
}
