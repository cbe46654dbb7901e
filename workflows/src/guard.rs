//! Guards and `set` values: expressions in evalexpr's language, evaluated against an
//! instance's context variables and the triggering event's payload.
//!
//! The language has no I/O, no loops and no assignment when evaluated against an
//! immutable context, so evaluation is bounded by the expression's length. Builtin
//! functions are turned off so that an expression can only compute over its inputs.
//! Variables are checked against the declared context at validation time.

use evalexpr::{
    Context, ContextWithMutableVariables, DefaultNumericTypes, HashMapContext, Node, Value,
};

/// A compiled expression with its source text.
#[derive(Clone, Debug)]
pub struct Expr {
    pub source: String,
    tree: Node<DefaultNumericTypes>,
}

impl Expr {
    /// Compiles `source`, or returns the parser's message.
    pub fn compile(source: &str) -> Result<Expr, String> {
        let tree = evalexpr::build_operator_tree::<DefaultNumericTypes>(source).map_err(|e| e.to_string())?;
        Ok(Expr { source: source.to_string(), tree })
    }

    /// Returns the variables the expression reads or writes.
    pub fn variables(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tree.iter_variable_identifiers().map(str::to_string).collect();
        names.sort();
        names.dedup();
        names
    }

    /// Returns whether the expression contains an assignment or a function call, which
    /// guards and `set` values may not use.
    pub fn has_side_effects(&self) -> bool {
        let writes = self.tree.iter_variable_identifiers().count() != self.tree.iter_read_variable_identifiers().count();
        writes || self.tree.iter_function_identifiers().next().is_some()
    }

    /// Evaluates against `context` (the instance's variables) and `event` (the payload,
    /// visible as `event_<field>`).
    pub fn eval(
        &self,
        context: &serde_json::Map<String, serde_json::Value>,
        event: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<serde_json::Value, String> {
        let mut scope = HashMapContext::<DefaultNumericTypes>::new();
        scope.set_builtin_functions_disabled(true).map_err(|e| e.to_string())?;
        for (name, value) in context {
            scope.set_value(name.clone(), to_value(value)).map_err(|e| e.to_string())?;
        }
        for (name, value) in event {
            scope.set_value(format!("event_{name}"), to_value(value)).map_err(|e| e.to_string())?;
        }
        let value = self.tree.eval_with_context(&scope).map_err(|e| e.to_string())?;
        Ok(from_value(value))
    }

    /// Evaluates a guard: anything but boolean `true` is false, and an error is reported.
    pub fn holds(
        &self,
        context: &serde_json::Map<String, serde_json::Value>,
        event: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<bool, String> {
        match self.eval(context, event)? {
            serde_json::Value::Bool(value) => Ok(value),
            other => Err(format!("guard “{}” gave {other}, not true or false", self.source)),
        }
    }
}

fn to_value(json: &serde_json::Value) -> Value<DefaultNumericTypes> {
    match json {
        serde_json::Value::Bool(value) => Value::Boolean(*value),
        serde_json::Value::Number(number) => match number.as_i64() {
            Some(int) => Value::from_int(int),
            None => Value::from_float(number.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(text) => Value::String(text.clone()),
        serde_json::Value::Null => Value::Empty,
        other => Value::String(other.to_string()),
    }
}

fn from_value(value: Value<DefaultNumericTypes>) -> serde_json::Value {
    match value {
        Value::Boolean(value) => serde_json::Value::Bool(value),
        Value::Int(int) => serde_json::Value::from(int),
        Value::Float(float) => serde_json::Value::from(float),
        Value::String(text) => serde_json::Value::String(text),
        Value::Empty => serde_json::Value::Null,
        Value::Tuple(items) => serde_json::Value::Array(items.into_iter().map(from_value).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn guard_reads_context_and_event() {
        let guard = Expr::compile("credits >= 20 && event_passed").unwrap();
        assert_eq!(guard.variables(), vec!["credits", "event_passed"]);
        let context = map(json!({"credits": 20}));
        assert_eq!(guard.holds(&context, &map(json!({"passed": true}))), Ok(true));
        assert_eq!(guard.holds(&context, &map(json!({"passed": false}))), Ok(false));
    }

    #[test]
    fn set_value_computes() {
        let expr = Expr::compile("completed_courses + 1").unwrap();
        let value = expr.eval(&map(json!({"completed_courses": 4})), &map(json!({}))).unwrap();
        assert_eq!(value, json!(5));
    }

    #[test]
    fn non_boolean_guard_is_an_error() {
        let guard = Expr::compile("credits + 1").unwrap();
        assert!(guard.holds(&map(json!({"credits": 1})), &map(json!({}))).is_err());
    }

    #[test]
    fn assignment_and_calls_are_side_effects() {
        assert!(Expr::compile("credits = 5").unwrap().has_side_effects());
        assert!(Expr::compile("min(credits, 3) > 1").unwrap().has_side_effects());
        assert!(!Expr::compile("credits >= 20 && x != 3 && y <= 2").unwrap().has_side_effects());
    }

    #[test]
    fn syntax_error_is_reported() {
        assert!(Expr::compile("(credits >= 20").is_err());
    }
}
