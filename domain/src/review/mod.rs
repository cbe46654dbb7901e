//! Anti-cheat review (防作弊审核): the screening rules over study sessions and exam
//! attempts, the outcome they decide, and the settings from `definitions/review.yaml`.
//! Pure functions: the worker gathers the facts and stores the results.

pub mod exam_rules;
pub mod finding;
pub mod outcome;
pub mod session_rules;
pub mod settings;

#[cfg(test)]
mod tests;

pub use exam_rules::{ExamFacts, screen_exam};
pub use finding::{Finding, Rule};
pub use outcome::{Outcome, decide, is_sampled};
pub use session_rules::{Overlap, SessionFacts, device_and_ip, screen_session};
pub use settings::ReviewSettings;
