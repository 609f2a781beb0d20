//! The SkeletonLLM tasks on a skeleton clip: `recognize` (the authors' label-only multiple-choice
//! prompt, plus every candidate label scored by likelihood), `caption`, `ask` (free-form
//! questions) and `verify` (the Disc-FT YES/NO question with its probability, or, for a model
//! whose YES/NO head did not learn, the label ranked against the model's own labels:
//! [`VerifyMethod`]).
//!
//! Every task renders the clip once with the model's DrAction (any layout: NTU-25 takes the
//! exact path, every other layout the cross-topology path), builds the prompt of
//! [`crate::text::prompts`] and either generates an answer or scores candidate answers: the
//! log-likelihood of a candidate is the sum of its tokens' log-probabilities followed by
//! `<|im_end|>` (so that a label that is the prefix of another is not favoured), computed from one
//! prefill of the prompt whose KV cache every candidate continues.

//!
//! - [`Assistant`] (`assistant.rs`): a model with its tokenizer, prompts and generation, and the
//!   four tasks; loading one from a directory is in [`crate::load::assistant`].
//! - `scoring.rs`: candidate answers scored by likelihood from one prefill.

mod assistant;
mod scoring;
#[cfg(any(test, feature = "testing"))]
mod testing;

use draction::prep::Sampler as FrameSampler;
use draction::render::Rasterizer;

use crate::text::prompts;

pub use assistant::Assistant;

/// Candidate answers scored in one batch by [`Assistant::score_answers`] (memory grows with it).
pub const SCORE_CHUNK: usize = 8;

/// Settings shared by the tasks.
#[derive(Debug, Clone)]
pub struct TaskOptions {
    /// Frames rendered per clip (the authors use 12).
    pub frames: usize,
    /// How the frames are picked from the clip.
    pub sampler: FrameSampler,
    /// Which rasteriser renders them.
    pub raster: Rasterizer,
    /// The system message.
    pub system: String,
    /// The layout every input is retargeted to before rendering (a bundle's
    /// `input_layout`); `None`: rendered in its own layout.
    pub input_layout: Option<draction::Layout>,
    /// How `verify` decides.
    pub verify: VerifyMethod,
    /// Upper bound on generated tokens for labels and YES/NO answers.
    pub max_label_tokens: usize,
    /// Upper bound on generated tokens for captions and free answers.
    pub max_text_tokens: usize,
}

impl Default for TaskOptions {
    fn default() -> Self {
        Self {
            frames: 12,
            sampler: FrameSampler::Middle,
            raster: Rasterizer::Fast,
            input_layout: None,
            verify: VerifyMethod::YesNo,
            system: prompts::TEMPLATE_SYSTEM_MESSAGE.to_string(),
            max_label_tokens: 32,
            max_text_tokens: 96,
        }
    }
}

/// One candidate label with its score.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LabelScore {
    /// Index in the candidate list.
    pub index: usize,
    /// The label.
    pub label: String,
    /// Log-likelihood of the label as the answer (then `<|im_end|>`).
    pub log_likelihood: f32,
    /// Softmax of the log-likelihoods over the candidates.
    pub probability: f32,
}

/// The result of [`Assistant::recognize`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Recognition {
    /// The generated answer, as text.
    pub answer: String,
    /// The label the answer names ([`crate::text::answer::parse_answer`]), if any.
    pub parsed: Option<usize>,
    /// Every candidate ranked by likelihood, best first.
    pub ranking: Vec<LabelScore>,
}

/// How [`Assistant::verify`] decides whether a clip shows an action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerifyMethod {
    /// The Disc-FT question "is the action X?" answered YES or NO (the authors' Stage 2).
    #[default]
    YesNo,
    /// The label ranked by likelihood among the model's own labels (and itself, when it is
    /// not one of them) under the recognition prompt: YES when it ranks first. For a model
    /// whose YES/NO answers did not learn to follow the clip.
    Ranking,
}

impl VerifyMethod {
    /// Whether this is the default ([`VerifyMethod::YesNo`]), left out of a bundle's manifest.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// The result of [`Assistant::verify`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Verification {
    /// The label asked about.
    pub label: String,
    /// P(YES) against P(NO), from their likelihoods as answers; with
    /// [`VerifyMethod::Ranking`], the label's probability among the ranked labels.
    pub yes_probability: f32,
    /// Whether YES is the likelier answer (with [`VerifyMethod::Ranking`]: the label ranks
    /// first).
    pub yes: bool,
    /// How the answer was reached.
    pub method: VerifyMethod,
}

impl Verification {
    /// The [`VerifyMethod::Ranking`] answer about `label` from a `ranking` (best first) that
    /// holds it; `None` when it does not.
    pub fn from_ranking(ranking: &[LabelScore], label: &str) -> Option<Self> {
        let score = ranking.iter().find(|s| s.label == label)?;
        Some(Self {
            label: label.to_string(),
            yes_probability: score.probability,
            yes: ranking.first().is_some_and(|s| s.label == label),
            method: VerifyMethod::Ranking,
        })
    }
}

/// Softmax of host scores (stable).
pub fn softmax(scores: &[f32]) -> Vec<f32> {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.iter().map(|e| e / sum).collect()
}
