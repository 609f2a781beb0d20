//! The fast rasteriser: tile-binned forward and backward wired into Burn as a backend
//! extension with a custom autodiff op, so one `rasterize` call works on every backend.
//!
//! Flex runs the host (rayon) kernels of [`cpu`] through the extension's default methods; the
//! CubeCL backend (wgpu, cuda) runs the CubeCL kernels of `kernel` (tiles binned on the host,
//! compositing and the backward replay on the device). The `Autodiff` implementation registers
//! the backward's gradients for the four splat inputs. The reference path
//! ([`crate::render::reference`]) is the oracle it is tested against.

pub mod cpu;
#[cfg(any(feature = "wgpu", feature = "cuda"))]
mod cube;
#[cfg(any(feature = "wgpu", feature = "cuda"))]
mod kernel;

#[cfg(any(feature = "wgpu", feature = "cuda"))]
pub use cube::device_passes;

use burn::backend::{Backend, TensorMetadata, backend_extension, tensor::FloatTensor};
use burn::tensor::{Tensor, TensorData};

use crate::render::reference::sort_by_depth;
use crate::render::splat::{Splats, finite_or_zero};

/// Reads a primitive to host f32 values.
fn host<B: Backend>(t: FloatTensor<B>) -> Vec<f32> {
    let data = burn_std::reader::try_read_sync(B::float_into_data(t))
        .expect("the backend reads synchronously")
        .expect("reading a tensor back to the host");
    data.try_into_vec_as::<f32>().expect("float data")
}

/// The four splat inputs on the host, with `[F, N]`.
type HostInputs = ([usize; 2], Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>);

fn host_inputs<B: Backend>(
    means2d: FloatTensor<B>,
    conics: FloatTensor<B>,
    colors: FloatTensor<B>,
    opacity: FloatTensor<B>,
) -> HostInputs {
    let fnn = [opacity.shape()[0], opacity.shape()[1]];
    (
        fnn,
        host::<B>(means2d),
        host::<B>(conics),
        host::<B>(colors),
        host::<B>(opacity),
    )
}

/// The host forward ([`cpu::forward`]) on any backend: reads the inputs back, composites,
/// uploads `[F, S, S, 3]`.
fn host_forward<B: Backend>(
    means2d: FloatTensor<B>,
    conics: FloatTensor<B>,
    colors: FloatTensor<B>,
    opacity: FloatTensor<B>,
    size: usize,
) -> FloatTensor<B> {
    let device = means2d.device();
    let ([f, n], m, q, c, o) = host_inputs::<B>(means2d, conics, colors, opacity);
    let s = cpu::HostSplats {
        frames: f,
        n,
        means2d: &m,
        conics: &q,
        colors: &c,
        opacity: &o,
    };
    let img = cpu::forward(&s, size);
    B::float_from_data(TensorData::new(img, [f, size, size, 3]), &device)
}

/// The host backward ([`cpu::backward`]) on any backend.
#[allow(clippy::type_complexity)]
fn host_backward<B: Backend>(
    means2d: FloatTensor<B>,
    conics: FloatTensor<B>,
    colors: FloatTensor<B>,
    opacity: FloatTensor<B>,
    image: FloatTensor<B>,
    grad: FloatTensor<B>,
    size: usize,
) -> (
    FloatTensor<B>,
    FloatTensor<B>,
    FloatTensor<B>,
    FloatTensor<B>,
) {
    let device = means2d.device();
    let ([f, n], m, q, c, o) = host_inputs::<B>(means2d, conics, colors, opacity);
    let (img, g) = (host::<B>(image), host::<B>(grad));
    let s = cpu::HostSplats {
        frames: f,
        n,
        means2d: &m,
        conics: &q,
        colors: &c,
        opacity: &o,
    };
    let gr = cpu::backward(&s, &img, &g, size);
    let t = |v: Vec<f32>, shape: Vec<usize>| B::float_from_data(TensorData::new(v, shape), &device);
    (
        t(gr.means2d, vec![f, n, 2]),
        t(gr.conics, vec![f, n, 3]),
        t(gr.colors, vec![f, n, 3]),
        t(gr.opacity, vec![f, n]),
    )
}

/// The rasteriser as a backend extension. The default bodies run the host kernels; the
/// CubeCL backend overrides them with device kernels (the `kernel` module).
#[backend_extension(
    Flex: cfg(feature = "flex"),
    Cube: cfg(any(feature = "wgpu", feature = "cuda")),
    Autodiff,
)]
pub trait RasterBackend: Backend {
    /// Composites depth-sorted splats: `[F, S, S, 3]`, unclamped.
    fn raster_forward(
        means2d: FloatTensor<Self>,
        conics: FloatTensor<Self>,
        colors: FloatTensor<Self>,
        opacity: FloatTensor<Self>,
        size: usize,
    ) -> FloatTensor<Self> {
        host_forward::<Self>(means2d, conics, colors, opacity, size)
    }

    /// Gradients of the four inputs given the forward output and its gradient.
    #[allow(clippy::type_complexity)]
    fn raster_backward(
        means2d: FloatTensor<Self>,
        conics: FloatTensor<Self>,
        colors: FloatTensor<Self>,
        opacity: FloatTensor<Self>,
        image: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        size: usize,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        host_backward::<Self>(means2d, conics, colors, opacity, image, grad, size)
    }
}

#[cfg(feature = "flex")]
impl RasterBackend for burn::backend::Flex {}

#[cfg(any(feature = "wgpu", feature = "cuda"))]
impl RasterBackend for burn_cubecl::CubeBackend {
    fn raster_forward(
        means2d: FloatTensor<Self>,
        conics: FloatTensor<Self>,
        colors: FloatTensor<Self>,
        opacity: FloatTensor<Self>,
        size: usize,
    ) -> FloatTensor<Self> {
        cube::forward(means2d, conics, colors, opacity, size)
    }

    fn raster_backward(
        means2d: FloatTensor<Self>,
        conics: FloatTensor<Self>,
        colors: FloatTensor<Self>,
        opacity: FloatTensor<Self>,
        image: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        size: usize,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        cube::backward(means2d, conics, colors, opacity, image, grad, size)
    }
}

mod autodiff {
    use burn::backend::tensor::FloatTensor;
    use burn_autodiff::Autodiff;
    use burn_autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
    use burn_autodiff::grads::Gradients;
    use burn_autodiff::ops::{Backward, Ops, OpsKind};

    use super::RasterBackend;

    #[derive(Debug)]
    struct RasterBackward;

    type State<B> = (
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
        usize,
    );

    impl<B: RasterBackend> Backward<B, 4> for RasterBackward {
        type State = State<B>;

        fn backward(
            self,
            ops: Ops<Self::State, 4>,
            grads: &mut Gradients,
            _checkpointer: &mut Checkpointer,
        ) {
            let grad = grads.consume::<B>(&ops.node);
            let (m, q, c, o, img, size) = ops.state;
            let (gm, gq, gc, go) = B::raster_backward(m, q, c, o, img, grad, size);
            for (parent, g) in ops.parents.into_iter().zip([gm, gq, gc, go]) {
                if let Some(node) = parent {
                    grads.register::<B>(node.id, g);
                }
            }
        }
    }

    impl<B: RasterBackend, C: CheckpointStrategy> RasterBackend for Autodiff<B, C> {
        fn raster_forward(
            means2d: FloatTensor<Self>,
            conics: FloatTensor<Self>,
            colors: FloatTensor<Self>,
            opacity: FloatTensor<Self>,
            size: usize,
        ) -> FloatTensor<Self> {
            let nodes = [means2d.node(), conics.node(), colors.node(), opacity.node()];
            let (m, q, c, o) = (
                means2d.into_primitive(),
                conics.into_primitive(),
                colors.into_primitive(),
                opacity.into_primitive(),
            );
            let out = B::raster_forward(m.clone(), q.clone(), c.clone(), o.clone(), size);
            match RasterBackward
                .prepare::<C>(nodes)
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => prep.finish((m, q, c, o, out.clone(), size), out),
                OpsKind::UnTracked(prep) => prep.finish(out),
            }
        }
        // `raster_backward` keeps the default (host) body: it is not differentiable twice.
    }
}

/// The fast rasteriser: frames `[F, S, S, 3]` in [0, 1], within 1/255 of
/// [`crate::render::reference::rasterize_reference`], differentiable through a custom backward.
pub fn rasterize(splats: Splats, size: usize) -> Tensor<4> {
    use burn::backend::Dispatch;
    let s = sort_by_depth(splats);
    let out = Dispatch::raster_forward(
        s.means2d.into_dispatch(),
        s.conics.into_dispatch(),
        s.colors.into_dispatch(),
        s.opacity.into_dispatch(),
        size,
    );
    finite_or_zero(Tensor::<4>::from_dispatch(out)).clamp(0.0, 1.0)
}
