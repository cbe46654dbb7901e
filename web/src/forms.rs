//! Form state for re-rendering a page after an error: the values typed and the
//! messages beside each field.

use serde_json::{Map, Value, json};

use crate::backend::ApiProblem;

/// The error messages of a submitted form, by field, plus one for the whole form.
#[derive(Default)]
pub struct FormErrors {
    fields: Map<String, Value>,
    general: Option<String>,
}

impl FormErrors {
    /// Places `problem` beside its field when the field is one of `known`, else above the form.
    pub fn from_problem(problem: &ApiProblem, known: &[&str]) -> FormErrors {
        let mut errors = FormErrors::default();
        match problem.field.as_deref().filter(|field| known.contains(field)) {
            Some(field) => {
                errors.fields.insert(field.to_string(), Value::String(problem.message.clone()));
            }
            None => errors.general = Some(problem.message.clone()),
        }
        errors
    }

    /// Places `message` beside `field`, for a check the page makes before calling the API.
    pub fn for_field(field: &str, message: String) -> FormErrors {
        let mut errors = FormErrors::default();
        errors.fields.insert(field.to_string(), Value::String(message));
        errors
    }

    /// Describes the errors for a template: `{fields: {name: message}, general}`.
    pub fn to_json(&self) -> Value {
        json!({ "fields": self.fields, "general": self.general })
    }
}
