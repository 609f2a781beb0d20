//! Autoregressive generation over [InternVl]: images are encoded once, then tokens are decoded
//! one at a time, with or without the KV cache. Returns token ids; the caller decodes them.
//!
//! Each step takes the last position's logits to the host, applies the repetition penalty and
//! lets the [Sampler] pick a token ([`crate::generation::sampling`]); a streaming callback sees every new
//! token and may stop generation.
//!
//! [generate_batch] decodes several prompts of different lengths at once: left-padded
//! ([left_pad]), the padding masked out as keys and RoPE positions counted per row from the
//! first real token (as transformers' `generate`), each row stopping on its own stop id.

use std::ops::ControlFlow;

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use crate::error::Result;
use crate::generation::sampling::{Sampler, apply_repetition_penalty};
use crate::internvl::{InternVl, InternVlInput, padding_mask};
use crate::lm::qwen2::Qwen2ForCausalLm;

/// Settings of [generate].
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Upper bound on new tokens.
    pub max_new_tokens: usize,
    /// Stop after any of these ids (it is included in the output). Empty = never stop early.
    /// The chat models stop on `<|im_end|>`; see [`crate::load::eos_token_ids`].
    pub eos_token_ids: Vec<i64>,
    /// Never stop on `eos_token_ids` (generate exactly `max_new_tokens`, unless the callback
    /// stops).
    pub ignore_eos: bool,
    /// Decode with the KV cache (one token per step) instead of re-running the whole sequence.
    pub use_cache: bool,
    /// transformers' `repetition_penalty` over the prompt and the generated ids (1 = off).
    pub repetition_penalty: f32,
    /// Token selection.
    pub sampler: Sampler,
}

impl GenerateOptions {
    /// Greedy, with the KV cache, no early stop, no penalty.
    pub fn greedy(max_new_tokens: usize) -> Self {
        Self {
            max_new_tokens,
            eos_token_ids: Vec::new(),
            ignore_eos: false,
            use_cache: true,
            repetition_penalty: 1.0,
            sampler: Sampler::Argmax,
        }
    }

    /// With these stop ids.
    pub fn with_eos(mut self, eos_token_ids: Vec<i64>) -> Self {
        self.eos_token_ids = eos_token_ids;
        self
    }

    /// With this sampler.
    pub fn with_sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = sampler;
        self
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
/// As [`InternVl::check_input`] (the input is checked first), e.g.
/// [`Error::ImageTokenMismatch`](crate::Error::ImageTokenMismatch).
///
/// # Panics
///
/// Panics if the batch is not 1.
pub fn generate(
    model: &InternVl,
    input: InternVlInput,
    options: GenerateOptions,
) -> Result<Vec<i64>> {
    generate_streaming(model, input, options, |_| ControlFlow::Continue(()))
}

/// [generate], calling `on_token` with each new id as soon as it is chosen (the stop token
/// included); returning [`ControlFlow::Break`] ends generation after that token.
///
/// # Errors
///
/// As [generate].
///
/// # Panics
///
/// Panics if the batch is not 1.
pub fn generate_streaming(
    model: &InternVl,
    input: InternVlInput,
    options: GenerateOptions,
    mut on_token: impl FnMut(i64) -> ControlFlow<()>,
) -> Result<Vec<i64>> {
    let [batch, _] = input.input_ids.dims();
    assert_eq!(batch, 1, "generate: batch must be 1");
    model.check_input(&input)?;
    let seen: Vec<i64> = input.input_ids.to_data().iter::<i64>().collect();
    let features = input
        .pixel_values
        .map(|p| model.get_image_features(p).features);
    let embeds = model.embed_with_images(input.input_ids, features)?; // [1, len, D]
    let mask = input.attention_mask.map(padding_mask); // [1, len]
    let rows = decode(
        &model.language_model,
        embeds,
        mask,
        vec![seen],
        &options,
        |_, id| on_token(id),
    );
    Ok(rows.into_iter().next().unwrap_or_default())
}

/// Left-pad prompts of different lengths into one batch: `input_ids` `[n, longest]` with
/// `pad_id` before the shorter prompts and the matching `attention_mask` (0 on padding), ready
/// for [generate_batch] (add `pixel_values` for the `<img>` blocks, in row order).
///
/// # Panics
///
/// Panics if `prompts` is empty or a prompt is empty.
pub fn left_pad(prompts: &[Vec<i64>], pad_id: i64, device: &Device) -> InternVlInput {
    assert!(!prompts.is_empty(), "left_pad: no prompts");
    assert!(
        prompts.iter().all(|p| !p.is_empty()),
        "left_pad: empty prompt"
    );
    let n = prompts.len();
    let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
    let mut ids = Vec::with_capacity(n * longest);
    let mut mask = Vec::with_capacity(n * longest);
    for p in prompts {
        let pad = longest - p.len();
        ids.extend(std::iter::repeat_n(pad_id, pad).chain(p.iter().copied()));
        mask.extend(std::iter::repeat_n(0i64, pad).chain(std::iter::repeat_n(1, p.len())));
    }
    InternVlInput::new(Tensor::from_data(
        TensorData::new(ids, [n, longest]),
        device,
    ))
    .attention_mask(Tensor::from_data(
        TensorData::new(mask, [n, longest]),
        device,
    ))
}

/// [generate] for a batch of left-padded prompts ([left_pad]); returns the new ids of every
/// row. Each row gives the ids it would give alone: padding is masked out as keys, RoPE
/// positions count from each row's first real token (`cumsum(attention_mask) - 1`, see
/// [`crate::lm::qwen2::positions_from_padding`]), the repetition penalty sees only the row's own
/// tokens, each row samples with its own copy of `options.sampler` (same seed, same draws as
/// alone) and stops on its own stop id; generation ends when every row has stopped.
///
/// Rows that stopped keep being fed their last id (their outputs are ignored). Right padding
/// is not supported: the next token is read at the last column. With dynamic NTK RoPE past
/// `max_position_embeddings` the frequencies follow the longest row (as in transformers).
///
/// # Shapes
///
/// - input.input_ids, input.attention_mask: `[batch, len]`
///
/// # Errors
///
/// As [generate].
pub fn generate_batch(
    model: &InternVl,
    input: InternVlInput,
    options: GenerateOptions,
) -> Result<Vec<Vec<i64>>> {
    let [batch, len] = input.input_ids.dims();
    model.check_input(&input)?;
    let ids: Vec<i64> = input.input_ids.to_data().iter::<i64>().collect();
    let attend: Vec<bool> = match &input.attention_mask {
        Some(m) => m.to_data().iter::<i64>().map(|v| v != 0).collect(),
        None => vec![true; batch * len],
    };
    let seen: Vec<Vec<i64>> = (0..batch)
        .map(|r| {
            (r * len..(r + 1) * len)
                .filter(|&i| attend[i])
                .map(|i| ids[i])
                .collect()
        })
        .collect();
    let features = input
        .pixel_values
        .map(|p| model.get_image_features(p).features);
    let embeds = model.embed_with_images(input.input_ids, features)?; // [b, len, D]
    let mask = input.attention_mask.map(padding_mask); // [b, len]
    Ok(decode(
        &model.language_model,
        embeds,
        mask,
        seen,
        &options,
        |_, _| ControlFlow::Continue(()),
    ))
}

/// Decode after a text prompt with a bare decoder (no images), with or without the KV cache;
/// calls `on_token` with each new id (returning [`ControlFlow::Break`] stops after it) and
/// returns the new ids. Same semantics as [`generate_streaming`]; an empty prompt generates
/// nothing.
pub fn generate_text(
    lm: &Qwen2ForCausalLm,
    prompt_ids: &[i64],
    options: GenerateOptions,
    mut on_token: impl FnMut(i64) -> ControlFlow<()>,
) -> Vec<i64> {
    if prompt_ids.is_empty() {
        return Vec::new();
    }
    let device = lm.model.embed_tokens.weight.device();
    let ids = Tensor::<2, Int>::from_data(
        TensorData::new(prompt_ids.to_vec(), [1, prompt_ids.len()]),
        &device,
    );
    let rows = decode(
        lm,
        lm.embed(ids),
        None,
        vec![prompt_ids.to_vec()],
        &options,
        |_, id| on_token(id),
    );
    rows.into_iter().next().unwrap_or_default()
}

/// The one decode loop behind [generate], [generate_streaming], [generate_batch] and
/// [generate_text]: `embeds` `[b, len, D]` (prompt embeddings, images already in place),
/// `mask` `[b, len]` (true = padding) and each row's ids so far (`seen`, for the repetition
/// penalty). Each step reads the last position's logits, lets each row's own copy of the
/// sampler pick a token and calls `on_token(row, id)`; a row stops on a stop id or when the
/// callback breaks, and the loop ends when every row has stopped. Rows that stopped keep being
/// fed their last id (their outputs are ignored).
fn decode(
    lm: &Qwen2ForCausalLm,
    mut embeds: Tensor<3>,
    mut mask: Option<Tensor<2, Bool>>,
    mut seen: Vec<Vec<i64>>,
    options: &GenerateOptions,
    mut on_token: impl FnMut(usize, i64) -> ControlFlow<()>,
) -> Vec<Vec<i64>> {
    let batch = seen.len();
    let device = embeds.device();
    let mut cache = options.use_cache.then(|| lm.new_cache());
    let mut samplers = vec![options.sampler.clone(); batch];
    let mut generated: Vec<Vec<i64>> = vec![Vec::with_capacity(options.max_new_tokens); batch];
    let mut done = vec![false; batch];
    let mut step_input = embeds.clone();
    for _ in 0..options.max_new_tokens {
        let logits = lm.forward_embeds_last(step_input, mask.clone(), cache.as_mut()); // [b, 1, V]
        let v = logits.dims()[2];
        let all: Vec<f32> = logits.into_data().iter::<f32>().collect();
        let mut next = Vec::with_capacity(batch);
        for (r, row) in all.chunks_exact(v).enumerate() {
            if done[r] {
                next.push(*generated[r].last().unwrap_or(&0));
                continue;
            }
            let mut row = row.to_vec();
            apply_repetition_penalty(&mut row, &seen[r], options.repetition_penalty);
            let id = samplers[r].sample(&row) as i64;
            generated[r].push(id);
            seen[r].push(id);
            done[r] = on_token(r, id).is_break()
                || !options.ignore_eos && options.eos_token_ids.contains(&id);
            next.push(id);
        }
        if done.iter().all(|&d| d) {
            break;
        }
        let token = Tensor::<2, Int>::from_data(TensorData::new(next, [batch, 1]), &device);
        let new = lm.embed(token); // [b, 1, D]
        mask = mask.map(|m| {
            let attend = Tensor::<2, Int>::zeros([batch, 1], &device).equal_elem(1); // false
            Tensor::cat(vec![m, attend], 1)
        });
        step_input = if cache.is_some() {
            new
        } else {
            embeds = Tensor::cat(vec![embeds, new], 1);
            embeds.clone()
        };
    }
    generated
}
