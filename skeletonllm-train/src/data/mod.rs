//! Datasets and annotation builders: the authors' InternVL conversation JSONL, NTU RGB+D class
//! names, split presets and protocols, the per-stage annotation builders, answer parsing, and a
//! resumable prefetching batch loader.

pub mod answer;
pub mod builders;
pub mod conversation;
pub mod error;
pub mod hard_negatives;
pub mod loader;
pub mod ntu;
pub mod prompts;
/// The seeded SplitMix64 generator, now at home in [`draction::rng`] (the procedural motion
/// generator there draws from it too).
pub use draction::rng;
pub mod splits;

pub use answer::{answer_matches, parse_answer};
pub use builders::{
    BuildOptions, CrDistillStats, DiscFtStats, TeacherRationale, crdistill_records, discft_records,
    final_label, mqa_eval_question, mqa_records, mqa_test_records, parse_rationales,
    read_rationales,
};
pub use conversation::{
    ConversationRecord, ImageField, Role, Turn, parse_conversations, read_conversations,
    write_conversations,
};
pub use error::{DataError, Result};
pub use hard_negatives::HardNegatives;
pub use loader::{Batch, DataLoader, Epoch, LoaderConfig, LoaderPosition};
pub use ntu::{
    NTU60_CLASSES, NTU60_CS_TRAIN_SUBJECTS, NTU60_CV_TRAIN_CAMERAS, NTU120_CLASSES,
    NTU120_CS_TRAIN_SUBJECTS, NtuDataset, NtuSample, Partition, Protocol, scan_skeleton_dir,
};
pub use prompts::{
    PSEUDO_IMAGE_DESC, SYSTEM_PROMPT, TEMPLATE_SYSTEM_MESSAGE, cr_student_question,
    cr_teacher_prompt, discft_question, frame_block, mqa_question, mqa_reasoning_question,
};
pub use rng::SplitMix64;
pub use splits::{SPLIT_PRESETS, SplitPreset, ZeroShotSplit};
