//! How a run executes does not change what it learns: data parallel through burn-train's
//! multi-device strategy, on the CPU listed twice (two workers), and Burn's gradient
//! checkpointing give the loss curve and parameters, within float noise, of one plain device
//! with the same global batch.

mod common;

use std::sync::{Mutex, MutexGuard};

use skeletonllm_train::train::{Stage, TrainConfig, parse_devices};

/// The tests here run one at a time: each draws its models from the device RNG, which the
/// steps of a concurrent test reseed.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn two_cpu_workers_train_like_one_device() {
    let _serial = one_at_a_time();
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
    let (one, one_report) = f.train(&config, &tmp.path().join("one"), false, &[]);
    let two_workers = [f.device.clone(), f.device.clone()];
    let (two, two_report) = f.train(&config, &tmp.path().join("two"), false, &two_workers);
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

#[test]
fn gradient_checkpointing_trains_like_the_plain_run() {
    let _serial = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let config = TrainConfig {
        epochs: 1,
        lr: 1e-3,
        batch_size: 2,
        checkpoint_every: 0,
        from_scratch: true,
        ..TrainConfig::authors(Stage::Warmup)
    };
    // The model is made on the device it trains on (with or without checkpointing).
    let run = |f: common::Fixture, name: &str| f.train(&config, &tmp.path().join(name), false, &[]);
    let plain_device = parse_devices("default", false).unwrap().remove(0);
    let gc_device = parse_devices("default", true).unwrap().remove(0);
    let (plain, plain_report) = run(common::Fixture::on(plain_device), "plain");
    let (checkpointed, report) = run(common::Fixture::on(gc_device), "checkpointed");
    let loss_diff = common::max_diff(&plain_report.losses, &report.losses);
    let param_diff = common::max_diff(&common::values(&plain), &common::values(&checkpointed));
    println!("gradient checkpointing: max |Δloss| {loss_diff:.2e}, max |Δparam| {param_diff:.2e}");
    assert!(loss_diff < 1e-5 && param_diff < 1e-5);
}
