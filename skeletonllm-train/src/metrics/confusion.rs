//! Confusion matrices over a fixed label list, and their PNG heatmaps.
//!
//! Layout convention (matrix, heatmap and JSON alike): **rows are the ground truth,
//! columns the predictions, both in label-list order** (row `i` / column `j` is
//! `labels[i]` / `labels[j]`, top-left is the first label).

use std::collections::HashMap;
use std::io::Cursor;
use std::path::Path;

use image::{ImageFormat, Rgb, RgbImage};
use serde::Serialize;

use super::MetricsError;
use super::io::write_atomic;

/// Largest heatmap side in pixels.
pub const MAX_HEATMAP_SIDE: u32 = 16_384;

/// Colour of the 1-px grid lines between heatmap cells.
pub const GRID_COLOUR: [u8; 3] = [200, 200, 200];

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

/// Default heatmap cell size: 1024 px / #labels, clamped to 8..=16 px.
pub fn default_cell_px(num_labels: usize) -> u32 {
    let n = u32::try_from(num_labels.max(1)).unwrap_or(u32::MAX);
    (1024 / n).clamp(8, 16)
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

    /// Renders the row-normalised matrix as a heatmap.
    ///
    /// The image is `n·cell_px + 1` pixels square: 1-px [`GRID_COLOUR`] lines at every
    /// multiple of `cell_px`, and cell (row `i` = truth, column `j` = prediction) filling
    /// `x ∈ [j·cell_px + 1, (j+1)·cell_px)`, `y ∈ [i·cell_px + 1, (i+1)·cell_px)` with
    /// [`heat_colour`] of its row-normalised value. No text is drawn. Rows without
    /// samples are white.
    pub fn to_image(&self, cell_px: u32) -> Result<RgbImage, MetricsError> {
        let n = self.labels.len();
        let side = u32::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(cell_px))
            .and_then(|s| s.checked_add(1))
            .filter(|&s| cell_px >= 2 && s <= MAX_HEATMAP_SIDE);
        let Some(side) = side else {
            return Err(MetricsError::BadImageSize {
                labels: n,
                cell_px,
                max_side: MAX_HEATMAP_SIDE,
            });
        };
        let norm = self.row_normalised();
        let mut img = RgbImage::from_pixel(side, side, Rgb(GRID_COLOUR));
        for (i, row) in norm.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                let colour = Rgb(heat_colour(v));
                // i, j < n and n * cell_px fits in u32 (checked above).
                let (x0, y0) = (j as u32 * cell_px + 1, i as u32 * cell_px + 1);
                for y in y0..y0 + cell_px - 1 {
                    for x in x0..x0 + cell_px - 1 {
                        img.put_pixel(x, y, colour);
                    }
                }
            }
        }
        Ok(img)
    }

    /// Writes the heatmap PNG with [`default_cell_px`] (see [`Self::write_png_with`]).
    pub fn write_png(&self, png: &Path, labels_json: Option<&Path>) -> Result<(), MetricsError> {
        self.write_png_with(png, labels_json, default_cell_px(self.len()))
    }

    /// Writes the heatmap (rows = truth, columns = predictions, label-list order) as a PNG,
    /// and, if `labels_json` is given, a JSON with the label order and raw counts. Both
    /// writes are atomic (temp file in the same directory, then rename).
    pub fn write_png_with(
        &self,
        png: &Path,
        labels_json: Option<&Path>,
        cell_px: u32,
    ) -> Result<(), MetricsError> {
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
        assert_eq!(default_cell_px(400), 8);
    }
}
