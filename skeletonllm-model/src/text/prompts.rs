//! The SkeletonLLM prompts, as the authors assemble them (`wangzy01/SkeletonLLM`
//! `skeletonllm/data/prompts.py`): the frame block comes first, then the task text. Shared by the
//! task APIs ([`crate::tasks`]) and the training-data builders, so that training and inference
//! see the same text.
//!
//! ```text
//! <|im_start|>system\n{TEMPLATE_SYSTEM_MESSAGE}<|im_end|>\n
//! <|im_start|>user\nFrame1: <image>\n…Frame12: <image>\n{question}<|im_end|>\n
//! <|im_start|>assistant\n{answer}
//! ```

use crate::text::template::IMAGE_PLACEHOLDER;

/// System prompt of the paper and of the authors' `prompts.SYSTEM_PROMPT` (sent to the
/// CR-Distill teacher).
pub const SYSTEM_PROMPT: &str =
    "You are an expert in video categorization and human action recognition.";

/// The system message of the authors' `internvl2_5` conversation template, which their training
/// and `model.chat` use when a record has no `system` turn (their JSONL files never have one):
/// the default of the task APIs. It differs from [`SYSTEM_PROMPT`] in case only.
pub const TEMPLATE_SYSTEM_MESSAGE: &str =
    "You are an expert in video categorization and Human Action Recognition.";

/// The authors' description of the DrAction pseudo-image modality (Disc-FT, CR-Distill,
/// reasoning-style MQA).
pub const PSEUDO_IMAGE_DESC: &str = "The clip you see is rendered from 3D skeleton data into \
abstract pseudo-images. Each frame encodes joint positions, bone connections, depth, and motion \
cues, and may look different from natural RGB videos. Treat these frames as a faithful \
visualization of human body kinematics.";

/// The label-only multiple-choice instruction (MQA), before the label list.
pub const MQA_INSTRUCTION: &str = "This clip is from the NTU RGB+D dataset for human action \
recognition. It is rendered from skeleton data. Choose exactly one action label from the list \
below and answer with the label only:\n";

/// The captioning question (ours: the authors have no captioning prompt).
pub const CAPTION_QUESTION: &str = "The clip you see is rendered from 3D skeleton data. \
Describe the human motion in this clip in one sentence.";

/// The answer of a Disc-FT question whose label is right.
pub const YES: &str = "YES";

/// The answer of a Disc-FT question whose label is wrong.
pub const NO: &str = "NO";

/// `Frame1: <image>\n … FrameN: <image>\n`: one placeholder per rendered frame.
pub fn frame_block(frames: usize) -> String {
    (1..=frames)
        .map(|i| format!("Frame{i}: {IMAGE_PLACEHOLDER}\n"))
        .collect()
}

/// The label-only MQA question over `labels`: [`MQA_INSTRUCTION`] then the labels joined by
/// `\n` (no trailing newline).
pub fn mqa_question<S: AsRef<str>>(labels: &[S]) -> String {
    let list: Vec<&str> = labels.iter().map(AsRef::as_ref).collect();
    format!("{MQA_INSTRUCTION}{}", list.join("\n"))
}

/// The paper's reasoning-style MQA question (the authors' `simplified=False`): think, then a
/// final `Label: <action>` line.
pub fn mqa_reasoning_question<S: AsRef<str>>(labels: &[S]) -> String {
    let list: Vec<&str> = labels.iter().map(AsRef::as_ref).collect();
    format!(
        "{PSEUDO_IMAGE_DESC} You need to identify the action in the skeleton video and select \
         one from the action labels below as the classification result. You are required to \
         output your thought process, and finally, provide the specific classification label on \
         a separate line in the format 'Label: <action>'.\n{}",
        list.join("\n")
    )
}

/// The Disc-FT question about one label, answered [`YES`] or [`NO`].
pub fn discft_question(label: &str) -> String {
    format!(
        "{PSEUDO_IMAGE_DESC}\nIs the action in this video clip '{label}'? Answer with ONLY the \
         word \"YES\" or \"NO\"."
    )
}

/// The CR-Distill student question (no ground-truth label).
pub fn cr_student_question() -> String {
    format!(
        "{PSEUDO_IMAGE_DESC}\nPlease describe what the person does in the skeleton video, \
         infer the likely activity, and end with exactly one classification label on a separate \
         line formatted as 'Label: <action>'."
    )
}

/// The label-conditioned CR-Distill teacher question (sent with [`SYSTEM_PROMPT`]).
pub fn cr_teacher_question(label: &str, dataset_name: &str) -> String {
    format!(
        "This clip is from the {dataset_name} dataset for human action recognition. It is \
         rendered from 3D skeleton data into abstract motion-aware images.\nGround-truth action \
         label: {label}\nPlease:\n1) Briefly summarize what the person is doing in this skeleton \
         video.\n2) Provide a step-by-step causal chain that explains the action over time, \
         explicitly referring to body parts and their motion (e.g., which joints move first, how \
         limbs follow, how the pose evolves).\n3) Conclude with the final classification \
         label.\nEnd your response with exactly one line:\nLabel: {label}"
    )
}

/// The whole user message: the frame block followed by `question`.
pub fn user_message(frames: usize, question: &str) -> String {
    format!("{}{question}", frame_block(frames))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_block_numbers_frames_from_one() {
        assert_eq!(frame_block(2), "Frame1: <image>\nFrame2: <image>\n");
        assert_eq!(frame_block(0), "");
    }

    #[test]
    fn mqa_exact_string() {
        assert_eq!(
            user_message(1, &mqa_question(&["reading", "writing"])),
            "Frame1: <image>\nThis clip is from the NTU RGB+D dataset for human action \
             recognition. It is rendered from skeleton data. Choose exactly one action label from \
             the list below and answer with the label only:\nreading\nwriting"
        );
    }

    #[test]
    fn discft_and_cr_strings() {
        let q = user_message(1, &discft_question("clapping"));
        assert!(q.starts_with("Frame1: <image>\nThe clip you see is rendered from 3D skeleton"));
        assert!(q.contains("kinematics.\nIs the action in this video clip 'clapping'? "));
        assert!(q.ends_with("Answer with ONLY the word \"YES\" or \"NO\"."));
        let s = cr_student_question();
        assert!(s.contains("kinematics.\nPlease describe what the person does"));
        assert!(s.ends_with("formatted as 'Label: <action>'."));
        let t = cr_teacher_question("clapping", "NTU RGB+D");
        assert!(t.starts_with("This clip is from the NTU RGB+D dataset"));
        assert!(t.contains("images.\nGround-truth action label: clapping\nPlease:\n1) "));
        assert!(t.ends_with("exactly one line:\nLabel: clapping"));
        assert!(!PSEUDO_IMAGE_DESC.contains("  "));
    }
}
