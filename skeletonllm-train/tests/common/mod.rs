//! The small training fixture the learner tests share: a tiny random SkeletonLLM, a word-level
//! tokenizer, and eight clips labelled "walk" or "run".

#![allow(dead_code)] // each test file uses part of it

use std::path::Path;
use std::sync::Arc;

use skeletonllm_train::draction::burn::tensor::Device;
use skeletonllm_train::draction::checkpoint::to_tensors;
use skeletonllm_train::draction::render::DrActionConfig;
use skeletonllm_train::draction::synthetic;
use skeletonllm_train::skeletonllm_model::load::save::internvl_tensors;
use skeletonllm_train::skeletonllm_model::text::tokenizer::word_level_json;
use skeletonllm_train::skeletonllm_model::{
    InternVlConfig, InternVlTokenizer, SkeletonLlm, text::prompts,
};
use skeletonllm_train::train::{Sample, SkeletonRef, TrainConfig, TrainReport, train};

/// The fixture.
pub struct Fixture {
    /// The (autodiff) device.
    pub device: Device,
    /// The tokenizer.
    pub tok: InternVlTokenizer,
    /// The samples.
    pub samples: Vec<Sample>,
    /// The tiny model every run starts from.
    base: SkeletonLlm,
}

impl Fixture {
    /// The fixture on the default (autodiff) device.
    pub fn new() -> Self {
        Self::on(Device::default().autodiff())
    }

    /// The fixture with its model made on `device` (an autodiff device).
    pub fn on(device: Device) -> Self {
        let user = prompts::user_message(2, &prompts::mqa_question(&["walk", "run"]));
        let tok_json = word_level_json(&[prompts::TEMPLATE_SYSTEM_MESSAGE, &user]);
        let tok = InternVlTokenizer::from_json(tok_json, "w".as_ref()).unwrap();
        let walk = Arc::new(synthetic::walking_ntu(30, 1));
        let run = Arc::new(synthetic::walking_ntu(30, 3));
        let samples = (0..8)
            .map(|k| {
                let (label, skel) = if k % 2 == 0 {
                    ("walk", &walk)
                } else {
                    ("run", &run)
                };
                Sample::new(
                    format!("s{k}"),
                    SkeletonRef::Memory(skel.clone()),
                    user.clone(),
                    label,
                )
            })
            .collect();
        device.seed(1);
        let renderer =
            DrActionConfig::new().init_with_pose(&synthetic::ntu_standing_pose(), &device);
        let config =
            InternVlConfig::tiny(tok.vocab_size(), tok.special_tokens().img_context as usize);
        let base = SkeletonLlm::new(renderer, config.init(&device));
        Self {
            device,
            tok,
            samples,
            base,
        }
    }

    /// The tiny model, the same each call: one model drawn at construction, cloned (the tests
    /// of a file run on parallel threads and share the device RNG, so two draws could differ).
    pub fn model(&self) -> SkeletonLlm {
        self.base.clone()
    }

    /// Trains the fixture's model on its samples with `config` in `run_dir` (continuing the
    /// checkpoint there with `resume`) on `devices`, or on the fixture's device when empty.
    pub fn train(
        &self,
        config: &TrainConfig,
        run_dir: &Path,
        resume: bool,
        devices: &[Device],
    ) -> (SkeletonLlm, TrainReport) {
        let devices = if devices.is_empty() {
            std::slice::from_ref(&self.device)
        } else {
            devices
        };
        train(
            self.model(),
            &self.samples,
            &self.tok,
            config,
            run_dir,
            resume,
            None,
            devices,
        )
        .unwrap()
    }
}

/// Every parameter value of `m`, in a fixed order.
pub fn values(m: &SkeletonLlm) -> Vec<f32> {
    let mut tensors = internvl_tensors(&m.internvl).unwrap();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<f32> = tensors
        .into_iter()
        .flat_map(|(_, t)| t.iter::<f32>().collect::<Vec<_>>())
        .collect();
    out.extend(to_tensors(&m.renderer).into_values().flat_map(|t| t.data));
    out
}

/// The largest absolute difference between two value lists of the same length.
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max)
}
