//! Pixel shuffle (space-to-depth, InternVL `ps_version v2`) and the MLP projector
//! `LayerNorm(4C) -> Linear -> GELU -> Linear` that maps vision features to LM embeddings
//! (HF `multi_modal_projector.{layer_norm,linear_1,linear_2}`, original `mlp1.{0,1,3}`).

use crate::kernels::gelu;
use crate::kernels::linear;
use burn::config::Config;
use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor, assert_shape};

/// InternVL's `pixel_shuffle` (ps_version v2) with `scale_factor = 1/factor`, followed by the
/// flattening to tokens that `extract_feature` / `get_image_features` do.
///
/// Each `factor x factor` block of patches becomes one token whose channels are ordered
/// `[row offset, column offset, channel]`: for factor 2, token `(i, j)` is
/// `[x(2i,2j), x(2i,2j+1), x(2i+1,2j), x(2i+1,2j+1)]`. The two `view`/`permute` pairs of the
/// Python code (which name the axes `n, w, h, c` although the data is `[n, rows, cols, c]`)
/// reduce to exactly this.
///
/// # Shapes
///
/// - x: `[n, rows, cols, C]` (the patch tokens without CLS, reshaped to the grid)
/// - output: `[n, (rows/factor) * (cols/factor), C * factor^2]`, tokens row-major
///
/// # Panics
///
/// Panics if `rows` or `cols` is not a multiple of `factor`.
pub fn pixel_shuffle(x: Tensor<4>, factor: usize) -> Tensor<3> {
    let [n, rows, cols, c] = x.dims();
    assert!(
        rows % factor == 0 && cols % factor == 0,
        "pixel shuffle: grid {rows}x{cols} is not a multiple of {factor}"
    );
    let (r, q) = (rows / factor, cols / factor);
    x.reshape([n, r, factor, q, factor, c]) // [n, i, di, j, dj, C]
        .permute([0, 1, 3, 2, 4, 5]) // [n, i, j, di, dj, C]
        .reshape([n, r * q, factor * factor * c])
}

/// Configuration to create a [MultiModalProjector] with [MultiModalProjectorConfig::init].
#[derive(Config, Debug)]
pub struct MultiModalProjectorConfig {
    /// Vision tower width `C`.
    pub vision_hidden_size: usize,
    /// Language model width `D`.
    pub text_hidden_size: usize,
    /// `1 / downsample_ratio`: 2 for InternVL's 0.5.
    #[config(default = 2)]
    pub shuffle_factor: usize,
    /// Epsilon of the LayerNorm (PyTorch's default, 1e-5, in both HF and OpenGVLab code).
    #[config(default = 1e-5)]
    pub layer_norm_eps: f64,
}

/// `linear_2(gelu(linear_1(layer_norm(x))))` on pixel-shuffled vision tokens.
///
/// Should be created with [MultiModalProjectorConfig].
#[derive(Module, Debug)]
pub struct MultiModalProjector {
    /// LayerNorm over `C * factor^2` (original `mlp1.0`).
    pub layer_norm: LayerNorm,
    /// `[C * factor^2, D]` (original `mlp1.1`).
    pub linear_1: Linear,
    /// `[D, D]` (original `mlp1.3`).
    pub linear_2: Linear,
    /// The pixel shuffle factor (2 for InternVL).
    pub shuffle_factor: usize,
}

impl MultiModalProjectorConfig {
    /// Width of the projector input, `C * factor^2`.
    pub fn input_size(&self) -> usize {
        self.vision_hidden_size * self.shuffle_factor * self.shuffle_factor
    }

    /// Initialize a new [MultiModalProjector].
    pub fn init(&self, device: &Device) -> MultiModalProjector {
        let d_in = self.input_size();
        MultiModalProjector {
            layer_norm: LayerNormConfig::new(d_in)
                .with_epsilon(self.layer_norm_eps)
                .init(device),
            linear_1: LinearConfig::new(d_in, self.text_hidden_size).init(device),
            linear_2: LinearConfig::new(self.text_hidden_size, self.text_hidden_size).init(device),
            shuffle_factor: self.shuffle_factor,
        }
    }
}

impl MultiModalProjector {
    /// From the vision tower's output (CLS included) to LM-width image tokens: drop CLS, reshape
    /// to the square grid, pixel shuffle, MLP (InternVL `vision_feature_select_strategy =
    /// "default"`).
    ///
    /// # Shapes
    ///
    /// - vision_states: `[n, 1 + g*g, C]`
    /// - output: `[n, (g/factor)^2, D]`
    ///
    /// # Panics
    ///
    /// Panics if the patch count is not a square whose side is a multiple of the factor.
    pub fn forward(&self, vision_states: Tensor<3>) -> Tensor<3> {
        let [n, tokens, c] = vision_states.dims();
        let g = ((tokens - 1) as f64).sqrt().round() as usize;
        assert_eq!(g * g, tokens - 1, "patch tokens do not form a square grid");
        let grid = vision_states.narrow(1, 1, g * g).reshape([n, g, g, c]); // [n, g, g, C]
        self.mlp(pixel_shuffle(grid, self.shuffle_factor))
    }

    /// The MLP alone.
    ///
    /// # Shapes
    ///
    /// - x: `[n, tokens, C * factor^2]`
    /// - output: `[n, tokens, D]`
    pub fn mlp(&self, x: Tensor<3>) -> Tensor<3> {
        let [d_in] = self.layer_norm.gamma.dims();
        assert_shape!(x, [.., d_in]);
        let x = self.layer_norm.forward(x);
        linear::forward(&self.linear_2, gelu(linear::forward(&self.linear_1, x)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Int, TensorData};

    #[test]
    fn pixel_shuffle_matches_internvl_order() {
        // x[0, r, c, ch] = 100 r + 10 c + ch on a 4x4 grid with 2 channels.
        let device = Device::default();
        let values: Vec<i64> = (0..4)
            .flat_map(|r| (0..4).flat_map(move |c| (0..2).map(move |ch| 100 * r + 10 * c + ch)))
            .collect();
        let x = Tensor::<1, Int>::from_data(TensorData::new(values, [32]), &device)
            .float()
            .reshape([1, 4, 4, 2]);
        let y = pixel_shuffle(x, 2);
        assert_eq!(y.dims(), [1, 4, 8]);
        // Token (i=0, j=1): rows 0,1 x cols 2,3, ordered [(0,2), (0,3), (1,2), (1,3)].
        let token = y
            .narrow(1, 1, 1)
            .reshape([8])
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(token, vec![20., 21., 30., 31., 120., 121., 130., 131.]);
    }
}
