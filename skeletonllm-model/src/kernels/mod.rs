//! Kernels for the hot ops, wired into Burn as a backend extension so one call works on every
//! backend, split as Burn's custom-kernel example: the trait with Burn-op fallbacks
//! ([`ops`]), the per-backend forward kernels (`forward`, the CPU ones in [`cpu`]), the
//! autodiff side (`backward`) and, here, the host glue that model code calls
//! ([`vec_matmul`], [`attention`], [`silu_mul`], [`gelu`]; [`linear`] on top).

pub mod cpu;
pub mod linear;
pub mod ops;

mod backward;
mod forward;

use burn::tensor::Tensor;

pub use ops::FastOps;

/// `x · weight` for one row `x` (`[1, K]`, weight `[K, N]`, any strides): on the CPU backend
/// the columns are split over the threads (a lone matrix-vector product would run on one).
pub fn vec_matmul(x: Tensor<2>, weight: Tensor<2>) -> Tensor<2> {
    use burn::backend::Dispatch;
    Tensor::from_dispatch(Dispatch::fast_vec_matmul(
        x.into_dispatch(),
        weight.into_dispatch(),
    ))
}

/// Scaled dot-product attention without mask, `softmax(q·kᵀ/√hd)·v`, Burn's `attention`
/// with default options (and `is_causal` when `causal`; the queries are then the last
/// `len_q` of the `len_k` positions, as with a KV cache). Key/value heads may be fewer than
/// query heads (grouped-query attention): query head `h` reads key/value head
/// `h / (heads / kv_heads)`, without copying them. On the CPU backend a tiled kernel whose
/// products go through `gemm` (2–3× Burn's flash attention at InternViT's 1025 tokens).
///
/// # Shapes
///
/// - query: `[batch, heads, len_q, head_dim]`
/// - key, value: `[batch, kv_heads, len_k, head_dim]`, `kv_heads` dividing `heads`
/// - output: `[batch, heads, len_q, head_dim]`
pub fn attention(query: Tensor<4>, key: Tensor<4>, value: Tensor<4>, causal: bool) -> Tensor<4> {
    use burn::backend::Dispatch;
    Tensor::from_dispatch(Dispatch::fast_attention(
        query.into_dispatch(),
        key.into_dispatch(),
        value.into_dispatch(),
        causal,
    ))
}

/// `silu(gate) · up` element-wise (SwiGLU), in one pass on the CPU backend (in place when
/// `gate`'s buffer is not shared).
pub fn silu_mul<const D: usize>(gate: Tensor<D>, up: Tensor<D>) -> Tensor<D> {
    use burn::backend::Dispatch;
    Tensor::from_dispatch(Dispatch::fast_silu_mul(
        gate.into_dispatch(),
        up.into_dispatch(),
    ))
}

/// Exact (erf) GELU: `x/2 · (1 + erf(x/√2))`; the same values as
/// `burn::tensor::activation::gelu` (within 1e-6), several times faster on the CPU backend.
pub fn gelu<const D: usize>(tensor: Tensor<D>) -> Tensor<D> {
    use burn::backend::Dispatch;
    Tensor::from_dispatch(Dispatch::fast_gelu(tensor.into_dispatch()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution, Tolerance};

    #[test]
    fn attention_matches_burn_on_views_and_under_autodiff() {
        let device = Device::default();
        device.seed(2);
        let rand =
            |shape: [usize; 4]| Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.5), &device);
        // 2 images × 3 heads, 130 queries (3 tiles) over 90 keys; k given as a swapped view.
        let (q, k, v) = (
            rand([2, 3, 130, 16]),
            rand([2, 90, 3, 16]).swap_dims(1, 2),
            rand([2, 3, 90, 16]),
        );
        let want = burn::tensor::module::attention(
            q.clone(),
            k.clone(),
            v.clone(),
            None,
            None,
            Default::default(),
        );
        attention(q.clone(), k.clone(), v.clone(), false)
            .into_data()
            .assert_approx_eq::<f32>(&want.clone().into_data(), Tolerance::absolute(1e-5));
        let ad = Device::default().autodiff();
        let to_ad = |t: Tensor<4>| Tensor::<4>::from_data(t.into_data(), &ad).require_grad();
        let (qa, ka, va) = (to_ad(q), to_ad(k), to_ad(v));
        let y = attention(qa.clone(), ka.clone(), va.clone(), false);
        y.clone()
            .into_data()
            .assert_approx_eq::<f32>(&want.into_data(), Tolerance::absolute(1e-5));
        assert!(qa.grad(&y.sum().backward()).is_some(), "differentiable");
    }

    #[test]
    fn causal_grouped_attention_matches_repeated_heads() {
        let device = Device::default();
        device.seed(6);
        let rand =
            |shape: [usize; 4]| Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.5), &device);
        // 6 query heads on 2 key/value heads; 5 new queries after 70 cached keys, and a
        // 75-query prefill.
        for (len_q, len_k) in [(5, 75), (75, 75)] {
            let (q, k, v) = (
                rand([2, 6, len_q, 16]),
                rand([2, 2, len_k, 16]),
                rand([2, 2, len_k, 16]),
            );
            let repeat = |t: Tensor<4>| {
                t.unsqueeze_dim::<5>(2)
                    .expand([2, 2, 3, len_k, 16])
                    .reshape([2, 6, len_k, 16])
            };
            let options = burn::tensor::ops::AttentionModuleOptions {
                is_causal: true,
                ..Default::default()
            };
            let want = burn::tensor::module::attention(
                q.clone(),
                repeat(k.clone()),
                repeat(v.clone()),
                None,
                None,
                options,
            );
            attention(q.clone(), k.clone(), v.clone(), true)
                .into_data()
                .assert_approx_eq::<f32>(&want.clone().into_data(), Tolerance::absolute(1e-5));
            // The autodiff path (Burn's op on repeated heads) agrees too.
            let ad = Device::default().autodiff();
            let to_ad = |t: Tensor<4>| Tensor::<4>::from_data(t.into_data(), &ad);
            attention(to_ad(q), to_ad(k), to_ad(v), true)
                .into_data()
                .assert_approx_eq::<f32>(&want.into_data(), Tolerance::absolute(1e-5));
        }
    }

    #[test]
    fn silu_mul_matches_burn_including_views_and_autodiff() {
        use burn::tensor::activation::silu;
        let device = Device::default();
        device.seed(9);
        let rand =
            |shape: [usize; 3]| Tensor::<3>::random(shape, Distribution::Normal(0.0, 3.0), &device);
        let (g, u) = (rand([2, 30, 70]), rand([2, 30, 70]));
        let want = silu(g.clone()) * u.clone();
        // Shared gate buffer (not written in place): the input stays untouched.
        let keep = g.clone();
        silu_mul(g.clone(), u.clone())
            .into_data()
            .assert_approx_eq::<f32>(&want.clone().into_data(), Tolerance::absolute(1e-5));
        assert_eq!(keep.into_data(), g.clone().into_data(), "input untouched");
        // Transposed views of both.
        silu_mul(g.clone().swap_dims(1, 2), u.clone().swap_dims(1, 2))
            .into_data()
            .assert_approx_eq::<f32>(
                &want.clone().swap_dims(1, 2).into_data(),
                Tolerance::absolute(1e-5),
            );
        // A uniquely owned gate, written in place.
        let fresh = Tensor::<3>::from_data(g.to_data(), &device);
        silu_mul(fresh, u.clone())
            .into_data()
            .assert_approx_eq::<f32>(&want.clone().into_data(), Tolerance::absolute(1e-5));
        // Autodiff: Burn's ops, so the same values and gradients.
        let ad = Device::default().autodiff();
        let ga = Tensor::<3>::from_data(g.into_data(), &ad).require_grad();
        let ua = Tensor::<3>::from_data(u.into_data(), &ad).require_grad();
        let y = silu_mul(ga.clone(), ua.clone());
        y.clone()
            .into_data()
            .assert_approx_eq::<f32>(&want.into_data(), Tolerance::absolute(1e-5));
        let grads = y.sum().backward();
        let plain = (silu(ga.clone()) * ua.clone()).sum().backward();
        for (a, b) in [
            (ga.grad(&grads), ga.grad(&plain)),
            (ua.grad(&grads), ua.grad(&plain)),
        ] {
            a.expect("gradient").into_data().assert_approx_eq::<f32>(
                &b.expect("gradient").into_data(),
                Tolerance::absolute(1e-6),
            );
        }
    }

    #[test]
    fn gelu_matches_burn_including_strided_and_autodiff_inputs() {
        let device = Device::default();
        device.seed(1);
        let x = Tensor::<3>::random([3, 70, 50], Distribution::Normal(0.0, 3.0), &device);
        let want = burn::tensor::activation::gelu(x.clone());
        gelu(x.clone())
            .into_data()
            .assert_approx_eq::<f32>(&want.clone().into_data(), Tolerance::absolute(1e-5));
        // A transposed view (not contiguous) and a shared buffer (not writable in place).
        let keep = x.clone();
        gelu(x.clone().swap_dims(1, 2))
            .into_data()
            .assert_approx_eq::<f32>(
                &want.clone().swap_dims(1, 2).into_data(),
                Tolerance::absolute(1e-5),
            );
        assert_eq!(keep.into_data(), x.clone().into_data(), "input untouched");
        // A uniquely owned strided tensor is transformed in place, layout kept.
        let fresh = Tensor::<3>::random([4, 30, 20], Distribution::Normal(0.0, 3.0), &device);
        let copy = Tensor::<3>::from_data(fresh.to_data(), &device);
        gelu(fresh.swap_dims(0, 2).narrow(1, 5, 20))
            .into_data()
            .assert_approx_eq::<f32>(
                &burn::tensor::activation::gelu(copy.swap_dims(0, 2).narrow(1, 5, 20)).into_data(),
                Tolerance::absolute(1e-5),
            );
        // Autodiff: same values and Burn's gradient.
        let ad = Device::default().autodiff();
        let xa = Tensor::<3>::from_data(x.into_data(), &ad).require_grad();
        let y = gelu(xa.clone());
        y.clone()
            .into_data()
            .assert_approx_eq::<f32>(&want.into_data(), Tolerance::absolute(1e-5));
        let g = xa.grad(&y.sum().backward()).expect("gradient");
        let g_burn = xa.grad(&burn::tensor::activation::gelu(xa.clone()).sum().backward());
        g.into_data().assert_approx_eq::<f32>(
            &g_burn.expect("gradient").into_data(),
            Tolerance::absolute(1e-6),
        );
    }
}
