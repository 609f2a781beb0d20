//! Procedural human motion for training data: the generator of [`draction::synthetic::motions`]
//! (NTU-25 clips of simple actions by sampled people), with its errors as [`TrainError`]s.

pub use draction::synthetic::motions::{BodyLengths, PROCEDURAL_CLASSES, Performer};

use draction::Skeleton;

use crate::error::{Result, TrainError};

/// [`draction::synthetic::motions::generate`]: a clip of `performer` doing `class` for `seconds`
/// at `fps`; an unknown class is [`TrainError::UnknownClass`], a bad length
/// [`TrainError::Config`].
pub fn generate(
    class: &str,
    performer: &Performer,
    seconds: f32,
    fps: f32,
    seed: u64,
) -> Result<Skeleton> {
    draction::synthetic::motions::generate(class, performer, seconds, fps, seed).map_err(
        |e| match e {
            draction::Error::UnknownMotionClass { class, known } => {
                TrainError::UnknownClass { class, known }
            }
            e @ (draction::Error::MotionLength { .. } | draction::Error::MotionTooLong { .. }) => {
                TrainError::Motion(e)
            }
            e => TrainError::skeleton(format!("procedural {class:?}"), e),
        },
    )
}
