//! Side effects of the pipeline, run as apalis jobs and cron: notifications (email, SMS),
//! provincial supervision sync, due timers, anti-cheat screening, credit award and the
//! credit card.

pub mod actions;
pub mod bank_store;
pub mod certificates;
pub mod archive;
pub mod courseware_store;
pub mod cron;
pub mod dispatcher;
pub mod environment;
pub mod job_statistics;
pub mod jobs;
pub mod notify;
pub mod pdf;
pub mod pending_events;
pub mod object_store;
pub mod poll;
mod notify_action;
pub mod provincial;
pub mod queues;
pub mod realname_http;
pub mod reconciliation;
pub mod records;
pub mod reminders;
pub mod retention;
pub mod runtime;
pub mod services;
mod sync_action;
pub mod sync_order;
pub mod wake;
