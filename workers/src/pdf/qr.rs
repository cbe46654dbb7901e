//! QR codes drawn as vector squares, so they stay sharp at any print size.

use krilla::geom::{PathBuilder, Rect};
use krilla::paint::Fill;
use krilla::surface::Surface;
use qrcode::{Color, QrCode};

use super::PdfError;

/// Width of the blank margin around the code in modules, as the QR specification requires.
const QUIET_ZONE: usize = 4;

/// Draws the QR code of `payload` with its top-left corner at (`x`, `y`), `size` points wide.
pub fn draw(surface: &mut Surface, payload: &str, x: f32, y: f32, size: f32) -> Result<(), PdfError> {
    let code = QrCode::new(payload.as_bytes()).map_err(|error| PdfError::QrCode { length: payload.len(), detail: error.to_string() })?;
    let width = code.width();
    let module = size / (width + 2 * QUIET_ZONE) as f32;
    let colors = code.to_colors();

    let mut path = PathBuilder::new();
    for (index, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let column = (index % width + QUIET_ZONE) as f32;
        let row = (index / width + QUIET_ZONE) as f32;
        if let Some(rect) = Rect::from_xywh(x + column * module, y + row * module, module, module) {
            path.push_rect(rect);
        }
    }
    if let Some(path) = path.finish() {
        surface.set_fill(Some(Fill::default()));
        surface.draw_path(&path);
    }
    Ok(())
}
