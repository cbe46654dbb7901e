//! The rules of the special-equipment operator field (特种设备作业人员), independent of
//! HTTP and job queues: identity numbers, the operator catalogue, unit rosters,
//! courseware and the question bank, exam assembly and grading, credits.

pub mod messages;
pub mod identity;
pub mod catalogue;
pub mod roster;
pub mod courseware;
pub mod bank;
pub mod exam;
pub mod study;
pub mod review;
pub mod archive;
pub mod realname;
pub mod training;
