//! The error type of the metrics module.

use std::path::PathBuf;

/// Everything that can go wrong while computing or writing a metric.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Two parallel inputs (e.g. predictions and ground truth) have different lengths.
    #[error("{what}: {left} vs {right} items")]
    LengthMismatch {
        /// Which pair of inputs disagreed.
        what: &'static str,
        /// Length of the first input.
        left: usize,
        /// Length of the second input.
        right: usize,
    },
    /// A corpus-level metric was asked to score zero items.
    #[error("empty corpus: at least one hypothesis is needed")]
    EmptyCorpus,
    /// A captioning item has no reference.
    #[error("item {index} has no reference caption")]
    NoReferences {
        /// Index of the item in the corpus.
        index: usize,
    },
    /// `k = 0` was requested for top-k accuracy.
    #[error("top-k accuracy needs k >= 1")]
    ZeroK,
    /// A label list used to index a confusion matrix is empty.
    #[error("the label list is empty")]
    EmptyLabels,
    /// A label occurs twice in a label list.
    #[error("duplicate label {label:?} in the label list")]
    DuplicateLabel {
        /// The repeated label.
        label: String,
    },
    /// A label is not in the label list.
    #[error("unknown label {label:?} (not in the label list)")]
    UnknownLabel {
        /// The label that was not found.
        label: String,
    },
    /// A class index is outside the label list.
    #[error("class index {index} out of range for {len} labels")]
    IndexOutOfRange {
        /// The offending index.
        index: usize,
        /// Number of labels.
        len: usize,
    },
    /// The requested heatmap would be too large (or the cell size is 0).
    #[error(
        "invalid heatmap geometry: {labels} labels x {cell_px} px per cell (max side {max_side} px)"
    )]
    BadImageSize {
        /// Number of labels (rows = columns).
        labels: usize,
        /// Requested cell size in pixels.
        cell_px: u32,
        /// Largest allowed image side in pixels.
        max_side: u32,
    },
    /// An output path has no file name.
    #[error("output path {path:?} has no file name")]
    InvalidPath {
        /// The offending path.
        path: PathBuf,
    },
    /// A filesystem operation failed.
    #[error("I/O error on {path:?}: {source}")]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// PNG encoding failed.
    #[error("cannot encode PNG for {path:?}: {source}")]
    Image {
        /// The PNG being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: image::ImageError,
    },
    /// JSON serialisation failed.
    #[error("cannot serialise JSON for {path:?}: {source}")]
    Json {
        /// The JSON file being written (empty when serialising to a string).
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
}
