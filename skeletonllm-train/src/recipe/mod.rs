//! The authors' four-stage recipe on NTU RGB+D as data: which conversation records each stage
//! trains on ([`plan_stages`]), the samples and settings of a stage ([`stage_samples`],
//! [`stage_config`]) and where its run goes ([`run_dir`]). The `train_ntu` example strings
//! these together with [`crate::train::run_stage`]; `smoke` (the `testing` feature) makes the
//! files of a tiny run.
//!
//! - Stages 1 and 4: the label-only multiple-choice question (MQA) over the seen labels.
//! - Stage 2 (Disc-FT): YES/NO questions on the true label and on hard negatives (needs the
//!   authors' `*_similar_actions.json`), with the other answer as the margin contrast.
//! - Stage 3 (CR-Distill): the teacher's rationales ending `Label: <action>` (needs the
//!   teacher JSONL); with logit distillation the teacher sees the label-aware prompt.

#[cfg(feature = "testing")]
pub mod smoke;

use std::path::{Path, PathBuf};

use skeletonllm_model::text::prompts;
use skeletonllm_model::text::template::IMAGE_PLACEHOLDER;

use crate::data::{
    BuildOptions, ConversationRecord, HardNegatives, NtuDataset, NtuSample, TeacherRationale,
    ZeroShotSplit, cr_teacher_prompt, crdistill_records, discft_records, mqa_records,
};
use crate::error::{Result, TrainError};
use crate::train::sample::{self, Sample};
use crate::train::{Stage, TrainConfig};

/// One stage's records and a line saying what they are.
#[derive(Debug, Clone)]
pub struct StagePlan {
    /// The stage.
    pub stage: Stage,
    /// Its conversation records.
    pub records: Vec<ConversationRecord>,
    /// What the records are ("120 MQA records", counts of skipped rationales, …).
    pub note: String,
}

/// What the optional stages need.
#[derive(Debug, Clone, Default)]
pub struct RecipeInputs {
    /// Hard negatives for stage 2; without them stage 2 is skipped.
    pub hard_negatives: Option<HardNegatives>,
    /// Teacher rationales for stage 3; without them stage 3 is skipped.
    pub rationales: Option<Vec<TeacherRationale>>,
}

/// The plans of `stages` (in order, duplicates dropped) on the training clips of `split`; also
/// returns a message for each optional stage skipped for want of its input.
///
/// # Errors
/// [`TrainError::Sample`] naming a stage with no training records; data errors of the builders.
pub fn plan_stages(
    stages: &[Stage],
    split: &ZeroShotSplit,
    clips: &[NtuSample],
    inputs: &RecipeInputs,
    opts: &BuildOptions,
    seed: u64,
) -> Result<(Vec<StagePlan>, Vec<String>)> {
    let mut plans: Vec<StagePlan> = Vec::new();
    let mut skipped = Vec::new();
    for &stage in stages {
        if plans.iter().any(|p| p.stage == stage) {
            continue;
        }
        let (records, note) = match stage {
            Stage::Warmup | Stage::Refine => {
                let r = mqa_records(split, clips, opts)?;
                let note = format!("{} MQA records", r.len());
                (r, note)
            }
            Stage::DiscFt => {
                let Some(negatives) = &inputs.hard_negatives else {
                    skipped.push(format!(
                        "stage 2 (disc-ft) skipped: no hard negatives (the authors' \
                         {}_similar_actions.json)",
                        split.dataset().name()
                    ));
                    continue;
                };
                let (r, st) = discft_records(split, clips, negatives, opts, seed)?;
                let note = format!(
                    "{} YES + {} NO records ({} clips without a seen hard negative)",
                    st.yes, st.no, st.without_negative
                );
                (r, note)
            }
            Stage::CrDistill => {
                let Some(teacher) = &inputs.rationales else {
                    skipped.push(
                        "stage 3 (cr-distill) skipped: no teacher rationales (JSONL \
                         {\"id\", \"label\", \"rationale\"})"
                            .into(),
                    );
                    continue;
                };
                let (r, st) = crdistill_records(split, teacher, opts)?;
                let note = format!(
                    "{} rationales kept ({} wrong label, {} no Label: line, {} not in the split)",
                    st.written, st.label_mismatch, st.missing_label, st.not_in_split
                );
                (r, note)
            }
        };
        if records.is_empty() {
            return Err(TrainError::Sample(format!(
                "stage {}: no training records ({note})",
                stage.number()
            )));
        }
        plans.push(StagePlan {
            stage,
            records,
            note,
        });
    }
    Ok((plans, skipped))
}

/// The settings of `plan`'s stage from `config` (the user's flags on the authors' defaults):
/// the margin loss only in stage 2, logit distillation only in stage 3.
pub fn stage_config(stage: Stage, config: &TrainConfig) -> TrainConfig {
    let mut config = config.clone();
    config.stage = stage;
    if stage != Stage::DiscFt {
        config.margin_weight = 0.0;
    }
    if stage != Stage::CrDistill {
        config.distill_weight = 0.0;
    }
    config
}

/// The samples of `plan` (clips under `data_root`): in stage 2 each answer's contrast is the
/// other of YES/NO; with `distill` each stage-3 sample carries the label-aware teacher prompt.
///
/// # Errors
/// [`TrainError::Sample`] for a record without a clip, question or answer, or whose id names
/// no NTU sample.
pub fn stage_samples(
    plan: &StagePlan,
    data_root: &Path,
    split: &ZeroShotSplit,
    distill: bool,
) -> Result<Vec<Sample>> {
    let mut samples = sample::from_records(&plan.records, data_root)?;
    if plan.stage == Stage::DiscFt {
        for s in &mut samples {
            let other = if s.answer == prompts::YES {
                prompts::NO
            } else {
                prompts::YES
            };
            s.contrast = Some(other.to_string());
        }
    }
    if distill && plan.stage == Stage::CrDistill {
        for (s, r) in samples.iter_mut().zip(&plan.records) {
            s.teacher_user = Some(teacher_prompt(r, split)?);
        }
    }
    Ok(samples)
}

/// The label-aware CR-Distill teacher prompt for a record (its id names the NTU sample; its
/// frames are its `<image>` placeholders).
///
/// # Errors
/// [`TrainError::Sample`] when the id is not an NTU sample name of the split's dataset.
pub fn teacher_prompt(record: &ConversationRecord, split: &ZeroShotSplit) -> Result<String> {
    let bad = |e: crate::data::DataError| TrainError::Sample(format!("record {}: {e}", record.id));
    let sample = NtuSample::parse(&record.id).map_err(bad)?;
    let dataset = split.dataset();
    let label = dataset.label(sample.action).map_err(bad)?;
    let name = match dataset {
        NtuDataset::Ntu60 => "NTU RGB+D",
        NtuDataset::Ntu120 => "NTU RGB+D 120",
    };
    let frames = record
        .question()
        .map_or(0, |q| q.matches(IMAGE_PLACEHOLDER).count());
    Ok(cr_teacher_prompt(label, frames, name))
}

/// Where stage `stage` of a run in `out` goes: `out/stageN-<name>`.
pub fn run_dir(out: &Path, stage: Stage) -> PathBuf {
    out.join(format!("stage{}-{}", stage.number(), stage.name()))
}
