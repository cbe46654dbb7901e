//! Property test of the definition parser and validator: mutated copies of the bundled
//! pipelines and random text never panic, and every problem comes back as a diagnostic
//! with a position and a catalogue message whose placeholders all have values.
//!
//! Cases: `CERTFLOW_FUZZ_CASES` (default 400), seed: `CERTFLOW_FUZZ_SEED` (default 1).
//! Long run: `CERTFLOW_FUZZ_CASES=200000 CERTFLOW_FUZZ_SEED=$RANDOM cargo test --release --test definition_fuzz`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use domain::messages::{Catalogue, Locale};
use rand::Rng;
use workflows::definition::set::DefinitionSet;
use workflows::definition::validate::AnyEnvironment;
use workflows::diagnostic::Diagnostic;
use workflows::testing::fuzz::Fuzz;

fn bundled_pipelines() -> Vec<(String, String)> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/definitions/pipelines"));
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("definitions/pipelines is readable")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .map(|path| (format!("pipelines/{}", path.file_name().unwrap().to_string_lossy()), std::fs::read_to_string(&path).unwrap()))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "expected the bundled pipelines, found {}", files.len());
    files
}

/// Returns the `{name}` placeholders of `template`.
fn placeholders(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find('}') else { break };
        let name = &rest[..close];
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            names.push(name.to_string());
        }
        rest = &rest[close + 1..];
    }
    names
}

/// Returns what is wrong with `diagnostic` as a user would read it, if anything.
fn unclear(diagnostic: &Diagnostic, lines: usize) -> Option<String> {
    let code = format!("engine.{}", diagnostic.code);
    let catalogue = Catalogue::global();
    if !catalogue.contains(&code) {
        return Some(format!("{code} has no message in the catalogue"));
    }
    for locale in [Locale::ZhCn, Locale::En] {
        let template = catalogue.render(locale, &code, &[]);
        for name in placeholders(&template) {
            if diagnostic.get(&name).is_none() {
                return Some(format!("{code} leaves {{{name}}} without a value"));
            }
        }
    }
    if diagnostic.line > lines + 1 {
        return Some(format!("{code} points at line {} of a {lines}-line file", diagnostic.line));
    }
    None
}

#[test]
fn mutated_definitions_give_diagnostics() {
    let pipelines = bundled_pipelines();
    let mut fuzz = Fuzz::from_env(400);
    let mut with_errors = 0;

    for case in 0..fuzz.cases {
        let (file, original) = &pipelines[fuzz.rng().random_range(0..pipelines.len())];
        let text = match fuzz.rng().random_range(0..10) {
            0 => fuzz.string(),
            1 => String::from_utf8_lossy(&fuzz.bytes(400)).to_string(),
            _ => fuzz.mutate_text(original),
        };
        let lines = text.lines().count();
        let files = vec![(file.clone(), text.clone())];
        let outcome = catch_unwind(AssertUnwindSafe(|| DefinitionSet::from_sources(files, &AnyEnvironment)));
        let set = outcome.unwrap_or_else(|_| panic!("parser panicked on case {case} (CERTFLOW_FUZZ_SEED={}):\n{text}", fuzz.seed));

        if set.has_errors() {
            with_errors += 1;
        }
        for diagnostic in &set.diagnostics {
            if let Some(problem) = unclear(diagnostic, lines) {
                panic!("case {case} (CERTFLOW_FUZZ_SEED={}): {problem}\n{text}", fuzz.seed);
            }
        }
    }
    assert!(with_errors > 0, "no mutation produced an error, so the test exercised nothing");
}

#[test]
fn placeholders_found_in_templates() {
    assert_eq!(placeholders("“{key}”应为 {a_b}，{ not } {}"), vec!["key".to_string(), "a_b".to_string()]);
}
