//! 3×3 rotation matrices, Euler angles and small vector maths for forward kinematics, shared by
//! the BVH and DeepMimic readers ([`crate::io::bvh`], [`crate::io::deepmimic`]) and the
//! procedural motion generator ([`crate::synthetic::motions`]).
//!
//! Matrices are row-major `[[T; 3]; 3]` acting on column vectors (`m · v`); rotations are
//! right-handed. Everything is generic over [`Real`] (`f32` for the generator, `f64` for the
//! file readers), and every product sums in the fixed order `a₀b₀ + a₁b₁ + a₂b₂`.
//!
//! ```
//! use draction::kinematics::{Axis, euler, mat_vec, rotation};
//!
//! // A quarter turn about +z takes +x to +y.
//! let r = rotation(Axis::Z, std::f64::consts::FRAC_PI_2);
//! let v = mat_vec(&r, [1.0, 0.0, 0.0]);
//! assert!((v[0]).abs() < 1e-12 && (v[1] - 1.0).abs() < 1e-12);
//! // Euler angles compose in the order given: `R_z(a) · R_x(b)`.
//! let m = euler([(Axis::Z, 0.3), (Axis::X, -0.2)]);
//! assert!((m[2][2] - (-0.2f64).cos()).abs() < 1e-12);
//! ```

use std::ops::{Add, Mul, Neg, Sub};

/// A floating-point scalar the helpers compute in (`f32` or `f64`).
pub trait Real:
    Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Neg<Output = Self>
{
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// `(sin x, cos x)` of `x` radians.
    fn sin_cos(self) -> (Self, Self);
}

impl Real for f32 {
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
    fn sin_cos(self) -> (f32, f32) {
        f32::sin_cos(self)
    }
}

impl Real for f64 {
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
    fn sin_cos(self) -> (f64, f64) {
        f64::sin_cos(self)
    }
}

/// A 3-vector.
pub type Vec3<T = f64> = [T; 3];

/// A 3×3 matrix, row-major.
pub type Mat3<T = f64> = [[T; 3]; 3];

/// A coordinate axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Axis {
    /// The x axis.
    X,
    /// The y axis.
    Y,
    /// The z axis.
    Z,
}

impl Axis {
    /// The axis' coordinate index: 0, 1 or 2.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The identity matrix.
pub fn identity<T: Real>() -> Mat3<T> {
    let (o, l) = (T::ZERO, T::ONE);
    [[l, o, o], [o, l, o], [o, o, l]]
}

/// `a + b`.
pub fn add<T: Real>(a: Vec3<T>, b: Vec3<T>) -> Vec3<T> {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// `a − b`.
pub fn sub<T: Real>(a: Vec3<T>, b: Vec3<T>) -> Vec3<T> {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// `a · s`.
pub fn scale<T: Real>(a: Vec3<T>, s: T) -> Vec3<T> {
    [a[0] * s, a[1] * s, a[2] * s]
}

/// The dot product `a · b`.
pub fn dot<T: Real>(a: Vec3<T>, b: Vec3<T>) -> T {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// The matrix product `a · b`.
pub fn mat_mul<T: Real>(a: &Mat3<T>, b: &Mat3<T>) -> Mat3<T> {
    std::array::from_fn(|i| std::array::from_fn(|j| dot(a[i], [b[0][j], b[1][j], b[2][j]])))
}

/// The matrix–vector product `a · v`.
pub fn mat_vec<T: Real>(a: &Mat3<T>, v: Vec3<T>) -> Vec3<T> {
    std::array::from_fn(|i| dot(a[i], v))
}

/// The right-handed rotation by `radians` about `axis`: about x positive angles turn +y towards
/// +z, about y +z towards +x, about z +x towards +y.
pub fn rotation<T: Real>(axis: Axis, radians: T) -> Mat3<T> {
    let (s, c) = radians.sin_cos();
    let (o, l) = (T::ZERO, T::ONE);
    match axis {
        Axis::X => [[l, o, o], [o, c, -s], [o, s, c]],
        Axis::Y => [[c, o, s], [o, l, o], [-s, o, c]],
        Axis::Z => [[c, -s, o], [s, c, o], [o, o, l]],
    }
}

/// Rotation by `radians` about +x ([`rotation`] with [`Axis::X`]).
pub fn rot_x<T: Real>(radians: T) -> Mat3<T> {
    rotation(Axis::X, radians)
}

/// Rotation by `radians` about +y ([`rotation`] with [`Axis::Y`]).
pub fn rot_y<T: Real>(radians: T) -> Mat3<T> {
    rotation(Axis::Y, radians)
}

/// Rotation by `radians` about +z ([`rotation`] with [`Axis::Z`]).
pub fn rot_z<T: Real>(radians: T) -> Mat3<T> {
    rotation(Axis::Z, radians)
}

/// The rotation of Euler angles `(axis, radians)` applied in the order given as intrinsic
/// rotations (BVH channel order): `R(a₀) · R(a₁) · …`; the identity for none.
pub fn euler<T: Real>(angles: impl IntoIterator<Item = (Axis, T)>) -> Mat3<T> {
    angles.into_iter().fold(identity(), |m, (axis, radians)| {
        mat_mul(&m, &rotation(axis, radians))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &Mat3, b: &Mat3) -> bool {
        a.iter()
            .flatten()
            .zip(b.iter().flatten())
            .all(|(x, y)| (x - y).abs() < 1e-12)
    }

    #[test]
    fn rotations_turn_the_axes_the_documented_way() {
        let q = std::f64::consts::FRAC_PI_2;
        let turned = |axis, v| mat_vec(&rotation(axis, q), v).map(|x: f64| x.round());
        assert_eq!(turned(Axis::X, [0.0, 1.0, 0.0]), [0.0, 0.0, 1.0]);
        assert_eq!(turned(Axis::Y, [0.0, 0.0, 1.0]), [1.0, 0.0, 0.0]);
        assert_eq!(turned(Axis::Z, [1.0, 0.0, 0.0]), [0.0, 1.0, 0.0]);
        assert_eq!(rot_y(0.4f32), rotation(Axis::Y, 0.4f32));
    }

    #[test]
    fn euler_composes_in_order_and_inverts() {
        let m = euler([(Axis::Z, 0.3), (Axis::X, -1.1), (Axis::Y, 0.7)]);
        let want = mat_mul(&mat_mul(&rot_z(0.3), &rot_x(-1.1)), &rot_y(0.7));
        assert_eq!(m, want);
        let back = euler([(Axis::Y, -0.7), (Axis::X, 1.1), (Axis::Z, -0.3)]);
        assert!(close(&mat_mul(&m, &back), &identity()));
        assert_eq!(euler::<f64>([]), identity::<f64>());
        assert_eq!(
            add(sub([3.0, 2.0, 1.0], [1.0; 3]), scale([1.0; 3], 2.0)),
            [4.0, 3.0, 2.0]
        );
    }
}
