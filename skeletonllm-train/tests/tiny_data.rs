//! The bundled model's dataset ([`skeletonllm_train::tiny`]): every label has training clips,
//! 14 of the 18 have held-out clips (the four recorded only once have none), held-out clips come
//! from source clips never trained on, and the clips are varied across layouts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use skeletonllm_train::tiny::{self, DatasetConfig, LABELS};

/// The fetched data folder (it holds `deepmimic/`).
fn data_dir() -> PathBuf {
    let deepmimic = skeletonllm_train::draction::testdata::data_dir("deepmimic");
    deepmimic.parent().map(PathBuf::from).unwrap_or(deepmimic)
}

#[test]
fn held_out_sources_are_never_trained_on() {
    let config = DatasetConfig {
        train_performers: 3,
        held_out_performers: 2,
        clips_per_recording: 4,
        ..DatasetConfig::default()
    };
    let clips = tiny::build(&data_dir(), &config).unwrap();
    let mut train_sources = BTreeSet::new();
    let mut test_sources = BTreeSet::new();
    let mut per_label: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut layouts = BTreeSet::new();
    for c in &clips {
        assert!(LABELS.contains(&c.label), "{}", c.label);
        assert!(
            !tiny::captions(c.label).is_empty(),
            "{} has no captions",
            c.label
        );
        let e = per_label.entry(c.label).or_default();
        if c.held_out {
            test_sources.insert(c.source.clone());
            e.1 += 1;
        } else {
            train_sources.insert(c.source.clone());
            e.0 += 1;
        }
        layouts.insert(c.skeleton.layout().name.clone());
        let t = c.skeleton.frames();
        let expected = (config.seconds * config.fps).round() as usize;
        assert!(t >= 10 && t <= expected + 1, "{}: {t} frames", c.source);
        assert!(c.skeleton.positions().iter().all(|v| v.is_finite()));
    }
    assert!(
        train_sources.is_disjoint(&test_sources),
        "a source clip is in both sets: {:?}",
        train_sources
            .intersection(&test_sources)
            .collect::<Vec<_>>()
    );
    assert_eq!(per_label.len(), LABELS.len(), "labels without clips");
    for (label, (train, _)) in &per_label {
        assert!(*train > 0, "{label} has no training clips");
    }
    // Every procedural class and the mocap classes with two recordings have held-out sources.
    let held: Vec<&str> = per_label
        .iter()
        .filter(|(_, (_, t))| *t > 0)
        .map(|(l, _)| *l)
        .collect();
    assert_eq!(held.len(), 14, "held-out labels: {held:?}");
    for l in ["dancing", "kicking", "getting up from the floor", "waving"] {
        assert!(held.contains(&l), "{l} has no held-out clips");
    }
    assert!(layouts.len() >= 3, "layouts: {layouts:?}");
}

#[test]
fn rotate_yaw_keeps_heights_and_distances() {
    let clips = tiny::build(
        &data_dir(),
        &DatasetConfig {
            train_performers: 1,
            held_out_performers: 0,
            clips_per_recording: 1,
            ..DatasetConfig::default()
        },
    )
    .unwrap();
    let skel = &clips[0].skeleton;
    let turned = tiny::rotate_yaw(skel, 90.0);
    let p = skel.positions();
    let q = turned.positions();
    let dist = |v: &[f32], a: usize, b: usize| {
        (0..3)
            .map(|k| (v[a * 3 + k] - v[b * 3 + k]).powi(2))
            .sum::<f32>()
            .sqrt()
    };
    for i in 0..p.len() / 3 {
        assert!((p[i * 3 + 1] - q[i * 3 + 1]).abs() < 1e-5, "height changed");
    }
    assert!((dist(p, 0, 5) - dist(q, 0, 5)).abs() < 1e-4);
    assert!(
        (p[0] - q[0]).abs() + (p[2] - q[2]).abs() > 1e-3,
        "nothing turned"
    );
}
