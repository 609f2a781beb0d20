//! The files of a smoke run of the recipe, made here: a handful of synthetic NTU clips (a
//! walking figure as it is, crouched, and with the right arm raised, labelled "drink water",
//! "sit down" and "hand waving"), hard negatives and teacher rationales for them, and a tiny
//! random model whose word-level tokenizer knows every word of the records. Runs on any device
//! in minutes; the model it trains is meaningless.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use draction::render::DrAction;
use draction::{Layout, Skeleton, synthetic};
use skeletonllm_model::load::save::{hf_config_json, save_pretrained};
use skeletonllm_model::text::prompts;
use skeletonllm_model::{InternVlConfig, InternVlTokenizer};

use super::{StagePlan, teacher_prompt};
use crate::data::{NtuDataset, NtuSample, ZeroShotSplit};
use crate::error::{Result, TrainError};
use crate::train::Stage;

/// The smoke clips: (action id, performer) pairs; performers 1, 2, 4 are cross-subject training
/// subjects, 3 is a test subject (left out by the split).
const CLIPS: [(u16, u16); 10] = [
    (1, 1),
    (1, 2),
    (1, 3),
    (8, 1),
    (8, 2),
    (8, 4),
    (23, 1),
    (23, 2),
    (23, 4),
    (23, 3),
];

/// The files [`write_data`] makes.
#[derive(Debug, Clone)]
pub struct SmokeData {
    /// The folder of NTU `.skeleton` files.
    pub root: PathBuf,
    /// The hard-negative JSON (the authors' `*_similar_actions.json` format).
    pub hard_negatives: PathBuf,
    /// The teacher rationales JSONL.
    pub rationales: PathBuf,
}

/// Writes the smoke clips, hard negatives and rationales into `root`.
///
/// # Errors
/// [`TrainError::Io`] when `root` cannot be written; skeleton errors (none in practice).
pub fn write_data(root: &Path, dataset: NtuDataset) -> Result<SmokeData> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TrainError::Io { path, source }
    };
    std::fs::create_dir_all(root).map_err(io(root))?;
    let ntu25 = Layout::builtin("ntu25").map_err(|e| TrainError::skeleton("ntu25", e))?;
    let mut rationales = String::new();
    for (k, &(action, performer)) in CLIPS.iter().enumerate() {
        let bodies = 1 + k % 2;
        let base = synthetic::walking_ntu(30 + 4 * k, bodies);
        let [t, p, j] = base.dims();
        let mut pos = base.positions().to_vec();
        for (i, xyz) in pos.chunks_exact_mut(3).enumerate() {
            let joint = i % j;
            match action {
                8 => xyz[1] *= 0.6, // crouched
                23 if (8..=11).contains(&joint) || joint == 23 || joint == 24 => xyz[1] += 0.5,
                _ => {}
            }
        }
        let name = NtuSample {
            setup: 1,
            camera: 1 + (k % 3) as u16,
            performer,
            replication: 1,
            action,
        };
        let skel = Skeleton::from_dense(pos, t, p, ntu25.clone())
            .map_err(|e| TrainError::skeleton(name.id(), e))?;
        let path = root.join(name.file_name());
        draction::io::ntu::write(&skel, &path).map_err(|e| TrainError::skeleton(name.id(), e))?;
        let label = dataset.label(action)?;
        rationales += &format!(
            "{}\n",
            serde_json::json!({"id": name.id(), "label": label,
                "rationale": format!("The figure keeps its feet apart and moves its arms.\nLabel: {label}")})
        );
    }
    let hard_negatives = root.join("similar_actions.json");
    let negatives = serde_json::json!({
        "drink water": ["sit down", "hand waving"],
        "sit down": ["drink water"],
        "hand waving": ["drink water", "sit down"],
    });
    draction::io::write_file_atomic(&hard_negatives, negatives.to_string().as_bytes())
        .map_err(io(&hard_negatives))?;
    let teacher = root.join("rationales.jsonl");
    draction::io::write_file_atomic(&teacher, rationales.as_bytes()).map_err(io(&teacher))?;
    Ok(SmokeData {
        root: root.to_path_buf(),
        hard_negatives,
        rationales: teacher,
    })
}

/// Writes a tiny random SkeletonLLM (2-layer ViT and LM, [`InternVlConfig::tiny`]) on
/// `renderer` to `dir`, its word-level tokenizer knowing every word of the plans' records
/// (and the stage-3 teacher prompts).
///
/// # Errors
/// [`TrainError::Sample`] for a stage-3 record that names no NTU sample; model errors when the
/// folder cannot be written.
pub fn write_model(
    dir: &Path,
    plans: &[StagePlan],
    split: &ZeroShotSplit,
    renderer: &DrAction,
    device: &Device,
) -> Result<()> {
    let mut texts: Vec<String> = vec![
        prompts::TEMPLATE_SYSTEM_MESSAGE.into(),
        prompts::YES.into(),
        prompts::NO.into(),
    ];
    for plan in plans {
        for r in &plan.records {
            texts.extend(r.question().map(str::to_string));
            texts.extend(r.answer().map(str::to_string));
            if plan.stage == Stage::CrDistill {
                texts.push(teacher_prompt(r, split)?);
            }
        }
    }
    let tok_json = skeletonllm_model::text::tokenizer::word_level_json(&texts);
    let tokenizer = InternVlTokenizer::from_json(tok_json.clone(), "tiny".as_ref())?;
    let config = InternVlConfig::tiny(
        tokenizer.vocab_size(),
        tokenizer.special_tokens().img_context as usize,
    );
    save_pretrained(
        dir,
        &config.init(device),
        &hf_config_json(&config),
        Some(renderer),
        Some(&tok_json),
    )?;
    Ok(())
}
