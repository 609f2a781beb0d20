//! Dequantising GGML tensor data to f32: F32, F16, BF16, Q8_0, Q4_0, Q4_1 and the K-quants
//! Q4_K, Q5_K, Q6_K, Q8_K.

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
