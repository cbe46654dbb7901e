//! What the workers can do, as the definition validator needs to know it: templates,
//! job names, provincial record kinds and notification recipients.

use workflows::definition::validate::Environment;

use crate::jobs::JOB_NAMES;
use crate::notify::{Channel, Templates};
use crate::provincial::RecordKind;

/// Recipients a `notify` action may name: `applicant` (the mobile a registration
/// instance is for), `operator`, and the admins of the operator's unit.
pub const RECIPIENTS: &[&str] = &["applicant", "operator", "unit_admin", "previous_unit_admin"];

pub struct WorkerEnvironment<'a> {
    pub templates: &'a Templates,
}

impl Environment for WorkerEnvironment<'_> {
    fn has_template(&self, channel: &str, name: &str) -> bool {
        let channel = match channel {
            "sms" => Channel::Sms,
            "email" => Channel::Email,
            _ => return false,
        };
        self.templates.has(channel, name, "zh-CN")
    }

    fn is_job(&self, name: &str) -> bool {
        JOB_NAMES.contains(&name)
    }

    fn is_sync_record(&self, kind: &str) -> bool {
        RecordKind::from_wire(kind).is_some()
    }

    fn is_recipient(&self, name: &str) -> bool {
        RECIPIENTS.contains(&name)
    }
}
