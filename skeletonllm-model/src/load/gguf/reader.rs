//! Reading a GGUF file (v2/v3): header, metadata key/values, the tensor table, every offset
//! checked against the file's length, tensor data on demand.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use burn::tensor::TensorData;

use super::dequant::{DequantError, GgmlType, dequantize};

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

    /// A [`GgufError::Tensor`] for tensor `name` of this file.
    pub(super) fn tensor_error(&self, name: &str, msg: impl Into<String>) -> GgufError {
        GgufError::Tensor {
            path: self.path.clone(),
            name: name.to_string(),
            msg: msg.into(),
        }
    }

    /// The table entry of tensor `name`, or a [`GgufError::Tensor`] saying it is absent.
    pub(super) fn info(&self, name: &str) -> Result<&GgufTensorInfo, GgufError> {
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
