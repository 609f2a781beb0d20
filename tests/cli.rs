//! The CLI contract (README, "CLI") for `inspect`, `export-joints` and `convert`, on the bundled
//! real clips and on files written here from the format specs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use draction::io::npy::{read_array, write_array};
use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_skeletonllm"))
}

fn asset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/samples")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run skeletonllm")
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "skeletonllm {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn inspect(args: &[&str]) -> Value {
    let mut a = vec!["inspect"];
    a.extend_from_slice(args);
    let text = ok(&a);
    assert_eq!(
        text.trim().lines().count(),
        1,
        "one JSON object on one line: {text}"
    );
    serde_json::from_str(&text).unwrap()
}

/// An NTU body block: 10 body-info numbers, the joint count, 12 numbers per joint.
fn ntu_body(nj: usize, x0: f32) -> String {
    let mut s = String::from("72057594037931101 0 1 1 1 1 0 -0.1 0.2 2\r\n");
    s += &format!("{nj}\r\n");
    for j in 0..nj {
        s += &format!(
            "{} 0.5 3.2 100 200 300 400 0.5 0.5 0.5 0.5 2\r\n",
            x0 + j as f32 * 0.01
        );
    }
    s
}

#[test]
fn inspect_bundled_bvh_and_deepmimic() {
    let v = inspect(&[asset("cmu_01_01.bvh").to_str().unwrap()]);
    assert_eq!(v["format"], "bvh");
    assert_eq!(v["layout"], "bvh");
    assert_eq!(v["frames"], 150);
    assert_eq!(v["persons"], 1);
    assert_eq!(v["joints"], 31);
    assert!((v["fps"].as_f64().unwrap() - 15.0).abs() < 1e-3);
    let v = inspect(&[asset("deepmimic_walk.txt").to_str().unwrap()]);
    assert_eq!(v["format"], "deepmimic");
    assert_eq!(v["layout"], "deepmimic15");
    assert_eq!(v["joints"], 15);
    assert_eq!(v["persons"], 1);
}

#[test]
fn ntu_bodies_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("S001C002P003R002A010.skeleton");
    // 3 frames: one body; no body; three bodies (the third has 20 joints).
    let text = format!(
        "3\r\n1\r\n{}0\r\n3\r\n{}{}{}",
        ntu_body(25, 0.1),
        ntu_body(25, 0.2),
        ntu_body(25, 0.3),
        ntu_body(20, 0.4)
    );
    std::fs::write(&file, text).unwrap();
    let f = file.to_str().unwrap();
    let v = inspect(&[f]);
    assert_eq!(v["format"], "ntu");
    assert_eq!(v["layout"], "ntu25");
    assert_eq!(
        (
            v["frames"].as_u64(),
            v["persons"].as_u64(),
            v["joints"].as_u64()
        ),
        (Some(3), Some(3), Some(25))
    );
    assert_eq!(v["fps"], 30.0);
    assert_eq!(v["meta"]["action"], "10");

    let out = dir.path().join("j.npy");
    ok(&["export-joints", f, "--out", out.to_str().unwrap()]);
    let (shape, data) = read_array(&out).unwrap();
    assert_eq!(shape, vec![3, 3, 25, 3]);
    let at = |t: usize, p: usize, j: usize, c: usize| data[((t * 3 + p) * 25 + j) * 3 + c];
    assert!((at(0, 0, 2, 0) - 0.12).abs() < 1e-6);
    assert_eq!(at(0, 1, 0, 2), 0.0); // absent body = zeros
    assert!(data[(3 * 25) * 3..2 * 3 * 25 * 3].iter().all(|&x| x == 0.0)); // empty frame
    assert!((at(2, 2, 19, 2) - 3.2).abs() < 1e-6);
    assert_eq!(at(2, 2, 20, 2), 0.0); // joints past nj

    let two = dir.path().join("two.npy");
    ok(&[
        "export-joints",
        f,
        "--max-bodies",
        "2",
        "--out",
        two.to_str().unwrap(),
    ]);
    assert_eq!(read_array(&two).unwrap().0, vec![3, 2, 25, 3]);
}

#[test]
fn humanml3d_npy_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("000021.npy");
    write_array(&file, &[7, 22, 3], &vec![0.25; 7 * 22 * 3]).unwrap();
    let v = inspect(&[file.to_str().unwrap()]);
    assert_eq!(v["format"], "humanml3d");
    assert_eq!(v["layout"], "smpl22");
    assert_eq!(v["fps"], 20.0);
    let generic = dir.path().join("g.npy");
    write_array(&generic, &[4, 2, 17, 3], &vec![1.0; 4 * 2 * 17 * 3]).unwrap();
    let v = inspect(&[generic.to_str().unwrap()]);
    assert_eq!(
        (
            v["format"].as_str(),
            v["layout"].as_str(),
            v["persons"].as_u64()
        ),
        (Some("npy"), Some("coco17"), Some(2))
    );
    assert_eq!(v["fps"], Value::Null);
    let v = inspect(&[generic.to_str().unwrap(), "--layout", "h36m17"]);
    assert_eq!(v["layout"], "h36m17");
    let e = run(&[
        "inspect",
        generic.to_str().unwrap(),
        "--layout",
        "openpose18",
    ]);
    assert!(
        String::from_utf8_lossy(&e.stderr)
            .contains("layout openpose18 has 18 joints but the array has 17")
    );
}

#[test]
fn bvh_export_is_world_positions() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b.npy");
    let src = asset("cmu_01_01.bvh");
    ok(&[
        "export-joints",
        src.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let (shape, data) = read_array(&out).unwrap();
    assert_eq!(shape, vec![150, 1, 31, 3]);
    // Root (Hips, zero offset) = the first three channel values of each frame.
    let text = std::fs::read_to_string(&src).unwrap();
    let motion: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Frame Time"))
        .skip(1)
        .collect();
    for (t, line) in motion.iter().enumerate().take(150) {
        let v: Vec<f32> = line
            .split_whitespace()
            .take(3)
            .map(|x| x.parse().unwrap())
            .collect();
        for c in 0..3 {
            assert!((data[t * 31 * 3 + c] - v[c]).abs() < 1e-4, "frame {t}");
        }
    }
}

#[test]
fn convert_retargets_with_mask() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("walk_ntu.json");
    ok(&[
        "convert",
        asset("deepmimic_walk.txt").to_str().unwrap(),
        "--to",
        "ntu25",
        "--out",
        json.to_str().unwrap(),
    ]);
    let v = inspect(&[json.to_str().unwrap()]);
    assert_eq!(
        (
            v["format"].as_str(),
            v["layout"].as_str(),
            v["joints"].as_u64()
        ),
        (Some("json"), Some("ntu25"), Some(25))
    );
    // All 15 DeepMimic joints have an NTU counterpart; NTU's head, hands, feet, hand tips,
    // thumbs and spine shoulder have none in DeepMimic.
    let frac = v["valid_fraction"].as_f64().unwrap();
    assert!((frac - 15.0 / 25.0).abs() < 1e-6, "{frac}");
    let npy = dir.path().join("walk_coco.npy");
    ok(&[
        "convert",
        asset("deepmimic_walk.txt").to_str().unwrap(),
        "--to",
        "coco17",
        "--out",
        npy.to_str().unwrap(),
    ]);
    let (shape, data) = read_array(&npy).unwrap();
    assert_eq!(&shape[1..], &[1, 17, 3]);
    assert_eq!(&data[0..3], &[0.0, 0.0, 0.0]); // nose: missing → zeros
    let e = run(&[
        "convert",
        asset("deepmimic_walk.txt").to_str().unwrap(),
        "--to",
        "ntu99",
        "--out",
        npy.to_str().unwrap(),
    ]);
    assert!(!e.status.success());
    assert!(String::from_utf8_lossy(&e.stderr).contains("unknown layout 'ntu99'"));
}

#[test]
fn openpose_folder_and_coco_file() {
    let dir = tempfile::tempdir().unwrap();
    let op = dir.path().join("op");
    std::fs::create_dir(&op).unwrap();
    for i in 0..4 {
        let kp: Vec<String> = (0..18)
            .map(|j| format!("{},{},0.8", 100 + j + i, 200 + j))
            .collect();
        let text = format!(
            "{{\"version\":1.2,\"people\":[{{\"pose_keypoints_2d\":[{}]}}]}}",
            kp.join(",")
        );
        std::fs::write(op.join(format!("v_{i:012}_keypoints.json")), text).unwrap();
    }
    let v = inspect(&[op.to_str().unwrap()]);
    assert_eq!(
        (
            v["format"].as_str(),
            v["layout"].as_str(),
            v["frames"].as_u64()
        ),
        (Some("openpose"), Some("openpose18"), Some(4))
    );
    let coco = dir.path().join("person_keypoints_val.json");
    let kp: Vec<String> = (0..17)
        .map(|j| format!("{},{},2", 10 + j, 20 + j))
        .collect();
    std::fs::write(
        &coco,
        format!("{{\"images\":[{{\"id\":1}}],\"annotations\":[{{\"image_id\":1,\"keypoints\":[{}]}}],\"categories\":[]}}", kp.join(",")),
    )
    .unwrap();
    let v = inspect(&[coco.to_str().unwrap()]);
    assert_eq!(
        (
            v["format"].as_str(),
            v["layout"].as_str(),
            v["joints"].as_u64()
        ),
        (Some("coco"), Some("coco17"), Some(17))
    );
}

#[test]
fn bad_files_give_one_clean_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut junk = vec![0u8; 1024];
    let mut x: u32 = 12345;
    for b in junk.iter_mut() {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        *b = (x >> 24) as u8;
    }
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.skeleton", b"".to_vec(), "unexpected end of file"),
        ("trunc.skeleton", format!("2\n1\n{}", &ntu_body(25, 0.1)[..300]).into_bytes(), "more than the file can hold"),
        ("cut.skeleton", format!("2\n1\n{}1\n{}", ntu_body(25, 0.1), &ntu_body(25, 0.1)[..400]).into_bytes(), ""),
        ("word.skeleton", b"2 frames and more words here\n".to_vec(), "expected body count of frame 1 (an integer), found 'frames'"),
        ("neg.skeleton", b"1\n-2\n".to_vec(), "negative"),
        ("huge.skeleton", format!("1000000000\n{}", "0\n".repeat(400)).into_bytes(), "more than the file can hold"),
        ("random.skeleton", junk.clone(), ""),
        ("random.bin", junk, ""),
        ("chan.bvh", b"HIERARCHY\nROOT a\n{\nOFFSET 0 0 0\nCHANNELS 1 Wrotation\n}\nMOTION\nFrames: 1\nFrame Time: 0.1\n0\n".to_vec(), "Wrotation"),
        ("frames.bvh", b"HIERARCHY\nROOT a\n{\nOFFSET 0 0 0\nCHANNELS 1 Xrotation\nEnd Site\n{\nOFFSET 0 1 0\n}\n}\nMOTION\nFrames: 1000000000\nFrame Time: 0.1\n0\n".to_vec(), ""),
        ("hdr.npy", {
            let mut v = b"\x93NUMPY\x02\x00".to_vec();
            v.extend_from_slice(&u32::MAX.to_le_bytes());
            v.extend_from_slice(b"{'descr': '<f4'");
            v
        }, "header length"),
        ("bad.json", b"{\"frames\": [[[[1,2]]]]}".to_vec(), "bad.json:1:"),
        ("mimic.txt", b"{\"Loop\": \"wrap\", \"Frames\": [[1,2,3]]}".to_vec(), ""),
    ];
    for (name, bytes, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        for cmd in [
            vec!["inspect", path.to_str().unwrap()],
            vec![
                "export-joints",
                path.to_str().unwrap(),
                "--out",
                "/dev/null/x.npy",
            ],
        ] {
            let out = run(&cmd);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{name} {cmd:?}: {err}");
            assert!(!err.contains("panicked"), "{name}: {err}");
            assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
            assert!(
                err.starts_with("error: ") && err.contains(name),
                "{name}: {err}"
            );
            if cmd[0] == "inspect" {
                assert!(err.contains(want), "{name}: want '{want}' in {err}");
            }
        }
    }
    let out = run(&["inspect", dir.path().join("missing.bvh").to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.bvh"));
}
