//! Reading marked YAML nodes with positions: small accessors that turn a wrong shape
//! into a diagnostic at the node's line and column instead of a panic.

use marked_yaml::Node;
use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};

use crate::diagnostic::{Diagnostic, Pos};

/// Returns the start position of `node`.
pub fn pos(node: &Node) -> Pos {
    // marked-yaml starts a block mapping's span at its first `:`, so a mapping is located
    // by its first key, where the reader's eye goes.
    if let Some(first_key) = node.as_mapping().and_then(|mapping| mapping.keys().next()) {
        return scalar_pos(first_key);
    }
    node.span().start().map(|m| Pos { line: m.line(), column: m.column() }).unwrap_or_default()
}

pub fn scalar_pos(node: &MarkedScalarNode) -> Pos {
    node.span().start().map(|m| Pos { line: m.line(), column: m.column() }).unwrap_or_default()
}

/// Collects diagnostics for one file while it is read.
pub struct Reader<'a> {
    pub file: &'a str,
    pub diagnostics: Vec<Diagnostic>,
}

impl<'a> Reader<'a> {
    pub fn new(file: &'a str) -> Reader<'a> {
        Reader { file, diagnostics: Vec::new() }
    }

    pub fn error(&mut self, code: &'static str, at: Pos) -> &mut Diagnostic {
        self.diagnostics.push(Diagnostic::error(code, self.file, at));
        self.diagnostics.last_mut().expect("just pushed")
    }

    /// Returns `node` as a mapping, or records `EXPECTED_MAPPING` for `what`.
    pub fn mapping<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n MarkedMappingNode> {
        let mapping = node.as_mapping();
        if mapping.is_none() {
            self.error("EXPECTED_MAPPING", pos(node)).args.push(("key".into(), what.into()));
        }
        mapping
    }

    /// Returns `node` as a string scalar, or records `EXPECTED_SCALAR` for `what`.
    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.as_scalar() {
            Some(scalar) => Some(scalar.as_str().to_string()),
            None => {
                self.error("EXPECTED_SCALAR", pos(node)).args.push(("key".into(), what.into()));
                None
            }
        }
    }

    /// Returns a list of strings: a sequence of scalars, or one scalar as a list of one.
    pub fn strings(&mut self, node: &Node, what: &str) -> Vec<String> {
        if let Some(scalar) = node.as_scalar() {
            return vec![scalar.as_str().to_string()];
        }
        let Some(sequence) = node.as_sequence() else {
            self.error("EXPECTED_LIST", pos(node)).args.push(("key".into(), what.into()));
            return Vec::new();
        };
        sequence.iter().filter_map(|item| self.string(item, what)).collect()
    }

    /// Records `UNKNOWN_KEY` for every key of `mapping` not in `allowed`.
    pub fn only_keys(&mut self, mapping: &MarkedMappingNode, allowed: &[&str], within: &str) {
        for key in mapping.keys() {
            if !allowed.contains(&key.as_str()) {
                let diagnostic = self.error("UNKNOWN_KEY", scalar_pos(key));
                diagnostic.args.push(("key".into(), key.as_str().into()));
                diagnostic.args.push(("within".into(), within.into()));
                diagnostic.args.push(("allowed".into(), allowed.join(", ")));
            }
        }
    }

    /// Returns the value of a required key, or records `MISSING_KEY` at `at`.
    pub fn required<'n>(&mut self, mapping: &'n MarkedMappingNode, key: &str, at: Pos, within: &str) -> Option<&'n Node> {
        let node = mapping.get_node(key);
        if node.is_none() {
            let diagnostic = self.error("MISSING_KEY", at);
            diagnostic.args.push(("key".into(), key.into()));
            diagnostic.args.push(("within".into(), within.into()));
        }
        node
    }
}
