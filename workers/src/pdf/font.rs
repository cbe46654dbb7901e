//! The font of a PDF, loaded from a file, with text measurement for line wrapping.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Path of Noto Sans CJK as installed by Debian's `fonts-noto-cjk`.
pub const NOTO_CJK_PATH: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";

/// The face of Noto Sans CJK SC (Simplified Chinese) in the collection file above.
pub const NOTO_CJK_SC_INDEX: u32 = 2;

/// A font for PDF text: krilla's handle for drawing and the raw face for measuring.
#[derive(Clone)]
pub struct PdfFont {
    pub(crate) font: krilla::text::Font,
    data: Arc<Vec<u8>>,
    index: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum FontError {
    #[error("font file {path} cannot be read ({detail}); install Debian's fonts-noto-cjk or set CERTFLOW_PDF_FONT")]
    Unreadable { path: PathBuf, detail: String },
    #[error("font file {path} has no usable face {index}")]
    NoFace { path: PathBuf, index: u32 },
}

impl PdfFont {
    /// Loads face `index` of the font file at `path` (TTF, OTF or a TTC collection).
    pub fn load(path: &Path, index: u32) -> Result<PdfFont, FontError> {
        let bytes = std::fs::read(path).map_err(|error| FontError::Unreadable { path: path.to_path_buf(), detail: error.to_string() })?;
        let data = Arc::new(bytes);
        let shared: Arc<dyn AsRef<[u8]> + Send + Sync> = data.clone();
        let font = krilla::text::Font::new(shared.into(), index).ok_or_else(|| FontError::NoFace { path: path.to_path_buf(), index })?;
        if rustybuzz::Face::from_slice(&data, index).is_none() {
            return Err(FontError::NoFace { path: path.to_path_buf(), index });
        }
        Ok(PdfFont { font, data, index })
    }

    /// Loads the font named by `CERTFLOW_PDF_FONT` and `CERTFLOW_PDF_FONT_INDEX`, by
    /// default Noto Sans CJK SC from Debian's `fonts-noto-cjk`.
    pub fn from_env() -> Result<PdfFont, FontError> {
        let path = std::env::var("CERTFLOW_PDF_FONT").ok().filter(|path| !path.trim().is_empty());
        match path {
            Some(path) => {
                let index = std::env::var("CERTFLOW_PDF_FONT_INDEX").ok().and_then(|index| index.trim().parse().ok()).unwrap_or(0);
                PdfFont::load(Path::new(&path), index)
            }
            None => PdfFont::load(Path::new(NOTO_CJK_PATH), NOTO_CJK_SC_INDEX),
        }
    }

    /// Returns the width of `text` set at `size` points, from the shaped glyph advances.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        let face = rustybuzz::Face::from_slice(&self.data, self.index).expect("checked at load");
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(text);
        let shaped = rustybuzz::shape(&face, &[], buffer);
        let units: i32 = shaped.glyph_positions().iter().map(|position| position.x_advance).sum();
        units as f32 * size / face.units_per_em() as f32
    }
}
