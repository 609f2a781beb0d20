//! The forward kernels of [`FastOps`] per backend: Flex (the CPU backend) runs the vectorised,
//! multi-threaded host kernels of [`super::cpu`] on the tensor's own buffer; the CubeCL backends
//! (wgpu, cuda) keep Burn's ops (the trait's default bodies), so GPU fusion is untouched.

#[cfg(feature = "flex")]
use {
    super::cpu,
    super::ops::{burn_attention, burn_silu_mul},
    burn::backend::ops::{ActivationOps, FloatTensorOps},
    burn::backend::tensor::FloatTensor,
    burn::tensor::{DType, Shape},
    burn_flex::FlexTensor,
};

#[allow(unused_imports)] // used by the backend impls enabled by features
use super::ops::FastOps;

#[cfg(feature = "flex")]
impl FastOps for burn::backend::Flex {
    fn fast_gelu(mut tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        if tensor.dtype() != DType::F32 {
            return Self::gelu(tensor);
        }
        if let Some(values) = tensor.try_storage_mut::<f32>() {
            cpu::gelu_inplace(values);
            return tensor;
        }
        let input = contiguous(tensor);
        let mut out = FlexTensor::empty(input.layout().shape().clone(), DType::F32);
        match input.as_slice::<f32>() {
            Some(values) => cpu::gelu_into(values, out.storage_mut::<f32>()),
            None => return Self::gelu(input),
        }
        out
    }

    fn fast_vec_matmul(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        let shape = weight.layout().shape().clone();
        let strides = weight.layout().strides().to_vec();
        let plain = x.dtype() != DType::F32
            || weight.dtype() != DType::F32
            || shape.num_dims() != 2
            || x.layout().shape().num_dims() != 2
            || x.layout().shape()[0] != 1
            || x.layout().shape()[1] != shape[0]
            || strides.iter().any(|&s| s <= 0);
        if plain {
            return Self::float_matmul(x, weight);
        }
        let x = contiguous(x);
        let Some(values) = x.as_slice::<f32>() else {
            return Self::float_matmul(x, weight);
        };
        let w = cpu::StridedMatrix {
            data: weight.storage::<f32>(),
            offset: weight.layout().start_offset(),
            rows: shape[0],
            cols: shape[1],
            row_stride: strides[0] as usize,
            col_stride: strides[1] as usize,
        };
        let mut out = FlexTensor::empty(Shape::new([1, shape[1]]), DType::F32);
        cpu::vec_matmul(values, w, out.storage_mut::<f32>());
        out
    }

    fn fast_silu_mul(gate: FloatTensor<Self>, up: FloatTensor<Self>) -> FloatTensor<Self> {
        let same = gate.dtype() == DType::F32
            && up.dtype() == DType::F32
            && gate.layout().shape() == up.layout().shape();
        if !same {
            return burn_silu_mul::<Self>(gate, up);
        }
        let (mut gate, up) = (contiguous(gate), contiguous(up));
        let Some(up_values) = up.as_slice::<f32>() else {
            return burn_silu_mul::<Self>(gate, up);
        };
        if let Some(values) = gate.try_storage_mut::<f32>() {
            cpu::silu_mul_inplace(values, up_values);
            return gate;
        }
        let Some(values) = gate.as_slice::<f32>() else {
            return burn_silu_mul::<Self>(gate, up);
        };
        let mut out = FlexTensor::empty(gate.layout().shape().clone(), DType::F32);
        cpu::silu_mul_into(values, up_values, out.storage_mut::<f32>());
        out
    }

    fn fast_attention(
        query: FloatTensor<Self>,
        key: FloatTensor<Self>,
        value: FloatTensor<Self>,
        causal: bool,
    ) -> FloatTensor<Self> {
        let qs = query.layout().shape().clone();
        let ks = key.layout().shape().clone();
        let f32s = [&query, &key, &value]
            .iter()
            .all(|t| t.dtype() == DType::F32);
        let supported = f32s
            && ks == *value.layout().shape()
            && qs.num_dims() == 4
            && ks.num_dims() == 4
            && qs[0] == ks[0]
            && ks[1] > 0
            && qs[1].is_multiple_of(ks[1])
            && qs[3] == ks[3]
            && ks[2] > 0
            && (!causal || ks[2] >= qs[2]);
        if !supported {
            return burn_attention::<Self>(query, key, value, causal);
        }
        let (query, key, value) = (contiguous(query), contiguous(key), contiguous(value));
        let (Some(q), Some(k), Some(v)) = (
            query.as_slice::<f32>(),
            key.as_slice::<f32>(),
            value.as_slice::<f32>(),
        ) else {
            return burn_attention::<Self>(query, key, value, causal);
        };
        let shape = cpu::AttentionShape {
            heads: qs[0] * qs[1],
            group: qs[1] / ks[1],
            len_q: qs[2],
            len_k: ks[2],
            dim: qs[3],
        };
        let mut out = FlexTensor::empty(qs.clone(), DType::F32);
        let scale = 1.0 / (shape.dim as f32).sqrt();
        cpu::attention(q, k, v, out.storage_mut::<f32>(), shape, scale, causal);
        out
    }
}

/// `t` itself when its elements are already in row-major order, else a row-major copy.
#[cfg(feature = "flex")]
fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.is_contiguous() {
        t
    } else {
        t.to_contiguous()
    }
}

#[cfg(any(feature = "wgpu", feature = "cuda"))]
impl FastOps for burn_cubecl::CubeBackend {}
