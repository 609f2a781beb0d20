//! CIDEr-D as pycocoevalcap's `Cider` (n = 4, sigma = 6, corpus idf, clipping, ×10).

use std::collections::{HashMap, HashSet};

use super::MetricsError;
use super::caption::{CorpusScore, borrow_corpus, mean};

/// Maximum n-gram order.
const N: usize = 4;
/// Standard deviation of the Gaussian length penalty.
const SIGMA: f64 = 6.0;

type Grams<'a> = HashMap<&'a [&'a str], f64>;

/// TF-IDF vectors per order, their norms and the "length" pycocoevalcap uses.
struct TfIdf<'a> {
    vec: [Grams<'a>; N],
    norm: [f64; N],
    length: f64,
}

fn counts<'a>(tokens: &'a [&'a str]) -> HashMap<&'a [&'a str], u64> {
    let mut c = HashMap::new();
    for n in 1..=N {
        for g in tokens.windows(n) {
            *c.entry(g).or_insert(0) += 1;
        }
    }
    c
}

fn tf_idf<'a>(tokens: &'a [&'a str], df: &HashMap<&[&str], f64>, log_n: f64) -> TfIdf<'a> {
    let mut vec: [Grams<'a>; N] = Default::default();
    let mut norm = [0.0; N];
    let mut length = 0.0;
    for (gram, tf) in counts(tokens) {
        let n = gram.len() - 1;
        let idf = log_n - df.get(gram).copied().unwrap_or(0.0).max(1.0).ln();
        let w = tf as f64 * idf;
        vec[n].insert(gram, w);
        norm[n] += w * w;
        // pycocoevalcap's `if n == 1: length += term_freq` tests the 0-based order index,
        // so the "length" in the penalty is the number of bigrams (len - 1), not of words.
        if n == 1 {
            length += tf as f64;
        }
    }
    TfIdf {
        vec,
        norm: norm.map(f64::sqrt),
        length,
    }
}

fn sim(hyp: &TfIdf<'_>, r: &TfIdf<'_>) -> [f64; N] {
    let delta = hyp.length - r.length;
    let penalty = (-(delta * delta) / (2.0 * SIGMA * SIGMA)).exp();
    let mut val = [0.0; N];
    for (n, v) in val.iter_mut().enumerate() {
        for (gram, &wh) in &hyp.vec[n] {
            let wr = r.vec[n].get(gram).copied().unwrap_or(0.0);
            // CIDEr-D clipping: min(hyp, ref) * ref.
            *v += wh.min(wr) * wr;
        }
        if hyp.norm[n] != 0.0 && r.norm[n] != 0.0 {
            *v /= hyp.norm[n] * r.norm[n];
        }
        *v *= penalty;
    }
    val
}

/// CIDEr-D exactly as pycocoevalcap's `Cider().compute_score` on pre-tokenised text.
///
/// Document frequencies come from the references of the scored corpus (an n-gram counts once
/// per item), idf = ln(#items) − ln(max(1, df)); per order the clipped cosine
/// Σ min(h, r)·r / (|h||r|) times exp(−δ²/(2·6²)), where δ is the difference in bigram
/// counts (pycocoevalcap's quirk); mean over the 4 orders, mean over references, ×10. The
/// corpus score is the mean over items. A one-item corpus always scores 0 (all idf ≤ 0).
pub fn cider_d<H, R, T>(hyps: &[H], refs: &[R]) -> Result<CorpusScore, MetricsError>
where
    H: AsRef<[T]>,
    R: AsRef<[H]>,
    T: AsRef<str>,
{
    let (hyps, refs) = borrow_corpus(hyps, refs)?;
    let mut df: HashMap<&[&str], f64> = HashMap::new();
    for item_refs in &refs {
        let mut seen: HashSet<&[&str]> = HashSet::new();
        for r in item_refs {
            seen.extend(counts(r).into_keys());
        }
        for g in seen {
            *df.entry(g).or_insert(0.0) += 1.0;
        }
    }
    let log_n = (refs.len() as f64).ln();
    let per_item: Vec<f64> = hyps
        .iter()
        .zip(&refs)
        .map(|(h, item_refs)| {
            let hv = tf_idf(h, &df, log_n);
            let mut score = [0.0; N];
            for r in item_refs {
                let rv = tf_idf(r, &df, log_n);
                for (s, v) in score.iter_mut().zip(sim(&hv, &rv)) {
                    *s += v;
                }
            }
            mean(&score) / item_refs.len() as f64 * 10.0
        })
        .collect();
    Ok(CorpusScore {
        score: mean(&per_item),
        per_item,
    })
}
