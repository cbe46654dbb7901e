//! Page layout: blocks become positioned drawing operations on A4 pages, which are
//! then drawn with krilla.

use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::TextDirection;
use krilla::Document;

use super::{Block, DocumentInfo, PdfError, PdfFont, qr};

/// A4 in points (1/72 inch).
const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 56.0;
const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;

const TITLE_SIZE: f32 = 20.0;
const BODY_SIZE: f32 = 11.0;
/// Line height as a multiple of the font size.
const LEADING: f32 = 1.6;
const CELL_PADDING: f32 = 4.0;
const QR_SIZE: f32 = 120.0;

/// One drawing operation at a position on its page; `y` grows downwards.
enum Op {
    Text { x: f32, baseline: f32, size: f32, text: String },
    Line { x1: f32, y1: f32, x2: f32, y2: f32 },
    Qr { x: f32, y: f32, size: f32, payload: String },
}

/// Places operations on pages, starting a new page when a piece does not fit.
struct Pages<'a> {
    font: &'a PdfFont,
    pages: Vec<Vec<Op>>,
    /// The top of the free space on the current page.
    cursor: f32,
}

impl<'a> Pages<'a> {
    fn new(font: &'a PdfFont) -> Pages<'a> {
        Pages { font, pages: vec![Vec::new()], cursor: MARGIN }
    }

    /// Makes room for `height` points, on a new page when the current one is full.
    fn reserve(&mut self, height: f32) -> f32 {
        if self.cursor + height > PAGE_HEIGHT - MARGIN && !self.pages.last().expect("one page at least").is_empty() {
            self.pages.push(Vec::new());
            self.cursor = MARGIN;
        }
        let top = self.cursor;
        self.cursor += height;
        top
    }

    fn push(&mut self, op: Op) {
        self.pages.last_mut().expect("one page at least").push(op);
    }

    /// Splits `text` into lines no wider than `width` at `size`. Lines break between
    /// any two characters, as Chinese text does, and at explicit newlines.
    fn wrap(&self, text: &str, size: f32, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            for character in paragraph.chars() {
                let mut candidate = line.clone();
                candidate.push(character);
                if !line.is_empty() && self.font.width(&candidate, size) > width {
                    lines.push(std::mem::take(&mut line));
                    line.push(character);
                } else {
                    line = candidate;
                }
            }
            lines.push(line);
        }
        lines
    }

    fn text_lines(&mut self, text: &str, size: f32) {
        for line in self.wrap(text, size, CONTENT_WIDTH) {
            let top = self.reserve(size * LEADING);
            self.push(Op::Text { x: MARGIN, baseline: top + size * 1.2, size, text: line });
        }
    }

    fn table(&mut self, headers: &[String], rows: &[Vec<String>]) {
        let columns = headers.len().max(1);
        let column_width = CONTENT_WIDTH / columns as f32;
        let line_height = BODY_SIZE * LEADING;
        for (index, row) in std::iter::once(headers).chain(rows.iter().map(Vec::as_slice)).enumerate() {
            let cells: Vec<Vec<String>> = (0..columns)
                .map(|column| self.wrap(row.get(column).map(String::as_str).unwrap_or(""), BODY_SIZE, column_width - 2.0 * CELL_PADDING))
                .collect();
            let height = cells.iter().map(Vec::len).max().unwrap_or(1) as f32 * line_height + 2.0 * CELL_PADDING;
            let top = self.reserve(height);
            if index == 0 || top == MARGIN {
                self.push(Op::Line { x1: MARGIN, y1: top, x2: MARGIN + CONTENT_WIDTH, y2: top });
            }
            for (column, lines) in cells.into_iter().enumerate() {
                let x = MARGIN + column as f32 * column_width + CELL_PADDING;
                for (number, line) in lines.into_iter().enumerate() {
                    let baseline = top + CELL_PADDING + number as f32 * line_height + BODY_SIZE * 1.2;
                    self.push(Op::Text { x, baseline, size: BODY_SIZE, text: line });
                }
            }
            self.push(Op::Line { x1: MARGIN, y1: top + height, x2: MARGIN + CONTENT_WIDTH, y2: top + height });
        }
    }

    fn qr(&mut self, payload: &str, caption: &str) {
        let top = self.reserve(QR_SIZE);
        self.push(Op::Qr { x: MARGIN, y: top, size: QR_SIZE, payload: payload.to_string() });
        let caption_x = MARGIN + QR_SIZE + 12.0;
        let lines = self.wrap(caption, BODY_SIZE, CONTENT_WIDTH - QR_SIZE - 12.0);
        for (number, line) in lines.into_iter().enumerate() {
            let baseline = top + 16.0 + number as f32 * BODY_SIZE * LEADING + BODY_SIZE;
            self.push(Op::Text { x: caption_x, baseline, size: BODY_SIZE, text: line });
        }
    }
}

/// Renders `blocks` with `font` into a PDF document.
pub fn render(font: &PdfFont, info: &DocumentInfo, blocks: &[Block]) -> Result<Vec<u8>, PdfError> {
    let mut pages = Pages::new(font);
    for block in blocks {
        match block {
            Block::Title(text) => {
                pages.text_lines(text, TITLE_SIZE);
                pages.reserve(BODY_SIZE * 0.5);
            }
            Block::Paragraph(text) => pages.text_lines(text, BODY_SIZE),
            Block::Table { headers, rows } => pages.table(headers, rows),
            Block::Qr { payload, caption } => pages.qr(payload, caption),
            Block::Space(points) => {
                pages.reserve(*points);
            }
        }
    }

    let mut document = Document::new();
    document.set_metadata(Metadata::new().title(info.title.clone()).authors(vec![info.author.clone()]));
    let settings = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT).expect("A4 is a valid page size");
    for ops in &pages.pages {
        let mut page = document.start_page_with(settings.clone());
        let mut surface = page.surface();
        for op in ops {
            match op {
                Op::Text { x, baseline, size, text } => {
                    surface.set_fill(Some(Fill::default()));
                    surface.draw_text(Point::from_xy(*x, *baseline), font.font.clone(), *size, text, false, TextDirection::Auto);
                }
                Op::Line { x1, y1, x2, y2 } => {
                    let mut path = PathBuilder::new();
                    path.move_to(*x1, *y1);
                    path.line_to(*x2, *y2);
                    if let Some(path) = path.finish() {
                        surface.set_fill(None);
                        surface.set_stroke(Some(Stroke { width: 0.5, ..Default::default() }));
                        surface.draw_path(&path);
                        surface.set_stroke(None);
                    }
                }
                Op::Qr { x, y, size, payload } => qr::draw(&mut surface, payload, *x, *y, *size)?,
            }
        }
        surface.finish();
        page.finish();
    }
    document.finish().map_err(|error| PdfError::Export(format!("{error:?}")))
}
