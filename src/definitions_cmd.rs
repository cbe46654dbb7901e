//! `certflow definitions validate`: the checks start-up runs, with a report for people
//! (one line per finding, zh-CN by default) or for tools (`--json`).

use std::path::Path;
use std::process::ExitCode;

use domain::messages::{Locale, text};
use serde_json::json;
use workers::environment::WorkerEnvironment;
use workers::notify::{TemplateProblem, TemplateProblemKind, Templates};
use workflows::definition::set::DefinitionSet;
use workflows::diagnostic::{Diagnostic, Pos, Severity};

use crate::embedded;

/// Definitions and templates read together, with every finding about them.
pub struct Loaded {
    pub set: DefinitionSet,
    pub templates: Templates,
}

/// Reads `dir` (or the compiled-in copy when `dir` is `None`) and validates it.
pub fn load(dir: Option<&Path>) -> anyhow::Result<Loaded> {
    let templates = match dir {
        Some(dir) => Templates::load_dir(dir.join("templates"))?,
        None => Templates::embedded()?,
    };
    let environment = WorkerEnvironment { templates: &templates };
    let mut set = match dir {
        Some(dir) => DefinitionSet::load_dir(dir, &environment)?,
        None => DefinitionSet::from_sources(embedded::pipeline_sources(), &environment),
    };
    for problem in templates.check() {
        set.diagnostics.push(template_diagnostic(dir, &problem));
    }
    Ok(Loaded { set, templates })
}

/// Turns a template problem into a finding. A field no `fields.yaml` entry declares is
/// `TEMPLATE_FIELD_UNKNOWN`, positioned at its first use in the template file.
fn template_diagnostic(dir: Option<&Path>, problem: &TemplateProblem) -> Diagnostic {
    let file = format!("templates/{}", problem.file);
    match &problem.kind {
        TemplateProblemKind::UnknownField { name, field } => {
            let source = match dir {
                Some(dir) => std::fs::read_to_string(dir.join(&file)).unwrap_or_default(),
                None => embedded::DEFINITIONS.get_file(&file).and_then(|f| f.contents_utf8()).unwrap_or_default().to_string(),
            };
            Diagnostic::error("TEMPLATE_FIELD_UNKNOWN", &file, first_use(&source, field)).arg("field", field).arg("template", name)
        }
        _ => Diagnostic::error("TEMPLATE_PROBLEM", &file, Pos::default()).arg("detail", problem),
    }
}

/// Returns the line and column (1-based, in characters) of the first `{{` expression
/// naming `field`, or the file start when none is found.
fn first_use(source: &str, field: &str) -> Pos {
    for (index, line) in source.lines().enumerate() {
        let mut rest = line;
        let mut offset = 0;
        while let Some(open) = rest.find("{{") {
            let inner = &rest[open + 2..];
            let end = inner.find("}}").unwrap_or(inner.len());
            let names_field = inner[..end].split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.')).any(|word| word == field);
            if names_field {
                let column = line[..offset + open].chars().count() + 1;
                return Pos { line: index + 1, column };
            }
            offset += open + 2;
            rest = inner;
        }
    }
    Pos { line: 1, column: 1 }
}

/// Renders one finding as `file:line:column: 错误 [CODE] message`.
pub fn render(diagnostic: &Diagnostic, locale: Locale) -> String {
    let message = render_message(diagnostic, locale);
    let severity = match (diagnostic.severity, locale) {
        (Severity::Error, Locale::ZhCn) => "错误",
        (Severity::Warning, Locale::ZhCn) => "警告",
        (Severity::Error, Locale::En) => "error",
        (Severity::Warning, Locale::En) => "warning",
    };
    format!("{}:{}:{}: {severity} [{}] {message}", diagnostic.file, diagnostic.line, diagnostic.column, diagnostic.code)
}

pub fn validate(dir: &Path, as_json: bool, lang: &str) -> anyhow::Result<ExitCode> {
    let locale = Locale::parse(lang);
    if !dir.join("pipelines").is_dir() {
        eprintln!("{}", text(locale, "engine.definitions_dir_missing", &[("dir", &dir.display().to_string())]));
        return Ok(ExitCode::FAILURE);
    }
    let loaded = load(Some(dir))?;
    let diagnostics = &loaded.set.diagnostics;
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;

    if as_json {
        let items: Vec<_> = diagnostics
            .iter()
            .map(|d| {
                let mut value = serde_json::to_value(d).expect("diagnostic serializes");
                value["message"] = json!(render_message(d, locale));
                value
            })
            .collect();
        let definitions: Vec<_> = loaded.set.definitions.iter().map(|v| json!({ "id": v.definition.id, "version": v.version, "file": v.definition.file })).collect();
        println!("{}", json!({ "ok": errors == 0, "errors": errors, "warnings": warnings, "definitions": definitions, "diagnostics": items }));
    } else {
        for diagnostic in diagnostics {
            println!("{}", render(diagnostic, locale));
        }
        let summary = if errors == 0 {
            text(locale, "engine.summary_ok", &[("definitions", &loaded.set.definitions.len().to_string()), ("warnings", &warnings.to_string())])
        } else {
            text(locale, "engine.summary_failed", &[("errors", &errors.to_string()), ("warnings", &warnings.to_string())])
        };
        println!("{summary}");
    }
    Ok(if errors == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn render_message(diagnostic: &Diagnostic, locale: Locale) -> String {
    let args: Vec<(&str, &str)> = diagnostic.args.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    text(locale, &format!("engine.{}", diagnostic.code), &args)
}

/// Prints definition `id` of `dir` as a state diagram, `mermaid` or `svg`.
pub fn diagram(dir: &Path, id: &str, format: &str) -> anyhow::Result<ExitCode> {
    let loaded = load(Some(dir))?;
    let Some(versioned) = loaded.set.get(id) else {
        let known: Vec<&str> = loaded.set.definitions.iter().map(|v| v.definition.id.as_str()).collect();
        eprintln!("{}", text(Locale::ZhCn, "engine.definition_not_found", &[("id", id), ("known", &known.join(", "))]));
        return Ok(ExitCode::FAILURE);
    };
    match format {
        "mermaid" => print!("{}", workflows::definition::diagram::mermaid(&versioned.definition)),
        "svg" => print!("{}", workflows::definition::svg::svg(&versioned.definition)),
        _ => {
            eprintln!("{}", text(Locale::ZhCn, "definitions.diagram_format", &[]));
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}
