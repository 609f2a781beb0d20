//! Integration tests of `skeletonllm_train::data`: annotation builders end to end, the JSONL
//! round trip, and loader resumption.

use std::path::Path;

use skeletonllm_train::data::*;

fn sample(setup: u16, camera: u16, performer: u16, action: u16) -> NtuSample {
    NtuSample {
        setup,
        camera,
        performer,
        replication: 1,
        action,
    }
}

/// Every action of NTU-60 by a training (P001) and a test (P003) subject, plus NTU-120 noise.
fn ntu60_samples() -> Vec<NtuSample> {
    let mut v = Vec::new();
    for a in (1..=60).rev() {
        v.push(sample(1, 1, 1, a));
        v.push(sample(1, 2, 3, a));
    }
    v.push(sample(18, 1, 1, 61));
    v.push(sample(18, 1, 1, 1));
    v
}

#[test]
fn mqa_records_train_on_seen_classes_only() -> Result<()> {
    let split = ZeroShotSplit::parse("ntu60_55_cs")?;
    let recs = mqa_records(&split, &ntu60_samples(), &BuildOptions::default())?;
    assert_eq!(recs.len(), 55);
    let ids: Vec<&str> = recs.iter().map(|r| r.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted);
    let first = &recs[0];
    assert_eq!(first.id, "S001C001P001R001A001");
    assert_eq!(
        first.image,
        ImageField::One("S001C001P001R001A001.skeleton".into())
    );
    assert_eq!(first.answer(), Some("drink water"));
    assert_eq!(first.system(), None);
    let q = first.question().unwrap_or_default();
    assert_eq!(q.matches("<image>").count(), 12);
    assert!(q.starts_with("Frame1: <image>\nFrame2: <image>\n"));
    let list = q.split("label only:\n").nth(1).unwrap_or_default();
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines, split.seen_labels());
    for unseen in split.test_labels() {
        assert!(!lines.contains(&unseen), "{unseen} leaked into training");
        assert!(recs.iter().all(|r| r.answer() != Some(unseen)));
    }
    // Evaluation: unseen test-subject samples, candidates = unseen labels.
    let test = mqa_test_records(&split, &ntu60_samples(), &BuildOptions::default())?;
    assert_eq!(test.len(), 5);
    assert!(test.iter().all(|r| r.id.contains("P003")));
    assert!(test[0].question().unwrap_or_default().ends_with(
        "label only:\nreading\nwriting\nput on hat/cap\njump up\ntouch someone's pocket"
    ));
    let sys = BuildOptions {
        num_frames: 3,
        system_turn: true,
    };
    let r = &mqa_records(&split, &ntu60_samples(), &sys)?[0];
    assert_eq!(r.system(), Some(SYSTEM_PROMPT));
    assert_eq!(
        r.question().unwrap_or_default().matches("<image>").count(),
        3
    );
    let zero = BuildOptions {
        num_frames: 0,
        system_turn: false,
    };
    assert!(matches!(
        mqa_records(&split, &ntu60_samples(), &zero),
        Err(DataError::Config(_))
    ));
    Ok(())
}

const NEGATIVES: &str = r#"{
  "reading": ["writing", "play with phone/tablet", "type on keyboard"],
  "writing": ["reading", "type on keyboard"],
  "drink water": ["eat food", "brush teeth", "phone call", "wipe face", "sneezing/cough"],
  "clapping": ["writing", "reading"]
}"#;

#[test]
fn discft_balanced_seen_only_and_deterministic() -> Result<()> {
    let split = ZeroShotSplit::parse("ntu60_55_cs")?; // reading (11) and writing (12) unseen
    let neg = HardNegatives::from_json_str(NEGATIVES, Path::new("neg.json"), NtuDataset::Ntu60)?;
    let opts = BuildOptions::default();
    let samples: Vec<NtuSample> = (0..40)
        .map(|p| sample(1, 1, [1, 2, 4, 5][p % 4], [1, 10, 11, 30][p / 10]))
        .chain((1..=5).map(|r| NtuSample {
            replication: r,
            ..sample(2, 1, 1, 1)
        }))
        .collect();
    let (recs, stats) = discft_records(&split, &samples, &neg, &opts, 7)?;
    // Action 11 is unseen; action 10 (clapping) has only unseen negatives; 30 has no entry.
    assert_eq!(stats.yes, 4 + 4 + 4 + 5);
    assert_eq!(stats.no, 4 + 5);
    assert_eq!(stats.without_negative, 8);
    assert_eq!(recs.len(), stats.yes + stats.no);
    for r in &recs {
        let q = r.question().unwrap_or_default();
        assert!(!q.contains("'reading'") && !q.contains("'writing'"), "{q}");
        assert_eq!(q.matches("<image>").count(), 12);
        let yes = r.id.ends_with("_pos");
        assert_eq!(r.answer(), Some(if yes { "YES" } else { "NO" }));
        if let Some(stem) = r.id.strip_suffix("_neg") {
            let s = NtuSample::parse(stem)?;
            assert_eq!(s.action, 1);
            let asked = q.split('\'').nth(1).unwrap_or_default();
            assert!(neg.of("drink water").iter().any(|n| n == asked), "{asked}");
        }
    }
    let again = discft_records(&split, &samples, &neg, &opts, 7)?;
    assert_eq!(again.0, recs);
    let mut reversed = samples.clone();
    reversed.reverse();
    assert_eq!(discft_records(&split, &reversed, &neg, &opts, 7)?.0, recs);
    let other = (0..20u64)
        .map(|seed| discft_records(&split, &samples, &neg, &opts, seed).map(|r| r.0))
        .collect::<Result<Vec<_>>>()?;
    assert!(other.iter().any(|o| *o != recs), "seed has no effect");
    let wrong = HardNegatives::from_json_str("{}", Path::new("n"), NtuDataset::Ntu120)?;
    assert!(discft_records(&split, &samples, &wrong, &opts, 0).is_err());
    Ok(())
}

#[test]
fn crdistill_rejects_wrong_or_missing_labels() -> Result<()> {
    let split = ZeroShotSplit::parse("ntu60_48_cs")?;
    let rows = [
        r#"{"id": "S001C001P001R001A001", "label": "drink water", "rationale": "The right hand rises to the mouth.\nLabel: drink water\n"}"#,
        r#"{"id": "S001C001P001R001A002", "rationale": "Hand to mouth repeatedly.\nlabel: Eat Food."}"#,
        r#"{"id": "S001C001P002R001A003", "label": "brush teeth", "rationale": "Hand near mouth.\nLabel: drink water"}"#,
        r#"{"id": "S001C001P001R001A005", "label": "drop something", "rationale": "Label: drop something\nThe arm lowers."}"#,
        r#"{"id": "S001C001P001R001A004", "label": "brush hair", "rationale": "x\nLabel: brush hair"}"#,
        r#"{"id": "S001C001P003R001A001", "label": "drink water", "rationale": "x\nLabel: drink water"}"#,
        r#"{"id": "S001C001P001R001A007", "label": "drink water", "rationale": "x\nLabel: throw"}"#,
    ];
    let dir = tempfile::tempdir().map_err(|e| DataError::Config(e.to_string()))?;
    let path = dir.path().join("teacher.jsonl");
    std::fs::write(&path, rows.join("\n")).map_err(|e| DataError::Config(e.to_string()))?;
    let rationales = read_rationales(&path)?;
    let (recs, stats) = crdistill_records(&split, &rationales, &BuildOptions::default())?;
    assert_eq!(
        stats,
        CrDistillStats {
            written: 2,
            label_mismatch: 2,
            missing_label: 1,
            not_in_split: 2,
        }
    );
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].id, "S001C001P001R001A001");
    assert_eq!(
        recs[0].answer(),
        Some("The right hand rises to the mouth.\nLabel: drink water")
    );
    let q = recs[0].question().unwrap_or_default();
    assert!(!q.contains("drink water"));
    assert!(q.ends_with("formatted as 'Label: <action>'."));
    std::fs::write(
        &path,
        "{\"id\": \"S001C001P001R001A001\", \"rationale\": 3}\n",
    )
    .map_err(|e| DataError::Config(e.to_string()))?;
    let err = read_rationales(&path)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("teacher.jsonl:1: "), "{err}");
    std::fs::write(&path, "\n{\"id\": \"nope\", \"rationale\": \"x\"}\n")
        .map_err(|e| DataError::Config(e.to_string()))?;
    let err = read_rationales(&path)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("teacher.jsonl:2: ") && err.contains("nope"),
        "{err}"
    );
    Ok(())
}

#[test]
fn jsonl_round_trip_and_atomic_write() -> Result<()> {
    let split = ZeroShotSplit::parse("ntu60_48_cs")?;
    let mut recs = mqa_records(&split, &ntu60_samples(), &BuildOptions::default())?;
    recs[0]
        .extra
        .insert("length".into(), serde_json::Value::from(321));
    let dir = tempfile::tempdir().map_err(|e| DataError::Config(e.to_string()))?;
    let path = dir.path().join("new/sub/mqa.jsonl");
    write_conversations(&path, &recs)?;
    let text = std::fs::read_to_string(&path).map_err(|e| DataError::Config(e.to_string()))?;
    assert_eq!(text.lines().count(), recs.len());
    assert!(text.starts_with(
        "{\"id\": \"S001C001P001R001A001\", \"image\": \"S001C001P001R001A001.skeleton\", \
         \"conversations\": [{\"from\": \"human\", \"value\": \"Frame1: <image>\\nFrame2:"
    ));
    assert_eq!(read_conversations(&path)?, recs);
    let leftovers = std::fs::read_dir(dir.path().join("new/sub"))
        .map_err(|e| DataError::Config(e.to_string()))?
        .count();
    assert_eq!(leftovers, 1);
    write_conversations(&path, &recs[..2])?;
    assert_eq!(read_conversations(&path)?.len(), 2);
    let missing = read_conversations(&dir.path().join("absent.jsonl"));
    assert!(matches!(missing, Err(DataError::Io { .. })));
    Ok(())
}

#[test]
fn scan_dir_finds_ntu_files_sorted() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| DataError::Config(e.to_string()))?;
    for name in [
        "S002C001P001R001A001.skeleton",
        "S001C001P001R001A002.skeleton",
        "readme.txt",
        "junk.skeleton",
    ] {
        std::fs::write(dir.path().join(name), "").map_err(|e| DataError::Config(e.to_string()))?;
    }
    let found = scan_skeleton_dir(dir.path())?;
    let ids: Vec<String> = found.iter().map(NtuSample::id).collect();
    assert_eq!(ids, ["S001C001P001R001A002", "S002C001P001R001A001"]);
    Ok(())
}

#[test]
fn parse_answer_against_split_labels() -> Result<()> {
    let split = ZeroShotSplit::parse("ntu120_110_cs")?;
    let labels = split.test_labels();
    assert_eq!(labels.len(), 10);
    assert_eq!(parse_answer("Salute", &labels), Some(2));
    assert_eq!(
        parse_answer("The person is doing: cross arms.", &labels),
        Some(7)
    );
    assert_eq!(parse_answer("drink water", &labels), None);
    Ok(())
}

fn loader(cfg: LoaderConfig) -> Result<DataLoader<u32, (usize, u32)>> {
    DataLoader::new((100..137).collect(), cfg, |i, &x| Ok((i, x * 2)))
}

type Seen = Vec<(u64, usize, Vec<(usize, u32)>)>;

fn run(
    l: &mut DataLoader<u32, (usize, u32)>,
    until_epoch: u64,
    stop: Option<LoaderPosition>,
) -> Result<Seen> {
    let mut out = Vec::new();
    while l.position().epoch < until_epoch {
        let mut batches = l.epoch()?;
        while let Some(b) = batches.next() {
            let b = b?;
            out.push((b.epoch, b.index, b.items));
            if Some(batches.position()) == stop {
                return Ok(out);
            }
        }
    }
    Ok(out)
}

#[test]
fn loader_resume_yields_exactly_the_remaining_batches() -> Result<()> {
    for (workers, drop_last) in [(0, false), (3, true), (2, false)] {
        let cfg = LoaderConfig {
            batch_size: 5,
            shuffle: true,
            drop_last,
            seed: 42,
            num_workers: workers,
            prefetch: 2,
        };
        let full = run(&mut loader(cfg)?, 3, None)?;
        let per_epoch = loader(cfg)?.batches_per_epoch();
        assert_eq!(full.len(), 3 * per_epoch);
        for stop in [
            LoaderPosition { epoch: 0, batch: 1 },
            LoaderPosition { epoch: 1, batch: 3 },
            LoaderPosition { epoch: 2, batch: 0 },
        ] {
            let mut first = loader(cfg)?;
            let head = run(&mut first, 3, Some(stop))?;
            assert_eq!(first.position(), stop);
            // A fresh process: new loader, seek to the saved position.
            let saved = serde_json::to_string(&first.position())
                .map_err(|e| DataError::Config(e.to_string()))?;
            let pos: LoaderPosition =
                serde_json::from_str(&saved).map_err(|e| DataError::Config(e.to_string()))?;
            let mut resumed = loader(cfg)?;
            resumed.seek(pos)?;
            let tail = run(&mut resumed, 3, None)?;
            let mut joined = head.clone();
            joined.extend(tail);
            assert_eq!(joined, full, "workers {workers} stop {stop:?}");
        }
        // Items are mapped with their own index, and each epoch is a permutation.
        for (_, _, items) in &full {
            assert!(items.iter().all(|&(i, v)| v == (100 + i as u32) * 2));
        }
        let mut l = loader(cfg)?;
        assert!(
            l.seek(LoaderPosition {
                epoch: 0,
                batch: per_epoch + 1
            })
            .is_err()
        );
        l.seek(LoaderPosition {
            epoch: 4,
            batch: per_epoch,
        })?;
        assert_eq!(l.position(), LoaderPosition { epoch: 5, batch: 0 });
    }
    Ok(())
}
