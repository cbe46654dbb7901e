//! `certflow check`: one identity value, normalized or refused with the zh-CN reason.

use std::process::ExitCode;

use domain::identity;
use domain::messages::Locale;

use crate::cli::CheckKind;

pub fn check(kind: CheckKind, value: &str) -> ExitCode {
    let kind_name = match kind {
        CheckKind::IdNumber => "id-number",
        CheckKind::Uscc => "uscc",
        CheckKind::Mobile => "mobile",
        CheckKind::Name => "name",
    };
    match identity::check(kind_name, value, identity::beijing_today()) {
        Ok(normalized) => {
            println!("{normalized}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{}", error.message(Locale::ZhCn));
            ExitCode::FAILURE
        }
    }
}
