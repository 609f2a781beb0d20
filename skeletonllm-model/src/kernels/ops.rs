//! The kernel trait: [`FastOps`], a Burn backend extension whose default bodies are Burn's own
//! ops (the fallbacks below), so every backend runs it; backends with a faster kernel override
//! the bodies in `forward`.

use burn::backend::{Backend, TensorMetadata, backend_extension, tensor::FloatTensor};
use burn::tensor::Shape;

/// Ops with a faster kernel on some backends; the default bodies are Burn's own.
#[backend_extension(
    Flex: cfg(feature = "flex"),
    Cube: cfg(any(feature = "wgpu", feature = "cuda")),
    Autodiff,
)]
pub trait FastOps: Backend {
    /// Exact (erf) GELU, element-wise.
    fn fast_gelu(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::gelu(tensor)
    }

    /// `[1, K] × [K, N]` (one row through a weight matrix, as in token-by-token decoding).
    fn fast_vec_matmul(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_matmul(x, weight)
    }

    /// `silu(gate) · up`, element-wise (the SwiGLU gate).
    fn fast_silu_mul(gate: FloatTensor<Self>, up: FloatTensor<Self>) -> FloatTensor<Self> {
        burn_silu_mul::<Self>(gate, up)
    }

    /// Attention without mask, scale `1/sqrt(head_dim)`, key/value heads shared by groups of
    /// query heads, optionally causal: see [attention](super::attention).
    fn fast_attention(
        query: FloatTensor<Self>,
        key: FloatTensor<Self>,
        value: FloatTensor<Self>,
        causal: bool,
    ) -> FloatTensor<Self> {
        burn_attention::<Self>(query, key, value, causal)
    }
}

/// `silu(gate) · up` with Burn's ops (`gate · sigmoid(gate) · up`).
pub(super) fn burn_silu_mul<B: Backend>(
    gate: FloatTensor<B>,
    up: FloatTensor<B>,
) -> FloatTensor<B> {
    let silu = B::float_mul(gate.clone(), B::sigmoid(gate));
    B::float_mul(silu, up)
}

/// Burn's attention with the key/value heads repeated to the query heads' count.
pub(super) fn burn_attention<B: Backend>(
    query: FloatTensor<B>,
    key: FloatTensor<B>,
    value: FloatTensor<B>,
    causal: bool,
) -> FloatTensor<B> {
    let heads = query.shape()[1];
    let options = burn::tensor::ops::AttentionModuleOptions {
        is_causal: causal,
        ..Default::default()
    };
    let (key, value) = (
        repeat_heads::<B>(key, heads),
        repeat_heads::<B>(value, heads),
    );
    B::attention(query, key, value, None, None, options)
}

/// `[b, kv_heads, t, d]` → `[b, heads, t, d]`, each key/value head repeated for its group.
fn repeat_heads<B: Backend>(x: FloatTensor<B>, heads: usize) -> FloatTensor<B> {
    let s = x.shape();
    let (b, kvh, t, d) = (s[0], s[1], s[2], s[3]);
    if kvh == heads || kvh == 0 {
        return x;
    }
    let x = B::float_reshape(x, Shape::new([b, kvh, 1, t, d]));
    let x = B::float_expand(x, Shape::new([b, kvh, heads / kvh, t, d]));
    B::float_reshape(x, Shape::new([b, heads, t, d]))
}
