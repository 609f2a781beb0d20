//! Reading the model's answer back as a class: the authors' scorer, shared with the task APIs
//! (see [`skeletonllm_model::answer`]).

pub use skeletonllm_model::answer::{answer_matches, clean_label, parse_answer};
