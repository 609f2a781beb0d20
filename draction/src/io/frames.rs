//! Skeleton frames as JSON lines, one frame per line, for live input (`skeletonllm stream`).
//!
//! Each line is one frame, in any of these shapes (`null` = a missing joint):
//! - `[[x, y, z], …]` or `{"joints": [[x, y, z], …]}`: one body;
//! - `[[[x, y, z], …], …]` or `{"persons": [[[x, y, z], …], …]}`: several bodies.
//!
//! [`next_line`] reads one line of at most [`MAX_LINE_BYTES`], [`parse_frame`] turns it into a
//! [`Frame`], and [`window_skeleton`] stacks frames into a [`Skeleton`]. Errors are
//! [`Error::Frame`] (with the 1-based line number and a [`FrameProblem`]) or
//! [`Error::FrameRead`].
//!
//! ```
//! use draction::io::frames::{next_line, parse_frame, window_skeleton};
//! use draction::Layout;
//!
//! let mut input = "[[0,1,2],null]\n{\"persons\": [[[0,1,2],[3,4,5]]]}\n".as_bytes();
//! let mut frames = Vec::new();
//! let mut line = 0;
//! while let Some(text) = next_line(&mut input, line + 1)? {
//!     line += 1;
//!     frames.push(parse_frame(&text, line)?);
//! }
//! assert_eq!(frames[1][0][1], Some([3.0, 4.0, 5.0]));
//! let layout = Layout::from_hierarchy("pair", vec!["a".into(), "b".into()], vec![None, Some(0)])?;
//! let skel = window_skeleton(&frames, &layout, 30.0)?;
//! assert_eq!(skel.dims(), [2, 1, 2]);
//! assert!(!skel.is_valid(0, 0, 1));
//! # Ok::<(), draction::Error>(())
//! ```

use std::io::BufRead;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::skeleton::Skeleton;

/// Longest input line, bytes.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// One body: a position per joint, `None` = missing joint.
pub type Body = Vec<Option<[f32; 3]>>;

/// One frame: bodies of joints, `None` = missing joint.
pub type Frame = Vec<Body>;

/// What is wrong with one line of frames (see [`Error::Frame`] for where).
#[derive(Debug, thiserror::Error)]
pub enum FrameProblem {
    /// The line is not JSON.
    #[error("not JSON: {0}")]
    NotJson(serde_json::Error),
    /// An object frame has both or neither of `"joints"` and `"persons"`.
    #[error("an object frame needs exactly one of \"joints\" and \"persons\"")]
    ObjectKeys,
    /// The frame is neither an array nor an object.
    #[error("a frame is an array or an object")]
    NotArrayOrObject,
    /// `"persons"` is not an array.
    #[error("\"persons\" is not an array of bodies")]
    PersonsNotArray,
    /// A body is not an array.
    #[error("a body is not an array of joints")]
    BodyNotArray,
    /// A joint is neither `[x, y, z]` nor `null` (the joint as written).
    #[error("a joint is not [x, y, z] or null: {0}")]
    BadJoint(Value),
    /// A coordinate is not a number (the coordinate as written).
    #[error("a coordinate is not a number: {0}")]
    BadCoordinate(Value),
    /// The line is longer than the reader accepts.
    #[error("longer than {} MiB (one frame per line)", max_bytes >> 20)]
    TooLong {
        /// The most bytes a line may have.
        max_bytes: usize,
    },
    /// The line is not UTF-8 text.
    #[error("not UTF-8 text")]
    NotUtf8,
}

/// One joint: `[x, y, z]` or `null`.
fn point(v: &Value) -> Result<Option<[f32; 3]>, FrameProblem> {
    if v.is_null() {
        return Ok(None);
    }
    let a = v
        .as_array()
        .filter(|a| a.len() == 3)
        .ok_or_else(|| FrameProblem::BadJoint(v.clone()))?;
    let mut p = [0.0f32; 3];
    for (k, c) in a.iter().enumerate() {
        p[k] = c
            .as_f64()
            .ok_or_else(|| FrameProblem::BadCoordinate(c.clone()))? as f32;
    }
    Ok(Some(p))
}

/// One body: an array of joints.
pub fn body(v: &Value) -> Result<Body, FrameProblem> {
    v.as_array()
        .ok_or(FrameProblem::BodyNotArray)?
        .iter()
        .map(point)
        .collect()
}

/// The frame of one input line's text; errors name `line` (1-based).
pub fn parse_frame(text: &str, line: usize) -> Result<Frame> {
    frame(text).map_err(|problem| Error::Frame { line, problem })
}

/// [`parse_frame`] without the line number.
fn frame(text: &str) -> Result<Frame, FrameProblem> {
    let v: Value = serde_json::from_str(text).map_err(FrameProblem::NotJson)?;
    let (bodies, single) = match &v {
        Value::Object(o) => match (o.get("joints"), o.get("persons")) {
            (Some(j), None) => (j, true),
            (None, Some(p)) => (p, false),
            _ => return Err(FrameProblem::ObjectKeys),
        },
        Value::Array(a) => {
            // A body's first entry is a point (array of numbers) or null; a list of bodies'
            // first entry is an array of points.
            let nested = a
                .first()
                .and_then(Value::as_array)
                .and_then(|first| first.first())
                .is_some_and(|x| x.is_array() || x.is_null());
            (&v, !nested)
        }
        _ => return Err(FrameProblem::NotArrayOrObject),
    };
    if single {
        return Ok(vec![body(bodies)?]);
    }
    bodies
        .as_array()
        .ok_or(FrameProblem::PersonsNotArray)?
        .iter()
        .map(body)
        .collect()
}

/// The frames as a skeleton at `fps` (bodies padded with missing joints to the widest frame).
pub fn window_skeleton<'a, I>(frames: I, layout: &Layout, fps: f32) -> Result<Skeleton>
where
    I: IntoIterator<Item = &'a Frame>,
    I::IntoIter: Clone,
{
    let frames = frames.into_iter();
    let joints = layout.num_joints();
    let persons = frames.clone().map(Vec::len).max().unwrap_or(1).max(1);
    let t = frames.clone().count();
    let mut positions = vec![0.0f32; t * persons * joints * 3];
    let mut valid = vec![false; t * persons * joints];
    for (f, frame) in frames.enumerate() {
        for (p, bodyj) in frame.iter().enumerate() {
            for (j, joint) in bodyj.iter().enumerate() {
                if let Some(q) = joint {
                    let k = (f * persons + p) * joints + j;
                    valid[k] = true;
                    positions[k * 3..k * 3 + 3].copy_from_slice(q);
                }
            }
        }
    }
    Ok(Skeleton::new(positions, valid, t, persons, layout.clone())?.with_fps(Some(fps)))
}

/// Reads line `line` (1-based, for errors) of at most [`MAX_LINE_BYTES`], without its line
/// ending; `None` at the end of input.
pub fn next_line(reader: &mut impl BufRead, line: usize) -> Result<Option<String>> {
    let mut buf = Vec::new();
    let n = std::io::Read::take(&mut *reader, MAX_LINE_BYTES as u64 + 1)
        .read_until(b'\n', &mut buf)
        .map_err(|source| Error::FrameRead { line, source })?;
    if n == 0 {
        return Ok(None);
    }
    let problem = |problem| Error::Frame { line, problem };
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > MAX_LINE_BYTES {
        return Err(problem(FrameProblem::TooLong {
            max_bytes: MAX_LINE_BYTES,
        }));
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| problem(FrameProblem::NotUtf8))
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    #[test]
    fn frame_shapes() {
        let parse = |text: &str| parse_frame(text, 1);
        assert_eq!(parse("[[1,2,3],null]").unwrap().len(), 1);
        let f = parse(r#"{"persons": [[[1,2,3]], [[4,5,6]]]}"#).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[1][0], Some([4.0, 5.0, 6.0]));
        let f = parse("[[[1,2,3],[4,5,6]],[[7,8,9],null]]").unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[1][1], None);
        assert_eq!(parse(r#"{"joints": [[0,0,0]]}"#).unwrap()[0].len(), 1);
        assert!(parse("[[1,2]]").is_err());
        assert!(parse("{}").is_err());
        assert!(parse("nope").is_err());
        assert!(parse(r#"[["a",2,3]]"#).is_err());
    }

    #[test]
    fn errors_name_the_line_and_the_problem() {
        let err = parse_frame("[[1,2]]", 4).unwrap_err();
        assert!(matches!(
            err,
            Error::Frame {
                line: 4,
                problem: FrameProblem::BadJoint(_)
            }
        ));
        assert_eq!(
            err.to_string(),
            "line 4: a joint is not [x, y, z] or null: [1,2]"
        );
        let long = vec![b'1'; MAX_LINE_BYTES + 10];
        let err = next_line(&mut long.as_slice(), 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1: longer than 1 MiB (one frame per line)"
        );
        let err = next_line(&mut &b"\xff\n"[..], 2).unwrap_err();
        assert_eq!(err.to_string(), "line 2: not UTF-8 text");
        let mut input = &b"a\r\n\nb"[..];
        let lines: Vec<_> = (1..=4).map(|k| next_line(&mut input, k).unwrap()).collect();
        assert_eq!(
            lines,
            [
                Some("a".into()),
                Some(String::new()),
                Some("b".into()),
                None
            ]
        );
    }

    #[test]
    fn window_pads_bodies() {
        let layout = Layout::builtin("coco17").unwrap();
        let one = vec![vec![Some([0.0, 1.0, 2.0]); 17]];
        let two = vec![vec![Some([0.0, 1.0, 2.0]); 17], vec![None; 17]];
        let w: VecDeque<Frame> = [one, two].into_iter().collect();
        let s = window_skeleton(&w, &layout, 30.0).unwrap();
        assert_eq!(s.dims(), [2, 2, 17]);
        assert!(!s.is_valid(0, 1, 0));
        assert!(s.is_valid(1, 0, 16));
    }
}
