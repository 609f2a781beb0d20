//! Evaluation over conversation records: multiple-choice records (the MQA prompt with its label
//! list) are scored by ranking every candidate label by likelihood (top-1/top-5, per-class,
//! seen/unseen and harmonic mean when the unseen labels are given, a confusion matrix), and every
//! other record by generating an answer and scoring it against the reference (BLEU-4, ROUGE-L,
//! CIDEr-D).

use std::path::Path;

use skeletonllm_model::{Assistant, text::prompts};

use crate::error::{Result, TrainError};
use crate::metrics::{CaptionScores, ConfusionMatrix, RecognitionReport, caption_scores_from_text};
use crate::train::sample::Sample;

/// Everything [`evaluate`] measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EvalReport {
    /// Recognition over the MQA records, if any.
    pub recognition: Option<RecognitionReport>,
    /// Captioning / free-answer scores over the other records, if any.
    pub captioning: Option<CaptionScores>,
    /// Per-record predictions: `(id, prediction, reference)`.
    pub predictions: Vec<(String, String, String)>,
    /// Mean seconds per record.
    pub seconds_per_record: f64,
}

/// The candidate labels of an MQA user message (the lines after [`prompts::MQA_INSTRUCTION`]).
pub fn mqa_labels(user: &str) -> Option<Vec<String>> {
    let at = user.find(prompts::MQA_INSTRUCTION)?;
    let list = &user[at + prompts::MQA_INSTRUCTION.len()..];
    let labels: Vec<String> = list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    (!labels.is_empty()).then_some(labels)
}

/// Evaluates `assistant` on `samples`; `unseen` names the unseen labels of a zero-shot split.
/// `confusion_png`, when given, receives the recognition confusion matrix.
///
/// # Errors
/// Skeleton, model and metric errors, naming the sample.
pub fn evaluate(
    assistant: &Assistant,
    samples: &[Sample],
    unseen: Option<&[String]>,
    confusion_png: Option<&Path>,
    mut progress: impl FnMut(usize, usize),
) -> Result<EvalReport> {
    let started = std::time::Instant::now();
    let mut ranked: Vec<Vec<String>> = Vec::new();
    let mut truth: Vec<String> = Vec::new();
    let mut all_labels: Vec<String> = Vec::new();
    let mut hyps: Vec<String> = Vec::new();
    let mut refs: Vec<Vec<String>> = Vec::new();
    let mut predictions = Vec::new();
    for (k, sample) in samples.iter().enumerate() {
        let named = |source| TrainError::SampleModel {
            sample: sample.id.clone(),
            source,
        };
        let skel = sample.skeleton.load()?;
        let clip = assistant
            .model
            .clip(
                &assistant.input(&skel),
                sample.frames(),
                assistant.options.sampler,
            )
            .map_err(|e| TrainError::skeleton(format!("sample {}", sample.id), e))?;
        if let Some(labels) = mqa_labels(&sample.user) {
            let ranking = assistant.rank_labels(&clip, &labels).map_err(named)?;
            let order: Vec<String> = ranking.iter().map(|r| r.label.clone()).collect();
            predictions.push((sample.id.clone(), order[0].clone(), sample.answer.clone()));
            for l in &labels {
                if !all_labels.contains(l) {
                    all_labels.push(l.clone());
                }
            }
            if !all_labels.contains(&sample.answer) {
                all_labels.push(sample.answer.clone());
            }
            ranked.push(order);
            truth.push(sample.answer.clone());
        } else {
            let question = sample
                .user
                .rsplit_once("<image>\n")
                .map_or(sample.user.as_str(), |(_, q)| q);
            let answer = assistant
                .answer_clip(&clip, question, assistant.options.max_text_tokens, |_| {})
                .map_err(named)?;
            predictions.push((sample.id.clone(), answer.clone(), sample.answer.clone()));
            hyps.push(answer);
            refs.push(vec![sample.answer.clone()]);
        }
        progress(k + 1, samples.len());
    }
    let recognition = if ranked.is_empty() {
        None
    } else {
        if let Some(png) = confusion_png {
            let pairs = truth
                .iter()
                .zip(&ranked)
                .map(|(t, r)| (t.as_str(), r[0].as_str()));
            let cm = ConfusionMatrix::from_pairs(&all_labels, pairs)?;
            cm.write_png(png, Some(&png.with_extension("json")))?;
        }
        Some(RecognitionReport::new(&ranked, &truth, unseen)?)
    };
    let captioning = if hyps.is_empty() {
        None
    } else {
        Some(caption_scores_from_text(&hyps, &refs)?)
    };
    Ok(EvalReport {
        recognition,
        captioning,
        predictions,
        seconds_per_record: started.elapsed().as_secs_f64() / samples.len().max(1) as f64,
    })
}
