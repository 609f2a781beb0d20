//! Text in and out of the model: the InternVL3 [`tokenizer`], the chat [`template`] with image
//! placeholders, the SkeletonLLM [`prompts`] and reading an [`answer`] back as a class.

pub mod answer;
pub mod prompts;
pub mod template;
pub mod tokenizer;

pub use template::Conversation;
pub use tokenizer::{InternVlTokenizer, SpecialTokens};
