//! Biovision hierarchy (`.bvh`) motion capture.
//!
//! A BVH file has two sections:
//!
//! - `HIERARCHY`: one or more `ROOT name { … }` blocks. A block holds an `OFFSET x y z` (the
//!   joint's position in its parent's frame), an optional `CHANNELS n c1 … cn` line (0 to 6 of
//!   `Xposition Yposition Zposition Xrotation Yrotation Zrotation`, in any order), nested
//!   `JOINT name { … }` blocks and `End Site { OFFSET x y z }` leaves.
//! - `MOTION`: `Frames: N`, `Frame Time: dt` (seconds), then one line per frame holding every
//!   joint's channel values, in hierarchy order. Well-formed frame lines beyond `N` (some
//!   exporters write one too many) are skipped and counted in the `skipped_extra_frames` meta.
//!
//! Joint positions come from forward kinematics: a joint's local transform is the translation
//! by its OFFSET plus its position channels, followed by its rotation channels (in degrees)
//! composed in the order the CHANNELS line lists them; its world transform is its parent's
//! world transform times the local one. The result holds the world position of every ROOT and
//! JOINT in file order (End Sites are left out), in the file's units, with one body per frame.

use std::collections::BTreeMap;
use std::path::Path;

use super::tokens::{Tokens, clip};
use crate::error::{ParseError, Result, read_text};
use crate::kinematics::{Axis, Mat3, add, euler, mat_mul, mat_vec};
use crate::layout::Layout;
use crate::skeleton::{Format, Skeleton, Source};

/// Reads a BVH file and computes the world position of each of its joints in every frame.
pub fn read(path: &Path) -> Result<Skeleton> {
    let text = read_text(path)?;
    parse(path, &text)
}

/// Parses BVH text already read from `path` (which is only used in error messages).
pub fn parse(path: &Path, text: &str) -> Result<Skeleton> {
    let mut tok = Tokens::new(path, text);
    let joints = parse_hierarchy(path, &mut tok)?;
    let header = parse_motion_header(path, &mut tok, channel_count(&joints))?;
    super::check_dense_size(
        path,
        Some(header.frames_line),
        [header.frames, 1, joints.len()],
        text.len(),
    )?;
    let frames_text = text
        .get(text.len() - tok.remaining_bytes()..)
        .unwrap_or_default();
    let Frames { positions, extra } = parse_frames(path, frames_text, &header, &joints)?;
    let valid = vec![true; positions.len() / 3];
    let names = joints.iter().map(|j| j.name.clone()).collect();
    let parents = joints.iter().map(|j| j.parent).collect();
    let layout = Layout::from_hierarchy("bvh", names, parents)?;
    // A rate that f32 cannot hold (over- or underflowing to inf or 0) is unknown, as for a
    // zero frame time.
    let fps = Some((1.0 / header.frame_time) as f32)
        .filter(|f| header.frame_time > 0.0 && f.is_finite() && *f > 0.0);
    let mut meta = BTreeMap::from([("frame_time".to_string(), header.frame_time_text)]);
    if extra > 0 {
        meta.insert("skipped_extra_frames".to_string(), extra.to_string());
    }
    let source = Source {
        format: Some(Format::Bvh),
        path: Some(path.to_path_buf()),
        meta,
    };
    Ok(Skeleton::new(positions, valid, header.frames, 1, layout)?
        .with_fps(fps)
        .with_source(source))
}

/// One motion channel of a joint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    /// A translation along the axis, in file units.
    Position(Axis),
    /// A rotation about the axis, in degrees.
    Rotation(Axis),
}

impl Channel {
    /// Parses `Xposition` … `Zrotation` (ASCII case ignored).
    fn parse(name: &str) -> Option<Channel> {
        let lower = name.to_ascii_lowercase();
        let (axis, kind) = lower.split_at_checked(1)?;
        let axis = match axis {
            "x" => Axis::X,
            "y" => Axis::Y,
            "z" => Axis::Z,
            _ => return None,
        };
        match kind {
            "position" => Some(Channel::Position(axis)),
            "rotation" => Some(Channel::Rotation(axis)),
            _ => None,
        }
    }
}

/// A ROOT or JOINT node of the hierarchy.
#[derive(Debug, Clone, PartialEq)]
struct Joint {
    name: String,
    /// Index of the parent joint (always smaller than this joint's), `None` for a ROOT.
    parent: Option<usize>,
    offset: [f64; 3],
    channels: Vec<Channel>,
}

/// Total number of channels, i.e. numbers per frame.
fn channel_count(joints: &[Joint]) -> usize {
    joints.iter().map(|j| j.channels.len()).sum()
}

/// A hierarchy block whose `}` has not been read yet.
struct Open {
    /// Index of its joint, or `None` for an End Site.
    joint: Option<usize>,
    /// What opened it (`ROOT Hips`, `End Site of JOINT Head`), for error messages.
    label: String,
    /// Line of its keyword.
    line: usize,
    has_offset: bool,
    has_channels: bool,
}

/// Parses `HIERARCHY` up to and including the `MOTION` keyword; joints in file order.
fn parse_hierarchy(path: &Path, tok: &mut Tokens<'_>) -> Result<Vec<Joint>, ParseError> {
    expect_word(path, tok, "HIERARCHY")?;
    let mut joints: Vec<Joint> = Vec::new();
    let mut open: Vec<Open> = Vec::new();
    loop {
        let Some((word, line)) = tok.next_token() else {
            return Err(match open.last() {
                Some(o) => tok.error(format!(
                    "file ends inside the hierarchy: {} (line {}) is not closed",
                    o.label, o.line
                )),
                None => tok.error("file ends before MOTION"),
            });
        };
        let err = |msg: String| ParseError::at(path, line, msg);
        match word {
            "ROOT" | "JOINT" => {
                let parent = match (word, open.last()) {
                    ("ROOT", None) => None,
                    ("JOINT", Some(Open { joint: Some(p), .. })) => Some(*p),
                    ("ROOT", Some(o)) => {
                        return Err(err(format!("ROOT inside {} (line {})", o.label, o.line)));
                    }
                    ("JOINT", Some(o)) => {
                        return Err(err(format!("JOINT inside {} (line {})", o.label, o.line)));
                    }
                    _ => return Err(err("JOINT outside any ROOT block".into())),
                };
                if joints.len() == super::MAX_HIERARCHY_JOINTS {
                    return Err(err(format!(
                        "more than {} joints in the hierarchy",
                        super::MAX_HIERARCHY_JOINTS
                    )));
                }
                let name = block_name(path, tok, word, line)?;
                open.push(Open {
                    joint: Some(joints.len()),
                    label: format!("{word} {name}"),
                    line,
                    has_offset: false,
                    has_channels: false,
                });
                joints.push(Joint {
                    name,
                    parent,
                    offset: [0.0; 3],
                    channels: Vec::new(),
                });
            }
            "End" => {
                let (site, site_line) = tok.expect("'Site' after 'End'")?;
                if site != "Site" {
                    return Err(ParseError::at(
                        path,
                        site_line,
                        format!("expected 'End Site', found 'End {}'", clip(site)),
                    ));
                }
                let label = match open.last() {
                    Some(o) if o.joint.is_some() => format!("End Site of {}", o.label),
                    Some(o) => {
                        return Err(err(format!(
                            "End Site inside {} (line {})",
                            o.label, o.line
                        )));
                    }
                    None => return Err(err("End Site outside any ROOT block".into())),
                };
                expect_word(path, tok, "{")?;
                open.push(Open {
                    joint: None,
                    label,
                    line,
                    has_offset: false,
                    has_channels: false,
                });
            }
            "OFFSET" => {
                let Some(o) = open.last_mut() else {
                    return Err(err("OFFSET outside any block".into()));
                };
                if o.has_offset {
                    return Err(err(format!(
                        "second OFFSET in {} (line {})",
                        o.label, o.line
                    )));
                }
                o.has_offset = true;
                let offset = parse_offset(path, tok, &o.label, line)?;
                if let Some(j) = o.joint {
                    joints[j].offset = offset;
                }
            }
            "CHANNELS" => {
                let Some(o) = open.last_mut() else {
                    return Err(err("CHANNELS outside any block".into()));
                };
                let Some(j) = o.joint else {
                    return Err(err(format!("{} cannot have CHANNELS", o.label)));
                };
                if o.has_channels {
                    return Err(err(format!(
                        "second CHANNELS in {} (line {})",
                        o.label, o.line
                    )));
                }
                o.has_channels = true;
                joints[j].channels = parse_channels(path, tok, &o.label)?;
            }
            "}" => {
                let Some(o) = open.pop() else {
                    return Err(err("unbalanced braces: '}' closes no block".into()));
                };
                if !o.has_offset {
                    return Err(err(format!("{} (line {}) has no OFFSET", o.label, o.line)));
                }
            }
            "MOTION" => {
                if let Some(o) = open.last() {
                    return Err(err(format!(
                        "unbalanced braces: MOTION inside the hierarchy, {} (line {}) is not closed",
                        o.label, o.line
                    )));
                }
                if joints.is_empty() {
                    return Err(err("MOTION before any ROOT".into()));
                }
                return Ok(joints);
            }
            "{" => {
                return Err(err(
                    "unbalanced braces: '{' not after ROOT, JOINT or End Site".into(),
                ));
            }
            other => {
                return Err(err(format!(
                    "unexpected '{}' in the hierarchy (expected ROOT, JOINT, End Site, OFFSET, CHANNELS, '}}' or MOTION)",
                    clip(other)
                )));
            }
        }
    }
}

/// The next token, which must be `word`.
fn expect_word(path: &Path, tok: &mut Tokens<'_>, word: &str) -> Result<usize, ParseError> {
    let (found, line) = tok.expect(&format!("'{word}'"))?;
    if found == word {
        Ok(line)
    } else {
        Err(ParseError::at(
            path,
            line,
            format!("expected '{word}', found '{}'", clip(found)),
        ))
    }
}

/// The name after ROOT/JOINT on `line` (several tokens are joined by spaces) and its `{`.
fn block_name(
    path: &Path,
    tok: &mut Tokens<'_>,
    keyword: &str,
    line: usize,
) -> Result<String, ParseError> {
    let mut parts = Vec::new();
    loop {
        let (t, l) = tok.expect(&format!("'{{' after {keyword}"))?;
        if t == "{" && !parts.is_empty() {
            return Ok(parts.join(" "));
        }
        if t == "{" || (l != line && parts.is_empty()) {
            return Err(ParseError::at(path, line, format!("{keyword} has no name")));
        }
        if l != line {
            let name = parts.join(" ");
            return Err(ParseError::at(
                path,
                l,
                format!("expected '{{' after {keyword} {name}, found '{}'", clip(t)),
            ));
        }
        parts.push(t);
    }
}

/// The three finite numbers of an OFFSET line of the block `label`.
fn parse_offset(
    path: &Path,
    tok: &mut Tokens<'_>,
    label: &str,
    line: usize,
) -> Result<[f64; 3], ParseError> {
    let mut offset = [0.0; 3];
    for (v, axis) in offset.iter_mut().zip(["x", "y", "z"]) {
        *v = tok.f64(&format!("OFFSET {axis} of {label}"))?;
    }
    if offset.iter().all(|v| v.is_finite()) {
        Ok(offset)
    } else {
        Err(ParseError::at(
            path,
            line,
            format!("OFFSET of {label} is not finite"),
        ))
    }
}

/// The count and names after CHANNELS in the block `label`.
fn parse_channels(
    path: &Path,
    tok: &mut Tokens<'_>,
    label: &str,
) -> Result<Vec<Channel>, ParseError> {
    let (t, line) = tok.expect(&format!("channel count of {label}"))?;
    let n = t.parse::<usize>().ok().filter(|&n| n <= 6).ok_or_else(|| {
        ParseError::at(
            path,
            line,
            format!(
                "channel count of {label} must be 0 to 6, found '{}'",
                clip(t)
            ),
        )
    })?;
    let mut channels = Vec::with_capacity(n);
    for _ in 0..n {
        let (name, line) = tok.expect(&format!("channel name of {label}"))?;
        let err = |msg: String| ParseError::at(path, line, msg);
        let channel = Channel::parse(name).ok_or_else(|| {
            err(format!(
                "unknown channel '{}' in {label} (expected Xposition, Yposition, Zposition, Xrotation, Yrotation or Zrotation)",
                clip(name)
            ))
        })?;
        if channels.contains(&channel) {
            return Err(err(format!("channel {name} listed twice in {label}")));
        }
        channels.push(channel);
    }
    Ok(channels)
}

/// What the MOTION section declares before its frames.
struct MotionHeader {
    frames: usize,
    /// Line of the frame count.
    frames_line: usize,
    /// Seconds per frame (non-negative, finite).
    frame_time: f64,
    /// The frame time as written.
    frame_time_text: String,
    /// Line of the frame time.
    line: usize,
}

/// Parses `Frames: N` and `Frame Time: dt`, checking N against the rest of the file's size.
fn parse_motion_header(
    path: &Path,
    tok: &mut Tokens<'_>,
    channels: usize,
) -> Result<MotionHeader, ParseError> {
    expect_word(path, tok, "Frames:")?;
    let frames_line = tok.line();
    // Every channel value takes at least two bytes (a digit and a separator), bar the last.
    let max = match channels {
        0 => usize::MAX,
        c => (tok.remaining_bytes() + 1) / (2 * c),
    };
    let frames = tok.count("frame count", max)?;
    if channels == 0 && frames > 0 {
        let msg = format!("{frames} frames declared but the hierarchy has no CHANNELS");
        return Err(ParseError::at(path, frames_line, msg));
    }
    expect_word(path, tok, "Frame")?;
    expect_word(path, tok, "Time:")?;
    let (t, line) = tok.expect("frame time")?;
    let frame_time = t
        .parse::<f64>()
        .ok()
        .filter(|d| d.is_finite() && *d >= 0.0)
        .ok_or_else(|| {
            ParseError::at(
                path,
                line,
                format!(
                    "frame time must be a non-negative number, found '{}'",
                    clip(t)
                ),
            )
        })?;
    Ok(MotionHeader {
        frames,
        frames_line,
        frame_time,
        frame_time_text: t.to_string(),
        line,
    })
}

/// The parsed frames.
struct Frames {
    /// World positions of the joints, `[frames, joints, 3]`.
    positions: Vec<f32>,
    /// Well-formed frame lines beyond the declared count, which were skipped.
    extra: usize,
}

/// Parses the frame lines (`text` starts right after the frame time) and computes the joints'
/// world positions.
fn parse_frames(
    path: &Path,
    text: &str,
    header: &MotionHeader,
    joints: &[Joint],
) -> Result<Frames, ParseError> {
    let channels = channel_count(joints);
    let size = header.frames.checked_mul(joints.len() * 3).ok_or_else(|| {
        ParseError::at(
            path,
            header.line,
            format!(
                "{} frames of {} joints is too large",
                header.frames,
                joints.len()
            ),
        )
    })?;
    let mut out = Vec::with_capacity(size);
    let mut values = Vec::with_capacity(channels);
    let mut world = Vec::with_capacity(joints.len());
    let mut lines = text.split('\n');
    if let Some(extra) = lines
        .next()
        .and_then(|rest| rest.split_ascii_whitespace().next())
    {
        let msg = format!("unexpected '{}' after the frame time", clip(extra));
        return Err(ParseError::at(path, header.line, msg));
    }
    let (mut line_no, mut done, mut extra) = (header.line, 0, 0);
    for line in lines {
        line_no += 1;
        if line.trim_ascii().is_empty() {
            continue;
        }
        if done == header.frames {
            // Exporters sometimes write more frame lines than `Frames:` says; well-formed
            // ones are skipped (and counted), anything else is an error.
            read_values(line, channels, &mut values).map_err(|msg| {
                let what = format!("unexpected data after the last of {} frames", header.frames);
                ParseError::at(path, line_no, format!("{what} ({msg})"))
            })?;
            extra += 1;
            continue;
        }
        read_values(line, channels, &mut values)
            .map_err(|msg| ParseError::at(path, line_no, format!("frame {}: {msg}", done + 1)))?;
        pose(joints, &values, &mut world, &mut out);
        done += 1;
    }
    if done < header.frames {
        let msg = format!("file ends after {done} of {} frames", header.frames);
        return Err(ParseError::at(path, line_no, msg));
    }
    Ok(Frames {
        positions: out,
        extra,
    })
}

/// Reads exactly `channels` numbers of one frame line into `values`.
fn read_values(line: &str, channels: usize, values: &mut Vec<f64>) -> Result<(), String> {
    let n = line.split_ascii_whitespace().count();
    if n != channels {
        return Err(format!(
            "{n} numbers, expected {channels} (one per channel)"
        ));
    }
    values.clear();
    for t in line.split_ascii_whitespace() {
        let v = t
            .parse::<f64>()
            .map_err(|_| format!("expected a number, found '{}'", clip(t)))?;
        values.push(v);
    }
    Ok(())
}

/// A rigid transform `x ↦ r · x + t`.
#[derive(Debug, Clone, Copy)]
struct Transform {
    r: Mat3,
    t: [f64; 3],
}

impl Transform {
    /// `self ∘ local`: `local` applied first, then `self`.
    fn then(&self, local: &Transform) -> Transform {
        Transform {
            r: mat_mul(&self.r, &local.r),
            t: add(mat_vec(&self.r, local.t), self.t),
        }
    }
}

/// A joint's local transform from its OFFSET and its channel `values` (in CHANNELS order):
/// translations add to the offset, rotations (degrees) compose as Euler angles in order.
fn local_transform(joint: &Joint, values: &[f64]) -> Transform {
    let mut t = joint.offset;
    let channels = joint.channels.iter().zip(values);
    for (&channel, &v) in channels.clone() {
        if let Channel::Position(axis) = channel {
            t[axis.index()] += v;
        }
    }
    let r = euler(channels.filter_map(|(&channel, &v)| match channel {
        Channel::Rotation(axis) => Some((axis, v.to_radians())),
        Channel::Position(_) => None,
    }));
    Transform { r, t }
}

/// Forward kinematics of one frame: appends each joint's world position to `out`. `values`
/// holds every channel of the frame; `world` is scratch space.
fn pose(joints: &[Joint], values: &[f64], world: &mut Vec<Transform>, out: &mut Vec<f32>) {
    world.clear();
    let mut rest = values;
    for joint in joints {
        let (mine, after) = rest.split_at(joint.channels.len().min(rest.len()));
        rest = after;
        let local = local_transform(joint, mine);
        let w = match joint.parent.and_then(|p| world.get(p)) {
            Some(parent) => parent.then(&local),
            None => local,
        };
        out.extend(w.t.map(|x| x as f32));
        world.push(w);
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// Three joints: a root with 6 channels (Z X Y), a chest with X Y Z rotations, a head with
    /// position channels, an End Site, and a channel-less leg.
    const TINY: &str = include_str!("../../tests/fixtures/tiny.bvh");

    fn parse_str(text: &str) -> Result<Skeleton> {
        parse(Path::new("bad/test.bvh"), text)
    }

    fn assert_close(got: [f32; 3], want: [f64; 3], what: &str) {
        let ok = got
            .iter()
            .zip(want)
            .all(|(g, w)| (f64::from(*g) - w).abs() < 1e-5);
        assert!(ok, "{what}: got {got:?}, want {want:?}");
    }

    #[test]
    fn tiny_hierarchy_forward_kinematics() {
        let s = parse_str(TINY).unwrap();
        assert_eq!(s.dims(), [3, 1, 4]);
        assert_eq!(s.layout().joints, ["Hips", "Chest", "Head", "Leg"]);
        assert_eq!(s.layout().parents, [None, Some(0), Some(1), Some(0)]);
        assert_eq!(s.layout().name, "bvh");
        assert_eq!(s.fps, Some(2.0));
        assert_eq!(s.source.meta["frame_time"], "0.5");
        assert_eq!(s.source.format, Some(Format::Bvh));
        assert!(s.valid().iter().all(|&v| v));
        // Frame 0, rest pose: offsets add up.
        let rest = [
            [1.0, 2.0, 3.0],
            [2.0, 2.0, 3.0],
            [2.0, 4.0, 3.0],
            [1.0, 1.0, 3.0],
        ];
        // Frame 1: root moved by (10, 0, 0) and turned 90° about Z, so (x, y) ↦ (−y, x):
        // Chest offset (1,0,0) → (0,1,0), Head (0,2,0) → (−2,0,0), Leg (0,−1,0) → (1,0,0).
        let turned = [
            [11.0, 2.0, 3.0],
            [11.0, 3.0, 3.0],
            [9.0, 3.0, 3.0],
            [12.0, 2.0, 3.0],
        ];
        // Frame 2: root R = Rz(90)·Rx(90) (Z then X as listed): (1,0,0) → (0,1,0),
        // (0,−1,0) → Rz·(0,0,−1) = (0,0,−1). Chest R = Rx(0)·Ry(90)·Rz(90); Head local
        // translation = offset (0,2,0) + position channels (1,0,0) = (1,2,0);
        // Rz(90)·(1,2,0) = (−2,1,0), Ry(90)·(−2,1,0) = (0,1,2); root R·(0,1,2): Rx(90) gives
        // (0,−2,1), Rz(90) gives (2,0,1). Head's own Z rotation moves only its End Site.
        let mixed = [
            [1.0, 2.0, 3.0],
            [1.0, 3.0, 3.0],
            [3.0, 3.0, 4.0],
            [1.0, 2.0, 2.0],
        ];
        for (t, frame) in [rest, turned, mixed].iter().enumerate() {
            for (j, want) in frame.iter().enumerate() {
                assert_close(s.position(t, 0, j), *want, &format!("frame {t} joint {j}"));
            }
        }
    }

    #[test]
    fn crlf_tabs_and_zero_frame_time() {
        let a = parse_str(TINY).unwrap();
        let b = parse_str(&TINY.replace('\n', "\r\n").replace("  ", "\t")).unwrap();
        assert_eq!(a.positions(), b.positions());
        let c = parse_str(&TINY.replace("Frame Time: 0.5", "Frame Time: 0")).unwrap();
        assert_eq!(c.fps, None);
    }

    #[test]
    fn two_roots_are_two_trees() {
        let text = "HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\nCHANNELS 1 Xposition\n}\n\
                    ROOT B\n{\nOFFSET 0 5 0\nCHANNELS 0\nJOINT C\n{\nOFFSET 1 0 0\n}\n}\n\
                    MOTION\nFrames: 2\nFrame Time: 0.1\n1\n\n2\n\n";
        let s = parse_str(text).unwrap();
        assert_eq!(s.layout().parents, [None, None, Some(1)]);
        assert_close(s.position(1, 0, 0), [2.0, 0.0, 0.0], "A");
        assert_close(s.position(1, 0, 2), [1.0, 5.0, 0.0], "C");
    }

    // ---- real CMU data ----

    /// A CMU BVH test file (from `scripts/fetch-data.sh`).
    fn data_file(name: &str) -> PathBuf {
        let path = crate::testdata::data_dir("bvh").join(name);
        assert!(
            path.is_file(),
            "{} is missing: run scripts/fetch-data.sh",
            path.display()
        );
        path
    }

    /// The hierarchy of a BVH text, as the reader sees it.
    fn hierarchy(path: &Path, text: &str) -> Vec<Joint> {
        parse_hierarchy(path, &mut Tokens::new(path, text)).unwrap()
    }

    /// What follows `prefix` on the first line that starts with it.
    fn header_value<'a>(text: &'a str, prefix: &str) -> &'a str {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .unwrap();
        line.trim_start()[prefix.len()..].trim()
    }

    /// The numbers of the first frame line.
    fn first_frame(text: &str) -> Vec<f64> {
        let mut lines = text
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("Frame Time:"));
        lines
            .nth(1)
            .unwrap()
            .split_whitespace()
            .map(|t| t.parse().unwrap())
            .collect()
    }

    fn dist(a: [f32; 3], b: [f32; 3]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(x - y).powi(2))
            .sum::<f64>()
            .sqrt()
    }

    /// Checks bone lengths, frame count, fps and frame 0's root against the raw text.
    fn check_real_file(name: &str, fps: f32) {
        let path = data_file(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let s = read(&path).unwrap();
        let joints = hierarchy(&path, &text);
        let frames: usize = header_value(&text, "Frames:").parse().unwrap();
        assert_eq!(s.dims(), [frames, 1, joints.len()]);
        assert!(frames > 100, "{name}: {frames} frames");
        let got = s.fps.unwrap();
        assert!((got - fps).abs() < 0.01, "{name}: fps {got}, want {fps}");
        assert_eq!(
            s.source.meta["frame_time"],
            header_value(&text, "Frame Time:")
        );
        assert!(s.valid().iter().all(|&v| v));
        // No End Site in the output: one joint per ROOT/JOINT keyword.
        let keywords = text
            .split_whitespace()
            .take_while(|&t| t != "MOTION")
            .filter(|&t| t == "ROOT" || t == "JOINT")
            .count();
        assert_eq!(s.joints(), keywords);
        // Bones keep the length of their OFFSET in every frame.
        let mut checked = 0;
        for (j, joint) in joints.iter().enumerate() {
            let Some(p) = joint.parent else { continue };
            if joint
                .channels
                .iter()
                .any(|c| matches!(c, Channel::Position(_)))
            {
                continue;
            }
            let len = joint.offset.iter().map(|x| x * x).sum::<f64>().sqrt();
            for t in 0..frames {
                let d = dist(s.position(t, 0, j), s.position(t, 0, p));
                assert!(
                    (d - len).abs() <= 1e-3 * len.max(1.0),
                    "{name}: frame {t}, bone {} → {}: length {d}, offset {len}",
                    joints[p].name,
                    joint.name
                );
            }
            checked += 1;
        }
        assert!(
            checked + 1 >= joints.len(),
            "{name}: only {checked} bones checked"
        );
        // Frame 0: the root (OFFSET 0, channels starting X Y Z position) sits at the first
        // three numbers.
        assert_eq!(joints[0].offset, [0.0; 3]);
        let first = first_frame(&text);
        let want = [first[0], first[1], first[2]];
        assert_close(
            s.position(0, 0, 0),
            want,
            &format!("{name} root at frame 0"),
        );
    }

    #[test]
    fn cmu_01_01_bone_lengths_frames_fps() {
        check_real_file("01_01.bvh", 120.0);
        let s = read(&data_file("01_01.bvh")).unwrap();
        assert_eq!(s.joints(), 31);
        assert_eq!(s.layout().joints[0], "Hips");
    }

    #[test]
    fn cmu_01_03_bone_lengths_frames_fps() {
        check_real_file("01_03.bvh", 120.0);
    }

    #[test]
    fn boxing_toes_bone_lengths_frames_fps() {
        check_real_file("Boxing_Toes.bvh", 100.0);
        // Its MOTION holds 3070 lines for `Frames: 3069`: the surplus one is skipped.
        let s = read(&data_file("Boxing_Toes.bvh")).unwrap();
        assert_eq!(s.source.meta["skipped_extra_frames"], "1");
    }

    // ---- bad input ----

    fn err(text: &str) -> String {
        let e = parse_str(text).unwrap_err().to_string();
        assert!(e.contains("bad/test.bvh:"), "{e}");
        e
    }

    fn assert_err(text: &str, wants: &[&str]) {
        let e = err(text);
        for want in wants {
            assert!(e.contains(want), "error {e:?} lacks {want:?}");
        }
    }

    #[test]
    fn empty_file_is_an_error() {
        assert_err(
            "",
            &["bad/test.bvh:1:", "unexpected end of file", "HIERARCHY"],
        );
        assert_err("  \n\n", &["unexpected end of file"]);
        assert_err("hello", &[":1:", "expected 'HIERARCHY'"]);
    }

    #[test]
    fn truncated_hierarchy_is_an_error() {
        let cut = TINY.find("JOINT Head").unwrap();
        assert_err(
            &TINY[..cut],
            &[
                ":10:",
                "file ends inside the hierarchy",
                "JOINT Chest (line 6)",
            ],
        );
        let cut = TINY.find("OFFSET 0 2 0").unwrap() + "OFFSET 0 2".len();
        assert_err(
            &TINY[..cut],
            &[":12:", "unexpected end of file", "OFFSET z of JOINT Head"],
        );
        let motion = TINY.find("MOTION").unwrap();
        assert_err(&TINY[..motion], &["file ends before MOTION"]);
    }

    #[test]
    fn unknown_channel_is_an_error() {
        let text = TINY.replace(
            "CHANNELS 3 Xrotation Yrotation",
            "CHANNELS 3 Wrotation Yrotation",
        );
        assert_err(
            &text,
            &[":9:", "unknown channel 'Wrotation'", "JOINT Chest"],
        );
        let text = TINY.replace("CHANNELS 0", "CHANNELS 7");
        assert_err(&text, &[":23:", "must be 0 to 6"]);
        let text = TINY.replace(
            "Zrotation Xrotation Yrotation",
            "Zrotation Xrotation Zrotation",
        );
        assert_err(&text, &[":5:", "listed twice"]);
    }

    #[test]
    fn non_numeric_motion_is_an_error() {
        let text = TINY.replace("10 0 0 90", "10 0 x 90");
        assert_err(&text, &[":34:", "frame 2", "expected a number, found 'x'"]);
        let text = TINY.replace("OFFSET 0 -1 0\n    CHANNELS", "OFFSET 0 - 0\n    CHANNELS");
        assert_err(&text, &[":22:", "expected OFFSET y of JOINT Leg"]);
    }

    #[test]
    fn huge_frame_count_is_an_error_not_an_allocation() {
        let text = "HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0 0\n  CHANNELS 3 Xposition Yposition Zposition\n}\n\
                    MOTION\nFrames: 1000000000\nFrame Time: 0.01\n1 2 3\n4 5 6\n";
        assert!(text.len() < 200, "{}", text.len());
        assert_err(
            text,
            &[
                ":8:",
                "frame count 1000000000 is more than the file can hold",
            ],
        );
        let text = text.replace("Frames: 1000000000", "Frames: 18446744073709551615");
        assert_err(&text, &[":8:", "frame count"]);
    }

    #[test]
    fn many_joints_times_many_frames_is_an_error_not_an_allocation() {
        // 90 KB: 2001 joints (one channel in all) × 20000 frames used to expand to 40 million
        // joint slots (0.5 GB).
        let mut text = "HIERARCHY\nROOT r\n{\nOFFSET 0 0 0\nCHANNELS 1 Xposition\n".to_string();
        text += &"JOINT j\n{\nOFFSET 0 0 0\n}\n".repeat(2000);
        text += "}\nMOTION\nFrames: 20000\nFrame Time: 0.01\n";
        text += &"1\n".repeat(20000);
        assert_err(
            &text,
            &[
                ":8008:",
                "20000 frames × 1 bodies × 2001 joints is too large for a 90093-byte input",
            ],
        );
    }

    #[test]
    fn huge_hierarchy_is_an_error_not_a_hang() {
        // A chain of `n` joints: checking a hierarchy walks every joint's parent chain, so
        // 100001 joints (2.5 MB) took 14 s.
        let chain = |n: usize| {
            let mut text = "HIERARCHY\nROOT r\n{\nOFFSET 0 0 0\nCHANNELS 1 Xposition\n".to_string();
            text += &"JOINT j\n{\nOFFSET 0 0 0\n".repeat(n - 1);
            text += &"}\n".repeat(n);
            text + "MOTION\nFrames: 0\nFrame Time: 0.01\n"
        };
        assert_err(
            &chain(10_001),
            &[":30003:", "more than 10000 joints in the hierarchy"],
        );
        let s = parse_str(&chain(10_000)).unwrap();
        assert_eq!(s.dims(), [0, 1, 10_000]);
    }

    #[test]
    fn frame_times_beyond_f32_leave_the_rate_unknown() {
        // 1e308 s per frame used to give fps Some(0.0), 1e-300 s Some(inf).
        for t in ["1e308", "1e-300"] {
            let s =
                parse_str(&TINY.replace("Frame Time: 0.5", &format!("Frame Time: {t}"))).unwrap();
            assert_eq!(s.fps, None, "{t}");
        }
    }

    #[test]
    fn negative_frame_count_is_an_error() {
        assert_err(
            &TINY.replace("Frames: 3", "Frames: -3"),
            &[":31:", "frame count is negative (-3)"],
        );
        assert_err(
            &TINY.replace("Frames: 3", "Frames: three"),
            &[":31:", "expected frame count"],
        );
        assert_err(
            &TINY.replace("Frame Time: 0.5", "Frame Time: -0.5"),
            &[":32:", "frame time"],
        );
    }

    #[test]
    fn wrong_number_count_in_a_motion_line_is_an_error() {
        let text = TINY.replace("10 0 0 90 0 0 0 0 0 0 0 0 0", "10 0 0 90 0 0 0 0 0 0 0 0");
        assert_err(&text, &[":34:", "frame 2: 12 numbers, expected 13"]);
        let text = TINY.replace(
            "10 0 0 90 0 0 0 0 0 0 0 0 0",
            "10 0 0 90 0 0 0 0 0 0 0 0 0 0",
        );
        assert_err(&text, &[":34:", "frame 2: 14 numbers, expected 13"]);
        assert_err(
            &TINY.replace("Frames: 3", "Frames: 4"),
            &["file ends after 3 of 4 frames"],
        );
        // Surplus well-formed frames are skipped and counted; anything else is an error.
        let s = parse_str(&TINY.replace("Frames: 3", "Frames: 2")).unwrap();
        assert_eq!(s.frames(), 2);
        assert_eq!(s.source.meta["skipped_extra_frames"], "1");
        let text = TINY
            .replace("Frames: 3", "Frames: 2")
            .replace("90 1 0 0 45", "90 1 0 0");
        assert_err(
            &text,
            &[
                ":35:",
                "after the last of 2 frames",
                "12 numbers, expected 13",
            ],
        );
        assert_err(
            &format!("{TINY}end\n"),
            &[":36:", "after the last of 3 frames"],
        );
    }

    #[test]
    fn unbalanced_braces_are_an_error() {
        // A missing '}' before MOTION.
        let text = TINY.replacen("    }\n  }\n  JOINT Leg", "    }\n  JOINT Leg", 1);
        assert_err(&text, &["unbalanced braces", "MOTION inside the hierarchy"]);
        // An extra '}'.
        let text = TINY.replace("}\nMOTION", "}\n}\nMOTION");
        assert_err(&text, &[":30:", "unbalanced braces: '}' closes no block"]);
        // A stray '{'.
        let text = TINY.replace("JOINT Leg\n  {", "JOINT Leg\n  {\n  {");
        assert_err(&text, &[":22:", "unbalanced braces"]);
    }

    #[test]
    fn misplaced_blocks_are_errors() {
        assert_err(
            &TINY.replace("JOINT Leg", "ROOT Leg"),
            &[":20:", "ROOT inside ROOT Hips"],
        );
        assert_err(
            &TINY.replace("OFFSET 1 2 3\n", ""),
            &["ROOT Hips (line 2) has no OFFSET"],
        );
        let text = TINY.replace("OFFSET 0 1 0", "OFFSET 0 1 0\n        CHANNELS 1 Xrotation");
        assert_err(&text, &["End Site of JOINT Head cannot have CHANNELS"]);
        assert_err(
            &TINY.replace("JOINT Leg", "JOINT"),
            &[":20:", "JOINT has no name"],
        );
    }

    #[test]
    fn missing_file_names_the_path() {
        let e = read(Path::new("/nonexistent/x.bvh"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/x.bvh"), "{e}");
    }
}
