//! PDF documents with Chinese text: a title, paragraphs, tables and QR codes laid out
//! on A4 pages, for credit cards and archive exports.
//!
//! The caller lists [`Block`]s; [`render`] places them top to bottom and starts a new
//! page when the next line does not fit. Text is shaped with the one font given
//! ([`PdfFont`], a CJK font such as Noto Sans CJK SC). krilla embeds the font as a
//! subset that contains only the glyphs used, so a one-page card stays small, and its
//! text can be copied and searched.

mod font;
mod layout;
mod qr;

pub use font::{FontError, PdfFont};
pub use layout::render;

/// One piece of a document, in reading order.
#[derive(Clone, Debug)]
pub enum Block {
    /// A heading in large type.
    Title(String),
    /// Body text, wrapped to the page width.
    Paragraph(String),
    /// A table with a header row; columns share the page width equally and cells wrap.
    Table { headers: Vec<String>, rows: Vec<Vec<String>> },
    /// A QR code of `payload` with a caption beside it.
    Qr { payload: String, caption: String },
    /// Vertical space in points.
    Space(f32),
}

/// The document's title and author, stored in its metadata.
#[derive(Clone, Debug, Default)]
pub struct DocumentInfo {
    pub title: String,
    pub author: String,
}

/// A failure to produce the PDF.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("QR code for a {length}-byte payload failed: {detail}")]
    QrCode { length: usize, detail: String },
    #[error("PDF export failed: {0}")]
    Export(String),
}
