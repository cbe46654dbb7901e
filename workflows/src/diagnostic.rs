//! Findings of definition validation: a stable code, a place in a file, and the
//! values a message needs. The engine knows no language; the binary renders each code
//! through the message catalogue (`engine.<CODE>`) in zh-CN or English.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A line and column, both 1-based, as editors count them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Stable machine code such as `UNKNOWN_STATE`; tools and docs key on it.
    pub code: &'static str,
    pub severity: Severity,
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Named values for the message (`state`, `event`, `template`, ...).
    pub args: Vec<(String, String)>,
}

impl Diagnostic {
    pub fn error(code: &'static str, file: &str, pos: Pos) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            file: file.to_string(),
            line: pos.line,
            column: pos.column,
            args: Vec::new(),
        }
    }

    pub fn warning(code: &'static str, file: &str, pos: Pos) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, file, pos) }
    }

    pub fn arg(mut self, name: &str, value: impl ToString) -> Diagnostic {
        self.args.push((name.to_string(), value.to_string()));
        self
    }

    /// Returns the value of argument `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.args.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Returns whether any diagnostic is an error (warnings alone do not fail validation).
pub fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(Diagnostic::is_error)
}
