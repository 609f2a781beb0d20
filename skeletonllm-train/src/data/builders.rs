//! Annotation builders: NTU samples → the authors' conversation records, one builder per
//! training stage (MQA for stages 1 and 4, Disc-FT for stage 2, CR-Distill for stage 3).
//!
//! Matched to `wangzy01/SkeletonLLM` `tools/build_ntu_annotation.py`,
//! `tools/build_discft_annotation.py` and `tools/build_crdistill_annotation.py`:
//! - samples are visited in id order (their `sorted(root.glob("*.skeleton"))`);
//! - `id` is the sample stem (Disc-FT: `<stem>_pos` / `<stem>_neg`), `image` is
//!   `<stem>.skeleton`;
//! - the human turn is the frame block followed by the task text ([`super::prompts`]); no
//!   system turn is written (their `internvl2_5` template supplies
//!   [`super::prompts::TEMPLATE_SYSTEM_MESSAGE`]) unless [`BuildOptions::system_turn`] asks
//!   for one carrying [`super::prompts::SYSTEM_PROMPT`];
//! - MQA candidates are the split's seen labels in id order, one per line; the answer is the
//!   label;
//! - Disc-FT: per training clip one `YES` record about its label, then one `NO` record about a
//!   hard negative drawn uniformly from those that are seen classes (when any), so ~1:1.
//!   Draws use [`SplitMix64`] seeded with the caller's seed, not Python's `random`, so the
//!   chosen negatives differ from theirs but are fixed for a seed;
//! - CR-Distill: the student question has no label; the answer is the whole (stripped)
//!   rationale. Stricter than theirs (which only requires a `label:` substring): the last
//!   non-empty line must be `Label: <class of the sample>`.

use std::path::Path;

use serde::Deserialize;

use super::answer::clean_label;
use super::conversation::{ConversationRecord, Turn, parse_jsonl, read_text};
use super::error::{DataError, Result};
use super::hard_negatives::HardNegatives;
use super::ntu::NtuSample;
use super::prompts::{SYSTEM_PROMPT, cr_student_question, discft_question, mqa_question};
use super::rng::SplitMix64;
use super::splits::ZeroShotSplit;

/// Options shared by the builders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildOptions {
    /// Number of `<image>` placeholders (rendered frames) per question; the authors use 12.
    pub num_frames: usize,
    /// Prepend a `system` turn with [`SYSTEM_PROMPT`] (the authors' files have none).
    pub system_turn: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            num_frames: 12,
            system_turn: false,
        }
    }
}

impl BuildOptions {
    fn check(&self) -> Result<()> {
        if self.num_frames == 0 {
            return Err(DataError::Config("num_frames must be at least 1".into()));
        }
        Ok(())
    }

    fn record(&self, id: String, sample: &NtuSample, q: String, a: String) -> ConversationRecord {
        let mut r = ConversationRecord::qa(id, sample.file_name(), q, a);
        if self.system_turn {
            r.conversations.insert(0, Turn::system(SYSTEM_PROMPT));
        }
        r
    }
}

fn sorted(samples: &[NtuSample]) -> Vec<NtuSample> {
    let mut v = samples.to_vec();
    v.sort_unstable_by_key(NtuSample::id);
    v.dedup();
    v
}

/// Label-only MQA records for the split's training samples (seen classes only); the candidate
/// list is every seen label.
pub fn mqa_records(
    split: &ZeroShotSplit,
    samples: &[NtuSample],
    opts: &BuildOptions,
) -> Result<Vec<ConversationRecord>> {
    opts.check()?;
    let question = mqa_question(&split.seen_labels(), opts.num_frames);
    let ds = split.dataset();
    sorted(samples)
        .iter()
        .filter(|s| split.is_train(s))
        .map(|s| Ok(opts.record(s.id(), s, question.clone(), ds.label(s.action)?.into())))
        .collect()
}

/// The evaluation MQA question: the split's test labels (unseen, or all for `all`) in id order.
pub fn mqa_eval_question(split: &ZeroShotSplit, num_frames: usize) -> String {
    mqa_question(&split.test_labels(), num_frames)
}

/// MQA records for the split's test samples (answer = true label), for evaluation runs.
pub fn mqa_test_records(
    split: &ZeroShotSplit,
    samples: &[NtuSample],
    opts: &BuildOptions,
) -> Result<Vec<ConversationRecord>> {
    opts.check()?;
    let question = mqa_eval_question(split, opts.num_frames);
    let ds = split.dataset();
    sorted(samples)
        .iter()
        .filter(|s| split.is_test(s))
        .map(|s| Ok(opts.record(s.id(), s, question.clone(), ds.label(s.action)?.into())))
        .collect()
}

/// Counts from [`discft_records`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiscFtStats {
    /// `YES` records (one per training clip).
    pub yes: usize,
    /// `NO` records.
    pub no: usize,
    /// Clips whose class has no seen hard negative (so no `NO` record).
    pub without_negative: usize,
}

/// Disc-FT yes/no records for the split's training samples; deterministic given `seed`.
pub fn discft_records(
    split: &ZeroShotSplit,
    samples: &[NtuSample],
    negatives: &HardNegatives,
    opts: &BuildOptions,
    seed: u64,
) -> Result<(Vec<ConversationRecord>, DiscFtStats)> {
    opts.check()?;
    let ds = split.dataset();
    if negatives.dataset() != ds {
        return Err(DataError::Config(format!(
            "hard negatives are for {}, split {split} is {ds}",
            negatives.dataset()
        )));
    }
    let seen = split.seen_ids();
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::new();
    let mut stats = DiscFtStats::default();
    for s in sorted(samples).iter().filter(|s| split.is_train(s)) {
        let label = ds.label(s.action)?;
        let q = discft_question(label, opts.num_frames);
        out.push(opts.record(format!("{s}_pos"), s, q, "YES".into()));
        stats.yes += 1;
        let pool: Vec<&str> = negatives
            .of(label)
            .iter()
            .map(String::as_str)
            .filter(|n| *n != label && ds.action_id(n).is_some_and(|id| seen.contains(&id)))
            .collect();
        if pool.is_empty() {
            stats.without_negative += 1;
            continue;
        }
        let neg = pool[rng.below(pool.len())];
        let q = discft_question(neg, opts.num_frames);
        out.push(opts.record(format!("{s}_neg"), s, q, "NO".into()));
        stats.no += 1;
    }
    Ok((out, stats))
}

/// One line of a teacher-rationale JSONL file (`{"id", "label", "rationale"}`, as the authors'
/// `tools/generate_teacher_rationales.py` writes).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TeacherRationale {
    /// The sample id (`SsssCcccPpppRrrrAaaa`).
    pub id: String,
    /// The label the teacher was given, if recorded.
    #[serde(default)]
    pub label: Option<String>,
    /// The teacher's answer, ending `Label: <action>`.
    pub rationale: String,
}

/// Reads a teacher-rationale JSONL file (errors name file, line and reason).
pub fn read_rationales(path: &Path) -> Result<Vec<TeacherRationale>> {
    parse_rationales(&read_text(path)?, path)
}

/// Parses teacher-rationale JSONL; `path` only names the source in errors.
pub fn parse_rationales(text: &str, path: &Path) -> Result<Vec<TeacherRationale>> {
    parse_jsonl(text, path, |r: &TeacherRationale| {
        NtuSample::parse(&r.id)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}

/// The label on a rationale's final `Label: <action>` line (its last non-empty line, prefix
/// case-insensitive, surrounding quotes / `*` / a final `.` removed); `None` if that line is
/// not a label line.
pub fn final_label(rationale: &str) -> Option<&str> {
    let last = rationale.lines().rev().find(|l| !l.trim().is_empty())?;
    let t = last.trim().trim_start_matches('*');
    let rest = t.get(..6).filter(|p| p.eq_ignore_ascii_case("label:"))?;
    let label = clean_label(&t[rest.len()..]);
    (!label.is_empty()).then_some(label)
}

/// Counts from [`crdistill_records`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CrDistillStats {
    /// Records written.
    pub written: usize,
    /// Rejected: the final label (or the recorded teacher label) is not the sample's class.
    pub label_mismatch: usize,
    /// Rejected: the rationale does not end with a `Label:` line.
    pub missing_label: usize,
    /// Rejected: not a training sample of the split (unseen class, test side, other dataset).
    pub not_in_split: usize,
}

/// CR-Distill student records from teacher rationales: question without the label, answer the
/// rationale; rationales whose final label is not the sample's class are rejected and counted.
pub fn crdistill_records(
    split: &ZeroShotSplit,
    rationales: &[TeacherRationale],
    opts: &BuildOptions,
) -> Result<(Vec<ConversationRecord>, CrDistillStats)> {
    opts.check()?;
    let ds = split.dataset();
    let question = cr_student_question(opts.num_frames);
    let mut out = Vec::new();
    let mut stats = CrDistillStats::default();
    for r in rationales {
        let sample = NtuSample::parse(&r.id)?;
        if !split.is_train(&sample) {
            stats.not_in_split += 1;
            continue;
        }
        let label = ds.label(sample.action)?;
        let text = r.rationale.trim();
        let Some(said) = final_label(text) else {
            stats.missing_label += 1;
            continue;
        };
        let given_ok = r
            .label
            .as_deref()
            .is_none_or(|l| l.trim().eq_ignore_ascii_case(label));
        if !said.eq_ignore_ascii_case(label) || !given_ok {
            stats.label_mismatch += 1;
            continue;
        }
        out.push(opts.record(r.id.clone(), &sample, question.clone(), text.into()));
        stats.written += 1;
    }
    Ok((out, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_label_line() {
        assert_eq!(final_label("a\nb\nLabel: reading\n\n"), Some("reading"));
        assert_eq!(final_label("x\n**label:** 'Reading'."), Some("Reading"));
        assert_eq!(final_label("Label: reading\nmore text"), None);
        assert_eq!(final_label("Label:   "), None);
        assert_eq!(final_label(""), None);
        assert_eq!(final_label("Lab"), None);
        assert_eq!(final_label("é"), None);
    }
}
