//! Corpus-level captioning scores (BLEU, ROUGE-L, CIDEr-D) and their shared input checks.
//!
//! Inputs are pre-tokenised: one token list per hypothesis and a non-empty list of token
//! lists (the references) per item. Use [`tokenize`](super::tokenize()) to get tokens from raw
//! text. The scorers only compare tokens for equality; they do not lower-case or split.

use serde::Serialize;

use super::{MetricsError, cider_d, coco_bleu, rouge_l, sacre_bleu, tokenize};

/// A corpus score with its per-item scores (the corpus score is their mean).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorpusScore {
    /// Mean of `per_item`.
    pub score: f64,
    /// One score per hypothesis, in input order.
    pub per_item: Vec<f64>,
}

/// All captioning metrics of one corpus.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaptionScores {
    /// Number of scored items.
    pub num_items: usize,
    /// Corpus BLEU-4 as sacrebleu's `corpus_bleu` (exp smoothing), on a 0–100 scale.
    pub bleu4: f64,
    /// pycocoevalcap's corpus BLEU-1..4 (0–1 scale).
    pub coco_bleu: [f64; 4],
    /// pycocoevalcap's ROUGE-L (beta 1.2), mean of sentence F-scores (0–1).
    pub rouge_l: f64,
    /// pycocoevalcap's CIDEr(-D) (×10 scale).
    pub cider_d: f64,
}

/// Borrowed, validated corpus: `(hypotheses, references)` as string slices.
pub(crate) type Corpus<'a> = (Vec<Vec<&'a str>>, Vec<Vec<Vec<&'a str>>>);

/// Checks lengths and non-empty references, and borrows every token as `&str`.
pub(crate) fn borrow_corpus<'a, H, R, T>(
    hyps: &'a [H],
    refs: &'a [R],
) -> Result<Corpus<'a>, MetricsError>
where
    H: AsRef<[T]>,
    R: AsRef<[H]>,
    T: AsRef<str> + 'a,
{
    if hyps.len() != refs.len() {
        return Err(MetricsError::LengthMismatch {
            what: "hypotheses vs reference sets",
            left: hyps.len(),
            right: refs.len(),
        });
    }
    if hyps.is_empty() {
        return Err(MetricsError::EmptyCorpus);
    }
    let to_strs = |h: &'a H| h.as_ref().iter().map(AsRef::as_ref).collect::<Vec<&str>>();
    let hyp_tokens = hyps.iter().map(to_strs).collect();
    let ref_tokens = refs
        .iter()
        .enumerate()
        .map(|(index, r)| {
            let r = r.as_ref();
            if r.is_empty() {
                Err(MetricsError::NoReferences { index })
            } else {
                Ok(r.iter().map(to_strs).collect())
            }
        })
        .collect::<Result<_, _>>()?;
    Ok((hyp_tokens, ref_tokens))
}

/// Mean of a non-empty slice (0 for an empty one).
pub(crate) fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// Computes every captioning metric on pre-tokenised hypotheses and references.
pub fn caption_scores<H, R, T>(hyps: &[H], refs: &[R]) -> Result<CaptionScores, MetricsError>
where
    H: AsRef<[T]>,
    R: AsRef<[H]>,
    T: AsRef<str>,
{
    let coco = coco_bleu(hyps, refs)?;
    Ok(CaptionScores {
        num_items: hyps.len(),
        bleu4: sacre_bleu(hyps, refs)?.score,
        coco_bleu: coco.bleu,
        rouge_l: rouge_l(hyps, refs)?.score,
        cider_d: cider_d(hyps, refs)?.score,
    })
}

/// Tokenises raw captions with [`tokenize()`] and computes every metric on the tokens.
pub fn caption_scores_from_text<S, R>(hyps: &[S], refs: &[R]) -> Result<CaptionScores, MetricsError>
where
    S: AsRef<str>,
    R: AsRef<[S]>,
{
    let hyp_tokens: Vec<Vec<String>> = hyps.iter().map(|h| tokenize(h.as_ref())).collect();
    let ref_tokens: Vec<Vec<Vec<String>>> = refs
        .iter()
        .map(|r| r.as_ref().iter().map(|s| tokenize(s.as_ref())).collect())
        .collect();
    caption_scores(&hyp_tokens, &ref_tokens)
}
