//! `draction`'s own JSON skeleton format, and the authors' `{"skeletons": [T, J, 3]}` JSON.
//!
//! Our format (`"format": "draction-skeleton-v1"`):
//!
//! ```json
//! {"format": "draction-skeleton-v1", "layout": "ntu25", "fps": 30.0,
//!  "frames": [[[[0.1, 0.2, 3.1], null, …], …], …]}
//! ```
//!
//! `frames` is `[T][P][J]` of `[x, y, z]` or `null` for a missing joint; a frame may list fewer
//! bodies than others (the rest are absent). Layouts not in the registry (BVH hierarchies) carry
//! `"joints"` (names) and `"parents"` (index or null). The authors' HumanML3D JSON has only
//! `"skeletons"`, `[T, J, 3]`; its layout is guessed from `J` (22 → `smpl22`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ParseError, Result, read_text};
use crate::layout::Layout;
use crate::skeleton::{Format, Skeleton, Source};

/// The `format` tag of our JSON files.
pub const FORMAT_TAG: &str = "draction-skeleton-v1";

/// The [`Source::meta`] key holding the format a JSON skeleton was converted from.
pub const SOURCE_FORMAT_KEY: &str = "source_format";

/// `[frames][persons][joints]` of optional points.
type Frames = Vec<Vec<Vec<Option<[f32; 3]>>>>;

#[derive(Debug, Serialize, Deserialize)]
struct JsonSkeleton {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    layout: Option<String>,
    #[serde(default)]
    fps: Option<f32>,
    /// The format the skeleton was first read from (`bvh`, `deepmimic`, …), kept by `convert`
    /// so that units and facing are normalised as for the original.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    joints: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parents: Option<Vec<Option<usize>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    frames: Option<Frames>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    skeletons: Option<Vec<Vec<[f32; 3]>>>,
}

/// Reads our JSON or the authors' `{"skeletons": …}` JSON. `layout` overrides the file's.
pub fn read(path: &Path, layout: Option<Layout>) -> Result<Skeleton> {
    let text = read_text(path)?;
    parse(path, &text, layout)
}

/// Parses JSON text read from `path`.
pub fn parse(path: &Path, text: &str, layout: Option<Layout>) -> Result<Skeleton> {
    if text.trim_start().starts_with('[') {
        let what = if text.split_whitespace().collect::<String>() == "[]" {
            "an empty JSON array: no frames"
        } else {
            "a JSON array at the top level"
        };
        return Err(ParseError::file(
            path,
            format!(
                "{what}; expected an object with \"frames\" ({FORMAT_TAG}) or \"skeletons\" \
                 [T, J, 3]"
            ),
        )
        .into());
    }
    let doc: JsonSkeleton = serde_json::from_str(text)
        .map_err(|e| ParseError::at(path, e.line().max(1), e.to_string()))?;
    let err = |m: String| -> crate::Error { ParseError::file(path, m).into() };
    if let Some(tag) = &doc.format
        && tag != FORMAT_TAG
    {
        return Err(err(format!(
            "unknown format tag '{tag}' (expected '{FORMAT_TAG}')"
        )));
    }
    // Normalise both flavours to [T][P][J] of optional points.
    let frames: Frames = match (doc.frames, doc.skeletons) {
        (Some(f), _) => f,
        (None, Some(s)) => s
            .into_iter()
            .map(|joints| vec![joints.into_iter().map(Some).collect()])
            .collect(),
        (None, None) => return Err(err("no \"frames\" or \"skeletons\" field".into())),
    };
    let joints_in_data = frames.iter().flatten().map(Vec::len).next();
    let layout = match (layout, doc.layout.as_deref(), doc.joints, doc.parents) {
        (Some(l), ..) => l,
        (None, Some(name), Some(joints), Some(parents)) if Layout::builtin(name).is_err() => {
            if joints.len() > super::MAX_HIERARCHY_JOINTS {
                return Err(err(format!(
                    "\"joints\" lists {} joints, more than {}",
                    joints.len(),
                    super::MAX_HIERARCHY_JOINTS
                )));
            }
            Layout::from_hierarchy(name, joints, parents).map_err(|e| err(e.to_string()))?
        }
        (None, Some(name), ..) => Layout::builtin(name).map_err(|e| err(e.to_string()))?,
        (None, None, ..) => {
            let j = joints_in_data
                .ok_or_else(|| err("no joints in any frame and no \"layout\"".into()))?;
            let name = Layout::guess_from_joint_count(j)
                .ok_or_else(|| err(format!("no built-in layout has {j} joints; add \"layout\"")))?;
            Layout::builtin(name)?
        }
    };
    let j = layout.num_joints();
    let t = frames.len();
    let p = frames.iter().map(Vec::len).max().unwrap_or(0);
    super::check_dense_size(path, None, [t, p, j], text.len())?;
    let mut pos = vec![0.0f32; t * p * j * 3];
    let mut valid = vec![false; t * p * j];
    for (ti, bodies) in frames.iter().enumerate() {
        for (pi, body) in bodies.iter().enumerate() {
            if body.len() != j {
                return Err(err(format!(
                    "frame {} body {} has {} joints, layout {} has {j}",
                    ti + 1,
                    pi + 1,
                    body.len(),
                    layout.name
                )));
            }
            for (ji, joint) in body.iter().enumerate() {
                if let Some(xyz) = joint {
                    let i = (ti * p + pi) * j + ji;
                    valid[i] = true;
                    pos[i * 3..i * 3 + 3].copy_from_slice(xyz);
                }
            }
        }
    }
    // As for BVH and DeepMimic: a zero rate is unknown, a negative or infinite one an error.
    let fps = match doc.fps {
        Some(f) if f < 0.0 || !f.is_finite() => {
            return Err(err(format!("\"fps\" must be a positive number, found {f}")));
        }
        f => f.filter(|&f| f > 0.0),
    };
    let skel = Skeleton::new(pos, valid, t, p, layout)?;
    let mut meta = std::collections::BTreeMap::new();
    if let Some(original) = doc.source_format.as_deref().and_then(Format::from_name) {
        meta.insert(SOURCE_FORMAT_KEY.to_string(), original.name().to_string());
    }
    Ok(skel.with_fps(fps).with_source(Source {
        format: Some(Format::Json),
        path: Some(path.to_path_buf()),
        meta,
    }))
}

/// The format `skel` was first read from: its source format, or for a JSON file the format that
/// file was converted from (`None` when unknown).
pub fn original_format(skel: &Skeleton) -> Option<Format> {
    match skel.source.format {
        Some(Format::Json) => skel
            .source
            .meta
            .get(SOURCE_FORMAT_KEY)
            .and_then(|n| Format::from_name(n))
            .or(Some(Format::Json)),
        other => other,
    }
}

/// Writes a skeleton as our JSON (missing joints as `null`).
pub fn write(skel: &Skeleton, path: &Path) -> Result<()> {
    let [t, p, j] = skel.dims();
    let frames = (0..t)
        .map(|ti| {
            (0..p)
                .map(|pi| {
                    (0..j)
                        .map(|ji| skel.is_valid(ti, pi, ji).then(|| skel.position(ti, pi, ji)))
                        .collect()
                })
                .collect()
        })
        .collect();
    let layout = skel.layout();
    let builtin = Layout::builtin(&layout.name).is_ok_and(|b| &b == layout);
    let doc = JsonSkeleton {
        format: Some(FORMAT_TAG.to_string()),
        layout: Some(layout.name.clone()),
        fps: skel.fps,
        source_format: original_format(skel)
            .filter(|&f| f != Format::Json)
            .map(|f| f.name().to_string()),
        joints: (!builtin).then(|| layout.joints.clone()),
        parents: (!builtin).then(|| layout.parents.clone()),
        frames: Some(frames),
        skeletons: None,
    };
    let text = serde_json::to_string(&doc).map_err(|e| crate::Error::Invalid(e.to_string()))?;
    crate::io::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_missing_joints_and_bvh_layout() {
        let layout = Layout::from_hierarchy(
            "bvh",
            vec!["Hips".into(), "LeftUpLeg".into(), "LeftLeg".into()],
            vec![None, Some(0), Some(1)],
        )
        .unwrap();
        let mut valid = vec![true; 6];
        valid[4] = false;
        let s = Skeleton::new((0..18).map(|i| i as f32).collect(), valid, 2, 1, layout)
            .unwrap()
            .with_fps(Some(120.0));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        write(&s, &p).unwrap();
        let back = read(&p, None).unwrap();
        assert_eq!(back.positions(), s.positions());
        assert_eq!(back.valid(), s.valid());
        assert_eq!(back.layout(), s.layout());
        assert_eq!(back.fps, Some(120.0));
    }

    #[test]
    fn authors_skeletons_json_is_smpl22() {
        let joints: Vec<String> = (0..22).map(|j| format!("[{j}, 1, 2]")).collect();
        let text = format!(
            "{{\"skeletons\": [[{}], [{}]]}}",
            joints.join(","),
            joints.join(",")
        );
        let s = parse(Path::new("h.json"), &text, None).unwrap();
        assert_eq!(s.layout().name, "smpl22");
        assert_eq!(s.dims(), [2, 1, 22]);
        assert_eq!(s.position(1, 0, 5), [5.0, 1.0, 2.0]);
    }

    #[test]
    fn uneven_bodies_are_padded() {
        let body = |v: f32| format!("[{}]", vec![format!("[{v},{v},{v}]"); 17].join(","));
        let text = format!(
            "{{\"layout\": \"coco17\", \"frames\": [[{}], [{}, {}]]}}",
            body(1.0),
            body(2.0),
            body(3.0)
        );
        let s = parse(Path::new("x.json"), &text, None).unwrap();
        assert_eq!(s.dims(), [2, 2, 17]);
        assert!(!s.body_present(0, 1));
        assert_eq!(s.position(1, 1, 0), [3.0; 3]);
    }

    #[test]
    fn crowded_frame_among_many_empty_ones_is_an_error_not_an_allocation() {
        // 100 KB: a one-joint layout, one frame of 10000 bodies and 10000 empty frames used to
        // expand to [10001, 10000, 1] (1.2 GB).
        let text = format!(
            "{{\"layout\": \"bvh\", \"joints\": [\"a\"], \"parents\": [null], \"frames\": [[{}]{}]}}",
            vec!["[null]"; 10000].join(","),
            ",[]".repeat(10000)
        );
        let e = parse(Path::new("bad.json"), &text, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("bad.json: 10001 frames × 10000 bodies × 1 joints is too large"),
            "{e}"
        );
    }

    #[test]
    fn huge_hierarchy_is_an_error_not_a_hang() {
        // A 100000-joint chain (1 MB) took 11 s to check.
        let chain = |n: usize| {
            let parents: Vec<String> = (0..n)
                .map(|i| i.checked_sub(1).map_or("null".into(), |p| p.to_string()))
                .collect();
            format!(
                "{{\"layout\": \"chain\", \"joints\": [{}], \"parents\": [{}], \"frames\": []}}",
                vec!["\"a\""; n].join(","),
                parents.join(",")
            )
        };
        let e = parse(Path::new("bad.json"), &chain(100_000), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("bad.json: \"joints\" lists 100000 joints, more than 10000"),
            "{e}"
        );
        let s = parse(Path::new("ok.json"), &chain(10_000), None).unwrap();
        assert_eq!(s.dims(), [0, 0, 10_000]);
    }

    #[test]
    fn fps_must_be_positive_and_finite() {
        let doc = |fps: &str| {
            format!(
                "{{\"layout\": \"coco17\", \"fps\": {fps}, \"frames\": [[[{}]]]}}",
                vec!["null"; 17].join(",")
            )
        };
        let fps = |v: &str| parse(Path::new("f.json"), &doc(v), None).map(|s| s.fps);
        assert_eq!(fps("25").unwrap(), Some(25.0));
        assert_eq!(fps("0").unwrap(), None);
        assert_eq!(fps("null").unwrap(), None);
        for bad in ["-30", "1e39"] {
            let e = fps(bad).unwrap_err().to_string();
            assert!(
                e.starts_with("f.json: \"fps\" must be a positive number"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn errors() {
        let p = Path::new("bad.json");
        let e = parse(p, "{\n\"frames\": [[[1, 2]]]\n}", None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("bad.json:2:"), "{e}");
        let e = parse(p, "{}", None).unwrap_err().to_string();
        assert!(e.contains("no \"frames\""), "{e}");
        let e = parse(
            p,
            "{\"layout\": \"ntu25\", \"frames\": [[[[1,2,3]]]]}",
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("has 1 joints, layout ntu25 has 25"), "{e}");
        let e = parse(p, "{\"layout\": \"zzz\", \"frames\": []}", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown layout"), "{e}");
        let e = parse(p, "{\"format\": \"other\", \"frames\": []}", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown format tag"), "{e}");
    }
}
