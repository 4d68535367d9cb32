//! SVG → PNG with resvg, the embedded font loaded into its own font
//! database (no system fonts), so the PNG's text is shaped by a real text
//! engine and reads exactly like the SVG.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use resvg::tiny_skia::{Pixmap, Transform};
use resvg::usvg;

use super::{ChartError, FONT_BYTES, SIZE};

/// The family name inside `assets/fonts/DejaVuSans.ttf`.
const FAMILY: &str = "DejaVu Sans";

/// A font database holding only the embedded font, built once per process.
fn fonts() -> Arc<usvg::fontdb::Database> {
    static DB: OnceLock<Arc<usvg::fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = usvg::fontdb::Database::new();
        db.load_font_data(FONT_BYTES.to_vec());
        // Generic families in the SVG resolve to the same face.
        db.set_sans_serif_family(FAMILY);
        db.set_serif_family(FAMILY);
        db.set_monospace_family(FAMILY);
        Arc::new(db)
    })
    .clone()
}

/// Rasterises `svg` (drawn at [`SIZE`]) to a PNG at `png`.
pub(super) fn svg_to_png(svg: &str, png: &Path) -> Result<(), ChartError> {
    let failed = |message: String| ChartError::Draw {
        path: png.to_path_buf(),
        message,
    };
    let options = usvg::Options {
        font_family: FAMILY.to_string(),
        fontdb: fonts(),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options)
        .map_err(|e| failed(format!("the drawn SVG does not parse: {e}")))?;
    let mut pixmap = Pixmap::new(SIZE.0, SIZE.1)
        .ok_or_else(|| failed(format!("cannot allocate a {}×{} image", SIZE.0, SIZE.1)))?;
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    resvg::render(&tree, Transform::default(), &mut pixmap.as_mut());
    pixmap.save_png(png).map_err(|e| failed(e.to_string()))
}
