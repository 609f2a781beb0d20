//! Data parallel through burn-train's multi-device strategy, on the CPU listed twice (two
//! workers): the same loss curve and parameters, within float noise, as one device with the
//! same global batch.

mod common;

use skeletonllm_train::train::{Stage, TrainConfig, train};

#[test]
fn two_cpu_workers_train_like_one_device() {
    let f = common::Fixture::new();
    // Batches of 3 over 8 samples: the last batch of an epoch has 2 (one per worker).
    let config = TrainConfig {
        epochs: 2,
        lr: 1e-3,
        batch_size: 3,
        checkpoint_every: 4,
        from_scratch: true,
        ..TrainConfig::authors(Stage::Warmup)
    };
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, devices: &[_]| {
        train(
            f.model(),
            &f.samples,
            &f.tok,
            &config,
            &tmp.path().join(name),
            false,
            None,
            devices,
        )
        .unwrap()
    };
    let (one, one_report) = run("one", std::slice::from_ref(&f.device));
    let (two, two_report) = run("two", &[f.device.clone(), f.device.clone()]);
    assert_eq!(one_report.steps, 6);
    assert_eq!(two_report.steps, 6);
    let loss_diff = common::max_diff(&one_report.losses, &two_report.losses);
    let param_diff = common::max_diff(&common::values(&one), &common::values(&two));
    println!(
        "losses one device {:?}\nlosses two workers {:?}\nmax |Δloss| {loss_diff:.2e}, \
         max |Δparam| {param_diff:.2e}",
        one_report.losses, two_report.losses
    );
    assert!(loss_diff < 1e-4, "loss curves differ by {loss_diff}");
    assert!(param_diff < 1e-4, "parameters differ by {param_diff}");
    // The first step is the same computation: exactly equal up to summation order.
    assert!((one_report.losses[0] - two_report.losses[0]).abs() < 1e-6);
    assert!(
        one_report.losses[5] < one_report.losses[0],
        "the run did not learn"
    );
}
