//! The SkeletonLLM tasks on a skeleton clip: `recognize` (the authors' label-only multiple-choice
//! prompt, plus every candidate label scored by likelihood), `caption`, `ask` (free-form
//! questions) and `verify` (the Disc-FT YES/NO question with its probability).
//!
//! Every task renders the clip once with the model's DrAction (any layout: NTU-25 takes the
//! exact path, every other layout the cross-topology path), builds the prompt of
//! [`crate::prompts`] and either generates an answer or scores candidate answers: the
//! log-likelihood of a candidate is the sum of its tokens' log-probabilities followed by
//! `<|im_end|>` (so that a label that is the prefix of another is not favoured), computed from one
//! prefill of the prompt whose KV cache every candidate continues.

use std::ops::ControlFlow;
use std::path::Path;

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use draction::Skeleton;
use draction::prep::Sampler as FrameSampler;
use draction::render::{Clip, Rasterizer};

use crate::error::{Error, Result};
use crate::generate::{GenerateOptions, generate_streaming};
use crate::internvl::InternVlInput;
use crate::prompts;
use crate::skeleton_llm::SkeletonLlm;
use crate::template::Conversation;
use crate::tokenizer::InternVlTokenizer;

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
    /// The label the answer names ([`crate::answer::parse_answer`]), if any.
    pub parsed: Option<usize>,
    /// Every candidate ranked by likelihood, best first.
    pub ranking: Vec<LabelScore>,
}

/// The result of [`Assistant::verify`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Verification {
    /// The label asked about.
    pub label: String,
    /// P(YES) against P(NO), from their likelihoods as answers.
    pub yes_probability: f32,
    /// Whether YES is the likelier answer.
    pub yes: bool,
}

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
    device: Device,
}

/// Host log-softmax of a `[n, V]` logits tensor, row-major.
fn host_log_softmax(logits: Tensor<2>) -> (Vec<f32>, usize) {
    let [_, v] = logits.dims();
    let values = log_softmax(logits, 1).into_data().iter::<f32>().collect();
    (values, v)
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

    /// Loads a SkeletonLLM checkpoint directory (`config.json`, safetensors with the DrAction
    /// tensors, `tokenizer.json`).
    ///
    /// # Errors
    /// As [`crate::load_skeleton_llm`] and [`InternVlTokenizer::from_model_dir`].
    /// A bundle directory ([`crate::bundle`], e.g. the bundled `skeletonllm-tiny`) is loaded with
    /// [`crate::bundle::load_bundle`] and its manifest's frames and system message become the
    /// task options; its adapters are merged for inference (off the autodiff graph), so train
    /// from [`Assistant::load_for_training`] instead.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        Self::load_with(dir, device, crate::bundle::load_bundle)
    }

    /// As [`Assistant::load`], but a bundle keeps its LoRA adapters apart from the base weights
    /// ([`crate::bundle::load_bundle_for_training`]) so that training goes on from them.
    ///
    /// # Errors
    /// As [`Assistant::load`].
    pub fn load_for_training(dir: &Path, device: &Device) -> Result<Self> {
        Self::load_with(dir, device, crate::bundle::load_bundle_for_training)
    }

    fn load_with(
        dir: &Path,
        device: &Device,
        bundle_loader: fn(&Path, &Device) -> Result<crate::bundle::Bundle>,
    ) -> Result<Self> {
        if crate::bundle::read_manifest(dir)?.is_some() {
            let bundle = bundle_loader(dir, device)?;
            let options = TaskOptions {
                frames: bundle.manifest.frames,
                system: bundle.manifest.system,
                ..TaskOptions::default()
            };
            let mut assistant =
                Self::new(bundle.model, bundle.tokenizer, device.clone()).with_options(options);
            assistant.labels = bundle.manifest.labels;
            return Ok(assistant);
        }
        let model = crate::load_skeleton_llm(dir, device)?;
        let tokenizer = InternVlTokenizer::from_model_dir(dir)?;
        let config = crate::CheckpointConfig::from_json_file(&dir.join("config.json"))?;
        let mut assistant = Self::new(model, tokenizer, device.clone());
        for id in crate::load::eos_token_ids(dir, &config)? {
            if !assistant.eos_token_ids.contains(&id) {
                assistant.eos_token_ids.push(id);
            }
        }
        Ok(assistant)
    }

    /// A tiny random model ([`crate::InternVlConfig::tiny`]) on `renderer`, with a word-level
    /// tokenizer that knows every word of `texts`: for examples and smoke tests (its answers
    /// are meaningless).
    ///
    /// # Errors
    /// [`Error::Tokenizer`] if the word-level tokenizer cannot be built.
    pub fn tiny_random<S: AsRef<str>>(
        texts: &[S],
        renderer: draction::render::DrAction,
        device: &Device,
    ) -> Result<Self> {
        let tokenizer = InternVlTokenizer::from_json(
            crate::tokenizer::word_level_json(texts),
            "tiny".as_ref(),
        )?;
        let config = crate::InternVlConfig::tiny(
            tokenizer.vocab_size(),
            tokenizer.special_tokens().img_context as usize,
        );
        let model = SkeletonLlm::new(renderer, config.init(device));
        Ok(Self::new(model, tokenizer, device.clone()))
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
            .clip(skel, self.options.frames, self.options.sampler)?)
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

    fn ids_tensor(&self, ids: &[i64]) -> Tensor<2, Int> {
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

    /// Log-likelihood of each candidate answer (token ids, `<|im_end|>` appended here) after the
    /// prompt `ids` with `pixels` as its images.
    ///
    /// # Errors
    /// [`Error::ImageTokenMismatch`] when the prompt's image tokens do not match the images.
    pub fn score_answers(
        &self,
        ids: &[i64],
        pixels: Tensor<4>,
        candidates: &[Vec<i64>],
    ) -> Result<Vec<f32>> {
        let internvl = &self.model.internvl;
        let lm = &internvl.language_model;
        let mut cache = lm.new_cache();
        let input = InternVlInput::new(self.ids_tensor(ids)).pixel_values(pixels);
        internvl.check_input(&input)?;
        let features = input
            .pixel_values
            .map(|p| internvl.get_image_features(p).features);
        let embeds = internvl.embed_with_images(input.input_ids, features)?;
        let last = lm.forward_embeds_last(embeds, None, Some(&mut cache)); // [1, 1, V]
        let [_, _, v] = last.dims();
        let (first, _) = host_log_softmax(last.reshape([1, v]));
        let im_end = i64::from(self.tokenizer.special_tokens().im_end);
        let sequences: Vec<Vec<i64>> = candidates
            .iter()
            .map(|c| c.iter().copied().chain([im_end]).collect())
            .collect();
        let mut scores: Vec<f32> = sequences
            .iter()
            .map(|t| t.first().map_or(0.0, |&id| first[id as usize]))
            .collect();
        // The continuations past the first token, SCORE_CHUNK at a time, each chunk one batch on
        // copies of the prompt's cache, right-padded (a causal decoder's earlier positions never
        // see the padding after them). Chunks keep memory flat however many candidates there
        // are: the copies of the cache and the logits grow with the batch.
        for (c, chunk) in sequences.chunks(SCORE_CHUNK).enumerate() {
            let longest = chunk.iter().map(Vec::len).max().unwrap_or(0);
            if longest <= 1 {
                continue;
            }
            let n = chunk.len();
            let width = longest - 1;
            let mut batch = Vec::with_capacity(n * width);
            for t in chunk {
                let inputs = &t[..t.len() - 1];
                batch.extend_from_slice(inputs);
                batch.extend(std::iter::repeat_n(im_end, width - inputs.len()));
            }
            let mut branch = cache.repeat_batch(n);
            let ids = Tensor::<2, Int>::from_data(TensorData::new(batch, [n, width]), &self.device);
            let logits = lm.forward(ids, Some(&mut branch)); // [n, width, V]
            let [_, _, v] = logits.dims();
            let (rows, v) = host_log_softmax(logits.reshape([n * width, v]));
            for (b, t) in chunk.iter().enumerate() {
                for (k, &id) in t[1..].iter().enumerate() {
                    scores[c * SCORE_CHUNK + b] += rows[(b * width + k) * v + id as usize];
                }
            }
        }
        Ok(scores)
    }

    /// Ranks `labels` by their likelihood as the answer to the MQA prompt over them.
    ///
    /// # Errors
    /// As [`Assistant::score_answers`]; [`Error::Tokenizer`] for labels that cannot be encoded.
    pub fn rank_labels<S: AsRef<str>>(&self, clip: &Clip, labels: &[S]) -> Result<Vec<LabelScore>> {
        let ids = self.prompt_ids(clip.frames, &prompts::mqa_question(labels))?;
        self.rank_with_prompt(&ids, self.pixels(clip), labels)
    }

    fn rank_with_prompt<S: AsRef<str>>(
        &self,
        ids: &[i64],
        pixels: Tensor<4>,
        labels: &[S],
    ) -> Result<Vec<LabelScore>> {
        let candidates = labels
            .iter()
            .map(|l| self.encode_answer(l.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let scores = self.score_answers(ids, pixels, &candidates)?;
        let probs = softmax(&scores);
        let mut ranking: Vec<LabelScore> = labels
            .iter()
            .enumerate()
            .map(|(index, l)| LabelScore {
                index,
                label: l.as_ref().to_string(),
                log_likelihood: scores[index],
                probability: probs[index],
            })
            .collect();
        ranking.sort_by(|a, b| b.log_likelihood.total_cmp(&a.log_likelihood));
        Ok(ranking)
    }

    /// Token ids of an answer text.
    ///
    /// # Errors
    /// [`Error::Tokenizer`] when the text encodes to nothing or encoding fails.
    pub fn encode_answer(&self, text: &str) -> Result<Vec<i64>> {
        let ids = self.tokenizer.encode(text)?;
        if ids.is_empty() {
            return Err(Error::Task(format!(
                "the answer {text:?} encodes to no tokens"
            )));
        }
        Ok(ids.into_iter().map(i64::from).collect())
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
        let parsed = crate::answer::parse_answer(&answer, &names);
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

    /// The Disc-FT question "is the action `label`?": P(YES) from the likelihoods of the
    /// answers YES and NO.
    ///
    /// # Errors
    /// As [`Assistant::score_answers`].
    pub fn verify(&self, skel: &Skeleton, label: &str) -> Result<Verification> {
        let clip = self.clip(skel)?;
        let ids = self.prompt_ids(clip.frames, &prompts::discft_question(label))?;
        let candidates = [
            self.encode_answer(prompts::YES)?,
            self.encode_answer(prompts::NO)?,
        ];
        let scores = self.score_answers(&ids, self.pixels(&clip), &candidates)?;
        let p = softmax(&scores);
        Ok(Verification {
            label: label.to_string(),
            yes_probability: p[0],
            yes: p[0] >= p[1],
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
