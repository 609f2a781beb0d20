//! The authors' prompt strings with their frame blocks, as the annotation builders write them;
//! the texts themselves live in [`skeletonllm_model::text::prompts`] (shared with the task APIs).

use skeletonllm_model::text::prompts as p;
pub use skeletonllm_model::text::prompts::{
    PSEUDO_IMAGE_DESC, SYSTEM_PROMPT, TEMPLATE_SYSTEM_MESSAGE, frame_block,
};

/// The label-only MQA question (stages 1 and 4, and evaluation) after its frame block.
pub fn mqa_question(labels: &[&str], num_frames: usize) -> String {
    p::user_message(num_frames, &p::mqa_question(labels))
}

/// The reasoning-style MQA question after its frame block.
pub fn mqa_reasoning_question(labels: &[&str], num_frames: usize) -> String {
    p::user_message(num_frames, &p::mqa_reasoning_question(labels))
}

/// The Disc-FT yes/no question about one label after its frame block.
pub fn discft_question(label: &str, num_frames: usize) -> String {
    p::user_message(num_frames, &p::discft_question(label))
}

/// The CR-Distill student question (no ground-truth label) after its frame block.
pub fn cr_student_question(num_frames: usize) -> String {
    p::user_message(num_frames, &p::cr_student_question())
}

/// The label-conditioned CR-Distill teacher prompt after its frame block.
pub fn cr_teacher_prompt(label: &str, num_frames: usize, dataset_name: &str) -> String {
    p::user_message(num_frames, &p::cr_teacher_question(label, dataset_name))
}
