//! The bundled model's dataset ([`skeletonllm_train::tiny`]): every label has training clips,
//! held-out collections are never trained on, held-out clips are the recordings as they are
//! (own layout) while training clips are varied across layouts, and every recording's labelled
//! span can be read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use skeletonllm_train::draction;
use skeletonllm_train::tiny::{self, DatasetConfig, LABELS};

/// The fetched data folder (it holds `deepmimic/`, and `holosoma/`, `bvh-extra/`, `eval-only/`
/// from `scripts/fetch-motions.sh`).
fn data_dir() -> PathBuf {
    let deepmimic = skeletonllm_train::draction::testdata::data_dir("deepmimic");
    deepmimic.parent().map(PathBuf::from).unwrap_or(deepmimic)
}

#[test]
fn held_out_collections_are_never_trained_on() {
    let config = DatasetConfig {
        train_performers: 3,
        held_out_performers: 2,
        clips_per_recording: 4,
        held_out_clips_per_recording: 2,
        ..DatasetConfig::default()
    };
    let clips = tiny::build(&data_dir(), &config).unwrap();
    let mut train_sources = BTreeSet::new();
    let mut test_sources = BTreeSet::new();
    let mut per_label: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut per_collection: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut train_layouts = BTreeSet::new();
    for c in &clips {
        assert!(LABELS.contains(&c.label), "{}", c.label);
        assert!(
            !tiny::captions(c.label).is_empty(),
            "{} has no captions",
            c.label
        );
        assert!(
            !tiny::confusable(c.label).is_empty(),
            "{} has no confusables",
            c.label
        );
        let e = per_label.entry(c.label).or_default();
        let k = per_collection.entry(c.collection).or_default();
        if c.held_out {
            test_sources.insert(c.source.clone());
            e.1 += 1;
            k.1 += 1;
        } else {
            train_sources.insert(c.source.clone());
            train_layouts.insert(c.skeleton.layout().name.clone());
            e.0 += 1;
            k.0 += 1;
        }
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
    // Whole collections are held out; only procedural performers and holosoma share a
    // collection between the two sets.
    for (collection, (train, held)) in &per_collection {
        match *collection {
            "procedural" | "holosoma" => assert!(*train > 0 && *held > 0, "{collection}"),
            "deepmimic" => assert!(*train > 0 && *held == 0, "{collection}"),
            _ => assert!(*train == 0 && *held > 0, "{collection} is trained on"),
        }
    }
    for c in [
        "pybullet-walker",
        "cmu",
        "boxing",
        "mocapbank",
        "pirouette",
        "lafan1",
    ] {
        assert!(per_collection.contains_key(c), "{c} is missing");
    }
    // Held-out recordings come as they are: BVH hierarchies stay BVH, walker takes DeepMimic.
    let cmu = clips.iter().find(|c| c.collection == "cmu").unwrap();
    assert_eq!(cmu.skeleton.layout().name, "bvh");
    assert!(train_layouts.len() >= 4, "layouts: {train_layouts:?}");
}

#[test]
fn every_labelled_span_reads_and_holosoma_stands_upright() {
    for r in tiny::RECORDINGS {
        let skel = tiny::read_recording(&data_dir(), r).unwrap();
        let seconds = skel.frames() as f32 / skel.fps.unwrap();
        if let Some((a, b)) = r.span {
            assert!((seconds - (b - a)).abs() < 0.1, "{}: {seconds} s", r.file);
        }
        assert!(r.looped || seconds >= 1.0, "{}: {seconds} s", r.file);
        if r.collection == "holosoma" {
            // Head above the hips once turned y up.
            let l = skel.layout();
            let (head, hips) = (
                l.joint_index("Head").unwrap(),
                l.joint_index("Hips").unwrap(),
            );
            assert!(skel.position(0, 0, head)[1] > skel.position(0, 0, hips)[1] + 0.5);
        }
    }
}

#[test]
fn rotate_yaw_keeps_heights_and_distances() {
    let clips = tiny::build(
        &data_dir(),
        &DatasetConfig {
            train_performers: 1,
            held_out_performers: 0,
            clips_per_recording: 1,
            held_out_clips_per_recording: 1,
            ..DatasetConfig::default()
        },
    )
    .unwrap();
    // A held-out clip: as recorded, every joint present (training clips may miss some).
    let skel = &clips.iter().find(|c| c.held_out).unwrap().skeleton;
    assert!(skel.valid().iter().all(|v| *v));
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

#[test]
fn training_clips_the_renderer_takes_as_kinect_ntu_stay_in_the_cameras_view() {
    // The renderer's exact NTU path positions nothing: a clip turned about its centre by the
    // augmentation must stay inside the 60° view by itself (the full recipe's clips).
    let clips = tiny::build(&data_dir(), &DatasetConfig::default()).unwrap();
    let tan = (30.0f32).to_radians().tan();
    let mut checked = 0;
    for c in clips.iter().filter(|c| !c.held_out) {
        if !draction::render::clip::is_kinect_ntu(&c.skeleton) {
            continue;
        }
        checked += 1;
        let s = &c.skeleton;
        for (p, _) in s.positions().chunks(3).zip(s.valid()).filter(|(_, v)| **v) {
            assert!(
                p[2] > 0.5 && p[0].abs().max(p[1].abs()) < tan * p[2],
                "{}: a joint at {p:?} is out of view",
                c.source
            );
        }
    }
    assert!(
        checked > 100,
        "only {checked} training clips take the exact path"
    );
}
