//! The language model: the Llama-family decoder ([`qwen2`]) and its key/value cache
//! ([`cache`]).

pub mod cache;
pub mod qwen2;

pub use cache::KvCache;
pub use qwen2::{Qwen2Config, Qwen2ForCausalLm, RopeScaling};
