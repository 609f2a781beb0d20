//! # skeletonllm-model
//!
//! The multimodal LLM side of SkeletonLLM: InternVL3 on Burn.
//!
//! ```text
//! pixel_values [n,3,H,W] ─► intern_vit::InternVit ─► [n, 1+patches, C]
//!   ─► projector: drop CLS, pixel shuffle 0.5, LayerNorm → Linear → GELU → Linear ─► [n, tokens, D]
//!   ─► internvl::InternVl::embed_with_images: features replace the <IMG_CONTEXT> embeddings
//!   ─► qwen2::Qwen2ForCausalLm (Llama family: RMSNorm, RoPE + dynamic NTK, GQA, SwiGLU) ─► logits
//! ```
//!
//! - [`config`]: `config.json` (HF-native and OpenGVLab layouts, both RoPE styles) → Burn configs.
//! - [`load`]: safetensors checkpoints (sharded too) in either layout, bf16/f16 widened to f32,
//!   every missing/unexpected/mis-shaped tensor named in [`Error::Weights`].
//! - [`mod@generate`]: decoding with or without the [`KvCache`], streaming, stop ids, batches of
//!   left-padded prompts ([`generate_batch`], [`left_pad`]); [`sampling`]: greedy / top-k /
//!   nucleus [`Sampler`] with a seeded generator, repetition penalty.
//! - [`tokenizer`]: the InternVL3 tokenizer (`tokenizer.json` through the `tokenizers` crate);
//!   [`template`]: the `internvl2_5` chat template with `<image>` expansion.
//!
//! Module code is backend-agnostic (`Tensor<D>` on a `Device`); field names are the HF-native
//! checkpoint keys. [`kernels`] holds the few ops with their own CPU kernel (attention, exact
//! GELU, the SwiGLU gate, one-row products for decoding, used through [`linear`]), wired in as
//! a Burn backend extension: other backends and autodiff run Burn's own ops. [`lora`]: LoRA adapters (apply, merge, save/load alone).
//! [`skeleton_llm`]: DrAction + InternVL; [`tasks`]: recognise, caption, ask, verify on a
//! skeleton clip with the prompts of [`prompts`].
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

pub mod answer;
pub mod bundle;
pub mod cache;
pub mod config;
pub mod error;
pub mod export;
pub mod generate;
pub mod gguf_tokenizer;
pub mod intern_vit;
pub mod internvl;
pub mod kernels;
pub mod linear;
pub mod load;
pub mod lora;
pub mod projector;
pub mod prompts;
pub mod qwen2;
pub mod sampling;
pub mod skeleton_llm;
pub mod tasks;
pub mod template;
pub mod tokenizer;

pub use cache::KvCache;
pub use config::CheckpointConfig;
pub use error::{Error, Result};
pub use generate::{GenerateOptions, generate, generate_batch, generate_streaming, left_pad};
pub use intern_vit::{InternVit, InternVitConfig};
pub use internvl::{ImageFeatures, InternVl, InternVlConfig, InternVlInput, InternVlOutput};
pub use load::{CheckpointLayout, load_pretrained};
pub use lora::{
    LoraConfig, LoraError, LoraWeight, apply_lora, load_adapters, merge_lora, save_adapters,
};
pub use projector::{MultiModalProjector, MultiModalProjectorConfig, pixel_shuffle};
pub use qwen2::{Qwen2Config, Qwen2ForCausalLm, RopeScaling};
pub use sampling::Sampler;
pub use skeleton_llm::{SkeletonLlm, load_skeleton_llm};
pub use tasks::{Assistant, LabelScore, Recognition, TaskOptions, Verification};
pub use template::Conversation;
pub use tokenizer::{InternVlTokenizer, SpecialTokens};

pub use draction;
