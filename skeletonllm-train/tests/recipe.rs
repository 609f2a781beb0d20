//! The NTU recipe as data ([`skeletonllm_train::recipe`]) on the smoke clips: every stage gets
//! records, optional stages are skipped with a message when their input is missing, stage 2
//! samples carry the YES/NO contrast, stage 3 the teacher prompt, and each stage keeps only its
//! own extra loss.

use skeletonllm_train::data::{
    BuildOptions, HardNegatives, NtuDataset, Protocol, ZeroShotSplit, read_rationales,
    scan_skeleton_dir,
};
use skeletonllm_train::recipe::{
    RecipeInputs, plan_stages, run_dir, smoke, stage_config, stage_samples,
};
use skeletonllm_train::train::{Stage, TrainConfig};

const ALL: [Stage; 4] = [
    Stage::Warmup,
    Stage::DiscFt,
    Stage::CrDistill,
    Stage::Refine,
];

#[test]
fn smoke_data_plans_every_stage() {
    let dir = tempfile::tempdir().unwrap();
    let data = smoke::write_data(&dir.path().join("data"), NtuDataset::Ntu60).unwrap();
    let split = ZeroShotSplit::new(NtuDataset::Ntu60, "55", Protocol::CrossSubject).unwrap();
    let clips = scan_skeleton_dir(&data.root).unwrap();
    assert_eq!(clips.len(), 10);
    let opts = BuildOptions {
        num_frames: 2,
        system_turn: false,
    };
    let inputs = RecipeInputs {
        hard_negatives: Some(HardNegatives::load(&data.hard_negatives, NtuDataset::Ntu60).unwrap()),
        rationales: Some(read_rationales(&data.rationales).unwrap()),
    };
    let (plans, skipped) = plan_stages(&ALL, &split, &clips, &inputs, &opts, 7).unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    let stages: Vec<Stage> = plans.iter().map(|p| p.stage).collect();
    assert_eq!(stages, ALL);
    for plan in &plans {
        assert!(!plan.records.is_empty(), "{:?}", plan.stage);
        let samples = stage_samples(plan, &data.root, &split, true).unwrap();
        assert_eq!(samples.len(), plan.records.len());
        for s in &samples {
            assert!(s.user.contains("<image>"));
            match plan.stage {
                Stage::DiscFt => {
                    let contrast = s.contrast.as_deref().unwrap();
                    assert_ne!(contrast, s.answer);
                    assert!(["YES", "NO"].contains(&contrast), "{contrast}");
                }
                Stage::CrDistill => {
                    let teacher = s.teacher_user.as_deref().unwrap();
                    assert!(teacher.contains("NTU RGB+D"), "{teacher}");
                    assert!(s.answer.contains("Label: "), "{}", s.answer);
                }
                _ => assert!(s.contrast.is_none() && s.teacher_user.is_none()),
            }
        }
    }
    // The test subject's clips (performer 3) are never training records.
    for plan in &plans {
        assert!(
            plan.records.iter().all(|r| !r.id.contains("P003")),
            "{:?}",
            plan.stage
        );
    }

    // Without the optional inputs, stages 2 and 3 are skipped, with a message each.
    let (plans, skipped) =
        plan_stages(&ALL, &split, &clips, &RecipeInputs::default(), &opts, 7).unwrap();
    assert_eq!(plans.len(), 2);
    assert_eq!(skipped.len(), 2);
    assert!(skipped[0].contains("stage 2") && skipped[1].contains("stage 3"));
}

#[test]
fn each_stage_keeps_only_its_own_extra_loss() {
    let mut flags = TrainConfig::authors(Stage::Warmup);
    flags.margin_weight = 0.5;
    flags.distill_weight = 0.3;
    for stage in ALL {
        let c = stage_config(stage, &flags);
        assert_eq!(c.stage, stage);
        assert_eq!(
            c.margin_weight,
            if stage == Stage::DiscFt { 0.5 } else { 0.0 }
        );
        assert_eq!(
            c.distill_weight,
            if stage == Stage::CrDistill { 0.3 } else { 0.0 }
        );
    }
    let out = std::path::Path::new("runs/x");
    assert_eq!(
        run_dir(out, Stage::CrDistill),
        out.join("stage3-cr-distill")
    );
}
