//! Autoregressive generation over [InternVl]: images are encoded once, then tokens are decoded
//! one at a time, with or without the KV cache. Returns token ids; the caller decodes them.

use burn::tensor::{Int, Tensor, TensorData};

use crate::error::Result;
use crate::internvl::{InternVl, InternVlInput, padding_mask};

/// How the next token is chosen.
#[derive(Debug, Clone, Default)]
pub enum Sampler {
    /// Greedy: the highest logit (the first one on ties, as `torch.argmax`).
    #[default]
    Argmax,
}

impl Sampler {
    /// Pick one token per row.
    ///
    /// # Shapes
    ///
    /// - logits: `[batch, V]`
    /// - output: `[batch, 1]`
    pub fn sample(&mut self, logits: Tensor<2>) -> Tensor<2, Int> {
        match self {
            Sampler::Argmax => logits.argmax(1),
        }
    }
}

/// Settings of [generate].
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Upper bound on new tokens.
    pub max_new_tokens: usize,
    /// Stop after any of these ids (it is included in the output). Empty = never stop early.
    pub eos_token_ids: Vec<i64>,
    /// Decode with the KV cache (one token per step) instead of re-running the whole sequence.
    pub use_cache: bool,
    /// Token selection.
    pub sampler: Sampler,
}

impl GenerateOptions {
    /// Greedy, with the KV cache, no early stop.
    pub fn greedy(max_new_tokens: usize) -> Self {
        Self {
            max_new_tokens,
            eos_token_ids: Vec::new(),
            use_cache: true,
            sampler: Sampler::Argmax,
        }
    }
}

/// Generate up to `options.max_new_tokens` tokens after the prompt; returns the new ids only.
///
/// Without the cache every step re-runs the decoder over the whole sequence (the image features
/// are computed once either way). With dynamic NTK RoPE past `max_position_embeddings` the two
/// modes differ exactly as they do in transformers (cached keys keep the frequencies they were
/// rotated with).
///
/// # Shapes
///
/// - input.input_ids: `[1, len]`
///
/// # Errors
///
/// [`Error::ImageTokenMismatch`](crate::Error::ImageTokenMismatch) from the prompt.
///
/// # Panics
///
/// Panics if the batch is not 1.
pub fn generate(
    model: &InternVl,
    input: InternVlInput,
    mut options: GenerateOptions,
) -> Result<Vec<i64>> {
    let [batch, _] = input.input_ids.dims();
    assert_eq!(batch, 1, "generate: batch must be 1");
    let device = input.input_ids.device();
    let features = input
        .pixel_values
        .map(|p| model.get_image_features(p).features);
    let lm = &model.language_model;
    let mut embeds = model.embed_with_images(input.input_ids, features)?; // [1, len, D]
    let mut mask = input.attention_mask.map(padding_mask); // [1, len]
    let mut cache = options.use_cache.then(|| lm.new_cache());
    let mut step_input = embeds.clone();
    let mut generated = Vec::with_capacity(options.max_new_tokens);
    for _ in 0..options.max_new_tokens {
        let logits = lm.forward_embeds(step_input, mask.clone(), cache.as_mut()); // [1, l, V]
        let [_, l, v] = logits.dims();
        let last = logits.narrow(1, l - 1, 1).reshape([1, v]); // [1, V]
        let token = options.sampler.sample(last); // [1, 1]
        let id = token.to_data().iter::<i64>().next().expect("one token");
        generated.push(id);
        if options.eos_token_ids.contains(&id) {
            break;
        }
        let token = Tensor::<2, Int>::from_data(TensorData::new(vec![id], [1, 1]), &device);
        let new = lm.embed(token); // [1, 1, D]
        mask = mask.map(|m| {
            let pad = Tensor::<2, Int>::zeros([1, 1], &device).equal_elem(1); // false: attend
            Tensor::cat(vec![m, pad], 1)
        });
        step_input = if cache.is_some() {
            new
        } else {
            embeds = Tensor::cat(vec![embeds, new], 1);
            embeds.clone()
        };
    }
    Ok(generated)
}
