//! InternViT, the vision tower of InternVL (HF `InternVLVisionModel`, OpenGVLab `InternVisionModel`).
//!
//! Patch convolution, a CLS token and learned absolute position embeddings (bicubically resized
//! when the image is not the pretraining size), then pre-norm encoder layers with layer scale:
//!
//! ```text
//! x = x + lambda_1 * attention(layernorm_before(x))
//! x = x + lambda_2 * mlp(layernorm_after(x))        mlp = fc2(gelu(fc1(.)))  (exact GELU)
//! ```
//!
//! There is no final norm (`use_mean_pooling = true` in HF terms). Field names are the HF-native
//! checkpoint keys under `vision_tower.`.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor, TensorData, assert_shape};

use crate::kernels::linear;
use crate::kernels::{attention, gelu};

/// Configuration to create an [InternVit] with [InternVitConfig::init].
#[derive(Config, Debug)]
pub struct InternVitConfig {
    /// Width `C` of the tower (1024 for InternViT-300M).
    pub hidden_size: usize,
    /// Number of encoder layers (24 for InternViT-300M).
    pub num_hidden_layers: usize,
    /// Number of attention heads (16 for InternViT-300M).
    pub num_attention_heads: usize,
    /// Width of the MLP (4096 for InternViT-300M).
    pub intermediate_size: usize,
    /// Side of the square pretraining image in pixels; the position table has
    /// `(image_size / patch_size)^2 + 1` rows.
    #[config(default = 448)]
    pub image_size: usize,
    /// Side of a square patch in pixels.
    #[config(default = 14)]
    pub patch_size: usize,
    /// Input channels.
    #[config(default = 3)]
    pub num_channels: usize,
    /// Whether q/k/v projections have a bias (`qkv_bias` / `attention_bias`).
    #[config(default = true)]
    pub qkv_bias: bool,
    /// Epsilon of both LayerNorms of each layer.
    #[config(default = 1e-6)]
    pub layer_norm_eps: f64,
}

/// The InternViT vision tower.
///
/// Should be created with [InternVitConfig].
#[derive(Module, Debug)]
pub struct InternVit {
    /// Patch, CLS and position embeddings.
    pub embeddings: InternVitEmbeddings,
    /// The encoder layers.
    pub encoder: InternVitEncoder,
}

/// Patch convolution, CLS token and position embeddings.
#[derive(Module, Debug)]
pub struct InternVitEmbeddings {
    /// Learned CLS token, shape `[1, 1, C]`.
    pub cls_token: Param<Tensor<3>>,
    /// Learned position table for the pretraining grid, shape `[1, 1 + g*g, C]` (CLS row first).
    pub position_embeddings: Param<Tensor<3>>,
    /// The patchifying convolution.
    pub patch_embeddings: PatchEmbeddings,
    /// Side of a patch in pixels.
    pub patch_size: usize,
}

/// The patchifying convolution (HF `patch_embeddings.projection`).
#[derive(Module, Debug)]
pub struct PatchEmbeddings {
    /// Conv2d with kernel = stride = patch size, weight `[C, channels, p, p]`.
    pub projection: Conv2d,
}

/// The stack of encoder layers.
#[derive(Module, Debug)]
pub struct InternVitEncoder {
    /// Encoder layers, in order.
    pub layer: Vec<InternVitLayer>,
}

/// One pre-norm encoder layer with layer scale.
#[derive(Module, Debug)]
pub struct InternVitLayer {
    /// Multi-head self-attention.
    pub attention: InternVitAttention,
    /// Two-layer GELU MLP.
    pub mlp: InternVitMlp,
    /// LayerNorm before attention (original name `norm1`).
    pub layernorm_before: LayerNorm,
    /// LayerNorm before the MLP (original name `norm2`).
    pub layernorm_after: LayerNorm,
    /// Layer scale of the attention branch, shape `[C]` (original name `ls1`).
    pub lambda_1: Param<Tensor<1>>,
    /// Layer scale of the MLP branch, shape `[C]` (original name `ls2`).
    pub lambda_2: Param<Tensor<1>>,
}

/// Bidirectional multi-head self-attention with separate q/k/v projections.
#[derive(Module, Debug)]
pub struct InternVitAttention {
    /// Query projection `[C, C]`.
    pub q_proj: Linear,
    /// Key projection `[C, C]`.
    pub k_proj: Linear,
    /// Value projection `[C, C]`.
    pub v_proj: Linear,
    /// Output projection `[C, C]` (original name `attn.proj`).
    pub projection_layer: Linear,
    /// Number of heads.
    pub num_heads: usize,
}

/// `fc2(gelu(fc1(x)))` with the exact (erf) GELU.
#[derive(Module, Debug)]
pub struct InternVitMlp {
    /// `[C, intermediate]`.
    pub fc1: Linear,
    /// `[intermediate, C]`.
    pub fc2: Linear,
}

impl InternVitConfig {
    /// Side of the pretraining patch grid, `image_size / patch_size`.
    pub fn grid_size(&self) -> usize {
        self.image_size / self.patch_size
    }

    /// Initialize a new [InternVit] with random weights (to be overwritten by loading).
    ///
    /// # Panics
    ///
    /// Panics if `hidden_size` is not a multiple of `num_attention_heads`.
    pub fn init(&self, device: &Device) -> InternVit {
        let c = self.hidden_size;
        assert_eq!(
            c % self.num_attention_heads,
            0,
            "hidden_size must be a multiple of num_attention_heads"
        );
        let grid = self.grid_size();
        let embed_init = Initializer::Normal {
            mean: 0.0,
            std: 0.02,
        };
        let embeddings = InternVitEmbeddings {
            cls_token: embed_init.init([1, 1, c], device),
            position_embeddings: embed_init.init([1, 1 + grid * grid, c], device),
            patch_embeddings: PatchEmbeddings {
                projection: Conv2dConfig::new(
                    [self.num_channels, c],
                    [self.patch_size, self.patch_size],
                )
                .with_stride([self.patch_size, self.patch_size])
                .init(device),
            },
            patch_size: self.patch_size,
        };
        let layer = (0..self.num_hidden_layers)
            .map(|_| InternVitLayer {
                attention: InternVitAttention {
                    q_proj: LinearConfig::new(c, c)
                        .with_bias(self.qkv_bias)
                        .init(device),
                    k_proj: LinearConfig::new(c, c)
                        .with_bias(self.qkv_bias)
                        .init(device),
                    v_proj: LinearConfig::new(c, c)
                        .with_bias(self.qkv_bias)
                        .init(device),
                    projection_layer: LinearConfig::new(c, c).init(device),
                    num_heads: self.num_attention_heads,
                },
                mlp: InternVitMlp {
                    fc1: LinearConfig::new(c, self.intermediate_size).init(device),
                    fc2: LinearConfig::new(self.intermediate_size, c).init(device),
                },
                layernorm_before: LayerNormConfig::new(c)
                    .with_epsilon(self.layer_norm_eps)
                    .init(device),
                layernorm_after: LayerNormConfig::new(c)
                    .with_epsilon(self.layer_norm_eps)
                    .init(device),
                lambda_1: Initializer::Constant { value: 0.1 }.init([c], device),
                lambda_2: Initializer::Constant { value: 0.1 }.init([c], device),
            })
            .collect();
        InternVit {
            embeddings,
            encoder: InternVitEncoder { layer },
        }
    }
}

impl InternVit {
    /// Runs the whole tower and returns the last hidden state (InternVL's `select_layer = -1`).
    ///
    /// # Shapes
    ///
    /// - pixel_values: `[n, channels, height, width]`, height and width multiples of the patch
    /// - output: `[n, 1 + (height/p)*(width/p), C]`, CLS first, patches row-major
    ///
    /// # Panics
    ///
    /// Panics if the channel count differs from the config.
    pub fn forward(&self, pixel_values: Tensor<4>) -> Tensor<3> {
        self.forward_layers(pixel_values, self.encoder.layer.len())
    }

    /// Runs the embeddings and the first `num_layers` encoder layers: HF's `hidden_states[num_layers]`
    /// (0 = embeddings only). InternVL's `select_layer = k < 0` is `num_layers = len + 1 + k`.
    ///
    /// # Shapes
    ///
    /// - pixel_values: `[n, channels, height, width]`
    /// - output: `[n, 1 + patches, C]`
    ///
    /// # Panics
    ///
    /// Panics if `num_layers` exceeds the number of layers.
    pub fn forward_layers(&self, pixel_values: Tensor<4>, num_layers: usize) -> Tensor<3> {
        assert!(
            num_layers <= self.encoder.layer.len(),
            "num_layers {num_layers} > {} layers",
            self.encoder.layer.len()
        );
        let mut x = self.embeddings.forward(pixel_values);
        for layer in self.encoder.layer.iter().take(num_layers) {
            x = layer.forward(x);
        }
        x
    }
}

impl InternVitEmbeddings {
    /// Patchify, prepend the CLS token and add (resized) position embeddings.
    ///
    /// # Shapes
    ///
    /// - pixel_values: `[n, channels, height, width]`
    /// - output: `[n, 1 + (height/p)*(width/p), C]`
    pub fn forward(&self, pixel_values: Tensor<4>) -> Tensor<3> {
        let [n, _, height, width] = pixel_values.dims();
        let (gh, gw) = (height / self.patch_size, width / self.patch_size);
        let patches = self.patch_embeddings.projection.forward(pixel_values); // [n, C, gh, gw]
        let c = patches.dims()[1];
        let patches = patches.reshape([n, c, gh * gw]).swap_dims(1, 2); // [n, gh*gw, C]
        let cls = self.cls_token.val().expand([n, 1, c]); // [n, 1, C]
        let x = Tensor::cat(vec![cls, patches], 1); // [n, 1 + gh*gw, C]
        x + self.position_embeddings_for(gh, gw)
    }

    /// The position table for a `gh x gw` patch grid, `[1, 1 + gh*gw, C]`.
    ///
    /// The pretraining table is used as is for its own grid; otherwise its patch rows are
    /// resized bicubically (PyTorch `interpolate(mode="bicubic", align_corners=False)`, as both
    /// HF and OpenGVLab do) and the CLS row is kept.
    pub fn position_embeddings_for(&self, gh: usize, gw: usize) -> Tensor<3> {
        let table = self.position_embeddings.val(); // [1, 1 + g*g, C]
        let [_, rows, c] = table.dims();
        let g = ((rows - 1) as f64).sqrt().round() as usize;
        assert_eq!(
            g * g + 1,
            rows,
            "position table is not a square grid plus CLS"
        );
        if gh == g && gw == g {
            return table;
        }
        let device = table.device();
        let dtype = table.dtype();
        let cls = table.clone().narrow(1, 0, 1); // [1, 1, C]
        let grid = table.narrow(1, 1, g * g).reshape([g, g * c]); // [g(rows), g(cols)*C]
        // rows: [gh, g] x [g, g*C] -> [gh, g, C]
        let wy = Tensor::<2>::from_data(TensorData::new(bicubic_matrix(g, gh), [gh, g]), &device)
            .cast(dtype);
        let y = wy.matmul(grid).reshape([gh, g, c]).swap_dims(0, 1); // [g(cols), gh, C]
        // cols: [gw, g] x [g, gh*C] -> [gw, gh, C]
        let wx = Tensor::<2>::from_data(TensorData::new(bicubic_matrix(g, gw), [gw, g]), &device)
            .cast(dtype);
        let x = wx.matmul(y.reshape([g, gh * c])).reshape([gw, gh, c]);
        let patches = x.swap_dims(0, 1).reshape([1, gh * gw, c]); // [1, gh*gw, C], row-major
        Tensor::cat(vec![cls, patches], 1)
    }
}

/// Row-major `[output, input]` weights of PyTorch's 1-D bicubic resize
/// (`align_corners=False`, `A = -0.75`, border indices clamped), computed in f32 like ATen.
pub fn bicubic_matrix(input: usize, output: usize) -> Vec<f32> {
    const A: f32 = -0.75;
    // ATen cubic_convolution1 (|x| <= 1) and cubic_convolution2 (1 < |x| < 2).
    let cc1 = |x: f32| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let cc2 = |x: f32| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    let scale = input as f32 / output as f32;
    let mut w = vec![0.0f32; output * input];
    for o in 0..output {
        let real = scale * (o as f32 + 0.5) - 0.5; // no clamp at 0 for cubic
        let index = (real.floor() as i64).min(input as i64 - 1);
        let t = (real - index as f32).clamp(0.0, 1.0);
        let coeffs = [cc2(t + 1.0), cc1(t), cc1(1.0 - t), cc2(2.0 - t)];
        for (k, coeff) in coeffs.iter().enumerate() {
            let i = (index - 1 + k as i64).clamp(0, input as i64 - 1) as usize;
            w[o * input + i] += coeff;
        }
    }
    w
}

impl InternVitLayer {
    /// One encoder layer.
    ///
    /// # Shapes
    ///
    /// - x: `[n, tokens, C]`
    /// - output: `[n, tokens, C]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h = self
            .attention
            .forward(self.layernorm_before.forward(x.clone()));
        let x = x + h * self.lambda_1.val().unsqueeze::<3>();
        let h = self.mlp.forward(self.layernorm_after.forward(x.clone()));
        x + h * self.lambda_2.val().unsqueeze::<3>()
    }
}

impl InternVitAttention {
    /// Bidirectional self-attention, scale `1/sqrt(head_dim)`.
    ///
    /// # Shapes
    ///
    /// - x: `[n, tokens, C]`
    /// - output: `[n, tokens, C]`
    ///
    /// # Panics
    ///
    /// Panics if the last axis of `x` is not `C`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [n, t, c] = x.dims();
        let [d_in, _] = self.q_proj.weight.dims();
        assert_shape!(x, [.., d_in]);
        let (h, hd) = (self.num_heads, c / self.num_heads);
        let split = |y: Tensor<3>| y.reshape([n, t, h, hd]).swap_dims(1, 2); // [n, h, t, hd]
        let q = split(linear::forward(&self.q_proj, x.clone()));
        let k = split(linear::forward(&self.k_proj, x.clone()));
        let v = split(linear::forward(&self.v_proj, x));
        let y = attention(q, k, v, false); // [n, h, t, hd]
        let y = y.swap_dims(1, 2).reshape([n, t, c]); // [n, t, C]
        linear::forward(&self.projection_layer, y)
    }
}

impl InternVitMlp {
    /// `fc2(gelu(fc1(x)))`.
    ///
    /// # Shapes
    ///
    /// - x: `[..., C]`
    /// - output: `[..., C]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        linear::forward(&self.fc2, gelu(linear::forward(&self.fc1, x)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Tolerance;

    #[test]
    fn bicubic_identity_and_rows_sum_to_one() {
        let id = bicubic_matrix(4, 4);
        for o in 0..4 {
            for i in 0..4 {
                assert_eq!(id[o * 4 + i], if o == i { 1.0 } else { 0.0 });
            }
        }
        for (input, output) in [(4, 6), (4, 2), (32, 16), (3, 7)] {
            let w = bicubic_matrix(input, output);
            for o in 0..output {
                let s: f32 = w[o * input..(o + 1) * input].iter().sum();
                assert!(
                    (s - 1.0).abs() < 1e-6,
                    "{input}->{output} row {o} sums to {s}"
                );
            }
        }
    }

    #[test]
    fn bicubic_matches_torch_4_to_6() {
        // torch.nn.functional.interpolate(torch.eye(4)[None, None], size=(6, 4),
        //   mode="bicubic", align_corners=False)[0, 0]: the 1-D weight matrix, [out, in]
        let expected: [[f32; 4]; 6] = [
            [1.0868058, -0.0868056, 0.0, 0.0],
            [0.5, 0.59375, -0.09375, 0.0],
            [-0.0868053, 0.943287, 0.1608796, -0.0173612],
            [-0.0173609, 0.1608796, 0.9432871, -0.0868056],
            [0.0, -0.09375, 0.59375, 0.5],
            [0.0, 0.0, -0.0868053, 1.0868055],
        ];
        let w = bicubic_matrix(4, 6);
        for (o, row) in expected.iter().enumerate() {
            for (i, e) in row.iter().enumerate() {
                assert!(
                    (w[o * 4 + i] - e).abs() < 1e-6,
                    "w[{o},{i}] = {} vs {e}",
                    w[o * 4 + i]
                );
            }
        }
    }

    #[test]
    fn forward_shapes_and_interpolated_grid() {
        let device = Device::default();
        device.seed(0);
        let config = InternVitConfig::new(8, 1, 2, 16).with_image_size(28);
        let vit = config.init(&device);
        let out = vit.forward(Tensor::zeros([2, 3, 28, 28], &device));
        assert_eq!(out.dims(), [2, 5, 8]);
        let out = vit.forward(Tensor::zeros([1, 3, 42, 56], &device));
        assert_eq!(out.dims(), [1, 1 + 3 * 4, 8]);
        // Same grid: the table itself.
        let same = vit.embeddings.position_embeddings_for(2, 2);
        same.into_data().assert_approx_eq::<f32>(
            &vit.embeddings.position_embeddings.val().into_data(),
            Tolerance::default(),
        );
    }
}
