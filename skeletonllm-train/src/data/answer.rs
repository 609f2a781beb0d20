//! Reading the model's answer back as a class: the authors' scorer, shared with the task APIs
//! (see [`skeletonllm_model::text::answer`]).

pub use skeletonllm_model::text::answer::{answer_matches, clean_label, parse_answer};
