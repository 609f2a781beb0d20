//! ROUGE-L as pycocoevalcap's `Rouge` (beta 1.2, sentence-level F averaged over items).

use super::MetricsError;
use super::caption::{CorpusScore, borrow_corpus, mean};

/// pycocoevalcap's ROUGE-L beta (recall weighted 1.2² times precision).
const BETA: f64 = 1.2;

/// Length of the longest common subsequence of two token lists.
fn lcs(a: &[&str], b: &[&str]) -> usize {
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    let mut prev = vec![0usize; short.len() + 1];
    let mut cur = vec![0usize; short.len() + 1];
    for x in long {
        for (j, y) in short.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                prev[j + 1].max(cur[j])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[short.len()]
}

/// pycocoevalcap splits with `str.split(" ")`, so an empty sentence is one empty token.
fn py_split<'a>(tokens: &[&'a str]) -> Vec<&'a str> {
    if tokens.is_empty() {
        vec![""]
    } else {
        tokens.to_vec()
    }
}

/// ROUGE-L of one hypothesis: F_beta of the best precision and best recall over references.
fn sentence_rouge_l(hyp: &[&str], refs: &[Vec<&str>]) -> f64 {
    let hyp = py_split(hyp);
    let (mut prec_max, mut rec_max) = (0.0f64, 0.0f64);
    for r in refs {
        let r = py_split(r);
        let l = lcs(&r, &hyp) as f64;
        prec_max = prec_max.max(l / hyp.len() as f64);
        rec_max = rec_max.max(l / r.len() as f64);
    }
    if prec_max != 0.0 && rec_max != 0.0 {
        let b2 = BETA * BETA;
        ((1.0 + b2) * prec_max * rec_max) / (rec_max + b2 * prec_max)
    } else {
        0.0
    }
}

/// ROUGE-L exactly as pycocoevalcap's `Rouge().compute_score` on pre-tokenised text (0–1).
///
/// Per item: LCS precision and recall against each reference, the maxima of each taken
/// independently, F with beta 1.2; the corpus score is the mean over items. As in Python, an
/// empty sentence counts as a single empty token.
pub fn rouge_l<H, R, T>(hyps: &[H], refs: &[R]) -> Result<CorpusScore, MetricsError>
where
    H: AsRef<[T]>,
    R: AsRef<[H]>,
    T: AsRef<str>,
{
    let (hyps, refs) = borrow_corpus(hyps, refs)?;
    let per_item: Vec<f64> = hyps
        .iter()
        .zip(&refs)
        .map(|(h, r)| sentence_rouge_l(h, r))
        .collect();
    Ok(CorpusScore {
        score: mean(&per_item),
        per_item,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lcs_basic() {
        assert_eq!(lcs(&["a", "b", "c", "d"], &["a", "c", "d"]), 3);
        assert_eq!(lcs(&["x"], &["a", "b"]), 0);
        assert_eq!(lcs(&[], &["a"]), 0);
    }
}
