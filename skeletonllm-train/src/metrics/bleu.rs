//! BLEU: sacrebleu's `corpus_bleu` (exp smoothing) and pycocoevalcap's `Bleu(4)`.

use std::collections::HashMap;

use serde::Serialize;

use super::MetricsError;
use super::caption::borrow_corpus;
use super::tokenize::tokenize_13a;

/// Maximum n-gram order of both BLEU variants.
const N: usize = 4;

/// Corpus BLEU with the same fields as sacrebleu's `BLEUScore`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SacreBleu {
    /// BLEU-4 on a 0–100 scale.
    pub score: f64,
    /// Modified n-gram precisions (percent, exp-smoothed where no n-gram matched).
    pub precisions: [f64; N],
    /// Clipped matching n-gram counts per order.
    pub counts: [u64; N],
    /// Hypothesis n-gram counts per order.
    pub totals: [u64; N],
    /// Brevity penalty.
    pub bp: f64,
    /// Total hypothesis length in tokens.
    pub sys_len: u64,
    /// Total effective ("closest", ties to the shorter) reference length.
    pub ref_len: u64,
}

/// pycocoevalcap's `Bleu(4)` result: corpus BLEU-1..4 and the per-item BLEU-1..4.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CocoBleu {
    /// Corpus BLEU-1..BLEU-4 (0–1 scale).
    pub bleu: [f64; N],
    /// Sentence BLEU-1..BLEU-4 per item.
    pub per_item: Vec<[f64; N]>,
}

/// Counts all 1..=4-grams of `tokens`.
fn ngram_counts<'a>(tokens: &'a [&'a str]) -> HashMap<&'a [&'a str], u64> {
    let mut counts = HashMap::new();
    for n in 1..=N {
        for gram in tokens.windows(n) {
            *counts.entry(gram).or_insert(0) += 1;
        }
    }
    counts
}

/// Per-item sufficient statistics shared by both BLEU variants.
struct ItemStats {
    hyp_len: u64,
    ref_len: u64,
    correct: [u64; N],
    total: [u64; N],
}

fn item_stats(hyp: &[&str], refs: &[Vec<&str>]) -> ItemStats {
    let hyp_len = hyp.len() as u64;
    // Closest reference length, ties broken towards the shorter one (sacrebleu and
    // pycocoevalcap agree on this).
    let ref_len = refs
        .iter()
        .map(|r| r.len() as u64)
        .min_by_key(|&l| (l.abs_diff(hyp_len), l))
        .unwrap_or(0);
    let mut max_ref: HashMap<&[&str], u64> = HashMap::new();
    for r in refs {
        for (gram, c) in ngram_counts(r) {
            let e = max_ref.entry(gram).or_insert(0);
            *e = (*e).max(c);
        }
    }
    let mut correct = [0u64; N];
    let mut total = [0u64; N];
    for (gram, c) in ngram_counts(hyp) {
        let n = gram.len() - 1;
        total[n] += c;
        correct[n] += c.min(max_ref.get(gram).copied().unwrap_or(0));
    }
    ItemStats {
        hyp_len,
        ref_len,
        correct,
        total,
    }
}

/// sacrebleu's `my_log`: `log(x)`, floored to -9999999999 at 0.
fn my_log(x: f64) -> f64 {
    if x == 0.0 { -9_999_999_999.0 } else { x.ln() }
}

/// Corpus BLEU-4 exactly as sacrebleu's `corpus_bleu` computes it from (already tokenised)
/// segments: exp smoothing, no effective order, closest reference length; 0–100 scale.
///
/// Equals `sacrebleu.corpus_bleu(hyps, refs, tokenize="none")` on the space-joined tokens,
/// and the default `13a` result whenever `13a` leaves those strings unchanged (true for the
/// output of [`tokenize`](super::tokenize())). Items may have different numbers of references
/// (sacrebleu's `None` padding).
pub fn sacre_bleu<H, R, T>(hyps: &[H], refs: &[R]) -> Result<SacreBleu, MetricsError>
where
    H: AsRef<[T]>,
    R: AsRef<[H]>,
    T: AsRef<str>,
{
    let (hyps, refs) = borrow_corpus(hyps, refs)?;
    let mut sys_len = 0;
    let mut ref_len = 0;
    let mut counts = [0u64; N];
    let mut totals = [0u64; N];
    for (hyp, refs) in hyps.iter().zip(&refs) {
        let s = item_stats(hyp, refs);
        sys_len += s.hyp_len;
        ref_len += s.ref_len;
        for n in 0..N {
            counts[n] += s.correct[n];
            totals[n] += s.total[n];
        }
    }
    let bp = if sys_len < ref_len {
        if sys_len > 0 {
            (1.0 - ref_len as f64 / sys_len as f64).exp()
        } else {
            0.0
        }
    } else {
        1.0
    };
    let mut precisions = [0.0f64; N];
    if counts.iter().all(|&c| c == 0) {
        return Ok(SacreBleu {
            score: 0.0,
            precisions,
            counts,
            totals,
            bp,
            sys_len,
            ref_len,
        });
    }
    let mut smooth = 1.0;
    for n in 0..N {
        if totals[n] == 0 {
            break;
        }
        precisions[n] = if counts[n] == 0 {
            smooth *= 2.0;
            100.0 / (smooth * totals[n] as f64)
        } else {
            100.0 * counts[n] as f64 / totals[n] as f64
        };
    }
    let score = bp * (precisions.iter().map(|&p| my_log(p)).sum::<f64>() / N as f64).exp();
    Ok(SacreBleu {
        score,
        precisions,
        counts,
        totals,
        bp,
        sys_len,
        ref_len,
    })
}

/// sacrebleu's default `corpus_bleu` on raw text: [`tokenize_13a`] then [`sacre_bleu`]
/// (case-sensitive, like sacrebleu's default `lowercase=False`).
pub fn sacre_bleu_13a<S, R>(hyps: &[S], refs: &[R]) -> Result<SacreBleu, MetricsError>
where
    S: AsRef<str>,
    R: AsRef<[S]>,
{
    let hyp_tokens: Vec<Vec<String>> = hyps.iter().map(|h| tokenize_13a(h.as_ref())).collect();
    let ref_tokens: Vec<Vec<Vec<String>>> = refs
        .iter()
        .map(|r| {
            r.as_ref()
                .iter()
                .map(|s| tokenize_13a(s.as_ref()))
                .collect()
        })
        .collect();
    sacre_bleu(&hyp_tokens, &ref_tokens)
}

/// BLEU-1..4 as pycocoevalcap's `Bleu(4).compute_score` (`closest` reference length,
/// its `tiny = 1e-15` / `small = 1e-9` floors, no other smoothing); 0–1 scale.
pub fn coco_bleu<H, R, T>(hyps: &[H], refs: &[R]) -> Result<CocoBleu, MetricsError>
where
    H: AsRef<[T]>,
    R: AsRef<[H]>,
    T: AsRef<str>,
{
    const SMALL: f64 = 1e-9;
    const TINY: f64 = 1e-15;
    // Cumulative geometric means with the brevity penalty, as BleuScorer.compute_score.
    fn bleus(correct: &[u64; N], guess: &[u64; N], test_len: f64, ref_len: f64) -> [f64; N] {
        let mut out = [0.0; N];
        let mut prod = 1.0;
        for k in 0..N {
            prod *= (correct[k] as f64 + TINY) / (guess[k] as f64 + SMALL);
            out[k] = prod.powf(1.0 / (k as f64 + 1.0));
        }
        let ratio = (test_len + TINY) / (ref_len + SMALL);
        if ratio < 1.0 {
            let bp = (1.0 - 1.0 / ratio).exp();
            for b in &mut out {
                *b *= bp;
            }
        }
        out
    }
    let (hyps, refs) = borrow_corpus(hyps, refs)?;
    let mut per_item = Vec::with_capacity(hyps.len());
    let (mut test_len, mut ref_len) = (0u64, 0u64);
    let (mut correct, mut guess) = ([0u64; N], [0u64; N]);
    for (hyp, refs) in hyps.iter().zip(&refs) {
        let s = item_stats(hyp, refs);
        // pycocoevalcap's "guess" is max(0, len - k + 1), i.e. the n-gram total.
        per_item.push(bleus(
            &s.correct,
            &s.total,
            s.hyp_len as f64,
            s.ref_len as f64,
        ));
        test_len += s.hyp_len;
        ref_len += s.ref_len;
        for n in 0..N {
            correct[n] += s.correct[n];
            guess[n] += s.total[n];
        }
    }
    Ok(CocoBleu {
        bleu: bleus(&correct, &guess, test_len as f64, ref_len as f64),
        per_item,
    })
}
