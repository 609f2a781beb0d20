//! One training step's losses for one sample, over the one SkeletonLLM forward
//! ([`SkeletonLlm::input`] → [`SkeletonLlm::forward`]): the answer's cross-entropy, optional
//! logit distillation towards a teacher (KL at temperature τ) and the first-answer-token margin
//! against a contrast label.

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use draction::render::Clip;
use skeletonllm_model::{InternVlTokenizer, SkeletonLlm};

use crate::error::Result;
use crate::train::loss;
use crate::train::sample::{Sample, encode};
use crate::train::trainer::TrainConfig;

/// The loss of one sample and its parts, as [`sample_loss`] computes them.
#[derive(Debug, Clone)]
pub struct SampleLoss {
    /// The weighted total, a scalar tensor `[1]` tracked by autodiff.
    pub total: Tensor<1>,
    /// The answer's cross-entropy (mean over its tokens).
    pub ce: f32,
    /// The distillation KL term (0 when off).
    pub kl: f32,
    /// The margin loss (0 when off or when the sample has no usable contrast).
    pub margin: f32,
    /// Answer tokens.
    pub tokens: usize,
    /// Answer tokens the model's most likely token gets right (teacher forcing).
    pub tokens_right: usize,
}

/// The weighted loss of `sample` (rendered from `clip`) for `model`: `(1 - λ)·CE + λ·KL` (KL
/// only with a `teacher` and `config.distill_weight > 0`) plus `config.margin_weight` × the
/// margin loss when the sample has a contrast label whose first token differs from the
/// answer's, with its parts (read back from the device) and the answer's token accuracy.
///
/// # Errors
/// [`crate::TrainError::Sample`] when the sample does not encode; model errors when the image tokens
/// and frames disagree.
pub fn sample_loss(
    model: &SkeletonLlm,
    teacher: Option<&SkeletonLlm>,
    sample: &Sample,
    clip: &Clip,
    tokenizer: &InternVlTokenizer,
    config: &TrainConfig,
    device: &Device,
) -> Result<SampleLoss> {
    let enc = encode(
        tokenizer,
        model.internvl.tokens_per_image(),
        sample.system.as_deref(),
        &sample.user,
        &sample.answer,
    )?;
    // Logits only from the position before the answer: rows 0.. of the logits are positions
    // `offset..`, so the losses see the ids from `offset` on, the answer at row 1.
    let offset = enc.answer_start - 1;
    let input = model
        .input(ids_tensor(&enc.ids, device), clip, config.raster, device)
        .logits_from(offset);
    let logits = model.forward(input)?.logits;
    let ids_from = &enc.ids[offset..];
    let targets = &ids_from[1..];
    let predicted = loss::answer_logits(logits.clone(), 1)
        .argmax(1)
        .into_data()
        .iter::<i64>()
        .collect::<Vec<_>>();
    let tokens_right = predicted
        .iter()
        .zip(targets)
        .filter(|(p, t)| p == t)
        .count();
    let ce = loss::answer_cross_entropy(logits.clone(), ids_from, 1);
    let ce_value = ce.clone().into_scalar::<f32>();
    let mut total = ce * (1.0 - config.distill_weight);
    let mut kl_value = 0.0;
    if let Some(t) = teacher.filter(|_| config.distill_weight > 0.0) {
        let teacher_rows = teacher_logits(t, sample, clip, tokenizer, config, device)?;
        let student_rows = loss::answer_logits(logits.clone(), 1);
        let kl = loss::distillation_kl(student_rows, teacher_rows, config.distill_temperature);
        kl_value = kl.clone().into_scalar::<f32>();
        total = total + kl * config.distill_weight;
    }
    let mut margin_value = 0.0;
    if config.margin_weight > 0.0
        && let Some(contrast) = &sample.contrast
    {
        let bad = tokenizer.encode(contrast)?;
        if let Some(&bad) = bad.first() {
            let good = enc.ids[enc.answer_start];
            if i64::from(bad) != good {
                let margin =
                    loss::first_token_margin(logits, 1, good, i64::from(bad), config.margin);
                margin_value = margin.clone().into_scalar::<f32>();
                total = total + margin * config.margin_weight;
            }
        }
    }
    Ok(SampleLoss {
        total,
        ce: ce_value,
        kl: kl_value,
        margin: margin_value,
        tokens: targets.len(),
        tokens_right,
    })
}

/// The teacher's logits over the answer tokens, for its own prompt (`teacher_user`, else the
/// student's), computed without autodiff on the teacher's own device and returned on `device`,
/// detached (with several training devices the teacher stays on the first).
///
/// # Errors
/// As [`sample_loss`].
pub fn teacher_logits(
    teacher: &SkeletonLlm,
    sample: &Sample,
    clip: &Clip,
    tokenizer: &InternVlTokenizer,
    config: &TrainConfig,
    device: &Device,
) -> Result<Tensor<2>> {
    let user = sample.teacher_user.as_deref().unwrap_or(&sample.user);
    let enc = encode(
        tokenizer,
        teacher.internvl.tokens_per_image(),
        sample.system.as_deref(),
        user,
        &sample.answer,
    )?;
    let plain = teacher
        .devices()
        .into_iter()
        .next()
        .unwrap_or_else(|| device.clone().inner());
    let input = teacher.input(ids_tensor(&enc.ids, &plain), clip, config.raster, &plain);
    let out = teacher.forward(input)?;
    let rows = loss::answer_logits(out.logits, enc.answer_start);
    Ok(Tensor::from_data(rows.into_data(), device))
}

fn ids_tensor(ids: &[i64], device: &Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(ids.to_vec(), [1, ids.len()]), device)
}
