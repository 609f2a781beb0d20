//! OpenPose per-frame JSON (`people[].pose_keypoints_2d`, 18 or 25 keypoints as `x y c`).
//!
//! A folder is read as one clip: its `*.json` files sorted by name are the frames. A single
//! file is a one-frame clip. A keypoint is present iff its confidence is > 0; coordinates are
//! pixels (y down) with z = 0. `persons` is the largest number of people in any frame.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, ParseError, Result, read_text};
use crate::layout::Layout;
use crate::skeleton::{Format, Skeleton, Source};

#[derive(Deserialize)]
struct Frame {
    #[serde(default)]
    people: Vec<Person>,
}

#[derive(Deserialize)]
struct Person {
    #[serde(default)]
    pose_keypoints_2d: Vec<f32>,
}

/// One parsed frame: per person, per joint, `Some([x, y])` when present.
type People = Vec<Vec<Option<[f32; 2]>>>;

/// Reads an OpenPose folder (or a single frame file).
pub fn read(path: &Path) -> Result<Skeleton> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut v: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("json"))
            })
            .collect();
        v.sort();
        if v.is_empty() {
            return Err(ParseError::file(path, "folder holds no OpenPose .json files").into());
        }
        v
    } else {
        vec![path.to_path_buf()]
    };
    let mut frames: Vec<People> = Vec::with_capacity(files.len());
    let mut joints: Option<(usize, PathBuf)> = None;
    let mut input_len = 0usize;
    for file in &files {
        let text = read_text(file)?;
        input_len = input_len.saturating_add(text.len());
        let frame: Frame = serde_json::from_str(&text)
            .map_err(|e| ParseError::at(file, e.line().max(1), e.to_string()))?;
        let mut people = Vec::with_capacity(frame.people.len());
        for (i, person) in frame.people.iter().enumerate() {
            let kp = &person.pose_keypoints_2d;
            if kp.is_empty() {
                people.push(Vec::new());
                continue;
            }
            if kp.len() % 3 != 0 || !(kp.len() == 54 || kp.len() == 75) {
                return Err(ParseError::file(
                    file,
                    format!("person {} has {} pose numbers; expected 54 (18 × x,y,c) or 75 (25 × x,y,c)", i + 1, kp.len()),
                )
                .into());
            }
            let n = kp.len() / 3;
            match &joints {
                Some((j, first)) if *j != n => {
                    return Err(ParseError::file(
                        file,
                        format!("{n} keypoints, but {} has {j}", first.display()),
                    )
                    .into());
                }
                _ => joints = Some((n, file.clone())),
            }
            people.push(
                kp.chunks_exact(3)
                    .map(|c| (c[2] > 0.0).then_some([c[0], c[1]]))
                    .collect(),
            );
        }
        frames.push(people);
    }
    let j = joints.map(|(j, _)| j).unwrap_or(25);
    let layout = Layout::builtin(if j == 18 { "openpose18" } else { "openpose25" })?;
    let t = frames.len();
    let p = frames.iter().map(Vec::len).max().unwrap_or(0);
    super::check_dense_size(path, None, [t, p, j], input_len)?;
    let mut pos = vec![0.0f32; t * p * j * 3];
    let mut valid = vec![false; t * p * j];
    for (ti, people) in frames.iter().enumerate() {
        for (pi, person) in people.iter().enumerate() {
            for (ji, kp) in person.iter().enumerate() {
                if let Some([x, y]) = kp {
                    let i = (ti * p + pi) * j + ji;
                    valid[i] = true;
                    pos[i * 3] = *x;
                    pos[i * 3 + 1] = *y;
                }
            }
        }
    }
    let skel = Skeleton::new(pos, valid, t, p, layout)?;
    Ok(skel.with_source(Source {
        format: Some(Format::OpenPose),
        path: Some(path.to_path_buf()),
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(n: usize, v: f32, missing: usize) -> String {
        let kp: Vec<String> = (0..n)
            .map(|j| {
                if j == missing {
                    "0,0,0".into()
                } else {
                    format!("{},{},0.9", v + j as f32, v)
                }
            })
            .collect();
        format!(
            "{{\"person_id\":[-1],\"pose_keypoints_2d\":[{}]}}",
            kp.join(",")
        )
    }

    #[test]
    fn folder_of_frames() {
        let dir = tempfile::tempdir().unwrap();
        let f = |i: usize, people: Vec<String>| {
            let text = format!("{{\"version\":1.3,\"people\":[{}]}}", people.join(","));
            std::fs::write(
                dir.path().join(format!("clip_{i:012}_keypoints.json")),
                text,
            )
            .unwrap();
        };
        f(0, vec![person(25, 10.0, 3)]);
        f(1, vec![]);
        f(2, vec![person(25, 20.0, 99), person(25, 30.0, 0)]);
        let s = read(dir.path()).unwrap();
        assert_eq!(s.layout().name, "openpose25");
        assert_eq!(s.dims(), [3, 2, 25]);
        assert!(!s.is_valid(0, 0, 3));
        assert_eq!(s.position(0, 0, 4), [14.0, 10.0, 0.0]);
        assert!(!s.body_present(1, 0));
        assert!(!s.is_valid(2, 1, 0));
        assert_eq!(s.position(2, 1, 1), [31.0, 30.0, 0.0]);
    }

    #[test]
    fn crowded_frame_among_many_empty_ones_is_an_error_not_an_allocation() {
        // 3000 empty frames and one of 3000 people (42 KB in all) used to expand to
        // [3001, 3000, 25] (2.6 GB).
        let dir = tempfile::tempdir().unwrap();
        for i in 0..3000 {
            std::fs::write(dir.path().join(format!("f{i:05}.json")), "{\"people\":[]}").unwrap();
        }
        let crowd = format!("{{\"people\":[{}]}}", vec!["{}"; 3000].join(","));
        std::fs::write(dir.path().join("f99999.json"), crowd).unwrap();
        let e = read(dir.path()).unwrap_err().to_string();
        assert!(e.contains(&dir.path().display().to_string()), "{e}");
        assert!(
            e.contains("3001 frames × 3000 bodies × 25 joints is too large"),
            "{e}"
        );
    }

    #[test]
    fn bad_counts() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        std::fs::write(&a, "{\"people\":[{\"pose_keypoints_2d\":[1,2,3,4]}]}").unwrap();
        let e = read(&a).unwrap_err().to_string();
        assert!(
            e.contains("a.json") && e.contains("has 4 pose numbers"),
            "{e}"
        );
        std::fs::write(&a, format!("{{\"people\":[{}]}}", person(18, 1.0, 0))).unwrap();
        let b = dir.path().join("b.json");
        std::fs::write(&b, format!("{{\"people\":[{}]}}", person(25, 1.0, 0))).unwrap();
        let e = read(dir.path()).unwrap_err().to_string();
        assert!(e.contains("b.json") && e.contains("25 keypoints"), "{e}");
        std::fs::write(&a, "{\"people\": 3}").unwrap();
        assert!(read(&a).unwrap_err().to_string().contains("a.json:1:"));
        let empty = tempfile::tempdir().unwrap();
        assert!(
            read(empty.path())
                .unwrap_err()
                .to_string()
                .contains("no OpenPose")
        );
    }
}
