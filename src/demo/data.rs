//! The demo's data, compiled in: the 12 units and 229 operators of a synthetic roster
//! (names, ID numbers and mobiles are generated; check characters are valid), one
//! unit's roster as an office program saves xlsx and GBK CSV, and a file of rows that
//! must be rejected.

pub const UNITS_CSV: &str = include_str!("data/units.csv");
pub const OPERATORS_CSV: &str = include_str!("data/operators.csv");
pub const ROSTER_XLSX: &[u8] = include_bytes!("data/roster.xlsx");
pub const ROSTER_GBK: &[u8] = include_bytes!("data/roster-gbk.csv");
/// Rows with a wrong check character, a 15-digit ID number, an invalid mobile, an
/// unknown item, and a person already on another unit's roster.
pub const INVALID_ROWS: &[u8] = include_bytes!("data/invalid-rows.csv");

#[derive(Clone, Debug)]
pub struct Unit {
    pub uscc: String,
    pub name: String,
    pub region_code: String,
    pub contact_name: String,
    pub contact_mobile: String,
}

#[derive(Clone, Debug)]
pub struct Operator {
    pub name: String,
    pub id_number: String,
    pub mobile: String,
    pub unit_uscc: String,
    pub item_code: String,
}

pub fn units() -> Vec<Unit> {
    let mut reader = csv::Reader::from_reader(UNITS_CSV.as_bytes());
    reader
        .records()
        .filter_map(Result::ok)
        .map(|row| Unit {
            uscc: row[0].to_string(),
            name: row[1].to_string(),
            region_code: row[2].to_string(),
            contact_name: row[5].to_string(),
            contact_mobile: row[6].to_string(),
        })
        .collect()
}

pub fn operators() -> Vec<Operator> {
    let mut reader = csv::Reader::from_reader(OPERATORS_CSV.as_bytes());
    reader
        .records()
        .filter_map(Result::ok)
        .map(|row| Operator {
            name: row[0].to_string(),
            id_number: row[2].to_string(),
            mobile: row[3].to_string(),
            unit_uscc: row[5].to_string(),
            item_code: row[6].to_string(),
        })
        .collect()
}

/// Returns the roster CSV (UTF-8) of one unit's operators, as its admin would upload it.
pub fn unit_roster_csv(unit_uscc: &str) -> Vec<u8> {
    let mut lines = vec!["name,gender,id_number,mobile,email,unit_uscc,item_code,item_name,certificate_issued_on".to_string()];
    for line in OPERATORS_CSV.lines().skip(1) {
        if line.split(',').nth(5) == Some(unit_uscc) {
            lines.push(line.to_string());
        }
    }
    (lines.join("\n") + "\n").into_bytes()
}
