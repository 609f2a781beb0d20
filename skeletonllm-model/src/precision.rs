//! Lower-precision frozen bases: the vision tower's and the language model's frozen weights in
//! bf16 or f16 while what trains (LoRA adapters, the projector, DrAction) and its optimizer
//! state stay f32. Activations change dtype at the module boundaries: pixels are cast to the
//! ViT's dtype, its output to the projector's, image features to the LM's, and the logits back
//! to f32 (see [`crate::InternVl::forward`]).

use std::str::FromStr;

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{DType, Device, Tensor};

use crate::internvl::InternVl;

/// The dtype of the frozen bases (`--base-dtype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BaseDtype {
    /// bf16 on CUDA, f16 on wgpu, f32 on the CPU.
    #[default]
    Auto,
    /// 32-bit floats (no cast).
    F32,
    /// bfloat16.
    Bf16,
    /// IEEE half.
    F16,
}

impl FromStr for BaseDtype {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "f32" | "fp32" | "float32" => Ok(Self::F32),
            "bf16" | "bfloat16" => Ok(Self::Bf16),
            "f16" | "fp16" | "float16" | "half" => Ok(Self::F16),
            other => Err(format!(
                "`{other}` is not a base dtype: use auto, f32, bf16 or f16"
            )),
        }
    }
}

/// What kind of device a [`Device`] is, as far as dtypes and training strategies care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceFamily {
    /// A CUDA GPU.
    Cuda,
    /// A wgpu adapter (Vulkan, Metal, WebGPU).
    Wgpu,
    /// The CPU (or anything else).
    Cpu,
}

impl DeviceFamily {
    /// The family of `device` (read from its debug name: Burn's dispatch device names its
    /// runtime there).
    pub fn of(device: &Device) -> Self {
        let name = format!("{device:?}").to_ascii_lowercase();
        if name.contains("cuda") {
            Self::Cuda
        } else if name.contains("wgpu") || name.contains("vulkan") || name.contains("metal") {
            Self::Wgpu
        } else {
            Self::Cpu
        }
    }
}

impl BaseDtype {
    /// The dtype for bases on `device`: [`BaseDtype::Auto`] picks bf16 on CUDA, f16 on wgpu
    /// (which has no bf16) and f32 on the CPU (where half precision only saves memory).
    pub fn resolve(self, device: &Device) -> DType {
        match (self, DeviceFamily::of(device)) {
            (Self::F32, _) | (Self::Auto, DeviceFamily::Cpu) => DType::F32,
            (Self::Bf16, _) | (Self::Auto, DeviceFamily::Cuda) => DType::BF16,
            (Self::F16, _) | (Self::Auto, DeviceFamily::Wgpu) => DType::F16,
        }
    }
}

/// Casts every float parameter that does not require a gradient.
struct CastFrozen {
    dtype: DType,
}

impl ModuleMapper for CastFrozen {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let dtype = self.dtype;
        if param.base().is_require_grad() || param.base().dtype() == dtype {
            return param;
        }
        param.map(|t| t.cast(dtype))
    }
}

/// `model` with the frozen parameters of its vision tower and language model cast to `dtype`
/// (trainable ones, LoRA adapters included, keep theirs). Call it after freezing: on a device
/// without autodiff nothing requires a gradient, so every ViT and LM weight is cast.
pub fn cast_frozen_bases(mut model: InternVl, dtype: DType) -> InternVl {
    let mut mapper = CastFrozen { dtype };
    model.vision_tower = model.vision_tower.map(&mut mapper);
    model.language_model = model.language_model.map(&mut mapper);
    model
}

/// `tensor` in `dtype` (no op when it already is).
pub fn to_dtype<const D: usize>(tensor: Tensor<D>, dtype: DType) -> Tensor<D> {
    if tensor.dtype() == dtype {
        tensor
    } else {
        tensor.cast(dtype)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_auto_is_f32_on_the_cpu() {
        assert_eq!("BF16".parse::<BaseDtype>(), Ok(BaseDtype::Bf16));
        assert_eq!("fp16".parse::<BaseDtype>(), Ok(BaseDtype::F16));
        assert!(
            "int8"
                .parse::<BaseDtype>()
                .unwrap_err()
                .contains("auto, f32")
        );
        #[cfg(feature = "flex")]
        {
            assert_eq!(
                DeviceFamily::of(&Device::flex().autodiff()),
                DeviceFamily::Cpu
            );
            assert_eq!(BaseDtype::Auto.resolve(&Device::flex()), DType::F32);
        }
        assert_eq!(BaseDtype::Bf16.resolve(&Device::default()), DType::BF16);
    }
}
