//! NumPy `.npy` arrays: generic joint arrays, HumanML3D `new_joints`, and writing.
//!
//! Reading accepts format versions 1–3, C order, little- or big-endian `f2`/`f4`/`f8` and
//! integer dtypes (converted to `f32`). The header is checked against the file size before
//! anything is allocated. Shapes: `[T, J, 3]`, `[T, P, J, 3]` or `[T, J, 2]` (z = 0).

use std::path::Path;

use crate::error::{Error, ParseError, Result, read_bytes};
use crate::layout::Layout;
use crate::skeleton::{Format, Skeleton, Source};

const MAGIC: &[u8] = b"\x93NUMPY";

/// HumanML3D clips are 20 frames per second.
pub const HUMANML3D_FPS: f32 = 20.0;

/// An element type of an `.npy` file that we can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DType {
    F16,
    F32,
    F64,
    I32,
    I64,
    U8,
}

impl DType {
    fn size(self) -> usize {
        match self {
            DType::U8 => 1,
            DType::F16 => 2,
            DType::F32 | DType::I32 => 4,
            DType::F64 | DType::I64 => 8,
        }
    }
}

/// The parsed header of an `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyHeader {
    /// Array shape.
    pub shape: Vec<usize>,
    dtype: DType,
    big_endian: bool,
    /// Offset of the data in the file.
    data_offset: usize,
}

/// Parses an `.npy` header from the first bytes of a file of `file_len` bytes.
fn parse_header(path: &Path, bytes: &[u8], file_len: usize) -> Result<NpyHeader, ParseError> {
    let err = |m: String| ParseError::file(path, m);
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(err("not an .npy file (bad magic)".into()));
    }
    let major = bytes[6];
    let (header_len, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(err("truncated .npy header".into()));
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(err(format!("unsupported .npy version {v}"))),
    };
    if header_len > file_len.saturating_sub(start) || header_len > 1 << 20 {
        return Err(err(format!(
            "header length {header_len} is larger than the file ({file_len} bytes) allows"
        )));
    }
    if bytes.len() < start + header_len {
        return Err(err("truncated .npy header".into()));
    }
    let text = std::str::from_utf8(&bytes[start..start + header_len])
        .map_err(|_| err("header is not text".into()))?;
    let descr =
        dict_value(text, "descr").ok_or_else(|| err(format!("header has no 'descr': {text}")))?;
    let descr = descr.trim().trim_matches(|c| c == '\'' || c == '"');
    let (big_endian, code) = match descr.as_bytes().first() {
        Some(b'>') => (true, &descr[1..]),
        Some(b'<') | Some(b'|') | Some(b'=') => (false, &descr[1..]),
        _ => (false, descr),
    };
    let dtype = match code {
        "f2" => DType::F16,
        "f4" => DType::F32,
        "f8" => DType::F64,
        "i4" => DType::I32,
        "i8" => DType::I64,
        "u1" => DType::U8,
        other => {
            return Err(err(format!(
                "unsupported dtype '{other}' (float16/32/64, int32/64, uint8)"
            )));
        }
    };
    let fortran = dict_value(text, "fortran_order")
        .ok_or_else(|| err("header has no 'fortran_order'".into()))?;
    if fortran.trim().starts_with("True") {
        return Err(err(
            "Fortran-ordered arrays are not supported; save with C order".into(),
        ));
    }
    let shape_text =
        dict_value(text, "shape").ok_or_else(|| err("header has no 'shape'".into()))?;
    let inner = shape_text
        .trim()
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| err(format!("malformed shape '{shape_text}'")))?;
    let mut shape = Vec::new();
    for part in inner.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let n: usize = part
            .trim_end_matches('L')
            .parse()
            .map_err(|_| err(format!("malformed shape '{shape_text}'")))?;
        shape.push(n);
    }
    let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let data_offset = start + header_len;
    let need = count
        .and_then(|c| c.checked_mul(dtype.size()))
        .and_then(|b| b.checked_add(data_offset));
    match need {
        Some(n) if n <= file_len => {}
        _ => {
            return Err(err(format!(
                "shape {shape:?} needs more data than the file holds ({file_len} bytes)"
            )));
        }
    }
    // Only an empty array can get here with a dimension larger than the file: refuse it, or a
    // tiny file could claim 10^18 frames or bodies.
    if shape.iter().any(|&d| d > file_len) {
        return Err(err(format!(
            "shape {shape:?} is empty but claims more frames or bodies than the file ({file_len} bytes) could hold"
        )));
    }
    Ok(NpyHeader {
        shape,
        dtype,
        big_endian,
        data_offset,
    })
}

/// The text of `key`'s value in a Python dict literal (up to the next top-level comma).
fn dict_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let pos = text
        .find(&format!("'{key}'"))
        .or_else(|| text.find(&format!("\"{key}\"")))?;
    let rest = &text[pos + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?;
    let mut depth = 0i32;
    for (i, c) in rest.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(&rest[..i]),
            _ => {}
        }
    }
    Some(rest)
}

/// Reads the shape of an `.npy` file from its header only.
pub fn peek_shape(path: &Path) -> Result<Vec<usize>> {
    use std::io::Read;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len() as usize;
    let mut head = Vec::new();
    file.take(1 << 16).read_to_end(&mut head).map_err(io)?;
    let header_end = head.len().min(len);
    // Headers longer than what we read are rare; read the whole file then.
    let header = match parse_header(path, &head[..header_end], len) {
        Err(e) if e.msg.starts_with("truncated") && len > head.len() => {
            let all = read_bytes(path)?;
            parse_header(path, &all, len)?
        }
        other => other?,
    };
    Ok(header.shape)
}

/// Reads a whole `.npy` file as `f32` values with its shape.
pub fn read_array(path: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    let bytes = read_bytes(path)?;
    let h = parse_header(path, &bytes, bytes.len())?;
    let n: usize = h.shape.iter().product();
    let data = &bytes[h.data_offset..h.data_offset + n * h.dtype.size()];
    let sz = h.dtype.size();
    let mut out = Vec::with_capacity(n);
    for chunk in data.chunks_exact(sz) {
        let mut b = [0u8; 8];
        b[..sz].copy_from_slice(chunk);
        if h.big_endian {
            b[..sz].reverse();
        }
        out.push(match h.dtype {
            DType::F16 => half_to_f32(u16::from_le_bytes([b[0], b[1]])),
            DType::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            DType::F64 => f64::from_le_bytes(b) as f32,
            DType::I32 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32,
            DType::I64 => i64::from_le_bytes(b) as f32,
            DType::U8 => b[0] as f32,
        });
    }
    Ok((h.shape, out))
}

/// IEEE half → single precision.
fn half_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // Subnormal: normalise.
            let mut e = 127 - 15 + 1;
            let mut f = f;
            while f & 0x400 == 0 {
                f <<= 1;
                e -= 1;
            }
            sign | ((e as u32) << 23) | ((f & 0x3ff) << 13)
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 127 - 15) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

/// Reads a generic joint array: `[T, J, 3]`, `[T, P, J, 3]` or `[T, J, 2]`. The layout is
/// `layout` if given, else guessed from `J`. A body whose coordinates are all zero in a frame is
/// absent (the NTU convention).
pub fn read(path: &Path, layout: Option<Layout>) -> Result<Skeleton> {
    let (shape, data) = read_array(path)?;
    let (t, p, j, c) = match shape.as_slice() {
        &[t, j, c @ (2 | 3)] => (t, 1, j, c),
        &[t, p, j, 3] => (t, p, j, 3),
        s => {
            return Err(ParseError::file(
                path,
                format!("array shape {s:?} is not [T, J, 3], [T, P, J, 3] or [T, J, 2]"),
            )
            .into());
        }
    };
    let layout = match layout {
        Some(l) => l,
        None => {
            let name = Layout::guess_from_joint_count(j).ok_or_else(|| {
                ParseError::file(
                    path,
                    format!("no built-in layout has {j} joints; pass --layout"),
                )
            })?;
            Layout::builtin(name)?
        }
    };
    if layout.num_joints() != j {
        return Err(ParseError::file(
            path,
            format!(
                "layout {} has {} joints but the array has {j}",
                layout.name,
                layout.num_joints()
            ),
        )
        .into());
    }
    let pos = if c == 3 {
        data
    } else {
        data.chunks_exact(2)
            .flat_map(|xy| [xy[0], xy[1], 0.0])
            .collect()
    };
    let skel = Skeleton::from_dense(pos, t, p, layout)?;
    Ok(skel.with_source(Source {
        format: Some(Format::Npy),
        path: Some(path.to_path_buf()),
        ..Default::default()
    }))
}

/// Reads a HumanML3D `new_joints` clip: float `[T, 22, 3]`, SMPL-22, y up, metres, 20 fps.
pub fn read_humanml3d(path: &Path) -> Result<Skeleton> {
    let shape = peek_shape(path)?;
    if !matches!(shape.as_slice(), [_, 22, 3]) {
        return Err(ParseError::file(
            path,
            format!("HumanML3D joints must be [T, 22, 3], found {shape:?}"),
        )
        .into());
    }
    let mut skel = read(path, Some(Layout::builtin("smpl22")?))?;
    skel.fps = Some(HUMANML3D_FPS);
    skel.source.format = Some(Format::HumanMl3d);
    Ok(skel)
}

/// Writes a float32 `.npy` array of the given shape.
pub fn write_array(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    let n: usize = shape.iter().product();
    if n != data.len() {
        return Err(Error::Invalid(format!(
            "shape {shape:?} holds {n} values, got {}",
            data.len()
        )));
    }
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_txt = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_txt}, }}");
    // Pad so that magic + version + len + header + '\n' is a multiple of 64.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    crate::io::write_atomic(path, &out)
}

/// Writes a skeleton's joints as float32 `[T, P, J, 3]` (absent joints are 0).
pub fn write_joints(skel: &Skeleton, path: &Path) -> Result<()> {
    let [t, p, j] = skel.dims();
    write_array(path, &[t, p, j, 3], skel.positions())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_bytes(dict: &str) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[1, 0]);
        v.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        v.extend_from_slice(dict.as_bytes());
        v
    }

    #[test]
    fn round_trip_4d() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        let data: Vec<f32> = (0..3 * 2 * 25 * 3).map(|i| i as f32 * 0.5 + 1.0).collect();
        write_array(&p, &[3, 2, 25, 3], &data).unwrap();
        assert_eq!(peek_shape(&p).unwrap(), vec![3, 2, 25, 3]);
        let s = read(&p, None).unwrap();
        assert_eq!(s.dims(), [3, 2, 25]);
        assert_eq!(s.layout().name, "ntu25");
        assert_eq!(s.positions(), &data[..]);
    }

    #[test]
    fn two_d_gets_zero_z_and_humanml3d_is_smpl22() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.npy");
        write_array(&p, &[2, 17, 2], &vec![1.5; 2 * 17 * 2]).unwrap();
        let s = read(&p, None).unwrap();
        assert_eq!(s.position(1, 0, 3), [1.5, 1.5, 0.0]);
        let h = dir.path().join("h.npy");
        write_array(&h, &[4, 22, 3], &vec![0.3; 4 * 22 * 3]).unwrap();
        let s = read_humanml3d(&h).unwrap();
        assert_eq!(s.layout().name, "smpl22");
        assert_eq!(s.fps, Some(20.0));
        assert!(read_humanml3d(&p).is_err());
    }

    #[test]
    fn f64_big_endian_and_half() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.npy");
        let mut bytes =
            header_bytes("{'descr': '>f8', 'fortran_order': False, 'shape': (1, 15, 3), }\n");
        for i in 0..45 {
            bytes.extend_from_slice(&(i as f64 + 0.25).to_be_bytes());
        }
        std::fs::write(&p, bytes).unwrap();
        let s = read(&p, None).unwrap();
        assert_eq!(s.layout().name, "deepmimic15");
        assert_eq!(s.position(0, 0, 1), [3.25, 4.25, 5.25]);
        assert_eq!(half_to_f32(0x3c00), 1.0);
        assert_eq!(half_to_f32(0xc000), -2.0);
        assert_eq!(half_to_f32(0x0001), 2f32.powi(-24));
    }

    #[test]
    fn bad_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.npy");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"".to_vec(), "bad magic"),
            (b"hello world, not numpy".to_vec(), "bad magic"),
            (
                header_bytes(
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 25, 3), }",
                ),
                "needs more data",
            ),
            (
                header_bytes(
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999, 99999999999), }",
                ),
                "needs more data",
            ),
            (
                header_bytes("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }"),
                "unsupported dtype",
            ),
            (
                header_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }"),
                "Fortran",
            ),
            (
                header_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (a, b), }"),
                "malformed shape",
            ),
            (
                {
                    let mut v = MAGIC.to_vec();
                    v.extend_from_slice(&[2, 0]);
                    v.extend_from_slice(&u32::MAX.to_le_bytes());
                    v
                },
                "header length",
            ),
            (
                header_bytes(
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 1000000000000000000, 25, 3), }",
                ),
                "is empty but claims",
            ),
            (
                header_bytes(
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000000000, 0, 25, 3), }",
                ),
                "is empty but claims",
            ),
        ];
        for (bytes, want) in cases {
            std::fs::write(&p, &bytes).unwrap();
            let e = read(&p, None).unwrap_err().to_string();
            assert!(e.contains("bad.npy") && e.contains(want), "{want}: {e}");
        }
        // A valid array of an unsupported shape.
        write_array(&p, &[4, 5], &[0.0; 20]).unwrap();
        assert!(
            read(&p, None)
                .unwrap_err()
                .to_string()
                .contains("is not [T, J, 3]")
        );
        write_array(&p, &[1, 7, 3], &[0.0; 21]).unwrap();
        assert!(
            read(&p, None)
                .unwrap_err()
                .to_string()
                .contains("no built-in layout has 7 joints")
        );
    }
}
