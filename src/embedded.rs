//! The definitions folder compiled into the binary, used when `./definitions` is absent
//! so that `certflow serve` runs anywhere with no files beside it.

use include_dir::{Dir, include_dir};

pub static DEFINITIONS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/definitions");

/// Returns the embedded pipeline files as (`pipelines/<name>`, text), in name order.
pub fn pipeline_sources() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = DEFINITIONS
        .get_dir("pipelines")
        .map(|dir| {
            dir.files()
                .filter(|file| file.path().extension().is_some_and(|ext| ext == "yaml"))
                .filter_map(|file| Some((file.path().to_string_lossy().into_owned(), file.contents_utf8()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}
