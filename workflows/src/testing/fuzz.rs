//! Seeded random inputs for property tests: mutated text, bytes and JSON.
//!
//! A run draws `CERTFLOW_FUZZ_CASES` cases (each test names its own default, small
//! enough for the normal suite) from the seed in `CERTFLOW_FUZZ_SEED` (default 1). The
//! seed and the case number go into every failure message, so a failing case replays
//! with the same two variables. A long run raises the case count, for example
//! `CERTFLOW_FUZZ_CASES=100000 CERTFLOW_FUZZ_SEED=$RANDOM cargo test --test definition_fuzz`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};

/// Characters that change the structure of YAML, CSV and JSON text when inserted.
const STRUCTURAL: &[&str] = &[
    ":", "-", " ", "  ", "\t", "\n", "\r\n", "{", "}", "[", "]", "\"", "'", ",", "#", "&", "*", "!", "|", ">", "%", "@", "`", "\\", "\0",
    "\u{FEFF}", "·", "号", "\u{1F600}", "\u{10FFFF}", "null", "~", "0x", "-1", "1e999", "99999999999999999999",
];

/// A seeded generator of random inputs.
pub struct Fuzz {
    rng: StdRng,
    /// The seed of this run.
    pub seed: u64,
    /// The number of cases to draw.
    pub cases: usize,
}

impl Fuzz {
    /// Builds a generator from `CERTFLOW_FUZZ_SEED` and `CERTFLOW_FUZZ_CASES`, with
    /// `default_cases` when the latter is unset.
    pub fn from_env(default_cases: usize) -> Fuzz {
        let seed = std::env::var("CERTFLOW_FUZZ_SEED").ok().and_then(|text| text.parse().ok()).unwrap_or(1);
        let cases = std::env::var("CERTFLOW_FUZZ_CASES").ok().and_then(|text| text.parse().ok()).unwrap_or(default_cases);
        Fuzz { rng: StdRng::seed_from_u64(seed), seed, cases }
    }

    /// Returns the random number generator, for test-specific choices.
    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }

    /// Returns `text` with one to eight edits: deleted, duplicated or swapped lines,
    /// structural characters inserted, spans deleted, or the text cut short.
    pub fn mutate_text(&mut self, text: &str) -> String {
        let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
        let edits = self.rng.random_range(1..=8);
        for _ in 0..edits {
            if lines.is_empty() {
                lines.push(String::new());
            }
            let at = self.rng.random_range(0..lines.len());
            match self.rng.random_range(0..6) {
                0 => {
                    lines.remove(at);
                }
                1 => {
                    let copy = lines[at].clone();
                    lines.insert(at, copy);
                }
                2 => {
                    let other = self.rng.random_range(0..lines.len());
                    lines.swap(at, other);
                }
                3 => {
                    let inserted = STRUCTURAL[self.rng.random_range(0..STRUCTURAL.len())];
                    let position = self.char_boundary(&lines[at]);
                    lines[at].insert_str(position, inserted);
                }
                4 => {
                    let start = self.char_boundary(&lines[at]);
                    let end = start + lines[at][start..].chars().take(self.rng.random_range(1..=6)).map(char::len_utf8).sum::<usize>();
                    lines[at].replace_range(start..end, "");
                }
                _ => {
                    let position = self.char_boundary(&lines[at]);
                    lines[at].truncate(position);
                    lines.truncate(at + 1);
                }
            }
        }
        lines.join("\n")
    }

    /// Returns `bytes` with one to eight random bytes overwritten, inserted or deleted,
    /// or cut short.
    pub fn mutate_bytes(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut bytes = bytes.to_vec();
        let edits = self.rng.random_range(1..=8);
        for _ in 0..edits {
            let at = self.rng.random_range(0..=bytes.len());
            match self.rng.random_range(0..4) {
                0 if at < bytes.len() => bytes[at] = self.rng.random(),
                1 => bytes.insert(at, self.rng.random()),
                2 if at < bytes.len() => {
                    bytes.remove(at);
                }
                3 => bytes.truncate(at),
                _ => {}
            }
        }
        bytes
    }

    /// Returns up to `max_len` random bytes.
    pub fn bytes(&mut self, max_len: usize) -> Vec<u8> {
        let len = self.rng.random_range(0..=max_len);
        (0..len).map(|_| self.rng.random()).collect()
    }

    /// Returns a random JSON value nested at most `depth` levels.
    pub fn json(&mut self, depth: u32) -> Value {
        let kinds = if depth == 0 { 5 } else { 7 };
        match self.rng.random_range(0..kinds) {
            0 => Value::Null,
            1 => Value::Bool(self.rng.random()),
            2 => Value::from(self.rng.random::<i64>()),
            3 => serde_json::Number::from_f64(self.rng.random_range(-1e12..1e12)).map(Value::Number).unwrap_or(Value::Null),
            4 => Value::String(self.string()),
            5 => Value::Array((0..self.rng.random_range(0..4)).map(|_| self.json(depth - 1)).collect()),
            _ => {
                let mut object = Map::new();
                for _ in 0..self.rng.random_range(0..5) {
                    object.insert(self.string(), self.json(depth - 1));
                }
                Value::Object(object)
            }
        }
    }

    /// Returns `value` with one to four fields removed, replaced by random values, or
    /// added, at any depth.
    pub fn mutate_json(&mut self, value: &Value) -> Value {
        let mut value = value.clone();
        for _ in 0..self.rng.random_range(1..=4) {
            self.mutate_json_once(&mut value, 0);
        }
        value
    }

    fn mutate_json_once(&mut self, value: &mut Value, depth: u32) {
        match value {
            Value::Object(object) if !object.is_empty() && self.rng.random_bool(0.8) => {
                let keys: Vec<String> = object.keys().cloned().collect();
                let key = keys[self.rng.random_range(0..keys.len())].clone();
                match self.rng.random_range(0..4) {
                    0 => {
                        object.remove(&key);
                    }
                    1 => {
                        object.insert(key, self.json(2));
                    }
                    2 => {
                        object.insert(self.string(), self.json(1));
                    }
                    _ => self.mutate_json_once(object.get_mut(&key).expect("key taken from the map"), depth + 1),
                }
            }
            Value::Array(items) if !items.is_empty() && self.rng.random_bool(0.8) => {
                let at = self.rng.random_range(0..items.len());
                if self.rng.random_bool(0.5) {
                    items.remove(at);
                } else {
                    self.mutate_json_once(&mut items[at], depth + 1);
                }
            }
            other => *other = self.json(2),
        }
    }

    /// Returns a short string from structural characters, digits and CJK text.
    pub fn string(&mut self) -> String {
        let parts = self.rng.random_range(0..5);
        let mut text = String::new();
        for _ in 0..parts {
            match self.rng.random_range(0..3) {
                0 => text.push_str(STRUCTURAL[self.rng.random_range(0..STRUCTURAL.len())]),
                1 => text.push_str(&self.rng.random_range(0..100_000u32).to_string()),
                _ => text.push(char::from_u32(self.rng.random_range(0x4E00..0x9FA5)).unwrap_or('中')),
            }
        }
        text
    }

    /// Returns a random char boundary of `text`.
    fn char_boundary(&mut self, text: &str) -> usize {
        let boundaries: Vec<usize> = text.char_indices().map(|(at, _)| at).chain(std::iter::once(text.len())).collect();
        boundaries[self.rng.random_range(0..boundaries.len())]
    }
}
