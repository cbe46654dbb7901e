//! Side effects of the pipeline, run as apalis jobs and cron: notifications (email, SMS),
//! provincial supervision sync, due timers, anti-cheat screening, credit award.

pub mod notify;
pub mod provincial;
