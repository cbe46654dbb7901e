//! `certflow archive verify`: checks the hash chain of every operator archive in the
//! configured database and names the first broken entry of each broken chain.

use std::process::ExitCode;

use domain::archive::ChainBreak;
use domain::messages::{Locale, text};
use workflows::db::Db;

use crate::config::Config;

/// Verifies every chain. Exit code 0 when all hold, 1 when any is broken.
pub async fn verify(json: bool) -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    let reports = workers::archive::verify_all(&db.pool).await?;
    let broken: Vec<_> = reports.iter().filter(|report| report.broken.is_some()).collect();

    if json {
        println!("{}", serde_json::json!({ "chains": reports.len(), "broken": broken }));
    } else {
        for report in &broken {
            let problem = report.broken.as_ref().expect("filtered on broken");
            let code = match problem {
                ChainBreak::HashMismatch { .. } => "archive.verify.hash_mismatch",
                ChainBreak::PreviousMismatch { .. } => "archive.verify.previous_mismatch",
                ChainBreak::SequenceGap { .. } => "archive.verify.sequence_gap",
            };
            let seq = problem.seq().to_string();
            println!("{}", text(Locale::ZhCn, code, &[("operator", &report.operator_id), ("archive", report.archive.as_str()), ("seq", &seq)]));
        }
        let total = reports.len().to_string();
        let failed = broken.len().to_string();
        println!("{}", text(Locale::ZhCn, "archive.verify.summary", &[("chains", &total), ("broken", &failed)]));
    }
    Ok(if broken.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
