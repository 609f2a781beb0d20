//! Launch code of the CubeCL kernels ([`super::kernel`]) for [`CubeBackend`] (wgpu, cuda).
//!
//! What runs where: tile binning (the per-Gaussian extent and cut-off, and the per-tile
//! depth-ordered lists, exactly [`super::cpu::bin_frame`]) runs on the host, after reading
//! means, conics and opacities back; the host uploads the packed geometry, the lists and their
//! inverse. Compositing, the per-pixel backward replay, the per-tile gradient sums and the
//! per-Gaussian sums over tiles run on the device. Colours, the forward image and the output
//! gradient never leave the device.
//!
//! Inputs the kernels do not handle (non-f32 dtypes, empty tensors, devices with fewer than
//! 256 units per cube or too little shared memory, lists too long for u32 indices) take the
//! host path, which computes the same function.

use burn::backend::TensorMetadata;
use burn::tensor::{DType, Shape};
use burn_cubecl::cubecl;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{CubeBackend, CubeDevice};
use cubecl::client::Client;
use cubecl::prelude::*;
use cubecl::server::Handle;
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::cpu::{self, HostSplats, T_MIN};
use super::kernel::{GEOM, GRADS, TILE, UNITS, backward_kernel, forward_kernel, gather_kernel};

/// Device kernel passes run so far (forward and backward each count one).
static LAUNCHES: AtomicUsize = AtomicUsize::new(0);

/// Number of forward and backward passes this process ran with the CubeCL kernels (not the
/// host fallback); tests use it to prove the device path ran.
pub fn device_passes() -> usize {
    LAUNCHES.load(Ordering::Relaxed)
}

/// The host-built inputs of the kernels.
struct Packed {
    /// `[F·N, 8]`: `(u, v, q0, q1, q2, o, qcut, 0)`.
    geom: Vec<f32>,
    /// Tile offsets then entries (see [`super::kernel`]).
    lists: Vec<u32>,
    /// Number of offsets before the first entry (`F·T + 1`).
    base: usize,
    /// Tiles per image row.
    tiles_x: usize,
}

impl Packed {
    /// Number of (tile, Gaussian) entries.
    fn entries(&self) -> usize {
        self.lists.len() - self.base
    }

    /// Per Gaussian, the entries that name it: `F·N + 1` offsets then entry indices.
    fn inverse(&self, total: usize) -> Vec<u32> {
        let mut count = vec![0u32; total + 1];
        for &k in &self.lists[self.base..] {
            count[k as usize + 1] += 1;
        }
        let head = total + 1;
        let mut offsets = vec![0usize; total + 1];
        for k in 0..total {
            offsets[k + 1] = offsets[k] + count[k + 1] as usize;
        }
        let mut out = vec![0u32; head + self.entries()];
        let mut next: Vec<usize> = offsets.iter().map(|o| o + head).collect();
        for (slot, o) in out.iter_mut().zip(&offsets) {
            *slot = (o + head) as u32;
        }
        for (e, &k) in self.lists[self.base..].iter().enumerate() {
            out[next[k as usize]] = e as u32;
            next[k as usize] += 1;
        }
        out
    }
}

/// Bins every frame on the host and packs the kernels' inputs; `None` if an index would not
/// fit in u32.
fn pack(s: &HostSplats, size: usize) -> Option<Packed> {
    let tiles_x = size.div_ceil(cpu::TILE);
    let per_frame: Vec<cpu::Bins> = (0..s.frames)
        .into_par_iter()
        .map(|f| cpu::bin_frame(s, f, size))
        .collect();
    let tiles = s.frames * tiles_x * tiles_x;
    let base = tiles + 1;
    let entries: usize = per_frame
        .iter()
        .map(|b| b.lists.iter().map(Vec::len).sum::<usize>())
        .sum();
    if base + entries > u32::MAX as usize || s.frames * s.n > u32::MAX as usize {
        return None;
    }
    let mut lists = Vec::with_capacity(base + entries);
    let mut at = base;
    for bins in &per_frame {
        for list in &bins.lists {
            lists.push(at as u32);
            at += list.len();
        }
    }
    lists.push(at as u32);
    let mut geom = vec![0.0f32; s.frames * s.n * GEOM];
    for (f, bins) in per_frame.iter().enumerate() {
        for list in &bins.lists {
            lists.extend(list.iter().map(|&k| (f * s.n) as u32 + k));
        }
        for k in 0..s.n {
            let g = f * s.n + k;
            let row = &mut geom[g * GEOM..(g + 1) * GEOM];
            row[..2].copy_from_slice(&s.means2d[g * 2..g * 2 + 2]);
            row[2..5].copy_from_slice(&s.conics[g * 3..g * 3 + 3]);
            row[5] = s.opacity[g];
            row[6] = bins.qcut[k];
        }
    }
    Some(Packed {
        geom,
        lists,
        base,
        tiles_x,
    })
}

/// Whether the kernels can run on this tensor's device and dtype.
fn supported(t: &CubeTensor) -> bool {
    let hw = &t.client.properties().hardware;
    t.dtype == DType::F32
        && hw.max_units_per_cube as usize >= UNITS
        && hw.max_cube_dim.0 >= TILE
        && hw.max_cube_dim.1 >= TILE
        && hw.max_shared_memory_size >= UNITS * GRADS * size_of::<f32>()
}

/// Reads the splats needed for binning and packs them (colours are not read).
fn read_and_pack(
    means2d: CubeTensor,
    conics: CubeTensor,
    opacity: CubeTensor,
    size: usize,
) -> Option<([usize; 2], Packed)> {
    let shape = opacity.shape();
    let [f, n] = [shape[0], shape[1]];
    let m = super::host::<CubeBackend>(means2d);
    let q = super::host::<CubeBackend>(conics);
    let o = super::host::<CubeBackend>(opacity);
    let s = HostSplats {
        frames: f,
        n,
        means2d: &m,
        conics: &q,
        colors: &[],
        opacity: &o,
    };
    pack(&s, size).map(|p| ([f, n], p))
}

fn upload<T: CubeElement>(client: &Client, v: &[T]) -> BufferArg {
    let handle = client.create_from_slice(T::as_bytes(v));
    // SAFETY: the handle holds exactly `v.len()` elements of `T`.
    unsafe { BufferArg::from_raw_parts(handle, v.len()) }
}

/// A contiguous f32 buffer argument over a device tensor, and its length.
fn device_arg(t: CubeTensor) -> BufferArg {
    into_contiguous(t).into_buffer_arg()
}

fn output(client: &Client, device: &CubeDevice, shape: Vec<usize>) -> (CubeTensor, BufferArg) {
    let len: usize = shape.iter().product();
    let handle: Handle = client.empty(len.max(1) * size_of::<f32>());
    let tensor = CubeTensor::new_contiguous(
        client.clone(),
        device.clone(),
        Shape::from(shape),
        handle.clone(),
        DType::F32,
    );
    // SAFETY: the handle was allocated for `len` f32 values.
    (tensor, unsafe { BufferArg::from_raw_parts(handle, len) })
}

/// Forward on the device: `[F, S, S, 3]`, unclamped.
pub(super) fn forward(
    means2d: CubeTensor,
    conics: CubeTensor,
    colors: CubeTensor,
    opacity: CubeTensor,
    size: usize,
) -> CubeTensor {
    let shape = opacity.shape();
    let empty = shape[0] == 0 || shape[1] == 0 || size == 0;
    if empty || !supported(&colors) {
        return super::host_forward::<CubeBackend>(means2d, conics, colors, opacity, size);
    }
    let Some(([f, _], packed)) =
        read_and_pack(means2d.clone(), conics.clone(), opacity.clone(), size)
    else {
        return super::host_forward::<CubeBackend>(means2d, conics, colors, opacity, size);
    };
    let client = colors.client.clone();
    let device = colors.device.clone();
    let (out, out_arg) = output(&client, &device, vec![f, size, size, 3]);
    let tx = packed.tiles_x as u32;
    forward_kernel::launch(
        &client,
        CubeCount::Static(tx, tx, f as u32),
        CubeDim::new_2d(TILE, TILE),
        upload(&client, &packed.geom),
        device_arg(colors),
        upload(&client, &packed.lists),
        out_arg,
        size as u32,
        tx,
        T_MIN,
    );
    LAUNCHES.fetch_add(1, Ordering::Relaxed);
    out
}

/// Backward on the device: gradients of means `[F, N, 2]`, conics `[F, N, 3]`, colours
/// `[F, N, 3]` and opacities `[F, N]`, given the forward `image` and its gradient `grad`.
#[allow(clippy::type_complexity)]
pub(super) fn backward(
    means2d: CubeTensor,
    conics: CubeTensor,
    colors: CubeTensor,
    opacity: CubeTensor,
    image: CubeTensor,
    grad: CubeTensor,
    size: usize,
) -> (CubeTensor, CubeTensor, CubeTensor, CubeTensor) {
    let shape = opacity.shape();
    let empty = shape[0] == 0 || shape[1] == 0 || size == 0;
    let host = |m, q, c, o, i, g| super::host_backward::<CubeBackend>(m, q, c, o, i, g, size);
    if empty || !supported(&colors) || image.dtype != DType::F32 || grad.dtype != DType::F32 {
        return host(means2d, conics, colors, opacity, image, grad);
    }
    let Some(([f, n], packed)) =
        read_and_pack(means2d.clone(), conics.clone(), opacity.clone(), size)
    else {
        return host(means2d, conics, colors, opacity, image, grad);
    };
    let client = colors.client.clone();
    let device = colors.device.clone();
    let (d_means, d_means_arg) = output(&client, &device, vec![f, n, 2]);
    let (d_conics, d_conics_arg) = output(&client, &device, vec![f, n, 3]);
    let (d_colors, d_colors_arg) = output(&client, &device, vec![f, n, 3]);
    let (d_opacity, d_opacity_arg) = output(&client, &device, vec![f, n]);
    let entries = packed.entries();
    let total = f * n;
    let partial_len = (entries * GRADS).max(1);
    let partial: Handle = client.empty(partial_len * size_of::<f32>());
    let tx = packed.tiles_x as u32;
    if entries > 0 {
        backward_kernel::launch(
            &client,
            CubeCount::Static(tx, tx, f as u32),
            CubeDim::new_2d(TILE, TILE),
            upload(&client, &packed.geom),
            device_arg(colors),
            upload(&client, &packed.lists),
            device_arg(image),
            device_arg(grad),
            // SAFETY: `partial` holds `partial_len` f32 values.
            unsafe { BufferArg::from_raw_parts(partial.clone(), partial_len) },
            size as u32,
            tx,
            packed.base as u32,
            T_MIN,
        );
    }
    let inverse = packed.inverse(total);
    let cube_dim = CubeDim::new_1d(UNITS as u32);
    let count = cubecl::calculate_cube_count_elemwise(&client, total, cube_dim);
    gather_kernel::launch(
        &client,
        count,
        cube_dim,
        // SAFETY: as above.
        unsafe { BufferArg::from_raw_parts(partial, partial_len) },
        upload(&client, &inverse),
        d_means_arg,
        d_conics_arg,
        d_colors_arg,
        d_opacity_arg,
        total as u32,
    );
    LAUNCHES.fetch_add(1, Ordering::Relaxed);
    (d_means, d_conics, d_colors, d_opacity)
}
