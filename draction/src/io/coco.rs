//! COCO keypoint annotations (17 keypoints as `x y v`).
//!
//! Accepts a full annotation file (`{"images": […], "annotations": […]}`) or a results list
//! (`[{"image_id", "keypoints", "score"}, …]`). Frames are the images in ascending `id` (or, for
//! a results list, the image ids in ascending order); the people of a frame are its annotations
//! in file order. A keypoint is present iff `v > 0`; coordinates are pixels (y down), z = 0.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{ParseError, Result, read_text};
use crate::layout::Layout;
use crate::skeleton::{Format, Skeleton, Source};

#[derive(Deserialize)]
#[serde(untagged)]
enum Doc {
    Full {
        #[serde(default)]
        images: Vec<Image>,
        annotations: Vec<Annotation>,
    },
    Results(Vec<Annotation>),
}

#[derive(Deserialize)]
struct Image {
    id: u64,
}

#[derive(Deserialize)]
struct Annotation {
    image_id: u64,
    keypoints: Vec<f32>,
}

/// Reads a COCO keypoints JSON file.
pub fn read(path: &Path) -> Result<Skeleton> {
    let text = read_text(path)?;
    parse(path, &text)
}

/// Parses COCO JSON text read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<Skeleton> {
    let doc: Doc = serde_json::from_str(text).map_err(|e| {
        let msg = if e.is_data() {
            "not COCO keypoints: expected {\"annotations\": [...]} or a list of {\"image_id\", \"keypoints\"}".to_string()
        } else {
            e.to_string()
        };
        ParseError::at(path, e.line().max(1), msg)
    })?;
    let (images, anns) = match doc {
        Doc::Full {
            images,
            annotations,
        } => (
            images.into_iter().map(|i| i.id).collect::<Vec<_>>(),
            annotations,
        ),
        Doc::Results(a) => (Vec::new(), a),
    };
    let mut by_image: BTreeMap<u64, Vec<&Annotation>> =
        images.iter().map(|&id| (id, Vec::new())).collect();
    for (i, a) in anns.iter().enumerate() {
        if a.keypoints.len() != 51 {
            return Err(ParseError::file(
                path,
                format!(
                    "annotation {} has {} keypoint numbers; expected 51 (17 × x,y,v)",
                    i + 1,
                    a.keypoints.len()
                ),
            )
            .into());
        }
        by_image.entry(a.image_id).or_default().push(a);
    }
    let j = 17;
    let t = by_image.len();
    let p = by_image.values().map(Vec::len).max().unwrap_or(0);
    super::check_dense_size(path, None, [t, p, j], text.len())?;
    let mut pos = vec![0.0f32; t * p * j * 3];
    let mut valid = vec![false; t * p * j];
    let mut meta = BTreeMap::new();
    meta.insert(
        "image_ids".to_string(),
        by_image
            .keys()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(","),
    );
    for (ti, anns) in by_image.values().enumerate() {
        for (pi, a) in anns.iter().enumerate() {
            for (ji, kp) in a.keypoints.chunks_exact(3).enumerate() {
                if kp[2] > 0.0 {
                    let i = (ti * p + pi) * j + ji;
                    valid[i] = true;
                    pos[i * 3] = kp[0];
                    pos[i * 3 + 1] = kp[1];
                }
            }
        }
    }
    let skel = Skeleton::new(pos, valid, t, p, Layout::builtin("coco17")?)?;
    Ok(skel.with_source(Source {
        format: Some(Format::Coco),
        path: Some(path.to_path_buf()),
        meta,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kps(v: f32, hidden: usize) -> String {
        let k: Vec<String> = (0..17)
            .map(|j| {
                if j == hidden {
                    "0,0,0".into()
                } else {
                    format!("{},{},2", v + j as f32, v)
                }
            })
            .collect();
        format!("[{}]", k.join(","))
    }

    #[test]
    fn full_file_orders_images_by_id() {
        let text = format!(
            "{{\"images\":[{{\"id\":7}},{{\"id\":3}},{{\"id\":5}}],\"annotations\":[\
             {{\"image_id\":7,\"keypoints\":{}}},{{\"image_id\":3,\"keypoints\":{}}},{{\"image_id\":3,\"keypoints\":{}}}]}}",
            kps(70.0, 0),
            kps(30.0, 99),
            kps(31.0, 16)
        );
        let s = parse(Path::new("c.json"), &text).unwrap();
        assert_eq!(s.dims(), [3, 2, 17]);
        assert_eq!(s.position(0, 1, 0), [31.0, 31.0, 0.0]);
        assert!(!s.is_valid(0, 1, 16));
        assert!(!s.body_present(1, 0)); // image 5: no annotations
        assert!(!s.is_valid(2, 0, 0));
        assert_eq!(s.source.meta["image_ids"], "3,5,7");
    }

    #[test]
    fn many_images_times_a_crowded_one_is_an_error_not_an_allocation() {
        // 98 KB: 5000 images, 300 annotations on one of them, used to expand to
        // [5000, 300, 17] (0.3 GB).
        let images: Vec<String> = (0..5000).map(|i| format!("{{\"id\":{i}}}")).collect();
        let ann = format!(
            "{{\"image_id\":0,\"keypoints\":[{}]}}",
            vec!["0"; 51].join(",")
        );
        let text = format!(
            "{{\"images\":[{}],\"annotations\":[{}]}}",
            images.join(","),
            vec![ann; 300].join(",")
        );
        let e = parse(Path::new("c.json"), &text).unwrap_err().to_string();
        assert!(
            e.starts_with("c.json: 5000 frames × 300 bodies × 17 joints is too large"),
            "{e}"
        );
    }

    #[test]
    fn results_list_and_errors() {
        let text = format!(
            "[{{\"image_id\":1,\"keypoints\":{},\"score\":0.9}}]",
            kps(1.0, 99)
        );
        let s = parse(Path::new("r.json"), &text).unwrap();
        assert_eq!(s.dims(), [1, 1, 17]);
        let e = parse(
            Path::new("r.json"),
            "[{\"image_id\":1,\"keypoints\":[1,2]}]",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("r.json") && e.contains("has 2 keypoint numbers"),
            "{e}"
        );
        let e = parse(Path::new("r.json"), "{\"foo\": 1}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not COCO keypoints"), "{e}");
    }
}
