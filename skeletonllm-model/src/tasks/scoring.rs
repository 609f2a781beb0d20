//! Scoring candidate answers by likelihood: one prefill of the prompt, then every candidate
//! (followed by `<|im_end|>`) continues its KV cache, [`super::SCORE_CHUNK`] candidates at a
//! time.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};
use draction::render::Clip;

use super::{Assistant, LabelScore, SCORE_CHUNK, softmax};
use crate::error::{Error, Result};
use crate::internvl::InternVlInput;
use crate::text::prompts;

/// Host log-softmax of a `[n, V]` logits tensor, row-major.
fn host_log_softmax(logits: Tensor<2>) -> (Vec<f32>, usize) {
    let [_, v] = logits.dims();
    let values = log_softmax(logits, 1).into_data().iter::<f32>().collect();
    (values, v)
}

impl Assistant {
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

    pub(super) fn rank_with_prompt<S: AsRef<str>>(
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
}
