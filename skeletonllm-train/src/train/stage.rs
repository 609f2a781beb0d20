//! The four training stages of the authors' recipe and what each one trains.

use burn::module::Module;
use skeletonllm_model::{LoraConfig, SkeletonLlm, apply_lora};

/// A training stage (DESIGN §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Stage {
    /// Stage 1, render warm-up: DrAction + projector on MQA.
    Warmup,
    /// Stage 2, Discriminative Finetuning: DrAction + projector on YES/NO questions.
    DiscFt,
    /// Stage 3, Causal Reasoning Distillation: DrAction + projector + LoRA on rationales.
    CrDistill,
    /// Stage 4, recognition refinement: projector + LoRA on MQA (DrAction frozen).
    Refine,
}

/// Which parts of the model a stage trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Trainable {
    /// DrAction's parameters.
    pub renderer: bool,
    /// The MLP projector.
    pub projector: bool,
    /// LoRA adapters on the language model.
    pub lora: bool,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 4] = [
        Stage::Warmup,
        Stage::DiscFt,
        Stage::CrDistill,
        Stage::Refine,
    ];

    /// The stage numbered `n` (1–4).
    pub fn from_number(n: u8) -> Option<Stage> {
        Self::ALL.get(usize::from(n).checked_sub(1)?).copied()
    }

    /// The stage's number (1–4).
    pub fn number(self) -> u8 {
        match self {
            Stage::Warmup => 1,
            Stage::DiscFt => 2,
            Stage::CrDistill => 3,
            Stage::Refine => 4,
        }
    }

    /// The stage's short name.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Warmup => "render-warmup",
            Stage::DiscFt => "disc-ft",
            Stage::CrDistill => "cr-distill",
            Stage::Refine => "refine",
        }
    }

    /// What the stage trains (the ViT and the LLM's base weights never train).
    pub fn trainable(self) -> Trainable {
        match self {
            Stage::Warmup | Stage::DiscFt => Trainable {
                renderer: true,
                projector: true,
                lora: false,
            },
            Stage::CrDistill => Trainable {
                renderer: true,
                projector: true,
                lora: true,
            },
            Stage::Refine => Trainable {
                renderer: false,
                projector: true,
                lora: true,
            },
        }
    }
}

/// Freezes `model` for `stage`: the ViT and the language model's base weights are frozen, the
/// renderer and projector follow [`Stage::trainable`], LoRA adapters are attached with `lora`
/// when the stage trains them and the model has none yet (existing adapters keep training).
/// With `from_scratch` (models whose ViT and LM were not pretrained, such as the tiny ones built
/// for tests) every InternVL parameter trains as well; with `train_vision` the ViT does (a
/// vision tower trained from scratch under a pretrained, LoRA-adapted language model).
pub fn prepare_for_stage(
    model: SkeletonLlm,
    stage: Stage,
    lora: &LoraConfig,
    from_scratch: bool,
    train_vision: bool,
) -> SkeletonLlm {
    let t = stage.trainable();
    let SkeletonLlm {
        renderer,
        mut internvl,
    } = model;
    let renderer = renderer.set_require_grad(t.renderer);
    let adapted = !skeletonllm_model::lora::adapters(&internvl).is_empty();
    if t.lora && !adapted {
        internvl = apply_lora(internvl, lora); // freezes every base parameter
    } else if !adapted {
        internvl = internvl.no_grad();
    }
    internvl.vision_tower = internvl.vision_tower.set_require_grad(train_vision);
    internvl.multi_modal_projector = internvl.multi_modal_projector.set_require_grad(t.projector);
    if from_scratch {
        internvl = internvl.set_require_grad(true);
    }
    SkeletonLlm { renderer, internvl }
}
