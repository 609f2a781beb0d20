//! Linear layers that stay parallel when only one row goes through them (token-by-token
//! decoding).
//!
//! A decode step multiplies one row `[1, K]` by every weight matrix `[K, N]`. Such a
//! matrix-vector product is bound by memory bandwidth, and a CPU backend runs a lone one on a
//! single thread, so half of a 2-core laptop would sit idle while the weights stream through the
//! other. [linear] sends one-row inputs through [`crate::kernels::vec_matmul`]
//! (columns split over the threads on the CPU backend, Burn's matmul elsewhere); everything else
//! takes Burn's `linear` with the leading dimensions folded into one `[rows, K]` matrix (Burn's
//! batched path for a `[1, L, K]` input ran the decoder's 300 × 896 × 4864 products ~40 %
//! slower on the CPU backend). Same numbers either way (each output is the same dot product).

use burn::nn::Linear;
use burn::tensor::Tensor;

use crate::kernels;

/// Smallest `K × N` sent through the one-row kernel (smaller products finish before threads
/// would start).
const MIN_SPLIT_WEIGHTS: usize = 1 << 19;

/// Whether a `[rows, K] × [K, N]` product goes through the one-row kernel.
pub fn uses_vec_kernel(rows: usize, k: usize, n: usize) -> bool {
    rows == 1 && k * n >= MIN_SPLIT_WEIGHTS
}

/// `x · weight + bias` over the last dimension.
///
/// # Shapes
///
/// - x: `[..., K]`
/// - weight: `[K, N]`
/// - bias: `[N]`
/// - output: `[..., N]`
pub fn linear<const D: usize>(
    x: Tensor<D>,
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
) -> Tensor<D> {
    let dims = x.dims();
    let [k, n] = weight.dims();
    let rows: usize = dims[..D - 1].iter().product();
    if D < 2 {
        return burn::tensor::module::linear(x, weight, bias);
    }
    let y = if uses_vec_kernel(rows, k, n) {
        let y = kernels::vec_matmul(x.reshape([1, k]), weight); // [1, N]
        match bias {
            Some(b) => y + b.unsqueeze::<2>(),
            None => y,
        }
    } else {
        burn::tensor::module::linear(x.reshape([rows, k]), weight, bias) // [rows, N]
    };
    let mut out = dims;
    out[D - 1] = n;
    y.reshape(out)
}

/// [linear] with a `burn::nn::Linear`'s weight and bias.
pub fn forward<const D: usize>(layer: &Linear, x: Tensor<D>) -> Tensor<D> {
    linear(x, layer.weight.val(), layer.bias.as_ref().map(|b| b.val()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::LinearConfig;
    use burn::tensor::{Device, Distribution, Tolerance};

    #[test]
    fn one_row_kernel_equals_plain_linear() {
        let device = Device::default();
        device.seed(3);
        assert!(uses_vec_kernel(1, 2048, 1030));
        assert!(!uses_vec_kernel(1, 896, 128)); // a small k/v projection: not worth threads
        assert!(!uses_vec_kernel(3, 2048, 1030));
        assert!(!uses_vec_kernel(1, 16, 50));
        for (k, n, bias) in [(512, 1536, true), (512, 1030, false), (16, 50, true)] {
            let layer = LinearConfig::new(k, n).with_bias(bias).init(&device);
            for rows in [1, 3] {
                let x = Tensor::<3>::random([rows, 1, k], Distribution::Normal(0.0, 1.0), &device);
                let expected = layer.forward(x.clone());
                let got = forward(&layer, x);
                assert_eq!(got.dims(), [rows, 1, n]);
                got.into_data()
                    .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-4));
            }
        }
        // Several leading dims folded into rows, from a non-contiguous view, with bias.
        let layer = LinearConfig::new(24, 40).init(&device);
        let x = Tensor::<4>::random([2, 5, 3, 24], Distribution::Normal(0.0, 1.0), &device)
            .swap_dims(1, 2);
        let got = forward(&layer, x.clone());
        assert_eq!(got.dims(), [2, 3, 5, 40]);
        got.into_data()
            .assert_approx_eq::<f32>(&layer.forward(x).into_data(), Tolerance::absolute(1e-5));
        // A transposed weight view (the layout of a tied LM head) gives the same product.
        let w = Tensor::<2>::random([1030, 512], Distribution::Normal(0.0, 1.0), &device);
        let x = Tensor::<2>::random([1, 512], Distribution::Normal(0.0, 1.0), &device);
        linear(x.clone(), w.clone().transpose(), None)
            .into_data()
            .assert_approx_eq::<f32>(
                &x.matmul(w.transpose()).into_data(),
                Tolerance::absolute(1e-4),
            );
    }

    #[test]
    fn gradients_flow_through_the_one_row_kernel() {
        let device = burn::tensor::Device::default().autodiff();
        device.seed(4);
        let w = Tensor::<2>::random([512, 1024], Distribution::Normal(0.0, 0.1), &device)
            .require_grad();
        let x = Tensor::<2>::random([1, 512], Distribution::Normal(0.0, 1.0), &device);
        let kernel = linear(x.clone(), w.clone(), None).sum();
        let plain = x.matmul(w.clone()).sum();
        let g1 = w.grad(&kernel.backward()).expect("grad");
        let g2 = w.grad(&plain.backward()).expect("grad");
        g1.into_data()
            .assert_approx_eq::<f32>(&g2.into_data(), Tolerance::absolute(1e-5));
    }
}
