//! A set of definitions read from files: each parsed, validated and given its version,
//! the SHA-256 of its source text, so two files with one content share one version.

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::model::Definition;
use super::parse::parse_definition;
use super::validate::{Environment, validate};
use crate::diagnostic::{Diagnostic, Pos, has_errors};

/// One definition file as read, with its version.
#[derive(Clone, Debug)]
pub struct Versioned {
    pub definition: Arc<Definition>,
    /// Hex SHA-256 of the source text.
    pub version: String,
    pub source: String,
}

/// The definitions of one directory, or of the copy compiled into the binary.
#[derive(Clone, Debug, Default)]
pub struct DefinitionSet {
    pub definitions: Vec<Versioned>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Returns the version of a definition's source text.
pub fn version_of(source: &str) -> String {
    hex::encode(Sha256::digest(source.as_bytes()))
}

impl DefinitionSet {
    /// Reads every `*.yaml` file under `dir/pipelines` in name order.
    pub fn load_dir(dir: &Path, environment: &dyn Environment) -> std::io::Result<DefinitionSet> {
        let pipelines = dir.join("pipelines");
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&pipelines)? {
            let path = entry?.path();
            if path.extension().is_some_and(|ext| ext == "yaml" || ext == "yml") {
                let name = format!("pipelines/{}", path.file_name().unwrap_or_default().to_string_lossy());
                files.push((name, std::fs::read_to_string(&path)?));
            }
        }
        files.sort();
        Ok(DefinitionSet::from_sources(files, environment))
    }

    /// Parses and validates `(file name, text)` pairs.
    pub fn from_sources(files: Vec<(String, String)>, environment: &dyn Environment) -> DefinitionSet {
        let mut set = DefinitionSet::default();
        for (file, source) in files {
            let (definition, mut found) = parse_definition(&file, &source);
            if let Some(definition) = definition {
                found.extend(validate(&definition, environment));
                if let Some(other) = set.get(&definition.id) {
                    let diagnostic = Diagnostic::error("DUPLICATE_DEFINITION", &file, definition.pos)
                        .arg("id", &definition.id)
                        .arg("other", &other.definition.file);
                    found.push(diagnostic);
                } else {
                    let version = version_of(&source);
                    set.definitions.push(Versioned { definition: Arc::new(definition), version, source });
                }
            }
            set.diagnostics.extend(found);
        }
        if set.definitions.is_empty() && set.diagnostics.is_empty() {
            set.diagnostics.push(Diagnostic::error("NO_DEFINITIONS", "pipelines", Pos::default()));
        }
        set
    }

    pub fn get(&self, id: &str) -> Option<&Versioned> {
        self.definitions.iter().find(|versioned| versioned.definition.id == id)
    }

    pub fn has_errors(&self) -> bool {
        has_errors(&self.diagnostics)
    }
}
