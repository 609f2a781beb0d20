//! [`Assistant`]: a SkeletonLLM with its tokenizer, ready for the tasks.

use std::borrow::Cow;
use std::ops::ControlFlow;

use burn::tensor::{Device, Int, Tensor, TensorData};
use draction::Skeleton;
use draction::render::Clip;

use super::{Recognition, TaskOptions, Verification, VerifyMethod, softmax};
use crate::error::{Error, Result};
use crate::generation::generate::{GenerateOptions, generate_streaming};
use crate::internvl::InternVlInput;
use crate::skeleton_llm::SkeletonLlm;
use crate::text::prompts;
use crate::text::template::Conversation;
use crate::text::tokenizer::InternVlTokenizer;

/// A loaded SkeletonLLM with its tokenizer, ready for the tasks.
#[derive(Debug)]
pub struct Assistant {
    /// Renderer + InternVL.
    pub model: SkeletonLlm,
    /// The model's tokenizer.
    pub tokenizer: InternVlTokenizer,
    /// Ids that end an answer (`<|im_end|>` and the checkpoint's eos ids).
    pub eos_token_ids: Vec<i64>,
    /// Task settings.
    pub options: TaskOptions,
    /// The labels the model was trained on, when its directory says so (bundles): the default
    /// candidates of `recognize`.
    pub labels: Vec<String>,
    pub(crate) device: Device,
}

impl Assistant {
    /// Wraps a model and tokenizer; `<|im_end|>` always ends an answer.
    pub fn new(model: SkeletonLlm, tokenizer: InternVlTokenizer, device: Device) -> Self {
        let im_end = i64::from(tokenizer.special_tokens().im_end);
        Self {
            model,
            tokenizer,
            eos_token_ids: vec![im_end],
            options: TaskOptions::default(),
            labels: Vec::new(),
            device,
        }
    }

    /// With these task settings.
    pub fn with_options(mut self, options: TaskOptions) -> Self {
        self.options = options;
        self
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The clip the tasks render from `skel`.
    ///
    /// # Errors
    /// [`Error::Task`] when the skeleton cannot be rendered (no frames or bodies).
    pub fn clip(&self, skel: &Skeleton) -> Result<Clip> {
        Ok(self
            .model
            .clip(&self.input(skel), self.options.frames, self.options.sampler)?)
    }

    /// `skel` as the model reads it: retargeted to [`TaskOptions::input_layout`] when that is
    /// set and differs from the skeleton's own layout.
    pub fn input<'a>(&self, skel: &'a Skeleton) -> Cow<'a, Skeleton> {
        match &self.options.input_layout {
            Some(layout) if skel.layout().name != layout.name => Cow::Owned(skel.retarget(layout)),
            _ => Cow::Borrowed(skel),
        }
    }

    /// The language model's context: the most tokens a prompt and its answer may take.
    pub fn context_length(&self) -> usize {
        self.model
            .internvl
            .language_model
            .model
            .rotary
            .max_position_embeddings
    }

    /// The most frames whose image tokens leave room in the context for a prompt of
    /// `text_tokens` text tokens and an answer of `answer_tokens`.
    pub fn max_frames(&self, text_tokens: usize, answer_tokens: usize) -> usize {
        let per = self.model.internvl.tokens_per_image().max(1);
        // Each frame also takes its "FrameN: " prefix and the <img>/</img> around its tokens.
        self.context_length()
            .saturating_sub(text_tokens + answer_tokens)
            / (per + 8)
    }

    /// Pixel values `[F, 3, S, S]` of `clip`.
    pub fn pixels(&self, clip: &Clip) -> Tensor<4> {
        self.model
            .pixel_values(clip, self.options.raster, &self.device)
    }

    /// Prompt ids for `question` about a clip of `frames` frames.
    ///
    /// # Errors
    /// [`Error::Tokenizer`] if encoding fails.
    pub fn prompt_ids(&self, frames: usize, question: &str) -> Result<Vec<i64>> {
        self.tokenizer.check_plain_text(question)?;
        let per_image = vec![self.model.internvl.tokens_per_image(); frames];
        let ids = Conversation::new(self.options.system.clone()).encode(
            &self.tokenizer,
            &prompts::user_message(frames, question),
            &per_image,
        )?;
        Ok(ids.into_iter().map(i64::from).collect())
    }

    pub(super) fn ids_tensor(&self, ids: &[i64]) -> Tensor<2, Int> {
        Tensor::from_data(TensorData::new(ids.to_vec(), [1, ids.len()]), &self.device)
    }

    /// Generates the answer to `question` about `clip` (greedy), streaming each piece of text to
    /// `on_text`.
    ///
    /// # Errors
    /// Tokenizer errors and [`Error::ImageTokenMismatch`] (a model whose image tokens do not
    /// match its tokenizer).
    pub fn answer_clip(
        &self,
        clip: &Clip,
        question: &str,
        max_new_tokens: usize,
        on_text: impl FnMut(&str),
    ) -> Result<String> {
        let ids = self.prompt_ids(clip.frames, question)?;
        self.generate_answer(&ids, self.pixels(clip), max_new_tokens, on_text)
    }

    /// Greedy answer after the prompt `ids` whose images are `pixels`.
    fn generate_answer(
        &self,
        ids: &[i64],
        pixels: Tensor<4>,
        max_new_tokens: usize,
        mut on_text: impl FnMut(&str),
    ) -> Result<String> {
        let input = InternVlInput::new(self.ids_tensor(ids)).pixel_values(pixels);
        let options = GenerateOptions::greedy(max_new_tokens).with_eos(self.eos_token_ids.clone());
        let mut out: Vec<u32> = Vec::new();
        let mut shown = 0usize;
        let mut failure = None;
        generate_streaming(&self.model.internvl, input, options, |id| {
            if self.eos_token_ids.contains(&id) {
                return ControlFlow::Break(());
            }
            out.push(id as u32);
            match self.tokenizer.decode(&out, true) {
                Ok(text) => {
                    if text.len() > shown && text.is_char_boundary(shown) {
                        on_text(&text[shown..]);
                        shown = text.len();
                    }
                    ControlFlow::Continue(())
                }
                Err(e) => {
                    failure = Some(e);
                    ControlFlow::Break(())
                }
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(self.tokenizer.decode(&out, true)?.trim().to_string())
    }

    /// Recognises the action of `skel` among `labels`: the authors' label-only MQA prompt,
    /// a greedy answer parsed like their evaluation, and every label ranked by likelihood.
    ///
    /// # Errors
    /// As [`Assistant::clip`] and [`Assistant::score_answers`]; [`Error::Task`] for an empty
    /// label list.
    pub fn recognize<S: AsRef<str>>(&self, skel: &Skeleton, labels: &[S]) -> Result<Recognition> {
        if labels.is_empty() {
            return Err(Error::Task("no candidate labels".into()));
        }
        let clip = self.clip(skel)?;
        let question = prompts::mqa_question(labels);
        let ids = self.prompt_ids(clip.frames, &question)?;
        let pixels = self.pixels(&clip);
        let answer =
            self.generate_answer(&ids, pixels.clone(), self.options.max_label_tokens, |_| {})?;
        let ranking = self.rank_with_prompt(&ids, pixels, labels)?;
        let names: Vec<&str> = labels.iter().map(AsRef::as_ref).collect();
        let parsed = crate::text::answer::parse_answer(&answer, &names);
        Ok(Recognition {
            answer,
            parsed,
            ranking,
        })
    }

    /// A one-sentence description of the motion in `skel`.
    ///
    /// # Errors
    /// As [`Assistant::answer_clip`].
    pub fn caption(&self, skel: &Skeleton, on_text: impl FnMut(&str)) -> Result<String> {
        let clip = self.clip(skel)?;
        self.answer_clip(
            &clip,
            prompts::CAPTION_QUESTION,
            self.options.max_text_tokens,
            on_text,
        )
    }

    /// The answer to a free-form `question` about `skel`.
    ///
    /// # Errors
    /// As [`Assistant::answer_clip`].
    pub fn ask(
        &self,
        skel: &Skeleton,
        question: &str,
        on_text: impl FnMut(&str),
    ) -> Result<String> {
        let clip = self.clip(skel)?;
        self.answer_clip(&clip, question, self.options.max_text_tokens, on_text)
    }

    /// Whether `skel` shows the action `label`, decided as [`TaskOptions::verify`] says: the
    /// Disc-FT question "is the action `label`?" (P(YES) from the likelihoods of the answers
    /// YES and NO), or `label` ranked among the model's own labels.
    ///
    /// # Errors
    /// As [`Assistant::score_answers`]; [`Error::Task`] for ranking with no labels.
    pub fn verify(&self, skel: &Skeleton, label: &str) -> Result<Verification> {
        self.verify_clip(&self.clip(skel)?, label)
    }

    /// [`Assistant::verify`] on a clip already rendered (ask about several labels, render once).
    ///
    /// # Errors
    /// As [`Assistant::verify`].
    pub fn verify_clip(&self, clip: &Clip, label: &str) -> Result<Verification> {
        match self.options.verify {
            VerifyMethod::YesNo => self.verify_yes_no(clip, label),
            VerifyMethod::Ranking => self.verify_by_ranking(clip, label),
        }
    }

    /// [`VerifyMethod::Ranking`]: `label` ranked among the model's labels (and itself).
    ///
    /// # Errors
    /// As [`Assistant::rank_labels`]; [`Error::Task`] when the model has no labels.
    pub fn verify_by_ranking(&self, clip: &Clip, label: &str) -> Result<Verification> {
        if self.labels.is_empty() {
            return Err(Error::Task(
                "verify by ranking needs the model's labels (its manifest has none)".into(),
            ));
        }
        let ranking = self.rank_labels(clip, &self.verify_candidates(label))?;
        Verification::from_ranking(&ranking, label)
            .ok_or_else(|| Error::Task(format!("{label:?} missing from its own ranking")))
    }

    /// The labels [`Assistant::verify_by_ranking`] ranks `label` among: the model's own, and
    /// `label` itself when it is not one of them.
    pub fn verify_candidates(&self, label: &str) -> Vec<String> {
        let mut labels = self.labels.clone();
        if !labels.iter().any(|l| l == label) {
            labels.push(label.to_string());
        }
        labels
    }

    /// [`VerifyMethod::YesNo`]: the Disc-FT question, P(YES) against P(NO).
    ///
    /// # Errors
    /// As [`Assistant::score_answers`].
    pub fn verify_yes_no(&self, clip: &Clip, label: &str) -> Result<Verification> {
        let ids = self.prompt_ids(clip.frames, &prompts::discft_question(label))?;
        let candidates = [
            self.encode_answer(prompts::YES)?,
            self.encode_answer(prompts::NO)?,
        ];
        let scores = self.score_answers(&ids, self.pixels(clip), &candidates)?;
        let p = softmax(&scores);
        Ok(Verification {
            label: label.to_string(),
            yes_probability: p[0],
            yes: p[0] >= p[1],
            method: VerifyMethod::YesNo,
        })
    }
}
