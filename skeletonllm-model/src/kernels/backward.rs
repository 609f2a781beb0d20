//! The backward side of [`FastOps`]: under autodiff every op runs Burn's own ops (the trait's
//! default bodies), whose gradients autodiff already knows, so training through the kernels
//! needs no hand-written backward pass. The CPU kernels of [`super::forward`] run only on the
//! inner backend of a model that is not being differentiated.

use burn_autodiff::Autodiff;
use burn_autodiff::checkpoint::strategy::CheckpointStrategy;

use super::ops::FastOps;

impl<B: FastOps, C: CheckpointStrategy> FastOps for Autodiff<B, C> {}
