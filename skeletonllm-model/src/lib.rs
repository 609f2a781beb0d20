//! # skeletonllm-model
//!
//! The multimodal LLM side of SkeletonLLM: InternVL3 on Burn, and DrAction + InternVL as one
//! model. The folders follow the data:
//!
//! ```text
//! clip ─► skeleton_llm::SkeletonLlm::input (DrAction renders [F,3,S,S]) ─► InternVlInput
//!   ─► vision::intern_vit::InternVit ─► [F, 1+patches, C]
//!   ─► vision::projector: drop CLS, pixel shuffle 0.5, LayerNorm → Linear → GELU → Linear
//!   ─► internvl::InternVl::embed_with_images: features replace the <IMG_CONTEXT> embeddings
//!   ─► lm::qwen2::Qwen2ForCausalLm (Llama family: RMSNorm, RoPE + dynamic NTK, GQA, SwiGLU)
//!   ─► logits ─► generation (one decode loop, sampling) ─► text (tokenizer, answer) ─► tasks
//! ```
//!
//! - [`vision`]: InternViT and the projector; [`lm`]: the decoder and its KV cache;
//!   [`internvl`]: the two joined; [`skeleton_llm`]: DrAction + InternVL with the one input
//!   builder ([`SkeletonLlm::input`]) and forward.
//! - [`generation`]: [`generate()`], [`generate_streaming`], [`generate_batch`] (left-padded
//!   prompts, [`left_pad`]) and [`generate_text`] (a bare decoder) over one decode loop;
//!   greedy / top-k / nucleus [`Sampler`] with a seeded generator, repetition penalty.
//! - [`text`]: the InternVL3 tokenizer, the `internvl2_5` chat template with `<image>`
//!   expansion, the SkeletonLLM prompts, reading answers back as classes.
//! - [`tasks`]: recognise, caption, ask and verify on a skeleton clip ([`Assistant`]).
//! - [`lora`]: LoRA adapters on the decoder (attach, merge).
//! - [`kernels`]: the few ops with their own CPU kernel (attention, exact GELU, the SwiGLU gate,
//!   one-row products for decoding), wired in as a Burn backend extension: other backends and
//!   autodiff run Burn's own ops.
//! - [`load`]: every file the model reads or writes: `config.json` (HF-native and OpenGVLab
//!   layouts, both RoPE styles), safetensors checkpoints (sharded too, bf16/f16 widened to f32,
//!   every missing/unexpected/mis-shaped tensor named in [`Error::Weights`]), saving, LoRA
//!   adapters alone, SkeletonLLM checkpoints, GGUF language models and the bundled model.
//!
//! Model code is backend-agnostic (`Tensor<D>` on a `Device`) and opens no files; field names
//! are the HF-native checkpoint keys.
//!
//! A tiny random model, end to end:
//!
//! ```
//! use burn::tensor::{Device, Int, Tensor, TensorData};
//! use skeletonllm_model::{
//!     GenerateOptions, InternVitConfig, InternVlConfig, InternVlInput, MultiModalProjectorConfig,
//!     Qwen2Config, generate,
//! };
//!
//! let device = Device::default();
//! let vision = InternVitConfig::new(16, 1, 2, 32).with_image_size(28); // 2x2 patches -> 1 token
//! let text = Qwen2Config::new(32, 16, 32, 1, 2, 1);
//! let projector = MultiModalProjectorConfig::new(16, 16);
//! let model = InternVlConfig::new(vision, projector, text)
//!     .with_image_token_id(31)
//!     .init(&device);
//!
//! let ids = TensorData::new(vec![1i64, 31, 2], [1, 3]); // one <IMG_CONTEXT> for one image
//! let input = InternVlInput::new(Tensor::<2, Int>::from_data(ids, &device))
//!     .pixel_values(Tensor::zeros([1, 3, 28, 28], &device));
//! let out = model.forward(input.clone())?;
//! assert_eq!(out.logits.dims(), [1, 3, 32]);
//! assert_eq!(out.image.unwrap().vision_last_hidden_state.dims(), [1, 5, 16]);
//!
//! let new_tokens = generate(&model, input, GenerateOptions::greedy(4))?;
//! assert_eq!(new_tokens.len(), 4);
//! # Ok::<(), skeletonllm_model::Error>(())
//! ```

#![warn(missing_docs)]

pub mod error;
pub mod generation;
pub mod internvl;
pub mod kernels;
pub mod lm;
pub mod load;
pub mod lora;
pub mod precision;
pub mod skeleton_llm;
pub mod tasks;
pub mod text;
pub mod vision;

pub use error::{Error, Result};
pub use generation::{
    GenerateOptions, Sampler, generate, generate_batch, generate_streaming, generate_text, left_pad,
};
pub use internvl::{
    ImageFeatures, InternVl, InternVlConfig, InternVlInput, InternVlOutput, ParamCounts,
};
pub use lm::{KvCache, Qwen2Config, Qwen2ForCausalLm, RopeScaling};
pub use load::config::CheckpointConfig;
pub use load::{
    CheckpointLayout, load_adapters, load_pretrained, load_skeleton_llm, save_adapters,
};
pub use lora::{LoraConfig, LoraError, LoraWeight, apply_lora, merge_lora};
pub use precision::{BaseDtype, DeviceFamily, cast_frozen_bases};
pub use skeleton_llm::SkeletonLlm;
pub use tasks::{Assistant, LabelScore, Recognition, TaskOptions, Verification, VerifyMethod};
pub use text::{Conversation, InternVlTokenizer, SpecialTokens};
pub use vision::{
    InternVit, InternVitConfig, MultiModalProjector, MultiModalProjectorConfig, pixel_shuffle,
};

pub use draction;
