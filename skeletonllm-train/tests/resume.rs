//! A run resumed from a checkpoint — mid-epoch or at an epoch boundary — ends with exactly the
//! parameters of the uninterrupted run (same data order, optimizer state and schedule).

use std::path::Path;
use std::sync::Arc;

use skeletonllm_train::draction::burn::tensor::Device;
use skeletonllm_train::draction::checkpoint::to_tensors;
use skeletonllm_train::draction::render::DrActionConfig;
use skeletonllm_train::draction::synthetic;
use skeletonllm_train::skeletonllm_model::load::save::internvl_tensors;
use skeletonllm_train::skeletonllm_model::text::tokenizer::word_level_json;
use skeletonllm_train::skeletonllm_model::{
    InternVlConfig, InternVlTokenizer, SkeletonLlm, text::prompts,
};
use skeletonllm_train::train::{Sample, SkeletonRef, Stage, TrainConfig, train};

/// Every parameter value of `m`, in a fixed order.
fn values(m: &SkeletonLlm) -> Vec<f32> {
    let mut tensors = internvl_tensors(&m.internvl).unwrap();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<f32> = tensors
        .into_iter()
        .flat_map(|(_, t)| t.iter::<f32>().collect::<Vec<_>>())
        .collect();
    out.extend(to_tensors(&m.renderer).into_values().flat_map(|t| t.data));
    out
}

#[test]
fn resumed_runs_equal_the_uninterrupted_one() {
    let device = Device::default().autodiff();
    let user = prompts::user_message(2, &prompts::mqa_question(&["walk", "run"]));
    let tok_json = word_level_json(&[prompts::TEMPLATE_SYSTEM_MESSAGE, &user]);
    let tok = InternVlTokenizer::from_json(tok_json, "w".as_ref()).unwrap();
    let model = || {
        device.seed(1);
        let renderer =
            DrActionConfig::new().init_with_pose(&synthetic::ntu_standing_pose(), &device);
        let config =
            InternVlConfig::tiny(tok.vocab_size(), tok.special_tokens().img_context as usize);
        SkeletonLlm::new(renderer, config.init(&device))
    };
    let skel = Arc::new(synthetic::walking_ntu(30, 1));
    let samples: Vec<Sample> = (0..8)
        .map(|k| {
            let label = if k % 2 == 0 { "walk" } else { "run" };
            Sample::new(
                format!("s{k}"),
                SkeletonRef::Memory(skel.clone()),
                user.clone(),
                label,
            )
        })
        .collect();
    // 4 steps per epoch; checkpoints every 2 steps: step 2 is mid-epoch, step 4 ends epoch 0.
    let config = TrainConfig {
        epochs: 3,
        lr: 1e-3,
        batch_size: 2,
        checkpoint_every: 2,
        from_scratch: true,
        ..TrainConfig::authors(Stage::Warmup)
    };
    let tmp = tempfile::tempdir().unwrap();
    let full = tmp.path().join("full");
    let copy_checkpoint = |to: &Path| {
        let dir = to.join("checkpoint");
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["params.bpk", "optimizer.bpk", "state.json"] {
            std::fs::copy(full.join("checkpoint").join(f), dir.join(f)).unwrap();
        }
    };
    let (mid, boundary) = (tmp.path().join("mid"), tmp.path().join("boundary"));
    let (reference, report) = train(
        model(),
        &samples,
        &tok,
        &config,
        &full,
        false,
        None,
        &device,
        |s| match s.step {
            3 => copy_checkpoint(&mid),      // holds step 2
            5 => copy_checkpoint(&boundary), // holds step 4
            _ => {}
        },
    )
    .unwrap();
    assert_eq!(report.steps, 12);
    let expected = values(&reference);
    for run in [mid, boundary] {
        let (resumed, report) = train(
            model(),
            &samples,
            &tok,
            &config,
            &run,
            true,
            None,
            &device,
            |_| {},
        )
        .unwrap();
        assert!(report.resumed && report.steps == 12);
        let got = values(&resumed);
        assert_eq!(got.len(), expected.len());
        let worst = got
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert_eq!(
            worst,
            0.0,
            "{}: resumed run differs by {worst}",
            run.display()
        );
    }
}
