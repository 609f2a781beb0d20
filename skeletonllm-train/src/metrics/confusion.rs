//! Confusion matrices over a fixed label list, and their labelled PNG heatmaps.
//!
//! Layout convention (matrix, heatmap and JSON alike): **rows are the ground truth,
//! columns the predictions, both in label-list order** (row `i` / column `j` is
//! `labels[i]` / `labels[j]`, top-left is the first label).
//!
//! The heatmap ([`ConfusionMatrix::to_image`]) is the cell grid with white margins on the
//! left and at the top. The left margin holds the axis title "truth" (vertical) and the row
//! labels, right-aligned against their rows; the top margin holds the axis title "prediction"
//! and the column labels, written vertically (rotated 90°, reading bottom to top) and starting
//! just above their columns. Text is black, in the 8×8 bitmap font of the `font8x8` crate, one
//! line per cell (so cells are at least [`MIN_CELL_PX`] pixels). Labels are trimmed, cut to
//! [`MAX_LABEL_CHARS`] characters (ending in "..") when longer, and every character outside
//! printable ASCII is drawn as '?'. The image is the grid plus both margins (a grid narrower
//! than an axis title widens it); [`ConfusionMatrix::layout`] gives the exact geometry.

use std::collections::HashMap;
use std::io::Cursor;
use std::ops::Range;
use std::path::Path;

use font8x8::legacy::BASIC_LEGACY;
use image::{ImageFormat, Rgb, RgbImage};
use serde::Serialize;

use super::MetricsError;
use super::io::write_atomic;

/// Largest heatmap side (width or height, margins included) in pixels.
pub const MAX_HEATMAP_SIDE: u32 = 16_384;

/// Colour of the 1-px grid lines between heatmap cells.
pub const GRID_COLOUR: [u8; 3] = [200, 200, 200];

/// Colour of the label text and axis titles.
pub const TEXT_COLOUR: [u8; 3] = [0, 0, 0];

/// Colour of the margins around the grid.
pub const MARGIN_COLOUR: [u8; 3] = [255, 255, 255];

/// Side of one glyph of the 8×8 bitmap font, in pixels.
pub const GLYPH_PX: u32 = 8;

/// Smallest cell size: one glyph line, the 1-px grid line and 1 px of spacing.
pub const MIN_CELL_PX: u32 = GLYPH_PX + 2;

// A glyph line must fit in a cell's interior with room to centre it (see `text_offset`).
const _: () = assert!(MIN_CELL_PX >= GLYPH_PX + 2);

/// Longest label drawn, in characters; longer labels are cut and end in "..".
pub const MAX_LABEL_CHARS: usize = 28;

/// Blank space around the margin text (image edge, titles, labels, grid), in pixels.
pub const LABEL_PAD_PX: u32 = 4;

/// Title of the left (truth) axis.
const TRUTH_TITLE: &str = "truth";

/// Title of the top (prediction) axis.
const PREDICTION_TITLE: &str = "prediction";

/// Offset of the label area from the image edge: pad, title line, pad.
const LABEL_AREA_START: u32 = LABEL_PAD_PX + GLYPH_PX + LABEL_PAD_PX;

/// Colormap stops (white → mid blue → dark navy); every channel decreases monotonically.
const STOPS: [[f64; 3]; 3] = [
    [255.0, 255.0, 255.0],
    [107.0, 174.0, 214.0],
    [8.0, 48.0, 107.0],
];

/// Maps `v` in [0, 1] to the heatmap colour: 0 is white, 1 dark navy; darker for larger `v`.
pub fn heat_colour(v: f64) -> [u8; 3] {
    let v = if v.is_finite() {
        v.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (a, b, t) = if v < 0.5 {
        (STOPS[0], STOPS[1], v * 2.0)
    } else {
        (STOPS[1], STOPS[2], v * 2.0 - 1.0)
    };
    // Values stay in [8, 255] by construction, so the casts are exact after rounding.
    std::array::from_fn(|c| (a[c] + (b[c] - a[c]) * t).round() as u8)
}

/// Default heatmap cell size: 1024 px / #labels, clamped to [`MIN_CELL_PX`]..=16 px.
pub fn default_cell_px(num_labels: usize) -> u32 {
    let n = u32::try_from(num_labels.max(1)).unwrap_or(u32::MAX);
    (1024 / n).clamp(MIN_CELL_PX, 16)
}

/// The text drawn for `label`: trimmed, non-printable-ASCII as '?', cut to [`MAX_LABEL_CHARS`]
/// (a cut label ends in "..", without blanks before them).
fn display_text(label: &str) -> Vec<u8> {
    let mut text: Vec<u8> = label
        .trim()
        .chars()
        .take(MAX_LABEL_CHARS + 1)
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c as u8
            } else {
                b'?'
            }
        })
        .collect();
    if text.len() > MAX_LABEL_CHARS {
        text.truncate(MAX_LABEL_CHARS - 2);
        while text.last() == Some(&b' ') {
            text.pop();
        }
        text.extend_from_slice(b"..");
    }
    text
}

/// Length of a text of `chars` characters in pixels.
fn text_px(chars: usize) -> u32 {
    // Callers pass at most MAX_LABEL_CHARS or a title length, so this cannot overflow.
    chars as u32 * GLYPH_PX
}

/// Draws ASCII `text` in [`TEXT_COLOUR`], clipped to the image.
///
/// Horizontal text has its top-left glyph pixel at `(x, y)`. Vertical text is rotated 90°
/// counter-clockwise (reading bottom to top, glyph tops facing left): its first glyph's
/// bottom-left pixel, after rotation, is at `(x, y)` and the text runs upwards from there.
fn draw_text(img: &mut RgbImage, text: &[u8], x: i64, y: i64, vertical: bool) {
    let glyph_px = i64::from(GLYPH_PX);
    for (k, &ch) in (0i64..).zip(text) {
        let glyph = BASIC_LEGACY[usize::from(ch & 0x7f)];
        for (gy, bits) in (0i64..).zip(glyph) {
            for gx in 0..glyph_px {
                if bits >> gx & 1 == 0 {
                    continue;
                }
                let along = k * glyph_px + gx;
                let (px, py) = if vertical {
                    (x + gy, y - along)
                } else {
                    (x + along, y + gy)
                };
                if let (Ok(px), Ok(py)) = (u32::try_from(px), u32::try_from(py))
                    && px < img.width()
                    && py < img.height()
                {
                    img.put_pixel(px, py, Rgb(TEXT_COLOUR));
                }
            }
        }
    }
}

/// Pixel geometry of a labelled heatmap (see [`ConfusionMatrix::layout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeatmapLayout {
    /// Number of labels (rows = columns).
    pub labels: usize,
    /// Cell size in pixels, including one grid line.
    pub cell_px: u32,
    /// Length in characters of the longest label as drawn (at most [`MAX_LABEL_CHARS`]).
    pub label_chars: usize,
    /// x of the grid's left border line (the width of the left margin).
    pub grid_x: u32,
    /// y of the grid's top border line (the height of the top margin).
    pub grid_y: u32,
    /// Side of the square grid in pixels: `labels · cell_px + 1`.
    pub grid_side: u32,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
}

impl HeatmapLayout {
    /// Top-left pixel of the `(cell_px - 1)`-px square interior of cell (`truth`, `prediction`).
    pub fn cell_origin(&self, truth: usize, prediction: usize) -> (u32, u32) {
        (
            self.line_at(self.grid_x, prediction).saturating_add(1),
            self.line_at(self.grid_y, truth).saturating_add(1),
        )
    }

    /// Rows `y0..y1` of row `truth`'s cell interiors, where its left label is centred.
    pub fn row_band(&self, truth: usize) -> Range<u32> {
        let y0 = self.line_at(self.grid_y, truth).saturating_add(1);
        y0..y0.saturating_add(self.cell_px - 1)
    }

    /// Columns `x0..x1` of column `prediction`'s cell interiors, where its top label is centred.
    pub fn column_band(&self, prediction: usize) -> Range<u32> {
        let x0 = self.line_at(self.grid_x, prediction).saturating_add(1);
        x0..x0.saturating_add(self.cell_px - 1)
    }

    /// Position of grid line `k` after `start` (saturating for out-of-range `k`).
    fn line_at(&self, start: u32, k: usize) -> u32 {
        let k = u32::try_from(k).unwrap_or(u32::MAX);
        start.saturating_add(k.saturating_mul(self.cell_px))
    }

    /// Offset of a glyph line from the start of a band, centring the glyph body (its rows
    /// 0..7; row 7 holds descenders) in the `cell_px - 1` interior; stays inside for cells of
    /// at least [`MIN_CELL_PX`].
    fn text_offset(&self) -> u32 {
        (self.cell_px - GLYPH_PX) / 2
    }

    /// Left end of the "prediction" title: centred on the grid, moved left to end with it if
    /// that is too narrow, but never left of the label area (clear of the "truth" title).
    fn prediction_title_x(&self) -> u32 {
        title_start(self.grid_x, self.grid_side, PREDICTION_TITLE)
    }

    /// Top end of the vertical "truth" title: centred on the grid, moved up to end with it if
    /// that is too short, but never above the label area (clear of the "prediction" title).
    fn truth_title_y(&self) -> u32 {
        title_start(self.grid_y, self.grid_side, TRUTH_TITLE)
    }
}

/// Start of `title` along an axis where the grid spans `grid_start..grid_start + grid_side`.
fn title_start(grid_start: u32, grid_side: u32, title: &str) -> u32 {
    let len = text_px(title.len());
    let centred = (grid_start + grid_side / 2).saturating_sub(len / 2);
    let flush_with_end = (grid_start + grid_side).saturating_sub(len);
    centred.min(flush_with_end).max(LABEL_AREA_START)
}

/// A square count matrix: `count(i, j)` = samples of true class `i` predicted as `j`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix {
    labels: Vec<String>,
    index: HashMap<String, usize>,
    counts: Vec<u64>,
}

/// JSON form written beside the heatmap.
#[derive(Serialize)]
struct ConfusionJson<'a> {
    rows: &'static str,
    columns: &'static str,
    normalisation: &'static str,
    cell_px: u32,
    grid_origin_px: [u32; 2],
    labels: &'a [String],
    counts: Vec<&'a [u64]>,
}

impl ConfusionMatrix {
    /// An all-zero matrix over `labels` (non-empty, no duplicates).
    pub fn new<S: AsRef<str>>(labels: &[S]) -> Result<Self, MetricsError> {
        if labels.is_empty() {
            return Err(MetricsError::EmptyLabels);
        }
        let labels: Vec<String> = labels.iter().map(|l| l.as_ref().to_owned()).collect();
        let mut index = HashMap::with_capacity(labels.len());
        for (i, l) in labels.iter().enumerate() {
            if index.insert(l.clone(), i).is_some() {
                return Err(MetricsError::DuplicateLabel { label: l.clone() });
            }
        }
        let n = labels.len();
        Ok(Self {
            labels,
            index,
            counts: vec![0; n * n],
        })
    }

    /// Builds a matrix from `(truth, prediction)` label pairs; unknown labels are an error.
    pub fn from_pairs<S, T, P, I>(labels: &[S], pairs: I) -> Result<Self, MetricsError>
    where
        S: AsRef<str>,
        T: AsRef<str>,
        P: AsRef<str>,
        I: IntoIterator<Item = (T, P)>,
    {
        let mut m = Self::new(labels)?;
        for (t, p) in pairs {
            m.add(t.as_ref(), p.as_ref())?;
        }
        Ok(m)
    }

    /// Builds a matrix from `(truth, prediction)` class-index pairs into `labels`.
    pub fn from_index_pairs<S, I>(labels: &[S], pairs: I) -> Result<Self, MetricsError>
    where
        S: AsRef<str>,
        I: IntoIterator<Item = (usize, usize)>,
    {
        let mut m = Self::new(labels)?;
        for (t, p) in pairs {
            m.add_index(t, p)?;
        }
        Ok(m)
    }

    /// Position of `label` in the label list.
    pub fn label_index(&self, label: &str) -> Result<usize, MetricsError> {
        self.index
            .get(label)
            .copied()
            .ok_or_else(|| MetricsError::UnknownLabel {
                label: label.to_owned(),
            })
    }

    /// Counts one sample of true label `truth` predicted as `prediction`.
    pub fn add(&mut self, truth: &str, prediction: &str) -> Result<(), MetricsError> {
        let t = self.label_index(truth)?;
        let p = self.label_index(prediction)?;
        self.add_index(t, p)
    }

    /// Counts one sample by class indices (row = truth, column = prediction).
    pub fn add_index(&mut self, truth: usize, prediction: usize) -> Result<(), MetricsError> {
        let n = self.labels.len();
        for i in [truth, prediction] {
            if i >= n {
                return Err(MetricsError::IndexOutOfRange { index: i, len: n });
            }
        }
        self.counts[truth * n + prediction] += 1;
        Ok(())
    }

    /// The label list (row and column order).
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Number of labels (rows = columns).
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Always false: a matrix has at least one label.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Count of samples with true class `truth` predicted as `prediction` (None if out of range).
    pub fn count(&self, truth: usize, prediction: usize) -> Option<u64> {
        let n = self.labels.len();
        (truth < n && prediction < n).then(|| self.counts[truth * n + prediction])
    }

    /// Row `truth` of the counts (None if out of range).
    pub fn row(&self, truth: usize) -> Option<&[u64]> {
        let n = self.labels.len();
        (truth < n).then(|| &self.counts[truth * n..(truth + 1) * n])
    }

    /// Total number of counted samples.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Fraction of samples on the diagonal (0 for an empty matrix).
    pub fn accuracy(&self) -> f64 {
        let n = self.labels.len();
        let total = self.total();
        if total == 0 {
            return 0.0;
        }
        let diag: u64 = (0..n).map(|i| self.counts[i * n + i]).sum();
        diag as f64 / total as f64
    }

    /// Row-normalised matrix (each row sums to 1; rows without samples are all 0).
    pub fn row_normalised(&self) -> Vec<Vec<f64>> {
        self.counts
            .chunks(self.labels.len())
            .map(|row| {
                let s: u64 = row.iter().sum();
                row.iter()
                    .map(|&c| if s == 0 { 0.0 } else { c as f64 / s as f64 })
                    .collect()
            })
            .collect()
    }

    /// Pixel geometry of the heatmap with `cell_px` cells; fails like [`Self::to_image`].
    pub fn layout(&self, cell_px: u32) -> Result<HeatmapLayout, MetricsError> {
        let n = self.labels.len();
        let bad = || MetricsError::BadImageSize {
            labels: n,
            cell_px,
            max_side: MAX_HEATMAP_SIDE,
        };
        if cell_px < MIN_CELL_PX {
            return Err(bad());
        }
        let label_chars = self
            .labels
            .iter()
            .map(|l| display_text(l).len())
            .max()
            .unwrap_or(0);
        let margin = LABEL_AREA_START + text_px(label_chars) + LABEL_PAD_PX;
        let grid_side = u32::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(cell_px))
            .and_then(|s| s.checked_add(1))
            .ok_or_else(bad)?;
        let grid_end = margin
            .checked_add(grid_side)
            .filter(|&e| e <= MAX_HEATMAP_SIDE)
            .ok_or_else(bad)?;
        let mut layout = HeatmapLayout {
            labels: n,
            cell_px,
            label_chars,
            grid_x: margin,
            grid_y: margin,
            grid_side,
            width: grid_end,
            height: grid_end,
        };
        // A grid narrower than an axis title widens the image so the title fits.
        layout.width = grid_end.max(layout.prediction_title_x() + text_px(PREDICTION_TITLE.len()));
        layout.height = grid_end.max(layout.truth_title_y() + text_px(TRUTH_TITLE.len()));
        if layout.width.max(layout.height) > MAX_HEATMAP_SIDE {
            return Err(bad());
        }
        Ok(layout)
    }

    /// Renders the row-normalised matrix as a labelled heatmap.
    ///
    /// The geometry is [`Self::layout`]: a grid of `n·cell_px + 1` pixels square at
    /// `(grid_x, grid_y)`, with 1-px [`GRID_COLOUR`] lines every `cell_px` pixels, and cell
    /// (row `i` = truth, column `j` = prediction) filling the `(cell_px - 1)`-px square at
    /// [`HeatmapLayout::cell_origin`] with [`heat_colour`] of its row-normalised value (rows
    /// without samples are white). The [`MARGIN_COLOUR`] margins hold the row labels, right-
    /// aligned and vertically centred in [`HeatmapLayout::row_band`], the column labels,
    /// rotated to read bottom to top, centred in [`HeatmapLayout::column_band`] and starting
    /// [`LABEL_PAD_PX`] above the grid, and the axis titles "truth" and "prediction".
    ///
    /// Fails with [`MetricsError::BadImageSize`] if `cell_px` < [`MIN_CELL_PX`] or a side
    /// would exceed [`MAX_HEATMAP_SIDE`].
    pub fn to_image(&self, cell_px: u32) -> Result<RgbImage, MetricsError> {
        let lay = self.layout(cell_px)?;
        let mut img = RgbImage::from_pixel(lay.width, lay.height, Rgb(MARGIN_COLOUR));
        for y in lay.grid_y..lay.grid_y + lay.grid_side {
            for x in lay.grid_x..lay.grid_x + lay.grid_side {
                img.put_pixel(x, y, Rgb(GRID_COLOUR));
            }
        }
        for (i, row) in self.row_normalised().iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                let colour = Rgb(heat_colour(v));
                let (x0, y0) = lay.cell_origin(i, j);
                for y in y0..y0 + cell_px - 1 {
                    for x in x0..x0 + cell_px - 1 {
                        img.put_pixel(x, y, colour);
                    }
                }
            }
        }
        // Row labels end LABEL_PAD_PX left of the grid; column labels start LABEL_PAD_PX above it.
        let row_label_end = i64::from(lay.grid_x - LABEL_PAD_PX);
        let column_label_bottom = i64::from(lay.grid_y - LABEL_PAD_PX - 1);
        let offset = lay.text_offset();
        for (k, label) in self.labels.iter().enumerate() {
            let text = display_text(label);
            let row_y = i64::from(lay.row_band(k).start + offset);
            let row_x = row_label_end - i64::from(text_px(text.len()));
            draw_text(&mut img, &text, row_x, row_y, false);
            let column_x = i64::from(lay.column_band(k).start + offset);
            draw_text(&mut img, &text, column_x, column_label_bottom, true);
        }
        let pad = i64::from(LABEL_PAD_PX);
        let title_x = i64::from(lay.prediction_title_x());
        draw_text(&mut img, PREDICTION_TITLE.as_bytes(), title_x, pad, false);
        let title_bottom = i64::from(lay.truth_title_y() + text_px(TRUTH_TITLE.len())) - 1;
        draw_text(&mut img, TRUTH_TITLE.as_bytes(), pad, title_bottom, true);
        Ok(img)
    }

    /// Writes the labelled heatmap PNG with [`default_cell_px`] (see [`Self::write_png_with`]).
    pub fn write_png(&self, png: &Path, labels_json: Option<&Path>) -> Result<(), MetricsError> {
        self.write_png_with(png, labels_json, default_cell_px(self.len()))
    }

    /// Writes the labelled heatmap of [`Self::to_image`] as a PNG, plus an optional JSON.
    ///
    /// The heatmap has rows = truth and columns = predictions in label-list order. If
    /// `labels_json` is given, a JSON with the label order, the raw counts, `cell_px` and the
    /// grid's top-left pixel `grid_origin_px` is written too. Both writes are atomic (temp
    /// file in the same directory, then rename).
    pub fn write_png_with(
        &self,
        png: &Path,
        labels_json: Option<&Path>,
        cell_px: u32,
    ) -> Result<(), MetricsError> {
        let layout = self.layout(cell_px)?;
        let img = self.to_image(cell_px)?;
        let mut bytes = Vec::new();
        img.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .map_err(|source| MetricsError::Image {
                path: png.to_path_buf(),
                source,
            })?;
        if let Some(json_path) = labels_json {
            let doc = ConfusionJson {
                rows: "truth",
                columns: "prediction",
                normalisation: "row",
                cell_px,
                grid_origin_px: [layout.grid_x, layout.grid_y],
                labels: &self.labels,
                counts: self.counts.chunks(self.labels.len()).collect(),
            };
            let json = serde_json::to_vec_pretty(&doc).map_err(|source| MetricsError::Json {
                path: json_path.to_path_buf(),
                source,
            })?;
            write_atomic(json_path, &json)?;
        }
        write_atomic(png, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colormap_is_monotone() {
        let mut prev = heat_colour(0.0);
        assert_eq!(prev, [255, 255, 255]);
        for k in 1..=100 {
            let c = heat_colour(k as f64 / 100.0);
            assert!((0..3).all(|i| c[i] <= prev[i]), "{k}: {c:?} vs {prev:?}");
            prev = c;
        }
        assert_eq!(prev, [8, 48, 107]);
    }

    #[test]
    fn default_cells() {
        assert_eq!(default_cell_px(3), 16);
        assert_eq!(default_cell_px(100), 10);
        assert_eq!(default_cell_px(120), MIN_CELL_PX);
        assert_eq!(default_cell_px(400), MIN_CELL_PX);
    }

    #[test]
    fn label_text_is_trimmed_ascii_and_truncated() {
        assert_eq!(display_text("  wave "), b"wave");
        assert_eq!(display_text(""), b"");
        assert_eq!(display_text("naïve\tcafé"), b"na?ve?caf?");
        let exact = "x".repeat(MAX_LABEL_CHARS);
        assert_eq!(display_text(&exact), exact.as_bytes());
        let long = display_text(&"y".repeat(MAX_LABEL_CHARS + 1));
        assert_eq!(long.len(), MAX_LABEL_CHARS);
        assert!(long.ends_with(b"..") && long[..MAX_LABEL_CHARS - 2].iter().all(|&c| c == b'y'));
        let spaced = format!("{} tail of the label", "z".repeat(MAX_LABEL_CHARS - 3));
        let mut want = "z".repeat(MAX_LABEL_CHARS - 3).into_bytes();
        want.extend_from_slice(b"..");
        assert_eq!(display_text(&spaced), want, "no blank before the dots");
    }

    #[test]
    fn vertical_text_is_horizontal_text_turned_counter_clockwise() {
        let text = b"Ag7";
        let len = text_px(text.len());
        let mut horizontal = RgbImage::from_pixel(len, GLYPH_PX, Rgb(MARGIN_COLOUR));
        draw_text(&mut horizontal, text, 0, 0, false);
        let mut vertical = RgbImage::from_pixel(GLYPH_PX, len, Rgb(MARGIN_COLOUR));
        draw_text(&mut vertical, text, 0, i64::from(len) - 1, true);
        let mut ink = 0;
        for y in 0..len {
            for x in 0..GLYPH_PX {
                // Turning (hx, hy) counter-clockwise lands it on (hy, len - 1 - hx): the first
                // character ends up at the bottom, and the text reads bottom to top.
                assert_eq!(
                    vertical.get_pixel(x, y),
                    horizontal.get_pixel(len - 1 - y, x)
                );
                ink += usize::from(vertical.get_pixel(x, y).0 == TEXT_COLOUR);
            }
        }
        assert!(ink > 20, "{ink} text pixels");
        // Text running off the image is clipped, not a panic.
        draw_text(&mut vertical, text, -3, 2, true);
        draw_text(&mut horizontal, text, 20, -4, false);
    }
}
