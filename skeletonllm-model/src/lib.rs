//! # skeletonllm-model
//!
//! The multimodal LLM side of SkeletonLLM: InternViT, pixel-shuffle projector and the
//! Llama-family (Qwen2) decoder, weight loading, tokenizer, generation and LoRA.
//!
//! Status: the crate is part of the workspace layout; the InternVL3 port itself is tracked by
//! its own issue and is not in this crate yet. Today it only re-exports the skeleton crate it
//! builds on.
//!
//! ```
//! assert_eq!(skeletonllm_model::draction::Layout::builtin("ntu25")?.num_joints(), 25);
//! # Ok::<(), skeletonllm_model::draction::Error>(())
//! ```

pub use draction;
