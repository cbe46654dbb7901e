//! The PDF export of an operator archive: a title, one table row per entry with zh-CN
//! headers and Beijing times, and a closing line that states whether the hash chain
//! verified. The table leaves out the previous hash and shortens each entry's hash to 12
//! hex digits so it fits an A4 page; the xlsx export carries both in full.

use domain::archive::{Archive, Entry};
use domain::messages::{self, Locale};
use workers::pdf::Block;

use crate::archive_text::{ArchiveNames, body_text};
use crate::archive_xlsx::HEADERS;
use crate::archives::entry_time;

/// The xlsx export's columns that the PDF table shows, by index into its headers:
/// sequence, kind, time, unit, content, recorded by, reason and hash.
const COLUMNS: [usize; 8] = [0, 1, 2, 3, 4, 5, 8, 10];

/// Hex digits of each entry's hash shown in the table.
const HASH_DIGITS: usize = 12;

/// Lists the blocks of the document, for `workers::pdf::render`.
pub fn blocks(archive: Archive, names: &ArchiveNames, entries: &[Entry], chain_intact: bool) -> Vec<Block> {
    let zh = |code: &str| messages::text(Locale::ZhCn, code, &[]);
    let rows = entries
        .iter()
        .map(|entry| {
            let kind_code = format!("archive.kind.{}", entry.kind);
            let kind = if messages::Catalogue::global().contains(&kind_code) { zh(&kind_code) } else { entry.kind.clone() };

            // A correction names the entry it supersedes beside its reason.
            let reason = entry.reason.clone().unwrap_or_default();
            let reason = match entry.supersedes {
                Some(seq) => format!("#{seq} {reason}"),
                None => reason,
            };
            vec![
                entry.seq.to_string(),
                kind,
                entry_time(entry),
                names.unit(entry.unit_id.as_deref()),
                body_text(&entry.body),
                names.account(Some(&entry.recorded_by)),
                reason,
                entry.hash.chars().take(HASH_DIGITS).collect(),
            ]
        })
        .collect();

    let status = if chain_intact { "archive.chain_intact" } else { "archive.chain_broken" };
    vec![
        Block::Title(messages::text(Locale::ZhCn, "archive.export_title", &[("operator", &names.operator)])),
        Block::Paragraph(zh(&format!("archive.name.{}", archive.as_str()))),
        Block::Space(6.0),
        Block::Table { headers: COLUMNS.iter().map(|&column| zh(HEADERS[column])).collect(), rows },
        Block::Space(8.0),
        Block::Paragraph(zh(status)),
    ]
}
