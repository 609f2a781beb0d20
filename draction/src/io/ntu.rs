//! NTU RGB+D `.skeleton` files (Kinect v2, 25 joints).
//!
//! Whitespace-separated text (CRLF or LF): the frame count; per frame the body count; per body
//! 10 body-info numbers, the joint count, then 12 numbers per joint
//! (`x y z depthX depthY colorX colorY orientW orientX orientY orientZ trackingState`).
//! Only `x y z` (camera space, metres) are kept. Bodies with fewer than 25 joints get the rest
//! marked missing; extra joints are dropped (as the authors do).

use std::collections::BTreeMap;
use std::path::Path;

use super::tokens::Tokens;
use crate::error::{ParseError, Result, read_text};
use crate::layout::Layout;
use crate::skeleton::{Format, Skeleton, Source};

/// Joints of the Kinect v2 body.
pub const NTU_JOINTS: usize = 25;
/// NTU RGB+D is recorded at 30 frames per second.
pub const NTU_FPS: f32 = 30.0;

/// Options for reading NTU files.
#[derive(Debug, Clone, Default)]
pub struct NtuOptions {
    /// Keep only the first `n` bodies of each frame in file order and always return `n` body
    /// slots (`Some(2)` is the authors' official view). `None` keeps every body:
    /// `persons` = the largest body count of any frame.
    pub max_bodies: Option<usize>,
}

/// Reads an NTU `.skeleton` file.
pub fn read(path: &Path, opts: &NtuOptions) -> Result<Skeleton> {
    let text = read_text(path)?;
    parse(path, &text, opts)
}

/// One body of one frame as parsed: its joints' `x y z`, and how many joints were given.
struct Body {
    xyz: Vec<f32>,
    given: usize,
}

/// Parses NTU text already read from `path`.
pub fn parse(path: &Path, text: &str, opts: &NtuOptions) -> Result<Skeleton> {
    let mut tok = Tokens::new(path, text);
    let frames_line = tok.line();
    // Each frame needs at least its body count ("0" plus a separator): 2 bytes.
    let frames = tok.count("frame count", tok.remaining_bytes() / 2)?;
    let mut per_frame: Vec<Vec<Body>> = Vec::with_capacity(frames);
    for t in 0..frames {
        // A body takes at least 11 tokens (22 bytes).
        let nb = tok.count(
            &format!("body count of frame {}", t + 1),
            tok.remaining_bytes() / 22,
        )?;
        let mut bodies = Vec::with_capacity(nb.min(opts.max_bodies.unwrap_or(nb)));
        for b in 0..nb {
            for k in 0..10 {
                tok.f64(&format!(
                    "body-info number {} of body {} in frame {}",
                    k + 1,
                    b + 1,
                    t + 1
                ))?;
            }
            // A joint takes 12 tokens (24 bytes).
            let nj = tok.count(
                &format!("joint count of body {} in frame {}", b + 1, t + 1),
                tok.remaining_bytes() / 24,
            )?;
            let mut xyz = vec![0.0f32; NTU_JOINTS * 3];
            for j in 0..nj {
                // One joint per line: a short line is named as such, not mistaken for a
                // missing joint further on.
                let first_line = tok.line();
                for k in 0..12 {
                    if k > 0 && tok.line() != first_line {
                        return Err(ParseError::at(
                            path,
                            first_line,
                            format!(
                                "joint {} of body {} in frame {}: {k} numbers on its line, \
                                 expected 12 (x y z depthX depthY colorX colorY orientW orientX \
                                 orientY orientZ trackingState)",
                                j + 1,
                                b + 1,
                                t + 1
                            ),
                        )
                        .into());
                    }
                    let what = || {
                        format!(
                            "number {} of joint {} (body {}, frame {})",
                            k + 1,
                            j + 1,
                            b + 1,
                            t + 1
                        )
                    };
                    let v = tok.f64(&what())?;
                    if k < 3 && j < NTU_JOINTS {
                        xyz[j * 3 + k] = v as f32;
                    }
                }
            }
            if opts.max_bodies.is_none_or(|m| b < m) {
                bodies.push(Body {
                    xyz,
                    given: nj.min(NTU_JOINTS),
                });
            }
        }
        per_frame.push(bodies);
    }
    if let Some((extra, line)) = tok.next_token() {
        return Err(ParseError::at(
            path,
            line,
            format!(
                "unexpected '{}' after the last frame",
                super::tokens::clip(extra)
            ),
        )
        .into());
    }
    let persons = match opts.max_bodies {
        Some(m) => m,
        None => per_frame.iter().map(Vec::len).max().unwrap_or(0),
    };
    super::check_dense_size(
        path,
        Some(frames_line),
        [frames, persons, NTU_JOINTS],
        text.len(),
    )?;
    let mut pos = vec![0.0f32; frames * persons * NTU_JOINTS * 3];
    let mut valid = vec![false; frames * persons * NTU_JOINTS];
    for (t, bodies) in per_frame.iter().enumerate() {
        for (p, body) in bodies.iter().enumerate() {
            let base = (t * persons + p) * NTU_JOINTS;
            pos[base * 3..(base + NTU_JOINTS) * 3].copy_from_slice(&body.xyz);
            valid[base..base + body.given].fill(true);
        }
    }
    let skel = Skeleton::new(pos, valid, frames, persons, Layout::builtin("ntu25")?)?;
    Ok(skel.with_fps(Some(NTU_FPS)).with_source(Source {
        format: Some(Format::Ntu),
        path: Some(path.to_path_buf()),
        meta: name_meta(path),
    }))
}

/// Setup, camera, performer, replication and action ids (1-based) from an NTU file name
/// `SsssCcccPpppRrrrAaaa`.
pub fn name_meta(path: &Path) -> BTreeMap<String, String> {
    let mut meta = BTreeMap::new();
    let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
        return meta;
    };
    let b = stem.as_bytes();
    if b.len() < 20 {
        return meta;
    }
    let keys = [
        (b'S', "setup"),
        (b'C', "camera"),
        (b'P', "performer"),
        (b'R', "replication"),
        (b'A', "action"),
    ];
    let mut found = BTreeMap::new();
    for (i, (letter, key)) in keys.iter().enumerate() {
        let chunk = &b[i * 4..i * 4 + 4];
        if chunk[0] != *letter || !chunk[1..].iter().all(u8::is_ascii_digit) {
            return meta;
        }
        let n: u32 = stem[i * 4 + 1..i * 4 + 4].parse().unwrap_or(0);
        found.insert(key.to_string(), n.to_string());
    }
    meta.extend(found);
    meta
}

/// Writes a skeleton in NTU `.skeleton` text (LF line ends; body-info, depth/colour and
/// orientation fields zero, tracking state 2). The layout must be `ntu25`; absent bodies are
/// left out of their frame. Used to make test files.
pub fn write(skel: &Skeleton, path: &Path) -> Result<()> {
    use std::fmt::Write;
    if skel.layout().name != "ntu25" {
        return Err(crate::Error::Invalid(format!(
            "NTU files hold ntu25 skeletons, not {}",
            skel.layout().name
        )));
    }
    let mut s = String::new();
    let _ = writeln!(s, "{}", skel.frames());
    for t in 0..skel.frames() {
        let present: Vec<usize> = (0..skel.persons())
            .filter(|&p| skel.body_present(t, p))
            .collect();
        let _ = writeln!(s, "{}", present.len());
        for p in present {
            let _ = writeln!(s, "72057594037931101 0 0 1 0 1 0 0.1 0.2 2");
            let _ = writeln!(s, "{NTU_JOINTS}");
            for j in 0..NTU_JOINTS {
                let [x, y, z] = skel.position(t, p, j);
                let _ = writeln!(s, "{x} {y} {z} 0 0 0 0 1 0 0 0 2");
            }
        }
    }
    std::fs::write(path, s).map_err(|source| crate::Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(nj: usize, base: f32) -> String {
        let mut s = String::from("72057594037931101 0 1 1 1 1 0 -0.1 0.2 2\n");
        s += &format!("{nj}\n");
        for j in 0..nj {
            let v = base + j as f32 * 0.01;
            s += &format!(
                "{v} {} {} 100 200 300 400 0.5 0.5 0.5 0.5 2\n",
                v + 1.0,
                v + 2.0
            );
        }
        s
    }

    fn parse_str(text: &str, opts: &NtuOptions) -> Result<Skeleton> {
        parse(Path::new("S001C002P003R001A010.skeleton"), text, opts)
    }

    #[test]
    fn crlf_and_lf_parse_alike() {
        let text = format!("2\n1\n{}1\n{}", body(25, 0.1), body(25, 0.2));
        let a = parse_str(&text, &NtuOptions::default()).unwrap();
        let b = parse_str(&text.replace('\n', "\r\n"), &NtuOptions::default()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.dims(), [2, 1, 25]);
        let close = |a: [f32; 3], b: [f32; 3]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
        assert!(close(a.position(1, 0, 1), [0.21, 1.21, 2.21]));
        assert_eq!(a.fps, Some(30.0));
        assert_eq!(a.source.meta["action"], "10");
        assert_eq!(a.source.meta["camera"], "2");
    }

    #[test]
    fn zero_and_three_bodies() {
        let text = format!(
            "2\n0\n3\n{}{}{}",
            body(25, 0.1),
            body(25, 0.2),
            body(25, 0.3)
        );
        let all = parse_str(&text, &NtuOptions::default()).unwrap();
        assert_eq!(all.dims(), [2, 3, 25]);
        assert!(!all.body_present(0, 0));
        assert!(all.body_present(1, 2));
        let two = parse_str(
            &text,
            &NtuOptions {
                max_bodies: Some(2),
            },
        )
        .unwrap();
        assert_eq!(two.dims(), [2, 2, 25]);
        assert_eq!(two.position(1, 1, 0), all.position(1, 1, 0));
    }

    #[test]
    fn fewer_and_more_joints() {
        let text = format!("1\n2\n{}{}", body(20, 0.1), body(27, 0.2));
        let s = parse_str(&text, &NtuOptions::default()).unwrap();
        assert!(s.is_valid(0, 0, 19));
        assert!(!s.is_valid(0, 0, 20));
        assert_eq!(s.position(0, 0, 24), [0.0; 3]);
        assert!(s.is_valid(0, 1, 24));
        let p = s.position(0, 1, 24);
        assert!(
            (p[0] - 0.44).abs() < 1e-6 && (p[2] - 2.44).abs() < 1e-6,
            "{p:?}"
        );
    }

    #[test]
    fn errors_name_line_and_reason() {
        let e = parse_str("2\n1\n", &NtuOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("S001C002P003R001A010.skeleton:"), "{e}");
        assert!(
            e.contains("more than the file can hold") || e.contains("unexpected end"),
            "{e}"
        );
        let bad = format!("1\n1\n{}", body(25, 0.1).replacen(" 1 1 1 ", " 1 x 1 ", 1));
        let e = parse_str(&bad, &NtuOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains(":3: expected body-info number 4"), "{e}");
        let e = parse_str("-3\n", &NtuOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("negative"), "{e}");
        let e = parse_str("1000000000\n0\n", &NtuOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than the file can hold"), "{e}");
        let e = parse_str("1\n0\n7", &NtuOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("after the last frame"), "{e}");
    }

    #[test]
    fn crowded_frame_among_many_empty_ones_is_an_error_not_an_allocation() {
        // 48 KB: one frame of 2000 joint-less bodies and 2000 empty frames used to expand to
        // [2001, 2000, 25] (1.2 GB).
        let mut text = "2001\n2000\n".to_string();
        text += &"0 0 0 0 0 0 0 0 0 0 0\n".repeat(2000);
        text += &"0\n".repeat(2000);
        let e = parse_str(&text, &NtuOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("S001C002P003R001A010.skeleton:1:"), "{e}");
        assert!(
            e.contains("2001 frames × 2000 bodies × 25 joints is too large"),
            "{e}"
        );
    }

    #[test]
    fn huge_max_bodies_is_an_error_not_an_overflow() {
        let text = format!("1\n1\n{}", body(25, 0.1));
        let e = parse_str(
            &text,
            &NtuOptions {
                max_bodies: Some(usize::MAX),
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("too large"), "{e}");
    }

    #[test]
    fn write_then_read() {
        let text = format!(
            "2\n1\n{}2\n{}{}",
            body(25, 0.1),
            body(25, 0.2),
            body(25, 0.3)
        );
        let s = parse_str(&text, &NtuOptions::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.skeleton");
        write(&s, &p).unwrap();
        let back = read(&p, &NtuOptions::default()).unwrap();
        assert_eq!(back.positions(), s.positions());
        assert_eq!(back.valid(), s.valid());
    }
}
