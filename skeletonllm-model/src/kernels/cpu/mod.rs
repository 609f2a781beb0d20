//! Host kernels on `f32` slices, split over threads with rayon. The element-wise loops are
//! compiled three times on x86-64 (AVX-512, AVX2+FMA, baseline) and the best one the CPU has is
//! picked at run time (the `multiversion!` macro below); elsewhere they are compiled once for the target.

/// Defines `pub fn $name(args)` that runs the `#[inline(always)]` function `$body(args)`
/// compiled for the best instruction set available at run time. (The loop must be inlined into
/// a `#[target_feature]` function to be vectorised for it, so closures are not used.)
macro_rules! multiversion {
    ($(#[$doc:meta])* $name:ident => $body:ident($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                fn v4($($arg: $ty),*) {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn v3($($arg: $ty),*) {
                    $body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has every feature `v4` is compiled for.
                    return unsafe { v4($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has every feature `v3` is compiled for.
                    return unsafe { v3($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

mod attention;
mod elementwise;
mod matvec;

pub use attention::{AttentionShape, attention};
pub use elementwise::{
    erf, exp, gelu, gelu_inplace, gelu_into, silu_mul, silu_mul_inplace, silu_mul_into,
};
pub use matvec::{StridedMatrix, vec_matmul};
