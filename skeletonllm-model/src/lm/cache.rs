//! The key/value cache of the decoder, a plain struct passed `&mut` to the forward.

use burn::tensor::Tensor;

/// Keys and values of every decoder layer for the positions seen so far.
///
/// Keys are stored after RoPE and before the GQA head repetition, so a cached position is never
/// recomputed (with dynamic NTK RoPE this is what transformers does too: a key keeps the
/// frequencies it was rotated with when it was written).
#[derive(Debug, Clone)]
pub struct KvCache {
    layers: Vec<LayerKv>,
}

/// One layer's cached keys and values, each `[batch, kv_heads, positions, head_dim]`.
#[derive(Debug, Clone, Default)]
pub struct LayerKv {
    /// Cached keys.
    pub key: Option<Tensor<4>>,
    /// Cached values.
    pub value: Option<Tensor<4>>,
}

impl KvCache {
    /// An empty cache for a decoder with `num_layers` layers.
    pub fn new(num_layers: usize) -> Self {
        Self {
            layers: vec![LayerKv::default(); num_layers],
        }
    }

    /// Number of cached positions (0 when empty).
    pub fn len(&self) -> usize {
        self.layers
            .first()
            .and_then(|l| l.key.as_ref())
            .map_or(0, |k| k.dims()[2])
    }

    /// Whether nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of layers the cache was made for.
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Forget every cached position.
    pub fn clear(&mut self) {
        for layer in &mut self.layers {
            *layer = LayerKv::default();
        }
    }

    /// This cache (batch 1) repeated `n` times along the batch, for scoring `n` continuations
    /// of one prompt at once.
    pub fn repeat_batch(&self, n: usize) -> KvCache {
        let rep = |t: &Option<Tensor<4>>| t.as_ref().map(|t| t.clone().repeat_dim(0, n));
        KvCache {
            layers: self
                .layers
                .iter()
                .map(|l| LayerKv {
                    key: rep(&l.key),
                    value: rep(&l.value),
                })
                .collect(),
        }
    }

    /// The cache of layer `index`.
    ///
    /// # Panics
    ///
    /// Panics if `index >= num_layers()`.
    pub fn layer_mut(&mut self, index: usize) -> &mut LayerKv {
        &mut self.layers[index]
    }
}

impl LayerKv {
    /// Append new keys and values and return everything cached, old positions first.
    ///
    /// # Shapes
    ///
    /// - key, value: `[batch, kv_heads, new, head_dim]`
    /// - output: two `[batch, kv_heads, cached + new, head_dim]`
    pub fn append(&mut self, key: Tensor<4>, value: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let key = match self.key.take() {
            Some(old) => Tensor::cat(vec![old, key], 2),
            None => key,
        };
        let value = match self.value.take() {
            Some(old) => Tensor::cat(vec![old, value], 2),
            None => value,
        };
        self.key = Some(key.clone());
        self.value = Some(value.clone());
        (key, value)
    }
}
