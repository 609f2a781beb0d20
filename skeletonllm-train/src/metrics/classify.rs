//! Recognition accuracy: top-k hits, generalised zero-shot (seen / unseen) splits and their
//! harmonic mean.

use serde::Serialize;

use super::MetricsError;

/// A hit count over a set of samples, with the resulting accuracy (0 when `total == 0`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Accuracy {
    /// Number of correctly classified samples.
    pub correct: usize,
    /// Number of samples.
    pub total: usize,
    /// `correct / total` in [0, 1] (0 for an empty set).
    pub accuracy: f64,
}

impl Accuracy {
    /// Builds an accuracy from counts (0 accuracy when `total == 0`).
    pub fn new(correct: usize, total: usize) -> Self {
        let accuracy = if total == 0 {
            0.0
        } else {
            correct as f64 / total as f64
        };
        Self {
            correct,
            total,
            accuracy,
        }
    }
}

/// Seen / unseen accuracies of a generalised zero-shot evaluation and their harmonic mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GzslSplit {
    /// Accuracy on samples whose true label is a seen (training) class.
    pub seen: Accuracy,
    /// Accuracy on samples whose true label is an unseen class.
    pub unseen: Accuracy,
    /// `2su / (s + u)` of the two accuracies (0 when both are 0).
    pub harmonic_mean: f64,
}

/// The harmonic mean `2su / (s + u)` of seen and unseen accuracy, 0 when `s + u` is not > 0.
pub fn harmonic_mean(seen: f64, unseen: f64) -> f64 {
    let sum = seen + unseen;
    if sum > 0.0 {
        2.0 * seen * unseen / sum
    } else {
        0.0
    }
}

/// Whether `truth` is among the first `k` entries of `ranked`.
pub(crate) fn hit<L: PartialEq>(ranked: &[L], truth: &L, k: usize) -> bool {
    ranked.iter().take(k).any(|p| p == truth)
}

pub(crate) fn check_inputs(ranked: usize, truth: usize, k: usize) -> Result<(), MetricsError> {
    if k == 0 {
        return Err(MetricsError::ZeroK);
    }
    if ranked != truth {
        return Err(MetricsError::LengthMismatch {
            what: "ranked predictions vs ground truth",
            left: ranked,
            right: truth,
        });
    }
    Ok(())
}

/// Top-k hits: a sample is correct when its true label is among its first `k` predictions.
///
/// `ranked[i]` lists sample `i`'s predictions best first (labels or class ids; it may be
/// shorter than `k`). Errors on `k == 0` or a length mismatch; an empty input gives 0/0.
pub fn top_k<L, R>(ranked: &[R], truth: &[L], k: usize) -> Result<Accuracy, MetricsError>
where
    L: PartialEq,
    R: AsRef<[L]>,
{
    check_inputs(ranked.len(), truth.len(), k)?;
    let correct = ranked
        .iter()
        .zip(truth)
        .filter(|(r, t)| hit(r.as_ref(), t, k))
        .count();
    Ok(Accuracy::new(correct, truth.len()))
}

/// Top-1 accuracy in [0, 1] (see [`top_k`]).
pub fn top1_accuracy<L, R>(ranked: &[R], truth: &[L]) -> Result<f64, MetricsError>
where
    L: PartialEq,
    R: AsRef<[L]>,
{
    Ok(top_k(ranked, truth, 1)?.accuracy)
}

/// Top-5 accuracy in [0, 1] (see [`top_k`]).
pub fn top5_accuracy<L, R>(ranked: &[R], truth: &[L]) -> Result<f64, MetricsError>
where
    L: PartialEq,
    R: AsRef<[L]>,
{
    Ok(top_k(ranked, truth, 5)?.accuracy)
}

/// Generalised zero-shot split: top-k accuracy on seen and on unseen samples (a sample is
/// unseen when its true label is in `unseen_labels`) and their harmonic mean.
///
/// Predictions are ranked over the full (seen ∪ unseen) label space; accuracies are
/// sample-averaged within each subset.
pub fn gzsl_split<L, R>(
    ranked: &[R],
    truth: &[L],
    unseen_labels: &[L],
    k: usize,
) -> Result<GzslSplit, MetricsError>
where
    L: PartialEq,
    R: AsRef<[L]>,
{
    check_inputs(ranked.len(), truth.len(), k)?;
    let (mut seen, mut unseen) = ((0, 0), (0, 0));
    for (r, t) in ranked.iter().zip(truth) {
        let bucket = if unseen_labels.contains(t) {
            &mut unseen
        } else {
            &mut seen
        };
        bucket.1 += 1;
        if hit(r.as_ref(), t, k) {
            bucket.0 += 1;
        }
    }
    let seen = Accuracy::new(seen.0, seen.1);
    let unseen = Accuracy::new(unseen.0, unseen.1);
    Ok(GzslSplit {
        seen,
        unseen,
        harmonic_mean: harmonic_mean(seen.accuracy, unseen.accuracy),
    })
}
