//! The operator catalogue (特种设备作业人员资格认定分类与项目): categories and items of
//! the 2019 catalogue published with TSG Z6001-2019, with the 2011 codes that map onto
//! each item.
//!
//! The same code can mean different items in the two catalogues. Legacy N2 (叉车司机) is
//! today's N1, and legacy R1 was 固定式压力容器操作, not today's R1. Every stored code
//! is therefore an [`ItemRef`] that carries its catalogue version.
//!
//! The data lives in `definitions/catalogue/catalogue-2019.csv`, which data staff edit.
//! Columns: category_no, category_name, item_code, item_name, trial (yes/no),
//! legacy_2011_codes (`;`-separated), note, and aliases (`;`-separated local names).

mod csv_file;
mod error;

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::identity::text::nfkc_trimmed;

pub use error::CatalogueError;

/// The compiled-in catalogue file.
const EMBEDDED_CSV: &str = include_str!("../../definitions/catalogue/catalogue-2019.csv");

/// A catalogue edition. Codes are stored with [`CatalogueVersion::V2019`] only, and
/// V2011 codes are accepted on import and mapped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CatalogueVersion {
    #[default]
    #[serde(rename = "2019")]
    V2019,
    #[serde(rename = "2011")]
    V2011,
}

impl CatalogueVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            CatalogueVersion::V2019 => "2019",
            CatalogueVersion::V2011 => "2011",
        }
    }

    /// Parses `2019` or `2011`, also written as `2019版` or `2019年`. An empty value
    /// is `None`, so callers decide the default.
    pub fn parse(text: &str) -> Option<CatalogueVersion> {
        let value = nfkc_trimmed(text);
        let year = value.trim_end_matches(['版', '年']);
        match year {
            "2019" => Some(CatalogueVersion::V2019),
            "2011" => Some(CatalogueVersion::V2011),
            _ => None,
        }
    }
}

/// A reference to a catalogue item as stored: the code and the catalogue it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ItemRef {
    pub code: String,
    pub catalogue_version: CatalogueVersion,
}

/// One item (作业项目) of the 2019 catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub category_no: u32,
    pub category_name: String,
    /// The 2019 code, or `None` for the welding items, whose codes follow the welder
    /// assessment rules instead of the catalogue.
    pub code: Option<String>,
    pub name: String,
    /// Whether the item is open for enrollment in the current trial.
    pub trial: bool,
    /// Codes of the 2011 catalogue that map onto this item.
    pub legacy_2011_codes: Vec<String>,
    /// Local names that resolve to this item, such as 电梯维修 for T.
    pub aliases: Vec<String>,
    pub note: String,
}

impl Item {
    /// Returns the stored reference of this item, or `None` for an item without code.
    pub fn item_ref(&self) -> Option<ItemRef> {
        let code = self.code.clone()?;
        Some(ItemRef {
            code,
            catalogue_version: CatalogueVersion::V2019,
        })
    }
}

/// The parsed catalogue with lookups by code, legacy code and name.
#[derive(Clone, Debug)]
pub struct Catalogue {
    items: Vec<Item>,
    by_code: HashMap<String, usize>,
    by_legacy_code: HashMap<String, usize>,
    by_name: HashMap<String, usize>,
}

impl Catalogue {
    /// Returns the catalogue compiled in from `definitions/catalogue/catalogue-2019.csv`.
    ///
    /// Panics when that file is invalid, which the catalogue tests report first.
    pub fn embedded() -> &'static Catalogue {
        static EMBEDDED: OnceLock<Catalogue> = OnceLock::new();
        EMBEDDED.get_or_init(|| {
            Catalogue::parse_csv(EMBEDDED_CSV)
                .expect("definitions/catalogue/catalogue-2019.csv is valid")
        })
    }

    /// Parses the catalogue CSV. The `aliases` column is optional, and columns may come
    /// in any order.
    ///
    /// Rejects a missing column, a category number that is not a number, a trial value
    /// other than yes/no, an empty item name, and a code, legacy code or name that
    /// appears on two rows.
    pub fn parse_csv(text: &str) -> Result<Catalogue, CatalogueError> {
        let mut catalogue = Catalogue {
            items: Vec::new(),
            by_code: HashMap::new(),
            by_legacy_code: HashMap::new(),
            by_name: HashMap::new(),
        };
        for (item, line) in csv_file::read_items(text)? {
            catalogue.insert(item, line)?;
        }
        Ok(catalogue)
    }

    /// All items in file order, including those without code.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Returns the item with the 2019 `code`, ignoring case and surrounding spaces.
    pub fn item(&self, code: &str) -> Option<&Item> {
        self.by_code
            .get(&code_key(code))
            .map(|&index| &self.items[index])
    }

    /// Returns the items open for enrollment, in file order.
    pub fn trial_items(&self) -> Vec<&Item> {
        self.items.iter().filter(|item| item.trial).collect()
    }

    /// Returns the 2019 item that a 2011 code maps onto, or `None` when the code has no
    /// successor. Legacy R1 (固定式压力容器操作) is such a code although 2019 has an R1.
    pub fn map_legacy_2011(&self, code: &str) -> Option<&Item> {
        self.by_legacy_code
            .get(&code_key(code))
            .map(|&index| &self.items[index])
    }

    /// Returns the item whose name or local alias is `name`, ignoring spaces and
    /// full-width forms.
    pub fn item_by_name(&self, name: &str) -> Option<&Item> {
        self.by_name
            .get(&name_key(name))
            .map(|&index| &self.items[index])
    }

    /// Resolves a code of catalogue `version`, or an item name or alias, to the stored
    /// 2019 reference.
    ///
    /// A code is tried first, then a name. Names are the same in both versions. A name
    /// of an item without code (welding) gives [`CatalogueError::ItemWithoutCode`], and
    /// a 2011 code without successor gives [`CatalogueError::LegacyUnmapped`].
    pub fn resolve(
        &self,
        code_or_name: &str,
        version: CatalogueVersion,
    ) -> Result<ItemRef, CatalogueError> {
        let input = nfkc_trimmed(code_or_name);
        if input.is_empty() {
            return Err(CatalogueError::Empty);
        }

        let by_code = match version {
            CatalogueVersion::V2019 => self.item(&input),
            CatalogueVersion::V2011 => self.map_legacy_2011(&input),
        };
        if let Some(reference) = by_code.and_then(Item::item_ref) {
            return Ok(reference);
        }

        if let Some(item) = self.item_by_name(&input) {
            return item
                .item_ref()
                .ok_or_else(|| CatalogueError::ItemWithoutCode {
                    name: item.name.clone(),
                });
        }
        if version == CatalogueVersion::V2011 && looks_like_code(&input) {
            return Err(CatalogueError::LegacyUnmapped {
                code: code_key(&input),
            });
        }
        Err(CatalogueError::UnknownItem { input, version })
    }

    fn insert(&mut self, item: Item, line: u64) -> Result<(), CatalogueError> {
        let index = self.items.len();

        if let Some(code) = &item.code
            && self.by_code.insert(code_key(code), index).is_some()
        {
            return Err(CatalogueError::Duplicate {
                line,
                column: "item_code",
                value: code.clone(),
            });
        }
        for legacy in &item.legacy_2011_codes {
            if self
                .by_legacy_code
                .insert(code_key(legacy), index)
                .is_some()
            {
                return Err(CatalogueError::Duplicate {
                    line,
                    column: "legacy_2011_codes",
                    value: legacy.clone(),
                });
            }
        }
        for name in std::iter::once(&item.name).chain(&item.aliases) {
            if self.by_name.insert(name_key(name), index).is_some() {
                return Err(CatalogueError::Duplicate {
                    line,
                    column: "item_name",
                    value: name.clone(),
                });
            }
        }

        self.items.push(item);
        Ok(())
    }
}

fn code_key(code: &str) -> String {
    nfkc_trimmed(code)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase()
}

fn name_key(name: &str) -> String {
    nfkc_trimmed(name)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// Returns whether `text` has the shape of a catalogue code: one letter and at most
/// two digits, such as `T`, `N2` or `A10`.
fn looks_like_code(text: &str) -> bool {
    let mut chars = text.chars();
    let first_is_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest: Vec<char> = chars.collect();
    first_is_letter && rest.len() <= 2 && rest.iter().all(char::is_ascii_digit)
}
