//! A run stopped after a checkpoint — mid-epoch or at an epoch boundary — and resumed ends with
//! exactly the parameters and the loss curve of the uninterrupted run (same data order,
//! optimizer state and schedule).

mod common;

use skeletonllm_train::train::{Stage, TrainConfig};

#[test]
fn resumed_runs_equal_the_uninterrupted_one() {
    let f = common::Fixture::new();
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
    let (reference, report) = f.train(&config, &tmp.path().join("full"), false, &[]);
    assert_eq!(report.steps, 12);
    assert!(!report.halted);
    let expected = common::values(&reference);
    // Stopped after step 2 (mid-epoch) or 4 (the end of epoch 0), then resumed.
    for halt in [2, 4] {
        let run = tmp.path().join(format!("halt{halt}"));
        let stopped = TrainConfig {
            halt_after: Some(halt),
            ..config.clone()
        };
        let (_, first) = f.train(&stopped, &run, false, &[]);
        assert!(first.halted && first.steps == halt, "{halt}: {first:?}");
        assert_eq!(first.losses[..], report.losses[..halt]);
        let (resumed, second) = f.train(&config, &run, true, &[]);
        assert!(second.resumed && second.steps == 12 && !second.halted);
        assert_eq!(
            second.losses, report.losses,
            "{halt}: the loss curve differs"
        );
        let worst = common::max_diff(&common::values(&resumed), &expected);
        assert_eq!(
            worst, 0.0,
            "stopped at {halt}: the resumed run differs by {worst}"
        );
        // The log continues: one line per step of the whole run.
        let log = std::fs::read_to_string(run.join("log.jsonl")).unwrap();
        assert_eq!(log.lines().count(), 12);
    }
}
