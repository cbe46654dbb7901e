//! The definition format's reference material stays in step with the parser: the JSON
//! Schema for editors names exactly the keys the parser accepts, and the reference in
//! `docs/definitions.md` mentions every key and every diagnostic code.

use std::collections::BTreeSet;

use workflows::definition::parse::KEYS_BY_MAPPING;

const SCHEMA: &str = include_str!("../definitions/schema/pipeline.schema.json");
const REFERENCE: &str = include_str!("../docs/definitions.md");
const ENGINE_MESSAGES: &str = include_str!("../definitions/messages/engine.yaml");

#[test]
fn schema_names_exactly_the_parser_keys() {
    let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
    for (mapping, keys) in KEYS_BY_MAPPING {
        let definition = &schema["$defs"][mapping];
        assert_eq!(definition["additionalProperties"], false, "{mapping} refuses unknown keys, as the parser does");
        let in_schema: BTreeSet<&str> = definition["properties"].as_object().unwrap_or_else(|| panic!("$defs.{mapping}")).keys().map(String::as_str).collect();
        let in_parser: BTreeSet<&str> = keys.iter().copied().collect();
        assert_eq!(in_schema, in_parser, "keys of {mapping}");
    }
}

#[test]
fn reference_mentions_every_key_and_code() {
    for (mapping, keys) in KEYS_BY_MAPPING {
        for key in *keys {
            assert!(REFERENCE.contains(&format!("`{key}`")), "docs/definitions.md does not mention key `{key}` of {mapping}");
        }
    }
    let codes: Vec<&str> = ENGINE_MESSAGES
        .lines()
        .filter_map(|line| line.strip_prefix("engine.")?.strip_suffix(':'))
        .filter(|code| code.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect();
    assert!(codes.len() > 30, "{codes:?}");
    for code in codes {
        assert!(REFERENCE.contains(&format!("`{code}`")), "docs/definitions.md does not list code `{code}`");
    }
}

#[test]
fn reference_lists_every_job_and_recipient() {
    for job in workers::jobs::JOB_NAMES {
        assert!(REFERENCE.contains(&format!("`{job}`")), "docs/definitions.md does not list job `{job}`");
    }
    for recipient in workers::environment::RECIPIENTS {
        assert!(REFERENCE.contains(&format!("`{recipient}`")), "docs/definitions.md does not list recipient `{recipient}`");
    }
}
