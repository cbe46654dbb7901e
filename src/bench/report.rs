//! The engine bench's report: figures with their ratios to the baselines and targets,
//! printed as a table and stored as JSON, each beside the same figure of the previous
//! report so a regression shows.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::measure::Measurement;

/// One figure of one backend.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Figure {
    pub name: String,
    /// Unit of `value`, such as `rows/s` or `ms`.
    pub unit: String,
    pub value: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Slowest sample, for figures that keep it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ms: Option<f64>,
    /// Samples behind the figure (calls, rows or jobs).
    pub samples: usize,
    /// `(label, value)`: the figure divided by a baseline.
    pub ratios: Vec<(String, f64)>,
    /// The target from the requirements, as text, when there is one.
    pub target: Option<String>,
    /// The same figure's value in the previous report, and the relative change.
    pub previous: Option<f64>,
    pub change_percent: Option<f64>,
}

impl Figure {
    pub fn rate(name: &str, unit: &str, measured: &Measurement) -> Figure {
        Figure {
            name: name.into(),
            unit: unit.into(),
            value: measured.per_second,
            p50_ms: Some(measured.p50_us / 1000.0),
            p99_ms: Some(measured.p99_us / 1000.0),
            max_ms: None,
            samples: measured.calls,
            ratios: Vec::new(),
            target: None,
            previous: None,
            change_percent: None,
        }
    }

    /// Builds a latency figure whose value is the p99 in milliseconds.
    pub fn latency(name: &str, measured: &Measurement) -> Figure {
        Figure { value: measured.p99_us / 1000.0, unit: "ms (p99)".into(), ..Figure::rate(name, "", measured) }
    }

    pub fn ratio(mut self, label: &str, baseline: f64) -> Figure {
        self.ratios.push((label.into(), self.value / baseline.max(f64::EPSILON)));
        self
    }

    pub fn target(mut self, text: &str) -> Figure {
        self.target = Some(text.into());
        self
    }
}

/// Figures of one backend, in the order measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BackendReport {
    pub backend: String,
    pub figures: Vec<Figure>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub measured_at: String,
    pub command: String,
    pub environment: serde_json::Value,
    pub backends: Vec<BackendReport>,
}

impl Report {
    /// Reads the report at `path`; a missing or unreadable file means no previous run.
    pub fn read(path: &Path) -> Option<Report> {
        let text = std::fs::read_to_string(path).ok()?;
        match serde_json::from_str(&text) {
            Ok(report) => Some(report),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "previous bench report unreadable; no comparison");
                None
            }
        }
    }

    /// Fills each figure's `previous` and `change_percent` from `previous`.
    pub fn compare_with(&mut self, previous: &Report) {
        for backend in &mut self.backends {
            let Some(before) = previous.backends.iter().find(|other| other.backend == backend.backend) else { continue };
            for figure in &mut backend.figures {
                if let Some(old) = before.figures.iter().find(|other| other.name == figure.name) {
                    figure.previous = Some(old.value);
                    figure.change_percent = Some((figure.value - old.value) / old.value.abs().max(f64::EPSILON) * 100.0);
                }
            }
        }
    }

    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(self)?)?;
        Ok(())
    }

    /// Renders one Markdown table per backend.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for backend in &self.backends {
            out.push_str(&format!("\n## {}\n\n", backend.backend));
            out.push_str("| figure | value | unit | p50 ms | p99 ms | max ms | ratios | target | previous | change |\n");
            out.push_str("|---|---:|---|---:|---:|---:|---|---|---:|---:|\n");
            for figure in &backend.figures {
                let ratios: Vec<String> = figure.ratios.iter().map(|(label, value)| format!("{value:.2}× {label}")).collect();
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                    figure.name,
                    number(figure.value),
                    figure.unit,
                    figure.p50_ms.map(|ms| format!("{ms:.2}")).unwrap_or_default(),
                    figure.p99_ms.map(|ms| format!("{ms:.2}")).unwrap_or_default(),
                    figure.max_ms.map(|ms| format!("{ms:.2}")).unwrap_or_default(),
                    ratios.join(", "),
                    figure.target.clone().unwrap_or_default(),
                    figure.previous.map(number).unwrap_or_else(|| "-".into()),
                    figure.change_percent.map(|change| format!("{change:+.1}%")).unwrap_or_else(|| "-".into()),
                ));
            }
        }
        out
    }
}

/// Formats a figure with thousands separators above 100 and two decimals below.
fn number(value: f64) -> String {
    if value.abs() < 100.0 {
        return format!("{value:.2}");
    }
    let whole = format!("{:.0}", value);
    let mut grouped = String::new();
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 && digit.is_ascii_digit() {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(name: &str, value: f64) -> Figure {
        Figure { name: name.into(), unit: "rows/s".into(), value, p50_ms: None, p99_ms: None, max_ms: None, samples: 1, ratios: vec![], target: None, previous: None, change_percent: None }
    }

    #[test]
    fn comparison_matches_backend_and_name() {
        let previous = Report { measured_at: String::new(), command: String::new(), environment: serde_json::Value::Null, backends: vec![BackendReport { backend: "sqlite".into(), figures: vec![figure("transitions", 200.0)] }] };
        let mut current = Report {
            measured_at: String::new(),
            command: String::new(),
            environment: serde_json::Value::Null,
            backends: vec![
                BackendReport { backend: "sqlite".into(), figures: vec![figure("transitions", 150.0), figure("new figure", 1.0)] },
                BackendReport { backend: "postgres".into(), figures: vec![figure("transitions", 900.0)] },
            ],
        };
        current.compare_with(&previous);
        assert_eq!(current.backends[0].figures[0].previous, Some(200.0));
        assert_eq!(current.backends[0].figures[0].change_percent, Some(-25.0));
        assert_eq!(current.backends[0].figures[1].previous, None);
        assert_eq!(current.backends[1].figures[0].previous, None, "another backend is not compared");
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(number(1234567.4), "1,234,567");
        assert_eq!(number(999.0), "999");
        assert_eq!(number(12.345), "12.35");
    }
}
