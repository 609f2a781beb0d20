//! Model inputs and outputs as safetensors files (the `skeletonllm forward` / `generate`
//! contract): reading `input_ids` / `attention_mask` / `pixel_values` with dtype and rank
//! checks, and writing named tensors atomically.

use std::path::Path;

use burn::tensor::{DType, Device, Int, Tensor, TensorData};

use crate::error::{Error, Result};
use crate::internvl::InternVlInput;
use crate::load::read_safetensors;

fn bad(path: &Path, name: &str, msg: String) -> Error {
    Error::BadInput {
        path: path.to_path_buf(),
        name: name.into(),
        msg,
    }
}

/// Check that `data` has rank `rank` and one of the `dtypes`.
fn check(path: &Path, name: &str, data: &TensorData, rank: usize, dtypes: &[DType]) -> Result<()> {
    if !dtypes.contains(&data.dtype()) {
        return Err(bad(
            path,
            name,
            format!("dtype {:?}, expected one of {dtypes:?}", data.dtype()),
        ));
    }
    if data.rank() != rank {
        return Err(bad(
            path,
            name,
            format!("shape {:?}, expected rank {rank}", data.shape().to_vec()),
        ));
    }
    Ok(())
}

const INT_DTYPES: [DType; 2] = [DType::I64, DType::I32];
const FLOAT_DTYPES: [DType; 4] = [DType::F32, DType::F16, DType::BF16, DType::F64];

/// Read model inputs from a safetensors file: `input_ids` `[batch, len]` (i64 or i32),
/// optional `attention_mask` `[batch, len]` (i64, i32 or bool; 1 = attend) and optional
/// `pixel_values` `[images, channels, H, W]` (f32; f16/bf16/f64 are converted). Other tensors
/// are ignored. Shapes against the model are checked by
/// [`InternVl::check_input`](crate::InternVl::check_input).
///
/// # Errors
///
/// [`Error::Safetensors`] for an unreadable file, [`Error::MissingInput`] without `input_ids`,
/// [`Error::BadInput`] for a wrong dtype or rank.
pub fn read_inputs(path: &Path, device: &Device) -> Result<InternVlInput> {
    let mut tensors = read_safetensors(path)?;
    let ids = tensors
        .remove("input_ids")
        .ok_or_else(|| Error::MissingInput {
            path: path.to_path_buf(),
            name: "input_ids".into(),
        })?;
    check(path, "input_ids", &ids, 2, &INT_DTYPES)?;
    let mut input = InternVlInput::new(Tensor::<2, Int>::from_data(ids.convert::<i64>(), device));
    if let Some(mask) = tensors.remove("attention_mask") {
        let mask = if matches!(mask.dtype(), DType::Bool(_)) {
            let values: Vec<i64> = mask.iter::<bool>().map(i64::from).collect();
            TensorData::new(values, mask.shape().clone())
        } else {
            mask
        };
        check(path, "attention_mask", &mask, 2, &INT_DTYPES)?;
        input = input.attention_mask(Tensor::from_data(mask.convert::<i64>(), device));
    }
    if let Some(pixels) = tensors.remove("pixel_values") {
        check(path, "pixel_values", &pixels, 4, &FLOAT_DTYPES)?;
        input = input.pixel_values(Tensor::from_data(pixels.convert::<f32>(), device));
    }
    Ok(input)
}

fn safetensors_dtype(dtype: DType) -> Option<safetensors::Dtype> {
    Some(match dtype {
        DType::F64 => safetensors::Dtype::F64,
        DType::F32 => safetensors::Dtype::F32,
        DType::F16 => safetensors::Dtype::F16,
        DType::BF16 => safetensors::Dtype::BF16,
        DType::I64 => safetensors::Dtype::I64,
        DType::I32 => safetensors::Dtype::I32,
        DType::I16 => safetensors::Dtype::I16,
        DType::I8 => safetensors::Dtype::I8,
        DType::U8 => safetensors::Dtype::U8,
        DType::Bool(burn::tensor::BoolStore::Native) => safetensors::Dtype::BOOL,
        _ => return None,
    })
}

/// Write named tensors to a safetensors file, atomically: a temporary file in the same folder is
/// written, then renamed over `path`.
///
/// # Errors
///
/// [`Error::Safetensors`] for a dtype safetensors cannot hold (or a serialisation failure),
/// [`Error::Io`] naming `path` when the file cannot be written.
pub fn write_safetensors(path: &Path, tensors: Vec<(String, TensorData)>) -> Result<()> {
    let st_error = |msg: String| Error::Safetensors {
        path: path.to_path_buf(),
        msg,
    };
    let mut views = Vec::with_capacity(tensors.len());
    for (name, data) in &tensors {
        let dtype = safetensors_dtype(data.dtype())
            .ok_or_else(|| st_error(format!("{name}: dtype {:?} not writable", data.dtype())))?;
        let view =
            safetensors::tensor::TensorView::new(dtype, data.shape().to_vec(), data.as_bytes())
                .map_err(|e| st_error(format!("{name}: {e}")))?;
        views.push((name.as_str(), view));
    }
    let bytes = safetensors::serialize(views, None).map_err(|e| st_error(e.to_string()))?;
    crate::load::save::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("skeletonllm-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn inputs_round_trip_and_bad_dtypes_are_named() {
        let device = Device::default();
        let path = temp("inputs.safetensors");
        write_safetensors(
            &path,
            vec![
                (
                    "input_ids".into(),
                    TensorData::new(vec![1i32, 2, 3], [1, 3]),
                ),
                (
                    "attention_mask".into(),
                    TensorData::new(vec![false, true, true], [1, 3]),
                ),
                (
                    "pixel_values".into(),
                    TensorData::new(vec![0.5f32; 3 * 28 * 28], [1, 3, 28, 28]),
                ),
            ],
        )
        .unwrap();
        let input = read_inputs(&path, &device).unwrap();
        let ids: Vec<i64> = input.input_ids.to_data().iter::<i64>().collect();
        assert_eq!(ids, [1, 2, 3]);
        let mask: Vec<i64> = input
            .attention_mask
            .unwrap()
            .to_data()
            .iter::<i64>()
            .collect();
        assert_eq!(mask, [0, 1, 1]);
        assert_eq!(input.pixel_values.unwrap().dims(), [1, 3, 28, 28]);

        write_safetensors(
            &path,
            vec![(
                "input_ids".into(),
                TensorData::new(vec![1.0f32, 2.0], [1, 2]),
            )],
        )
        .unwrap();
        let err = read_inputs(&path, &device).unwrap_err().to_string();
        assert!(
            err.contains("inputs.safetensors") && err.contains("input_ids") && err.contains("F32"),
            "{err}"
        );

        write_safetensors(
            &path,
            vec![("pixel_values".into(), TensorData::new(vec![1.0f32], [1]))],
        )
        .unwrap();
        let err = read_inputs(&path, &device).unwrap_err();
        assert!(matches!(err, Error::MissingInput { .. }), "{err}");
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
