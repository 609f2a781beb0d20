//! Evaluation metrics: recognition accuracy (top-k, seen/unseen, harmonic mean), confusion
//! matrices, and captioning scores (BLEU-4, ROUGE-L, CIDEr).
//!
//! * [`classify`]: [`top_k`], [`gzsl_split`], [`harmonic_mean`].
//! * [`report`]: [`RecognitionReport`] (serde, [`RecognitionReport::to_markdown`]).
//! * [`confusion`]: [`ConfusionMatrix`] and its PNG heatmap (rows = truth, columns =
//!   predictions, label-list order).
//! * Captioning, checked against pycocoevalcap 1.2 and sacrebleu 2.6.0 by
//!   `tests/fixtures/metrics/make_metric_fixtures.py`: [`sacre_bleu`] / [`sacre_bleu_13a`]
//!   (sacrebleu `corpus_bleu`), [`coco_bleu`], [`rouge_l`], [`cider_d`] (pycocoevalcap
//!   `Bleu`, `Rouge`, `Cider`), all on pre-tokenised text; [`tokenize()`] is the documented
//!   stand-in for pycocoevalcap's Java PTBTokenizer.
//!
//! ```
//! use skeletonllm_train::metrics::{caption_scores_from_text, top_k};
//! let acc = top_k(&[vec!["wave", "clap"], vec!["sit", "wave"]], &["clap", "wave"], 1)?;
//! assert_eq!((acc.correct, acc.total), (0, 2));
//! let s = caption_scores_from_text(&["A person waves."], &[vec!["a person waves"]])?;
//! assert_eq!(s.rouge_l, 1.0);
//! # Ok::<(), skeletonllm_train::metrics::MetricsError>(())
//! ```

#![warn(missing_docs)]

pub mod bleu;
pub mod caption;
pub mod cider;
pub mod classify;
pub mod confusion;
mod error;
mod io;
pub mod report;
pub mod rouge;
pub mod tokenize;

pub use bleu::{CocoBleu, SacreBleu, coco_bleu, sacre_bleu, sacre_bleu_13a};
pub use caption::{CaptionScores, CorpusScore, caption_scores, caption_scores_from_text};
pub use cider::cider_d;
pub use classify::{
    Accuracy, GzslSplit, gzsl_split, harmonic_mean, top_k, top1_accuracy, top5_accuracy,
};
pub use confusion::{ConfusionMatrix, default_cell_px, heat_colour};
pub use error::MetricsError;
pub use report::{ClassAccuracy, RecognitionReport};
pub use rouge::rouge_l;
pub use tokenize::{tokenize, tokenize_13a};
