//! Decoding token ids from a model: one decode loop ([`mod@generate`]) for single prompts,
//! streaming, batches and text-only LMs, and the choice of each next token ([`sampling`]).

pub mod generate;
pub mod sampling;

pub use generate::{
    GenerateOptions, generate, generate_batch, generate_streaming, generate_text, left_pad,
};
pub use sampling::Sampler;
