//! GGUF (llama.cpp's single-file format, v2/v3): a bounds-checked reader, dequantisation to f32,
//! and loading Llama-architecture files (SmolLM2, Llama) into [`Qwen2ForCausalLm`].
//!
//! - [`GgufFile::open`] reads the header, every metadata key/value (all value types, nested
//!   arrays included) and the tensor table, and checks that every tensor's data lies inside the
//!   file: a truncated or lying file is a [`GgufError`] naming the file, never a panic or an
//!   allocation larger than the file. Tensor data is read on demand ([`GgufFile::tensor_f32`]).
//! - [`dequantize`]: F32, F16, BF16, Q8_0, Q4_0, Q4_1 (what SmolLM2-135M-Instruct.Q4_1 uses:
//!   Q4_1 projections, a Q8_0 embedding, F32 norms) and the K-quants Q4_K, Q5_K, Q6_K, Q8_K
//!   (the usual `Q4_K_M` / `Q5_K_M` / `Q6_K` files). Other types are listed by the reader and
//!   rejected with [`DequantError::Unsupported`] when their data is needed.
//! - [`load_gguf_llama`]: [`Qwen2Config`] from the `{arch}.*` keys ([`qwen2_config`]), tensors
//!   renamed to the HF names ([`hf_name`]), llama.cpp's Q/K row permutation undone
//!   ([`unpermute_rows`]), then applied through [`super::apply_tensors`] (lazily: each tensor
//!   is read and dequantised when the model takes it).
//!
//! [`generate_text`] is a text-only decoding loop over a bare decoder ([`crate::generate()`] takes
//! an [`InternVl`](crate::InternVl)).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::store::bridge;
use burn::store::burn_pack::{Error as PackError, Tensor as PackTensor};
use burn::tensor::{DType, Device, Int, Shape, Tensor, TensorData};

use crate::generate::GenerateOptions;
use crate::qwen2::{Qwen2Config, Qwen2ForCausalLm, RopeScaling};
use crate::sampling::apply_repetition_penalty;

/// The first four bytes of every GGUF file.
const GGUF_MAGIC: [u8; 4] = *b"GGUF";
/// Alignment of the tensor data when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// Deepest array nesting the reader accepts (arrays of arrays of ...).
const MAX_ARRAY_DEPTH: usize = 8;
/// Most dimensions a GGML tensor has.
const MAX_DIMS: u32 = 4;

/// Everything that can go wrong reading or loading a GGUF file; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// The file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The bytes are not a well-formed GGUF file (bad magic, truncated, lengths past the end).
    #[error("{}: malformed GGUF at byte {offset}: {msg}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// Byte offset where the problem was found.
        offset: u64,
        /// What was wrong.
        msg: String,
    },
    /// Well-formed, but asks for something this reader does not implement (version, type, arch).
    #[error("{}: unsupported GGUF: {msg}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is unsupported.
        msg: String,
    },
    /// A metadata key is missing or has the wrong type or an impossible value.
    #[error("{}: metadata `{key}`: {msg}", path.display())]
    Metadata {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// What was wrong.
        msg: String,
    },
    /// A tensor is missing, mis-shaped, out of the file's bounds or cannot be dequantised.
    #[error("{}: tensor `{name}`: {msg}", path.display())]
    Tensor {
        /// The file.
        path: PathBuf,
        /// The tensor's GGUF name.
        name: String,
        /// What was wrong.
        msg: String,
    },
    /// The tokenizer described by the metadata cannot be built.
    #[error("{}: tokenizer: {msg}", path.display())]
    Tokenizer {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        msg: String,
    },
    /// The tensors do not fit the model (every missing/unexpected/mis-shaped one is named).
    #[error(transparent)]
    Model(#[from] crate::Error),
}

/// A metadata value (GGUF value types 0–12).
#[derive(Debug, Clone, PartialEq)]
pub enum GgufValue {
    /// Type 0.
    U8(u8),
    /// Type 1.
    I8(i8),
    /// Type 2.
    U16(u16),
    /// Type 3.
    I16(i16),
    /// Type 4.
    U32(u32),
    /// Type 5.
    I32(i32),
    /// Type 6.
    F32(f32),
    /// Type 7.
    Bool(bool),
    /// Type 8 (invalid UTF-8 is replaced by U+FFFD).
    String(String),
    /// Type 9: elements of one type (possibly arrays themselves).
    Array(Vec<GgufValue>),
    /// Type 10.
    U64(u64),
    /// Type 11.
    I64(i64),
    /// Type 12.
    F64(f64),
}

impl GgufValue {
    /// The value as an unsigned integer, if it is a non-negative integer of any width.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::U8(v) => Some(v.into()),
            Self::U16(v) => Some(v.into()),
            Self::U32(v) => Some(v.into()),
            Self::U64(v) => Some(v),
            Self::I8(v) => u64::try_from(v).ok(),
            Self::I16(v) => u64::try_from(v).ok(),
            Self::I32(v) => u64::try_from(v).ok(),
            Self::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a signed integer, if it is an integer of any width that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Self::I8(v) => Some(v.into()),
            Self::I16(v) => Some(v.into()),
            Self::I32(v) => Some(v.into()),
            Self::I64(v) => Some(v),
            _ => self.as_u64().and_then(|v| i64::try_from(v).ok()),
        }
    }

    /// The value as a float, if it is a float or an integer.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::F32(v) => Some(v.into()),
            Self::F64(v) => Some(v),
            _ => self.as_i64().map(|v| v as f64),
        }
    }

    /// The value as a string slice, if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a bool, if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Self::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, if the value is an array.
    pub fn as_array(&self) -> Option<&[GgufValue]> {
        match self {
            Self::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The GGUF name of the value's type (for error messages).
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::U8(_) => "uint8",
            Self::I8(_) => "int8",
            Self::U16(_) => "uint16",
            Self::I16(_) => "int16",
            Self::U32(_) => "uint32",
            Self::I32(_) => "int32",
            Self::F32(_) => "float32",
            Self::Bool(_) => "bool",
            Self::String(_) => "string",
            Self::Array(_) => "array",
            Self::U64(_) => "uint64",
            Self::I64(_) => "int64",
            Self::F64(_) => "float64",
        }
    }
}

/// A GGML tensor type (`ggml_type` ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum GgmlType {
    /// 0: f32.
    F32,
    /// 1: f16.
    F16,
    /// 2: 32-value blocks, f16 scale + 4-bit values offset by 8.
    Q4_0,
    /// 3: 32-value blocks, f16 scale and minimum + 4-bit values.
    Q4_1,
    /// 6: 32-value blocks, 5-bit.
    Q5_0,
    /// 7: 32-value blocks, 5-bit with minimum.
    Q5_1,
    /// 8: 32-value blocks, f16 scale + int8 values.
    Q8_0,
    /// 9: 32-value blocks, int8 with sum.
    Q8_1,
    /// 10: 256-value k-quant.
    Q2_K,
    /// 11: 256-value k-quant.
    Q3_K,
    /// 12: 256-value k-quant.
    Q4_K,
    /// 13: 256-value k-quant.
    Q5_K,
    /// 14: 256-value k-quant.
    Q6_K,
    /// 15: 256-value k-quant.
    Q8_K,
    /// 24: int8.
    I8,
    /// 25: int16.
    I16,
    /// 26: int32.
    I32,
    /// 27: int64.
    I64,
    /// 28: f64.
    F64,
    /// 30: bfloat16.
    BF16,
    /// Any other id (its data size is unknown to this reader).
    Other(u32),
}

impl GgmlType {
    /// The type with this `ggml_type` id.
    pub fn from_id(id: u32) -> Self {
        match id {
            0 => Self::F32,
            1 => Self::F16,
            2 => Self::Q4_0,
            3 => Self::Q4_1,
            6 => Self::Q5_0,
            7 => Self::Q5_1,
            8 => Self::Q8_0,
            9 => Self::Q8_1,
            10 => Self::Q2_K,
            11 => Self::Q3_K,
            12 => Self::Q4_K,
            13 => Self::Q5_K,
            14 => Self::Q6_K,
            15 => Self::Q8_K,
            24 => Self::I8,
            25 => Self::I16,
            26 => Self::I32,
            27 => Self::I64,
            28 => Self::F64,
            30 => Self::BF16,
            other => Self::Other(other),
        }
    }

    /// `(values per block, bytes per block)`, or `None` for [`GgmlType::Other`].
    pub fn block_layout(self) -> Option<(u64, u64)> {
        Some(match self {
            Self::F32 | Self::I32 => (1, 4),
            Self::F16 | Self::BF16 | Self::I16 => (1, 2),
            Self::I8 => (1, 1),
            Self::I64 | Self::F64 => (1, 8),
            Self::Q4_0 => (32, 18),
            Self::Q4_1 => (32, 20),
            Self::Q5_0 => (32, 22),
            Self::Q5_1 => (32, 24),
            Self::Q8_0 => (32, 34),
            Self::Q8_1 => (32, 36),
            Self::Q2_K => (256, 84),
            Self::Q3_K => (256, 110),
            Self::Q4_K => (256, 144),
            Self::Q5_K => (256, 176),
            Self::Q6_K => (256, 210),
            Self::Q8_K => (256, 292),
            Self::Other(_) => return None,
        })
    }

    /// Whether [`dequantize`] handles this type.
    pub fn is_supported(self) -> bool {
        matches!(
            self,
            Self::F32
                | Self::F16
                | Self::BF16
                | Self::Q8_0
                | Self::Q4_0
                | Self::Q4_1
                | Self::Q4_K
                | Self::Q5_K
                | Self::Q6_K
                | Self::Q8_K
        )
    }
}

/// Why [`dequantize`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DequantError {
    /// The type has no dequantiser here.
    #[error(
        "dequantising {0:?} is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, \
         Q5_K, Q6_K, Q8_K)"
    )]
    Unsupported(GgmlType),
    /// The byte count is not a whole number of blocks.
    #[error("{len} bytes of {ty:?} is not a whole number of {block_bytes}-byte blocks")]
    Length {
        /// The type.
        ty: GgmlType,
        /// Bytes given.
        len: usize,
        /// Bytes per block.
        block_bytes: usize,
    },
}

fn f16_at(b: &[u8], i: usize) -> f32 {
    half::f16::from_le_bytes([b[i], b[i + 1]]).to_f32()
}

/// ggml's `get_scale_min_k4`: the 6-bit scale and min of sub-block `j` (0..8) from the 12
/// packed bytes of a Q4_K/Q5_K super-block.
fn scale_min_k4(j: usize, q: &[u8]) -> (f32, f32) {
    let (sc, m) = if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    };
    (f32::from(sc), f32::from(m))
}

/// ggml's `dequantize_row_q4_K` / `dequantize_row_q5_K` for one super-block (256 values):
/// `d`, `dmin` (f16), 12 bytes of scales/mins, for Q5_K 32 bytes of high bits, 128 bytes of
/// low nibbles. Each 64-value chunk uses two sub-blocks (low nibbles, then high nibbles).
fn dequant_q45_k(b: &[u8], five_bits: bool, out: &mut Vec<f32>) {
    let (d, min) = (f16_at(b, 0), f16_at(b, 2));
    let scales = &b[4..16];
    let (qh, ql) = if five_bits {
        (&b[16..48], &b[48..176])
    } else {
        (&b[0..0], &b[16..144])
    };
    for chunk in 0..4 {
        let q = &ql[chunk * 32..chunk * 32 + 32];
        let (sc1, m1) = scale_min_k4(2 * chunk, scales);
        let (sc2, m2) = scale_min_k4(2 * chunk + 1, scales);
        let (d1, m1) = (d * sc1, min * m1);
        let (d2, m2) = (d * sc2, min * m2);
        let (u1, u2) = (1u8 << (2 * chunk), 2u8 << (2 * chunk));
        let high = |l: usize, u: u8| -> u8 { if five_bits && qh[l] & u != 0 { 16 } else { 0 } };
        out.extend((0..32).map(|l| d1 * f32::from((q[l] & 0x0f) + high(l, u1)) - m1));
        out.extend((0..32).map(|l| d2 * f32::from((q[l] >> 4) + high(l, u2)) - m2));
    }
}

/// ggml's `dequantize_row_q6_K` for one super-block (256 values): 128 bytes of low nibbles,
/// 64 bytes of 2-bit high parts, 16 int8 scales, `d` (f16); `y = d * scale * (q - 32)`.
fn dequant_q6_k(b: &[u8], out: &mut Vec<f32>) {
    let d = f16_at(b, 208);
    let start = out.len();
    out.resize(start + 256, 0.0);
    let y = &mut out[start..];
    for half in 0..2 {
        let ql = &b[half * 64..half * 64 + 64];
        let qh = &b[128 + half * 32..128 + half * 32 + 32];
        let sc = &b[192 + half * 8..192 + half * 8 + 8];
        let y = &mut y[half * 128..half * 128 + 128];
        for l in 0..32 {
            let is = l / 16;
            let q1 = i32::from((ql[l] & 0x0f) | ((qh[l] & 3) << 4)) - 32;
            let q2 = i32::from((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
            let q3 = i32::from((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            let q4 = i32::from((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            let s = |k: usize| f32::from(sc[is + k] as i8);
            y[l] = d * s(0) * q1 as f32;
            y[l + 32] = d * s(2) * q2 as f32;
            y[l + 64] = d * s(4) * q3 as f32;
            y[l + 96] = d * s(6) * q4 as f32;
        }
    }
}

/// Dequantise raw little-endian GGML data of type `ty` to f32 (as ggml's `dequantize_row_*`).
///
/// # Errors
///
/// [`DequantError`] for an unsupported type or a length that is not whole blocks.
pub fn dequantize(ty: GgmlType, bytes: &[u8]) -> Result<Vec<f32>, DequantError> {
    let (block_values, block_bytes) = match (ty.is_supported(), ty.block_layout()) {
        (true, Some((v, b))) => (v as usize, b as usize),
        _ => return Err(DequantError::Unsupported(ty)),
    };
    if !bytes.len().is_multiple_of(block_bytes) {
        return Err(DequantError::Length {
            ty,
            len: bytes.len(),
            block_bytes,
        });
    }
    let blocks = bytes.chunks_exact(block_bytes);
    let mut out = Vec::with_capacity(bytes.len() / block_bytes * block_values);
    match ty {
        GgmlType::F32 => {
            out.extend(blocks.map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
        }
        GgmlType::F16 => out.extend(blocks.map(|b| f16_at(b, 0))),
        GgmlType::BF16 => {
            out.extend(blocks.map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()));
        }
        GgmlType::Q8_0 => {
            for b in blocks {
                let d = f16_at(b, 0);
                out.extend(b[2..34].iter().map(|&q| f32::from(q as i8) * d));
            }
        }
        GgmlType::Q4_0 => {
            for b in blocks {
                let d = f16_at(b, 0);
                let qs = &b[2..18];
                out.extend(qs.iter().map(|&q| (i32::from(q & 0x0f) - 8) as f32 * d));
                out.extend(qs.iter().map(|&q| (i32::from(q >> 4) - 8) as f32 * d));
            }
        }
        GgmlType::Q4_1 => {
            for b in blocks {
                let (d, m) = (f16_at(b, 0), f16_at(b, 2));
                let qs = &b[4..20];
                out.extend(qs.iter().map(|&q| f32::from(q & 0x0f) * d + m));
                out.extend(qs.iter().map(|&q| f32::from(q >> 4) * d + m));
            }
        }
        GgmlType::Q4_K => blocks.for_each(|b| dequant_q45_k(b, false, &mut out)),
        GgmlType::Q5_K => blocks.for_each(|b| dequant_q45_k(b, true, &mut out)),
        GgmlType::Q6_K => blocks.for_each(|b| dequant_q6_k(b, &mut out)),
        GgmlType::Q8_K => {
            // f32 d, int8 qs[256], int16 bsums[16] (unused here).
            for b in blocks {
                let d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                out.extend(b[4..260].iter().map(|&q| d * f32::from(q as i8)));
            }
        }
        _ => return Err(DequantError::Unsupported(ty)),
    }
    Ok(out)
}

/// One entry of the tensor table.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufTensorInfo {
    /// The GGUF name (`blk.0.attn_q.weight`).
    pub name: String,
    /// Dimensions in GGML order (`ne[0]` = the contiguous one, e.g. `[in, out]` for a matrix).
    pub dims: Vec<u64>,
    /// The data type.
    pub ggml_type: GgmlType,
    /// Offset of the data from the start of the data section.
    pub offset: u64,
    /// Number of values.
    pub n_elements: u64,
    /// Size of the data in bytes (`None` for a type of unknown layout).
    pub n_bytes: Option<u64>,
}

impl GgufTensorInfo {
    /// The row-major shape, outermost first (`[out, in]` for a matrix, as PyTorch has it).
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }
}

/// The header version and every metadata key/value of a GGUF file.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufMetadata {
    /// GGUF version (2 or 3).
    pub version: u32,
    /// Every key/value pair.
    pub kv: BTreeMap<String, GgufValue>,
}

impl GgufMetadata {
    /// The value of a key.
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.kv.get(key)
    }

    /// A string value (`None` when absent or not a string).
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(GgufValue::as_str)
    }

    /// A non-negative integer value of any width (`None` when absent or not one).
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(GgufValue::as_u64)
    }

    /// A float (or integer) value (`None` when absent or not a number).
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(GgufValue::as_f64)
    }

    /// A bool value (`None` when absent or not a bool).
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(GgufValue::as_bool)
    }

    /// `general.architecture` (`llama`, `qwen2`, ...).
    pub fn architecture(&self) -> Option<&str> {
        self.get_str("general.architecture")
    }
}

/// A parsed GGUF file: metadata and tensor table; tensor data is read on demand.
#[derive(Debug, Clone)]
pub struct GgufFile {
    /// The file.
    pub path: PathBuf,
    /// Header version and key/values.
    pub metadata: GgufMetadata,
    /// The tensor table, in file order.
    pub tensors: Vec<GgufTensorInfo>,
    /// Absolute offset of the data section.
    pub data_offset: u64,
    /// Alignment of the data section and of every tensor offset.
    pub alignment: u64,
    /// File size in bytes.
    pub file_len: u64,
    by_name: BTreeMap<String, usize>,
}

/// Sequential reader over the header that knows how many bytes are left.
struct Reader<R> {
    inner: R,
    pos: u64,
    len: u64,
    path: PathBuf,
}

impl<R: Read> Reader<R> {
    fn format(&self, msg: impl Into<String>) -> GgufError {
        GgufError::Format {
            path: self.path.clone(),
            offset: self.pos,
            msg: msg.into(),
        }
    }

    fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    fn fill(&mut self, buf: &mut [u8], what: &str) -> Result<(), GgufError> {
        let n = buf.len() as u64;
        if n > self.remaining() {
            return Err(self.format(format!(
                "unexpected end of file reading {what} ({n} bytes needed, {} left): truncated?",
                self.remaining()
            )));
        }
        self.inner.read_exact(buf).map_err(|source| GgufError::Io {
            path: self.path.clone(),
            source,
        })?;
        self.pos += n;
        Ok(())
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        let mut buf = [0u8; N];
        self.fill(&mut buf, what)?;
        Ok(buf)
    }

    fn u32(&mut self, what: &str) -> Result<u32, GgufError> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &str) -> Result<u64, GgufError> {
        self.array(what).map(u64::from_le_bytes)
    }

    fn bytes(&mut self, n: u64, what: &str) -> Result<Vec<u8>, GgufError> {
        if n > self.remaining() {
            return Err(self.format(format!(
                "{what}: length {n} exceeds the {} bytes left in the file",
                self.remaining()
            )));
        }
        let mut buf = vec![0u8; n as usize];
        self.fill(&mut buf, what)?;
        Ok(buf)
    }

    /// A string whose content must be valid UTF-8 (keys, tensor names).
    fn name(&mut self, what: &str) -> Result<String, GgufError> {
        let n = self.u64(what)?;
        let start = self.pos;
        let bytes = self.bytes(n, what)?;
        String::from_utf8(bytes).map_err(|_| GgufError::Format {
            path: self.path.clone(),
            offset: start,
            msg: format!("{what} is not valid UTF-8"),
        })
    }

    fn string_value(&mut self, what: &str) -> Result<String, GgufError> {
        let n = self.u64(what)?;
        let bytes = self.bytes(n, what)?;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// Smallest encoding of one value of type `ty` (to bound array counts by the file size).
    fn min_size(&self, ty: u32, what: &str) -> Result<u64, GgufError> {
        Ok(match ty {
            0 | 1 | 7 => 1,
            2 | 3 => 2,
            4..=6 => 4,
            8 | 10..=12 => 8,
            9 => 12,
            other => return Err(self.format(format!("{what}: unknown value type {other}"))),
        })
    }

    fn value(&mut self, ty: u32, depth: usize, what: &str) -> Result<GgufValue, GgufError> {
        Ok(match ty {
            0 => GgufValue::U8(self.array::<1>(what)?[0]),
            1 => GgufValue::I8(i8::from_le_bytes(self.array(what)?)),
            2 => GgufValue::U16(u16::from_le_bytes(self.array(what)?)),
            3 => GgufValue::I16(i16::from_le_bytes(self.array(what)?)),
            4 => GgufValue::U32(u32::from_le_bytes(self.array(what)?)),
            5 => GgufValue::I32(i32::from_le_bytes(self.array(what)?)),
            6 => GgufValue::F32(f32::from_le_bytes(self.array(what)?)),
            7 => match self.array::<1>(what)?[0] {
                0 => GgufValue::Bool(false),
                1 => GgufValue::Bool(true),
                b => return Err(self.format(format!("{what}: bool byte {b} is neither 0 nor 1"))),
            },
            8 => GgufValue::String(self.string_value(what)?),
            9 => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(self.format(format!(
                        "{what}: arrays nested deeper than {MAX_ARRAY_DEPTH}"
                    )));
                }
                let elem = self.u32(what)?;
                let count = self.u64(what)?;
                let min = self.min_size(elem, what)?;
                if count.checked_mul(min).is_none_or(|n| n > self.remaining()) {
                    return Err(self.format(format!(
                        "{what}: array of {count} elements cannot fit in the {} bytes left",
                        self.remaining()
                    )));
                }
                // Bounded by the file size (checked above); grown as elements are read.
                let mut items = Vec::with_capacity((count as usize).min(1 << 16));
                for _ in 0..count {
                    items.push(self.value(elem, depth + 1, what)?);
                }
                GgufValue::Array(items)
            }
            10 => GgufValue::U64(u64::from_le_bytes(self.array(what)?)),
            11 => GgufValue::I64(i64::from_le_bytes(self.array(what)?)),
            12 => GgufValue::F64(f64::from_le_bytes(self.array(what)?)),
            other => return Err(self.format(format!("{what}: unknown value type {other}"))),
        })
    }
}

impl GgufFile {
    /// Parse the header, metadata and tensor table of a GGUF v2/v3 file and check that every
    /// tensor's data lies inside the file.
    ///
    /// # Errors
    ///
    /// [`GgufError::Io`] when the file cannot be read, [`GgufError::Format`] for a malformed or
    /// truncated file, [`GgufError::Unsupported`] for another version or a big-endian file,
    /// [`GgufError::Tensor`] for a tensor whose data is out of bounds.
    pub fn open(path: &Path) -> Result<Self, GgufError> {
        let io = |source| GgufError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let mut r = Reader {
            inner: BufReader::new(file),
            pos: 0,
            len,
            path: path.to_path_buf(),
        };
        let magic: [u8; 4] = r.array("the magic number")?;
        if magic != GGUF_MAGIC {
            return Err(GgufError::Format {
                path: path.to_path_buf(),
                offset: 0,
                msg: format!("not a GGUF file (magic {magic:02x?}, expected \"GGUF\")"),
            });
        }
        let version = r.u32("the version")?;
        let unsupported = |msg: String| GgufError::Unsupported {
            path: path.to_path_buf(),
            msg,
        };
        if version.swap_bytes() == 2 || version.swap_bytes() == 3 {
            return Err(unsupported(
                "big-endian GGUF files are not supported".into(),
            ));
        }
        if version != 2 && version != 3 {
            return Err(unsupported(format!(
                "version {version} (only 2 and 3 are supported)"
            )));
        }
        let tensor_count = r.u64("the tensor count")?;
        let kv_count = r.u64("the metadata count")?;
        // A key/value takes at least 13 bytes, a tensor info at least 28.
        if kv_count.checked_mul(13).is_none_or(|n| n > r.remaining()) {
            return Err(r.format(format!(
                "{kv_count} metadata entries cannot fit in a {len}-byte file"
            )));
        }
        if tensor_count
            .checked_mul(28)
            .is_none_or(|n| n > r.remaining())
        {
            return Err(r.format(format!(
                "{tensor_count} tensor infos cannot fit in a {len}-byte file"
            )));
        }

        let mut kv = BTreeMap::new();
        for i in 0..kv_count {
            let key = r.name(&format!("metadata key #{i}"))?;
            let ty = r.u32(&format!("the type of `{key}`"))?;
            let value = r.value(ty, 0, &format!("`{key}`"))?;
            if kv.insert(key.clone(), value).is_some() {
                return Err(r.format(format!("duplicate metadata key `{key}`")));
            }
        }
        let metadata = GgufMetadata { version, kv };
        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(v) => match v.as_u64() {
                Some(a) if a > 0 && a.is_power_of_two() && a <= 1 << 20 => a,
                _ => {
                    return Err(GgufError::Metadata {
                        path: path.to_path_buf(),
                        key: "general.alignment".into(),
                        msg: format!("{v:?} is not a power of two up to 1 MiB"),
                    });
                }
            },
        };

        let mut tensors = Vec::new();
        let mut by_name = BTreeMap::new();
        for i in 0..tensor_count {
            let name = r.name(&format!("the name of tensor #{i}"))?;
            let what = format!("tensor `{name}`");
            let n_dims = r.u32(&what)?;
            if n_dims == 0 || n_dims > MAX_DIMS {
                return Err(r.format(format!("{what}: {n_dims} dimensions (1 to 4 allowed)")));
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                dims.push(r.u64(&what)?);
            }
            let ggml_type = GgmlType::from_id(r.u32(&what)?);
            let offset = r.u64(&what)?;
            let n_elements = dims
                .iter()
                .try_fold(1u64, |acc, &d| acc.checked_mul(d))
                .filter(|&n| n > 0)
                .ok_or_else(|| r.format(format!("{what}: impossible dimensions {dims:?}")))?;
            let n_bytes = match ggml_type.block_layout() {
                None => None,
                Some((block_values, block_bytes)) => {
                    if !dims[0].is_multiple_of(block_values) {
                        return Err(r.format(format!(
                            "{what}: {ggml_type:?} rows of {} values are not whole \
                             {block_values}-value blocks",
                            dims[0]
                        )));
                    }
                    let n_bytes = (n_elements / block_values).checked_mul(block_bytes);
                    Some(n_bytes.ok_or_else(|| {
                        r.format(format!("{what}: impossible dimensions {dims:?}"))
                    })?)
                }
            };
            if !offset.is_multiple_of(alignment) {
                return Err(r.format(format!(
                    "{what}: data offset {offset} is not a multiple of the alignment {alignment}"
                )));
            }
            if by_name.insert(name.clone(), tensors.len()).is_some() {
                return Err(r.format(format!("duplicate tensor `{name}`")));
            }
            tensors.push(GgufTensorInfo {
                name,
                dims,
                ggml_type,
                offset,
                n_elements,
                n_bytes,
            });
        }
        let data_offset = r.pos.div_ceil(alignment) * alignment;
        for t in &tensors {
            let Some(n_bytes) = t.n_bytes else { continue };
            let end = data_offset
                .checked_add(t.offset)
                .and_then(|s| s.checked_add(n_bytes));
            if end.is_none_or(|end| end > len) {
                return Err(GgufError::Tensor {
                    path: path.to_path_buf(),
                    name: t.name.clone(),
                    msg: format!(
                        "data at bytes {}..{} extends past the end of the {len}-byte file \
                         (truncated?)",
                        data_offset.saturating_add(t.offset),
                        data_offset.saturating_add(t.offset).saturating_add(n_bytes)
                    ),
                });
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            metadata,
            tensors,
            data_offset,
            alignment,
            file_len: len,
            by_name,
        })
    }

    /// The tensor table entry of a name.
    pub fn tensor(&self, name: &str) -> Option<&GgufTensorInfo> {
        self.by_name.get(name).map(|&i| &self.tensors[i])
    }

    fn tensor_error(&self, name: &str, msg: impl Into<String>) -> GgufError {
        GgufError::Tensor {
            path: self.path.clone(),
            name: name.to_string(),
            msg: msg.into(),
        }
    }

    fn info(&self, name: &str) -> Result<&GgufTensorInfo, GgufError> {
        self.tensor(name)
            .ok_or_else(|| self.tensor_error(name, "not in the file"))
    }

    /// The raw bytes of a tensor.
    ///
    /// # Errors
    ///
    /// [`GgufError::Tensor`] for an unknown name or a type of unknown size,
    /// [`GgufError::Io`] when the read fails (e.g. the file shrank since it was opened).
    pub fn tensor_bytes(&self, name: &str) -> Result<Vec<u8>, GgufError> {
        let info = self.info(name)?;
        let n_bytes = info.n_bytes.ok_or_else(|| {
            self.tensor_error(
                name,
                format!("type {:?} has an unknown size", info.ggml_type),
            )
        })?;
        let io = |source| GgufError::Io {
            path: self.path.clone(),
            source,
        };
        let mut file = File::open(&self.path).map_err(io)?;
        file.seek(SeekFrom::Start(self.data_offset + info.offset))
            .map_err(io)?;
        // n_bytes was checked against the file size in `open`.
        let mut buf = vec![0u8; n_bytes as usize];
        file.read_exact(&mut buf).map_err(io)?;
        Ok(buf)
    }

    /// A tensor dequantised to f32, with its row-major shape ([`GgufTensorInfo::shape`]).
    ///
    /// # Errors
    ///
    /// As [`GgufFile::tensor_bytes`]; [`GgufError::Tensor`] for a type [`dequantize`] rejects.
    pub fn tensor_f32(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), GgufError> {
        let info = self.info(name)?;
        if !info.ggml_type.is_supported() {
            return Err(
                self.tensor_error(name, DequantError::Unsupported(info.ggml_type).to_string())
            );
        }
        let bytes = self.tensor_bytes(name)?;
        let values = dequantize(info.ggml_type, &bytes)
            .map_err(|e| self.tensor_error(name, e.to_string()))?;
        Ok((info.shape(), values))
    }

    /// A tensor dequantised to f32 as [`TensorData`].
    ///
    /// # Errors
    ///
    /// As [`GgufFile::tensor_f32`].
    pub fn tensor_data(&self, name: &str) -> Result<TensorData, GgufError> {
        let (shape, values) = self.tensor_f32(name)?;
        Ok(TensorData::new(values, shape))
    }
}

/// The HF (`LlamaForCausalLM`) name of a GGUF tensor name, `None` for names with no counterpart.
pub fn hf_name(gguf_name: &str) -> Option<String> {
    match gguf_name {
        "token_embd.weight" => return Some("model.embed_tokens.weight".into()),
        "output_norm.weight" => return Some("model.norm.weight".into()),
        "output.weight" => return Some("lm_head.weight".into()),
        _ => {}
    }
    let rest = gguf_name.strip_prefix("blk.")?;
    let (layer, rest) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (module, param) = rest.rsplit_once('.')?;
    if param != "weight" && param != "bias" {
        return None;
    }
    let hf = match module {
        "attn_q" => "self_attn.q_proj",
        "attn_k" => "self_attn.k_proj",
        "attn_v" => "self_attn.v_proj",
        "attn_output" => "self_attn.o_proj",
        "ffn_gate" => "mlp.gate_proj",
        "ffn_up" => "mlp.up_proj",
        "ffn_down" => "mlp.down_proj",
        "attn_norm" => "input_layernorm",
        "ffn_norm" => "post_attention_layernorm",
        _ => return None,
    };
    Some(format!("model.layers.{layer}.{hf}.{param}"))
}

/// Undo llama.cpp's `LlamaModel.permute` on the rows of a `[n_head * head_dim, cols]` matrix
/// (or a `[n_head * head_dim]` bias, `cols = 1`): GGUF row `h*hd + 2j + t` goes back to HF row
/// `h*hd + t*hd/2 + j`, so HF's `rotate_half` RoPE applies.
///
/// Returns `None` when the rows are not `n_head` heads of an even width.
pub fn unpermute_rows(values: &[f32], n_head: usize, cols: usize) -> Option<Vec<f32>> {
    if n_head == 0 || cols == 0 || !values.len().is_multiple_of(cols) {
        return None;
    }
    let rows = values.len() / cols;
    if !rows.is_multiple_of(2 * n_head) {
        return None;
    }
    let hd = rows / n_head;
    let half = hd / 2;
    let mut out = vec![0f32; values.len()];
    for h in 0..n_head {
        for j in 0..half {
            for t in 0..2 {
                let src = (h * hd + 2 * j + t) * cols;
                let dst = (h * hd + t * half + j) * cols;
                out[dst..dst + cols].copy_from_slice(&values[src..src + cols]);
            }
        }
    }
    Some(out)
}

/// Architectures [`load_gguf_llama`] takes; `llama` has permuted Q/K rows, `qwen2` does not.
pub const SUPPORTED_ARCHITECTURES: [&str; 2] = ["llama", "qwen2"];

/// The decoder config a Llama-family GGUF describes (`{arch}.*` keys), checked against the
/// tensor shapes so that a lying header cannot ask for a model larger than the file.
///
/// # Errors
///
/// [`GgufError::Unsupported`] for another architecture or RoPE scaling, partial rotary or
/// unusual head layouts; [`GgufError::Metadata`] for a missing or inconsistent key;
/// [`GgufError::Tensor`] when a tensor the config implies is missing or mis-shaped.
pub fn qwen2_config(file: &GgufFile) -> Result<Qwen2Config, GgufError> {
    let meta = &file.metadata;
    let path = &file.path;
    let arch = meta.architecture().ok_or_else(|| GgufError::Metadata {
        path: path.clone(),
        key: "general.architecture".into(),
        msg: "missing or not a string".into(),
    })?;
    if !SUPPORTED_ARCHITECTURES.contains(&arch) {
        return Err(GgufError::Unsupported {
            path: path.clone(),
            msg: format!("architecture `{arch}` (supported: {SUPPORTED_ARCHITECTURES:?})"),
        });
    }
    let meta_err = |key: &str, msg: String| GgufError::Metadata {
        path: path.clone(),
        key: key.to_string(),
        msg,
    };
    let uint = |name: &str| -> Result<Option<usize>, GgufError> {
        let key = format!("{arch}.{name}");
        match meta.get(&key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|v| usize::try_from(v).ok())
                .filter(|&v| v > 0)
                .map(Some)
                .ok_or_else(|| meta_err(&key, format!("expected a positive integer, found {v:?}"))),
        }
    };
    let required = |name: &str| -> Result<usize, GgufError> {
        uint(name)?.ok_or_else(|| meta_err(&format!("{arch}.{name}"), "missing".into()))
    };
    let float = |name: &str| -> Result<Option<f64>, GgufError> {
        let key = format!("{arch}.{name}");
        match meta.get(&key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|f| f.is_finite() && *f > 0.0)
                .map(Some)
                .ok_or_else(|| meta_err(&key, format!("expected a positive number, found {v:?}"))),
        }
    };
    let hidden = required("embedding_length")?;
    let layers = required("block_count")?;
    let ffn = required("feed_forward_length")?;
    let heads = required("attention.head_count")?;
    let kv_heads = uint("attention.head_count_kv")?.unwrap_or(heads);
    let context = required("context_length")?;
    let eps = float("attention.layer_norm_rms_epsilon")?.ok_or_else(|| {
        meta_err(
            &format!("{arch}.attention.layer_norm_rms_epsilon"),
            "missing".into(),
        )
    })?;
    let theta = float("rope.freq_base")?.unwrap_or(10000.0);
    let head_dim = uint("attention.key_length")?.unwrap_or(hidden / heads);
    if heads % kv_heads != 0 || head_dim % 2 != 0 {
        return Err(GgufError::Unsupported {
            path: path.clone(),
            msg: format!("{heads} query heads over {kv_heads} key/value heads of width {head_dim}"),
        });
    }
    if let Some(v) = uint("attention.value_length")?
        && v != head_dim
    {
        return Err(GgufError::Unsupported {
            path: path.clone(),
            msg: format!("value heads of width {v} differ from key heads of width {head_dim}"),
        });
    }
    if let Some(rot) = uint("rope.dimension_count")?
        && rot != head_dim
    {
        return Err(GgufError::Unsupported {
            path: path.clone(),
            msg: format!("partial rotary embedding ({rot} of {head_dim} dimensions)"),
        });
    }
    let scaling_key = format!("{arch}.rope.scaling.type");
    let rope_scaling = match meta.get_str(&scaling_key) {
        None | Some("none") => RopeScaling::None,
        Some("linear") => RopeScaling::Linear {
            factor: float("rope.scaling.factor")?.unwrap_or(1.0),
        },
        Some(other) => {
            return Err(GgufError::Unsupported {
                path: path.clone(),
                msg: format!("`{scaling_key}` = `{other}` (supported: none, linear)"),
            });
        }
    };

    // The tensors must agree: this bounds the model `init` allocates by the file's contents.
    let expect = |name: &str, dims: &[usize]| -> Result<(), GgufError> {
        let info = file.info(name)?;
        let want: Vec<u64> = dims.iter().map(|&d| d as u64).collect();
        if info.dims != want {
            return Err(file.tensor_error(
                name,
                format!(
                    "GGML dims {:?}, but the metadata implies {want:?}",
                    info.dims
                ),
            ));
        }
        Ok(())
    };
    let embd = file.info("token_embd.weight")?;
    let vocab = match embd.dims.as_slice() {
        [d, v] if *d == hidden as u64 => *v as usize,
        dims => {
            return Err(file.tensor_error(
                "token_embd.weight",
                format!("GGML dims {dims:?}, expected [{hidden}, vocab]"),
            ));
        }
    };
    if let Some(v) = uint("vocab_size")?
        && v != vocab
    {
        return Err(meta_err(
            &format!("{arch}.vocab_size"),
            format!("{v}, but token_embd.weight has {vocab} rows"),
        ));
    }
    for i in 0..layers {
        expect(
            &format!("blk.{i}.attn_q.weight"),
            &[hidden, heads * head_dim],
        )?;
        expect(
            &format!("blk.{i}.attn_k.weight"),
            &[hidden, kv_heads * head_dim],
        )?;
        expect(&format!("blk.{i}.ffn_up.weight"), &[hidden, ffn])?;
    }
    let tied = file.tensor("output.weight").is_none();
    let attention_bias = file.tensor("blk.0.attn_q.bias").is_some();
    let mlp_bias = file.tensor("blk.0.ffn_up.bias").is_some();
    Ok(
        Qwen2Config::new(vocab, hidden, ffn, layers, heads, kv_heads)
            .with_head_dim(Some(head_dim))
            .with_rms_norm_eps(eps)
            .with_rope_theta(theta)
            .with_rope_scaling(rope_scaling)
            .with_max_position_embeddings(context)
            .with_attention_bias(attention_bias)
            .with_mlp_bias(mlp_bias)
            .with_tie_word_embeddings(tied),
    )
}

/// Every tensor of a Llama-family GGUF as a lazy HF-named f32 tensor for
/// [`super::apply_tensors`]: dequantised and (for `llama`) un-permuted when taken. Tensors with
/// no HF name keep their GGUF name (and are then reported as unexpected).
///
/// # Errors
///
/// [`GgufError::Tensor`] for a tensor of a type [`dequantize`] does not handle.
pub fn hf_tensors(
    file: &Arc<GgufFile>,
    config: &Qwen2Config,
) -> Result<Vec<PackTensor>, GgufError> {
    let permuted = file.metadata.architecture() == Some("llama");
    let mut out = Vec::with_capacity(file.tensors.len());
    for info in &file.tensors {
        if !info.ggml_type.is_supported() {
            return Err(file.tensor_error(
                &info.name,
                DequantError::Unsupported(info.ggml_type).to_string(),
            ));
        }
        let hf = hf_name(&info.name).unwrap_or_else(|| info.name.clone());
        let shape = info.shape();
        let heads = if !permuted {
            None
        } else if hf.contains(".self_attn.q_proj.") {
            Some(config.num_attention_heads)
        } else if hf.contains(".self_attn.k_proj.") {
            Some(config.num_key_value_heads)
        } else {
            None
        };
        let cols = if shape.len() == 2 { shape[1] } else { 1 };
        let file = Arc::clone(file);
        let gguf_name = info.name.clone();
        let data_shape = shape.clone();
        out.push(bridge::deferred(
            hf,
            DType::F32,
            Shape::from(shape),
            None,
            move || {
                let (_, values) = file
                    .tensor_f32(&gguf_name)
                    .map_err(|e| PackError::ValidationError(e.to_string()))?;
                let values = match heads {
                    None => values,
                    Some(n_head) => unpermute_rows(&values, n_head, cols).ok_or_else(|| {
                        PackError::ValidationError(format!(
                            "{gguf_name}: rows are not {n_head} heads of an even width"
                        ))
                    })?,
                };
                Ok(TensorData::new(values, data_shape.clone()))
            },
        ));
    }
    Ok(out)
}

/// Load a Llama-family GGUF (SmolLM2, Llama 2/3 without rope-freq tensors, Qwen2) into
/// [`Qwen2ForCausalLm`]; also returns the file's metadata (tokenizer, chat template, ...).
///
/// # Errors
///
/// As [`GgufFile::open`], [`qwen2_config`] and [`hf_tensors`]; [`GgufError::Model`] (wrapping
/// [`crate::Error::Weights`]) listing every missing, unexpected or mis-shaped tensor.
pub fn load_gguf_llama(
    path: &Path,
    device: &Device,
) -> Result<(Qwen2ForCausalLm, GgufMetadata), GgufError> {
    let file = Arc::new(GgufFile::open(path)?);
    let config = qwen2_config(&file)?;
    let tensors = hf_tensors(&file, &config)?;
    let mut model = config.init(device);
    super::apply_tensors(&mut model, tensors, path)?;
    Ok((model, file.metadata.clone()))
}

/// Make a tied model's LM head fast for inference: [`Qwen2ForCausalLm::untie_for_inference`]
/// (a contiguous, non-persisted `[D, V]` copy of the embedding matrix, `+V×D` floats). Same
/// logits; on the CPU backend the tied head's matmul against the transposed `[V, D]` embedding
/// is ~10× slower than against a contiguous matrix (SmolLM2: 240 ms vs 25 ms per token). The
/// parameters and their names do not change. Does nothing when the model already has a head.
pub fn untie_head(lm: &mut Qwen2ForCausalLm) {
    lm.untie_for_inference();
}

/// Decode after a text prompt with a bare decoder (no images), with or without the KV cache;
/// calls `on_token` with each new id (returning [`ControlFlow::Break`] stops after it) and
/// returns the new ids. Same semantics as [`crate::generate_streaming`]; an empty prompt
/// generates nothing.
pub fn generate_text(
    lm: &Qwen2ForCausalLm,
    prompt_ids: &[i64],
    mut options: GenerateOptions,
    mut on_token: impl FnMut(i64) -> ControlFlow<()>,
) -> Vec<i64> {
    let mut generated = Vec::with_capacity(options.max_new_tokens);
    if prompt_ids.is_empty() {
        return generated;
    }
    let device = lm.model.embed_tokens.weight.device();
    let ids = |ids: &[i64]| {
        Tensor::<2, Int>::from_data(TensorData::new(ids.to_vec(), [1, ids.len()]), &device)
    };
    let mut seen = prompt_ids.to_vec();
    let mut cache = options.use_cache.then(|| lm.new_cache());
    let mut step = ids(prompt_ids);
    for _ in 0..options.max_new_tokens {
        let logits = lm.forward_embeds_last(lm.embed(step), None, cache.as_mut()); // [1, 1, V]
        let mut row: Vec<f32> = logits.into_data().iter::<f32>().collect();
        apply_repetition_penalty(&mut row, &seen, options.repetition_penalty);
        let id = options.sampler.sample(&row) as i64;
        generated.push(id);
        seen.push(id);
        if on_token(id).is_break() || !options.ignore_eos && options.eos_token_ids.contains(&id) {
            break;
        }
        step = if cache.is_some() {
            ids(&[id])
        } else {
            ids(&seen)
        };
    }
    generated
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpermute_inverts_llama_cpp_permute() {
        // 2 heads of width 4, 1 column: HF rows [0..8); llama.cpp's permute interleaves halves.
        let hf: Vec<f32> = (0..8).map(|v| v as f32).collect();
        let permuted = [0., 2., 1., 3., 4., 6., 5., 7.];
        assert_eq!(unpermute_rows(&permuted, 2, 1).unwrap(), hf);
        assert!(unpermute_rows(&permuted, 3, 1).is_none());
    }

    #[test]
    fn hf_names() {
        assert_eq!(
            hf_name("blk.12.attn_k.weight").as_deref(),
            Some("model.layers.12.self_attn.k_proj.weight")
        );
        assert_eq!(
            hf_name("blk.0.ffn_norm.weight").as_deref(),
            Some("model.layers.0.post_attention_layernorm.weight")
        );
        assert_eq!(hf_name("rope_freqs.weight"), None);
    }

    #[test]
    fn q4_1_block() {
        let mut block = Vec::new();
        block.extend(half::f16::from_f32(0.5).to_le_bytes());
        block.extend(half::f16::from_f32(-1.0).to_le_bytes());
        block.extend((0..16u8).map(|i| i | ((15 - i) << 4)));
        let v = dequantize(GgmlType::Q4_1, &block).unwrap();
        assert_eq!(v.len(), 32);
        assert_eq!((v[0], v[15], v[16], v[31]), (-1.0, 6.5, 6.5, -1.0));
        assert!(dequantize(GgmlType::Q4_1, &block[..19]).is_err());
        assert!(dequantize(GgmlType::Q3_K, &[0; 110]).is_err());
        assert_eq!(
            dequantize(GgmlType::Q6_K, &[0; 210]).unwrap(),
            vec![0.0; 256]
        );
    }
}
