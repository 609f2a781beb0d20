//! Element-wise kernels: exact GELU (through a vectorised `erf`), the SwiGLU gate
//! `silu(g)·u` and a branch-free `exp`.

use rayon::prelude::*;

/// Elements per rayon task (large enough to amortise scheduling, small enough to balance).
const CHUNK: usize = 1 << 14;

/// `erf(x)` as a rational function of `x` clamped to `[-4, 4]` (beyond it `erf` is ±1 in
/// `f32`): an odd degree-13 numerator over an even degree-8 denominator, branch-free so it
/// vectorises. Absolute error below 1e-6 (checked against a double-precision series in the
/// tests).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2.mul_add(-2.726_142_3e-10, 2.770_681_4e-8);
    p = x2.mul_add(p, -2.101_024e-6);
    p = x2.mul_add(p, -5.692_506_4e-5);
    p = x2.mul_add(p, -7.349_906_3e-4);
    p = x2.mul_add(p, -2.954_600_1e-3);
    p = x2.mul_add(p, -1.609_603_3e-2);
    let mut q = x2.mul_add(-1.456_607_2e-5, -2.133_740_6e-4);
    q = x2.mul_add(q, -1.682_827e-3);
    q = x2.mul_add(q, -7.373_329e-3);
    q = x2.mul_add(q, -1.426_474e-2);
    x * p / q
}

/// Exact (erf) GELU of one value: `x/2 · (1 + erf(x/√2))`.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `out[i] = gelu(input[i])`, in parallel.
///
/// # Panics
///
/// Panics if the slices differ in length.
pub fn gelu_into(input: &[f32], out: &mut [f32]) {
    assert_eq!(input.len(), out.len(), "gelu_into: length mismatch");
    out.par_chunks_mut(CHUNK)
        .zip(input.par_chunks(CHUNK))
        .for_each(|(o, i)| gelu_chunk_into(i, o));
}

#[inline(always)]
fn gelu_chunk_into_body(input: &[f32], out: &mut [f32]) {
    for (o, &i) in out.iter_mut().zip(input) {
        *o = gelu(i);
    }
}

#[inline(always)]
fn gelu_chunk_body(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = gelu(*v);
    }
}

multiversion!(
    /// `out[i] = gelu(input[i])` on one thread.
    gelu_chunk_into => gelu_chunk_into_body(input: &[f32], out: &mut [f32])
);
multiversion!(
    /// `x[i] = gelu(x[i])` on one thread.
    gelu_chunk => gelu_chunk_body(x: &mut [f32])
);

/// `x[i] = gelu(x[i])`, in parallel.
pub fn gelu_inplace(x: &mut [f32]) {
    x.par_chunks_mut(CHUNK).for_each(gelu_chunk);
}

/// `silu(g) · u = g / (1 + e^-g) · u` for one pair.
#[inline(always)]
pub fn silu_mul(g: f32, u: f32) -> f32 {
    g / (1.0 + exp(-g)) * u
}

#[inline(always)]
fn silu_mul_chunk_body(gate: &mut [f32], up: &[f32]) {
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = silu_mul(*g, u);
    }
}

#[inline(always)]
fn silu_mul_chunk_into_body(gate: &[f32], up: &[f32], out: &mut [f32]) {
    for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
        *o = silu_mul(g, u);
    }
}

multiversion!(
    /// `gate[i] = silu(gate[i]) · up[i]` on one thread.
    silu_mul_chunk => silu_mul_chunk_body(gate: &mut [f32], up: &[f32])
);
multiversion!(
    /// `out[i] = silu(gate[i]) · up[i]` on one thread.
    silu_mul_chunk_into => silu_mul_chunk_into_body(gate: &[f32], up: &[f32], out: &mut [f32])
);

/// `gate[i] = silu(gate[i]) · up[i]`, in parallel.
///
/// # Panics
///
/// Panics if the slices differ in length.
pub fn silu_mul_inplace(gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "silu_mul_inplace: length mismatch");
    gate.par_chunks_mut(CHUNK)
        .zip(up.par_chunks(CHUNK))
        .for_each(|(g, u)| silu_mul_chunk(g, u));
}

/// `out[i] = silu(gate[i]) · up[i]`, in parallel.
///
/// # Panics
///
/// Panics if the slices differ in length.
pub fn silu_mul_into(gate: &[f32], up: &[f32], out: &mut [f32]) {
    assert!(
        gate.len() == up.len() && up.len() == out.len(),
        "silu_mul_into: length mismatch"
    );
    out.par_chunks_mut(CHUNK)
        .zip(gate.par_chunks(CHUNK).zip(up.par_chunks(CHUNK)))
        .for_each(|(o, (g, u))| silu_mul_chunk_into(g, u, o));
}

/// `e^x`, branch-free so it vectorises: `x = n·ln2 + r` with `|r| ≤ ln2/2`, a degree-7
/// polynomial for `e^r` (Cephes' coefficients), `2^n` built in the exponent bits. Inputs are
/// clamped to `[-87.3, 88.7]` (so `-inf` gives ~1e-38, not 0); relative error below 2e-7.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.7);
    // Round to nearest by adding 1.5·2^23 (exact for |x·log2 e| < 2^22): `t`'s low mantissa
    // bits then hold `n` as an integer, so `2^n` needs no float-to-int conversion (Rust's
    // saturating `as i32` does not vectorise).
    let t = x.mul_add(std::f32::consts::LOG2_E, 12_582_912.0);
    let n = t - 12_582_912.0;
    let r = n.mul_add(-0.693_359_4, x);
    let r = n.mul_add(2.121_944_4e-4, r);
    let mut p = r.mul_add(1.987_569_1e-4, 1.398_2e-3);
    p = r.mul_add(p, 8.333_452e-3);
    p = r.mul_add(p, 4.166_579_6e-2);
    p = r.mul_add(p, 1.666_666_5e-1);
    p = r.mul_add(p, 0.5);
    let y = (r * r).mul_add(p, r) + 1.0;
    let biased = t.to_bits().wrapping_sub(0x4B40_0000).wrapping_add(127);
    y * f32::from_bits(biased << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_accurate_over_the_float_range() {
        let mut worst: f64 = 0.0;
        for i in -87_000..=88_000 {
            let x = i as f32 / 1000.0;
            let want = (x as f64).exp();
            worst = worst.max(((exp(x) as f64) - want).abs() / want);
        }
        assert!(worst < 2e-7, "max relative exp error {worst:e}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(f32::NEG_INFINITY) < 1e-37);
    }

    /// `erf` in double precision: its Maclaurin series for |x| ≤ 3 (terms up to e^9, so
    /// ~1e-12 accurate), the asymptotic expansion of `erfc` beyond (error < 1e-8 at x = 3).
    fn erf_f64(x: f64) -> f64 {
        let a = x.abs();
        if a > 3.0 {
            let x2 = a * a;
            let series = 1.0 - 1.0 / (2.0 * x2) + 3.0 / (4.0 * x2 * x2)
                - 15.0 / (8.0 * x2 * x2 * x2)
                + 105.0 / (16.0 * x2 * x2 * x2 * x2);
            let erfc = (-x2).exp() / (a * std::f64::consts::PI.sqrt()) * series;
            return x.signum() * (1.0 - erfc);
        }
        let mut term = x; // x^(2n+1) (-1)^n / n!
        let mut sum = x;
        for n in 1..100 {
            term *= -x * x / n as f64;
            let add = term / (2 * n + 1) as f64;
            sum += add;
            if add.abs() < 1e-17 {
                break;
            }
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn erf_is_accurate_everywhere() {
        let mut worst: f64 = 0.0;
        for i in -6000..=6000 {
            let x = i as f64 / 1000.0;
            let err = (erf(x as f32) as f64 - erf_f64(x)).abs();
            worst = worst.max(err);
        }
        assert!(worst < 1e-6, "max |erf error| {worst:e}");
        assert_eq!(erf(0.0), 0.0);
        assert_eq!(erf(10.0), erf(4.0));
        assert!((erf(4.0) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn silu_mul_slices_match_the_formula() {
        let gate: Vec<f32> = (0..70_000)
            .map(|i| (i as f32 - 35_000.0) / 1_000.0)
            .collect();
        let up: Vec<f32> = (0..gate.len())
            .map(|i| (i as f32 * 0.013).sin() * 3.0)
            .collect();
        let mut out = vec![0.0; gate.len()];
        silu_mul_into(&gate, &up, &mut out);
        let mut inplace = gate.clone();
        silu_mul_inplace(&mut inplace, &up);
        assert_eq!(out, inplace);
        for ((&g, &u), &y) in gate.iter().zip(&up).zip(&out) {
            let want = g as f64 / (1.0 + (-g as f64).exp()) * u as f64;
            assert!(
                (y as f64 - want).abs() < 1e-6 * (1.0 + want.abs()),
                "silu({g}) * {u} = {y}, want {want}"
            );
        }
    }

    #[test]
    fn gelu_slices_match_the_scalar_formula() {
        let input: Vec<f32> = (0..100_000)
            .map(|i| (i as f32 - 50_000.0) / 5_000.0)
            .collect();
        let mut out = vec![0.0; input.len()];
        gelu_into(&input, &mut out);
        let mut inplace = input.clone();
        gelu_inplace(&mut inplace);
        assert_eq!(out, inplace);
        for (&x, &y) in input.iter().zip(&out) {
            let want = 0.5 * x as f64 * (1.0 + erf_f64(x as f64 / 2f64.sqrt()));
            assert!(
                (y as f64 - want).abs() < 1e-5 * (1.0 + want.abs()),
                "gelu({x}) = {y}, want {want}"
            );
        }
    }
}
