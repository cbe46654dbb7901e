//! Static analysis of a compiled Handlebars template: which top-level fields it reads,
//! and which constructs it uses that notification templates do not allow.

use std::collections::BTreeSet;

use handlebars::template::{Parameter, TemplateElement};
use handlebars::{PathSeg, Template};

/// Handlebars helpers a template may call inline, as `{{helper field}}`.
const INLINE_HELPERS: &[&str] = &[
    "eq", "ne", "gt", "gte", "lt", "lte", "and", "or", "not", "len",
];

/// Block helpers a template may use. `each` and `with` are left out because they change
/// the context, so the fields inside them could not be checked against `fields.yaml`.
const BLOCK_HELPERS: &[&str] = &["if", "unless"];

/// Fields and unsupported constructs found in one template file.
#[derive(Debug, Default)]
pub(super) struct TemplateUsage {
    pub(super) fields: BTreeSet<String>,
    pub(super) unsupported: BTreeSet<String>,
}

/// Records the top-level fields a template reads and the constructs it may not use.
pub(super) fn collect_usage(template: &Template, usage: &mut TemplateUsage) {
    for element in &template.elements {
        match element {
            TemplateElement::RawString(_) | TemplateElement::Comment(_) => {}
            TemplateElement::Expression(helper) | TemplateElement::HtmlExpression(helper) => {
                let is_plain_field = helper.params.is_empty() && helper.hash.is_empty();
                if is_plain_field {
                    collect_parameter(&helper.name, usage);
                } else {
                    check_helper_name(&helper.name, INLINE_HELPERS, "helper", usage);
                    collect_arguments(&helper.params, helper.hash.values(), usage);
                }
            }
            TemplateElement::HelperBlock(helper) => {
                check_helper_name(&helper.name, BLOCK_HELPERS, "block helper", usage);
                collect_arguments(&helper.params, helper.hash.values(), usage);
                if let Some(inner) = &helper.template {
                    collect_usage(inner, usage);
                }
                if let Some(inverse) = &helper.inverse {
                    collect_usage(inverse, usage);
                }
            }
            TemplateElement::PartialExpression(_) | TemplateElement::PartialBlock(_) => {
                usage.unsupported.insert("a partial".to_string());
            }
            TemplateElement::DecoratorExpression(_) | TemplateElement::DecoratorBlock(_) => {
                usage.unsupported.insert("a decorator".to_string());
            }
            _ => {
                usage
                    .unsupported
                    .insert("an unrecognised Handlebars element".to_string());
            }
        }
    }
}

fn check_helper_name(
    name: &Parameter,
    allowed: &[&str],
    helper_kind: &str,
    usage: &mut TemplateUsage,
) {
    let helper = match name {
        Parameter::Name(name) => name.clone(),
        Parameter::Path(path) => path_root(path).unwrap_or_default(),
        _ => String::new(),
    };
    if !allowed.contains(&helper.as_str()) {
        usage
            .unsupported
            .insert(format!("{helper_kind} `{helper}`"));
    }
}

fn collect_arguments<'a>(
    params: &'a [Parameter],
    hash_values: impl Iterator<Item = &'a Parameter>,
    usage: &mut TemplateUsage,
) {
    for parameter in params.iter().chain(hash_values) {
        collect_parameter(parameter, usage);
    }
}

fn collect_parameter(parameter: &Parameter, usage: &mut TemplateUsage) {
    match parameter {
        Parameter::Name(name) => {
            usage.fields.insert(name.clone());
        }
        Parameter::Path(path) => {
            if let Some(field) = path_root(path) {
                usage.fields.insert(field);
            }
        }
        Parameter::Literal(_) => {}
        Parameter::Subexpression(subexpression) => {
            let name = Parameter::Name(subexpression.name().to_string());
            check_helper_name(&name, INLINE_HELPERS, "helper", usage);
            let params = subexpression.params().map(Vec::as_slice).unwrap_or(&[]);
            let hash_values = subexpression
                .hash()
                .into_iter()
                .flat_map(|hash| hash.values());
            collect_arguments(params, hash_values, usage);
        }
        _ => {
            usage
                .unsupported
                .insert("an unrecognised Handlebars parameter".to_string());
        }
    }
}

/// Returns the first named segment of a path (`card_no` for `card_no` or `@root.card_no`),
/// or `None` for a local variable such as `@index` or for `this`.
fn path_root(path: &handlebars::Path) -> Option<String> {
    match path {
        handlebars::Path::Relative((segments, _raw)) => {
            segments.iter().find_map(|segment| match segment {
                PathSeg::Named(name) if name != "this" => Some(name.clone()),
                _ => None,
            })
        }
        handlebars::Path::Local(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage_of(source: &str) -> TemplateUsage {
        let template = Template::compile(source).unwrap();
        let mut usage = TemplateUsage::default();
        collect_usage(&template, &mut usage);
        usage
    }

    #[test]
    fn usage_collects_plain_and_helper_fields() {
        let usage = usage_of(
            "{{name}} {{#if reason}}{{reason}}{{else}}{{item_name}}{{/if}} {{eq score pass_mark}} {{@root.card_no}} {{@index}}",
        );
        let fields: Vec<&str> = usage.fields.iter().map(String::as_str).collect();
        assert_eq!(
            fields,
            [
                "card_no",
                "item_name",
                "name",
                "pass_mark",
                "reason",
                "score"
            ]
        );
        assert!(usage.unsupported.is_empty(), "{:?}", usage.unsupported);
    }

    #[test]
    fn usage_flags_each_and_partials() {
        let usage = usage_of("{{#each items}}{{this}}{{/each}} {{> footer}} {{custom name}}");
        assert!(
            usage.unsupported.contains("block helper `each`"),
            "{:?}",
            usage.unsupported
        );
        assert!(
            usage.unsupported.contains("a partial"),
            "{:?}",
            usage.unsupported
        );
        assert!(
            usage.unsupported.contains("helper `custom`"),
            "{:?}",
            usage.unsupported
        );
    }
}
