//! A training sample (a skeleton clip and one question/answer turn) and its token encoding.

use std::path::PathBuf;
use std::sync::Arc;

use draction::Skeleton;
use skeletonllm_model::text::template::{Conversation, IMAGE_PLACEHOLDER};
use skeletonllm_model::{InternVlTokenizer, text::prompts};

use crate::error::{Result, TrainError};

/// Where a sample's skeleton comes from.
#[derive(Debug, Clone)]
pub enum SkeletonRef {
    /// A skeleton file (any supported format), read when the sample is used.
    File(PathBuf),
    /// A skeleton already in memory (clips made by code).
    Memory(Arc<Skeleton>),
}

impl SkeletonRef {
    /// The skeleton.
    ///
    /// # Errors
    /// [`TrainError::SkeletonFile`] naming the file that cannot be read.
    pub fn load(&self) -> Result<Arc<Skeleton>> {
        match self {
            SkeletonRef::Memory(s) => Ok(s.clone()),
            SkeletonRef::File(path) => draction::io::read(path, None)
                .map(Arc::new)
                .map_err(TrainError::SkeletonFile),
        }
    }
}

/// One training sample: a clip and a user turn (with one `<image>` placeholder per frame) with
/// its answer.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Identifier (the JSONL `id`, or a name made by code).
    pub id: String,
    /// The clip.
    pub skeleton: SkeletonRef,
    /// System message; `None` = [`prompts::TEMPLATE_SYSTEM_MESSAGE`].
    pub system: Option<String>,
    /// The user message, with the frame placeholders.
    pub user: String,
    /// The answer the model is trained to give.
    pub answer: String,
    /// A wrong answer for the margin loss (NO for a YES question, a hard-negative label).
    pub contrast: Option<String>,
    /// The teacher's user message for logit distillation (it may contain the true label).
    pub teacher_user: Option<String>,
}

impl Sample {
    /// A sample with only the required fields.
    pub fn new(
        id: impl Into<String>,
        skeleton: SkeletonRef,
        user: impl Into<String>,
        answer: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            skeleton,
            system: None,
            user: user.into(),
            answer: answer.into(),
            contrast: None,
            teacher_user: None,
        }
    }

    /// Number of frames the user message asks for (its `<image>` placeholders).
    pub fn frames(&self) -> usize {
        self.user.matches(IMAGE_PLACEHOLDER).count()
    }
}

/// A sample's token ids: the prompt, the answer and `<|im_end|>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// Every id, `[prompt | answer | <|im_end|>]`.
    pub ids: Vec<i64>,
    /// Index of the first answer id.
    pub answer_start: usize,
}

/// Encodes `user` (with `system`) and `answer` for a model with `tokens_per_image` image tokens.
///
/// # Errors
/// [`TrainError::Model`] when the tokenizer fails; [`TrainError::Sample`] for an empty answer.
pub fn encode(
    tokenizer: &InternVlTokenizer,
    tokens_per_image: usize,
    system: Option<&str>,
    user: &str,
    answer: &str,
) -> Result<Encoded> {
    let frames = user.matches(IMAGE_PLACEHOLDER).count();
    let conversation = Conversation::new(system.unwrap_or(prompts::TEMPLATE_SYSTEM_MESSAGE));
    let prompt = conversation.encode(tokenizer, user, &vec![tokens_per_image; frames])?;
    let answer_ids = tokenizer.encode(answer)?;
    if answer_ids.is_empty() {
        return Err(TrainError::Sample(format!(
            "the answer {answer:?} encodes to no tokens"
        )));
    }
    let mut ids: Vec<i64> = prompt.iter().map(|&i| i64::from(i)).collect();
    let answer_start = ids.len();
    ids.extend(answer_ids.iter().map(|&i| i64::from(i)));
    ids.push(i64::from(tokenizer.special_tokens().im_end));
    Ok(Encoded { ids, answer_start })
}

/// Training samples from the authors' conversation records: the skeleton is
/// `data_root/<image>`, the user message the first human turn, the answer the last gpt turn.
///
/// # Errors
/// [`TrainError::Sample`] naming the record that has no image, question or answer.
pub fn from_records(
    records: &[crate::data::ConversationRecord],
    data_root: &std::path::Path,
) -> Result<Vec<Sample>> {
    records
        .iter()
        .map(|r| {
            let missing = |what: &str| TrainError::Sample(format!("record {}: no {what}", r.id));
            let image = r.image.first().ok_or_else(|| missing("image"))?;
            let mut sample = Sample::new(
                r.id.clone(),
                SkeletonRef::File(data_root.join(image)),
                r.question().ok_or_else(|| missing("human turn"))?,
                r.answer().ok_or_else(|| missing("gpt turn"))?,
            );
            sample.system = r.system().map(str::to_string);
            Ok(sample)
        })
        .collect()
}
