//! `skeletonllm forward` and `skeletonllm generate`: InternVL on token ids and images from a
//! safetensors file, results to a safetensors file (the CLI contract in README's CLI section).

use std::path::Path;

use anyhow::{Result, anyhow, bail};
use draction::burn::tensor::{Device, TensorData};
use skeletonllm_model::load::config::GenerationConfig;
use skeletonllm_model::load::{self, read_inputs, write_safetensors};
use skeletonllm_model::{
    CheckpointConfig, GenerateOptions, InternVl, InternVlInput, Sampler, load_pretrained,
};

/// Sampling settings of `skeletonllm generate`; unset ones come from the checkpoint's
/// `generation_config.json`, as in transformers.
pub struct GenerateArgs {
    /// Upper bound on new tokens.
    pub max_new_tokens: usize,
    /// Greedy decoding even if the checkpoint samples by default.
    pub greedy: bool,
    /// Do not stop on the end-of-answer ids.
    pub ignore_eos: bool,
    /// Nucleus mass (implies sampling unless `greedy`).
    pub top_p: Option<f64>,
    /// Temperature (implies sampling unless `greedy`).
    pub temperature: Option<f64>,
    /// Seed of the sampler.
    pub seed: u64,
    /// transformers' repetition penalty.
    pub repetition_penalty: Option<f32>,
}

/// A library error as one message (its text already names the file and the cause; keeping
/// the cause chain would print the cause twice).
fn flat(e: skeletonllm_model::Error) -> anyhow::Error {
    anyhow!("{e}")
}

/// A library error about the inputs file, prefixed with its path.
fn in_file(path: &Path) -> impl Fn(skeletonllm_model::Error) -> anyhow::Error + '_ {
    move |e| anyhow!("{}: {e}", path.display())
}

/// Read the inputs and the model, and check one against the other (batch 1).
fn prepare(model_dir: &Path, inputs: &Path, device: &Device) -> Result<(InternVl, InternVlInput)> {
    let input = read_inputs(inputs, device).map_err(flat)?;
    let [batch, len] = input.input_ids.dims();
    if batch != 1 {
        bail!(
            "{}: `input_ids`: shape [{batch}, {len}], expected [1, L]",
            inputs.display()
        );
    }
    let model = load_pretrained(model_dir, device).map_err(flat)?;
    model.check_input(&input).map_err(in_file(inputs))?;
    Ok((model, input))
}

/// `skeletonllm forward`: write `logits` [1,L,V] and, with images, `image_features`
/// [N,tokens,D] and `vision_last_hidden_state` [N,1+patches,C], all f32.
pub fn forward(model_dir: &Path, inputs: &Path, out: &Path, skeleton: Option<&Path>) -> Result<()> {
    if let Some(skeleton) = skeleton {
        return forward_skeleton(model_dir, inputs, out, skeleton);
    }
    let device = skeletonllm::device();
    let (model, input) = prepare(model_dir, inputs, &device)?;
    let output = model.forward(input).map_err(in_file(inputs))?;
    write_forward_output(out, output)
}

/// Writes `logits` and, with images, `image_features` and `vision_last_hidden_state` as f32.
fn write_forward_output(out: &Path, output: skeletonllm_model::InternVlOutput) -> Result<()> {
    let f32_data = |t: TensorData| t.convert::<f32>();
    let mut tensors = vec![("logits".to_string(), f32_data(output.logits.into_data()))];
    if let Some(image) = output.image {
        tensors.push((
            "image_features".into(),
            f32_data(image.features.into_data()),
        ));
        tensors.push((
            "vision_last_hidden_state".into(),
            f32_data(image.vision_last_hidden_state.into_data()),
        ));
    }
    write_safetensors(out, tensors).map_err(flat)?;
    Ok(())
}

/// `forward --skeleton`: frames from the checkpoint's DrAction on `skeleton` at the inputs'
/// `frame_indices`, fed to the ViT in [0, 1] (no mean/std), with the reference rasteriser.
fn forward_skeleton(model_dir: &Path, inputs: &Path, out: &Path, skeleton: &Path) -> Result<()> {
    use draction::render::{Clip, ClipOptions, Rasterizer};
    let device = skeletonllm::device();
    let mut raw = skeletonllm_model::load::read_safetensors(inputs).map_err(flat)?;
    let indices = raw.remove("frame_indices").ok_or_else(|| {
        anyhow!(
            "{}: no `frame_indices` [F] i64 (needed with --skeleton)",
            inputs.display()
        )
    })?;
    let indices: Vec<i64> = indices
        .convert::<i64>()
        .try_into_vec::<i64>()
        .map_err(|e| anyhow!("{}: `frame_indices`: {e:?}", inputs.display()))?;
    if let Some(bad) = indices.iter().find(|&&i| i < 0) {
        bail!(
            "{}: `frame_indices` holds a negative index {bad}",
            inputs.display()
        );
    }
    let input = read_inputs(inputs, &device).map_err(flat)?;
    if input.pixel_values.is_some() {
        bail!(
            "{}: give either `pixel_values` or --skeleton, not both",
            inputs.display()
        );
    }
    let model = skeletonllm_model::load_skeleton_llm(model_dir, &device).map_err(flat)?;
    let skel = draction::io::read(skeleton, None)?;
    let opts = ClipOptions {
        indices: Some(indices.iter().map(|&i| i as usize).collect()),
        ..Default::default()
    };
    let clip = Clip::prepare(&skel, model.renderer.config().num_joints, &opts)
        .map_err(|e| anyhow!("{}: {e}", skeleton.display()))?;
    let input = input.pixel_values(model.pixel_values(&clip, Rasterizer::Reference, &device));
    model
        .internvl
        .check_input(&input)
        .map_err(in_file(inputs))?;
    let output = model.forward(input).map_err(in_file(inputs))?;
    write_forward_output(out, output)
}

/// `skeletonllm generate`: write `generated_ids` [1,N] i64 (new tokens only, KV cache).
pub fn generate(model_dir: &Path, inputs: &Path, out: &Path, args: &GenerateArgs) -> Result<()> {
    let defaults = GenerationConfig::from_dir(model_dir).map_err(flat)?;
    let sample = !args.greedy
        && (defaults.do_sample.unwrap_or(false)
            || args.top_p.is_some()
            || args.temperature.is_some());
    let sampler = if sample {
        let p = args.top_p.or(defaults.top_p).unwrap_or(1.0);
        let temperature = args.temperature.or(defaults.temperature).unwrap_or(1.0);
        if p.is_nan() || p <= 0.0 || p > 1.0 {
            bail!("--top-p {p}: must be in (0, 1]");
        }
        Sampler::top_p(p, temperature, args.seed)
    } else {
        Sampler::Argmax
    };
    let repetition_penalty = args
        .repetition_penalty
        .or(defaults.repetition_penalty)
        .unwrap_or(1.0);
    if repetition_penalty.is_nan() || repetition_penalty <= 0.0 {
        bail!("--repetition-penalty {repetition_penalty}: must be positive");
    }
    let eos_token_ids = if args.ignore_eos {
        Vec::new()
    } else {
        let config =
            CheckpointConfig::from_json_file(&model_dir.join("config.json")).map_err(flat)?;
        load::eos_token_ids(model_dir, &config).map_err(flat)?
    };
    let device = skeletonllm::device();
    let (model, input) = prepare(model_dir, inputs, &device)?;
    let prompt = input.input_ids.dims()[1];
    let context = model.language_model.model.rotary.max_position_embeddings;
    if prompt >= context {
        bail!(
            "{}: the prompt has {prompt} tokens, the model's context (max_position_embeddings) \
             is {context}",
            inputs.display()
        );
    }
    if prompt + args.max_new_tokens > context {
        eprintln!(
            "warning: {prompt} prompt tokens + --max-new-tokens {} go past the model's context \
             of {context} positions (max_position_embeddings): tokens after position {context} \
             may be poor",
            args.max_new_tokens
        );
    }
    let options = GenerateOptions {
        max_new_tokens: args.max_new_tokens,
        eos_token_ids,
        ignore_eos: args.ignore_eos,
        use_cache: true,
        repetition_penalty,
        sampler,
    };
    let ids = skeletonllm_model::generate(&model, input, options).map_err(in_file(inputs))?;
    let n = ids.len();
    write_safetensors(
        out,
        vec![("generated_ids".into(), TensorData::new(ids, [1, n]))],
    )
    .map_err(flat)?;
    Ok(())
}
