//! The run's data as burn-train's `DataLoader`: one item per optimizer step and device.
//!
//! burn-train checkpoints at the end of each of its "epochs" and resumes at an epoch boundary,
//! with a loader whose order it does not own. Here its epoch is a *chunk* of optimizer steps
//! ending at the next checkpoint ([`RunPlan::chunk_ends`]); which samples a step takes comes
//! from `(seed, epoch)` alone ([`epoch_order`]), so a run resumed from the checkpoint after any
//! chunk draws exactly what the uninterrupted run drew.
//!
//! With several devices, burn-train splits the loader with `slice`: this loader has one item
//! per device (`num_items` = devices) and slice `i` is the `i`-th share of every step (samples
//! `i`, `i + n`, … of the step's batch), so the summed gradients are the batch's whatever the
//! number of devices.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::tensor::Device;

use crate::train::learner::{StepBatch, StepContext, StepSample};

/// splitmix64 of a combination: independent streams per `(seed, epoch, index)`.
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(b)
        .wrapping_add(0x632B_E59B_D9B4_E019);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The order of the samples in `epoch`: a Fisher–Yates permutation from `(seed, epoch)`.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = mix(seed, epoch as u64);
    for i in (1..n).rev() {
        state = mix(state, i as u64);
        let j = (state % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// Where a run starts and stops, in optimizer steps, and where its checkpoints fall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPlan {
    /// Samples in the run.
    pub samples: usize,
    /// Samples per optimizer step.
    pub batch_size: usize,
    /// Optimizer steps per epoch.
    pub steps_per_epoch: usize,
    /// Optimizer steps of the whole schedule.
    pub total: usize,
    /// Steps already done (from a checkpoint) when this process starts.
    pub start: usize,
    /// Where this process stops: `total`, or earlier with `halt_after`.
    pub end: usize,
    /// A checkpoint every this many steps (0: only at the end).
    pub every: usize,
    /// The run's seed.
    pub seed: u64,
}

impl RunPlan {
    /// The step where the chunk starting at `from` ends: the next checkpoint, or `end`.
    pub fn chunk_end(&self, from: usize) -> usize {
        if self.every == 0 {
            return self.end;
        }
        ((from / self.every + 1) * self.every).min(self.end)
    }

    /// The end step of every chunk this process runs; chunk `k` here is burn-train's epoch
    /// `k + 1` (burn-train counts the epochs of each process from 1).
    pub fn chunk_ends(&self) -> Vec<usize> {
        let mut ends = Vec::new();
        let mut at = self.start;
        while at < self.end {
            at = self.chunk_end(at);
            ends.push(at);
        }
        ends
    }

    /// The step where burn-train's epoch `chunk` ends, if this process runs it.
    pub fn end_of_chunk(&self, chunk: usize) -> Option<usize> {
        self.chunk_ends().get(chunk.checked_sub(1)?).copied()
    }

    /// The epoch of optimizer step `step` (0-based).
    pub fn epoch_of(&self, step: usize) -> usize {
        step / self.steps_per_epoch
    }

    /// The samples of optimizer step `step` (with their seeds), in batch order.
    pub fn batch(&self, step: usize, order: &[usize]) -> Vec<StepSample> {
        let epoch = self.epoch_of(step);
        let lo = (step % self.steps_per_epoch) * self.batch_size;
        let hi = (lo + self.batch_size).min(order.len());
        order[lo..hi]
            .iter()
            .enumerate()
            .map(|(k, &index)| StepSample {
                index,
                frame_seed: mix(mix(self.seed, epoch as u64), index as u64),
                dropout_seed: mix(mix(self.seed, step as u64), k as u64),
            })
            .collect()
    }
}

/// burn-train's loader of a run: see the module docs.
#[derive(Clone)]
pub struct StepLoader {
    plan: Arc<RunPlan>,
    context: Arc<StepContext>,
    device: Device,
    shard: usize,
    shards: usize,
    /// The next step this loader hands out (each split or moved copy keeps its own).
    cursor: Arc<AtomicUsize>,
}

impl StepLoader {
    /// A loader over `plan` for `devices` devices, starting at `plan.start`, on `device`.
    pub fn new(
        plan: Arc<RunPlan>,
        context: Arc<StepContext>,
        devices: usize,
        device: Device,
    ) -> Self {
        let start = plan.start;
        Self {
            plan,
            context,
            device,
            shard: 0,
            shards: devices.max(1),
            cursor: Arc::new(AtomicUsize::new(start)),
        }
    }

    fn copy(&self) -> Self {
        Self {
            cursor: Arc::new(AtomicUsize::new(self.cursor.load(Ordering::SeqCst))),
            ..self.clone()
        }
    }
}

struct StepIter<'a> {
    loader: &'a StepLoader,
    from: usize,
    next: usize,
    to: usize,
    order: Option<(usize, Vec<usize>)>,
}

impl Iterator for StepIter<'_> {
    type Item = Result<StepBatch, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.to {
            return None;
        }
        let step = self.next;
        self.next += 1;
        let plan = &self.loader.plan;
        let epoch = plan.epoch_of(step);
        if self.order.as_ref().is_none_or(|(e, _)| *e != epoch) {
            self.order = Some((epoch, epoch_order(plan.samples, plan.seed, epoch)));
        }
        let order = self
            .order
            .as_ref()
            .map(|(_, o)| o.as_slice())
            .unwrap_or(&[]);
        let batch = plan.batch(step, order);
        let batch_len = batch.len();
        let (shard, shards) = (self.loader.shard, self.loader.shards);
        let samples = batch
            .into_iter()
            .enumerate()
            .filter(|(k, _)| k % shards == shard)
            .map(|(_, s)| s)
            .collect();
        Some(Ok(StepBatch {
            step,
            epoch,
            shard: (shard, shards),
            samples,
            batch_len,
            device: self.loader.device.clone(),
            context: self.loader.context.clone(),
        }))
    }
}

impl DataLoaderIterator<StepBatch> for StepIter<'_> {
    fn progress(&self) -> Progress {
        Progress::new(
            self.next - self.from,
            self.to - self.from,
            Some("steps".into()),
        )
    }
}

impl DataLoader<StepBatch> for StepLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<StepBatch> + 'a> {
        let from = self.cursor.load(Ordering::SeqCst);
        let to = if from >= self.plan.end {
            from
        } else {
            self.plan.chunk_end(from)
        };
        self.cursor.store(to, Ordering::SeqCst);
        Box::new(StepIter {
            loader: self,
            from,
            next: from,
            to,
            order: None,
        })
    }

    fn num_items(&self) -> usize {
        // One item per device share: burn-train's split hands share `i` to device `i`.
        if self.shard == 0 && self.shards > 1 {
            self.shards
        } else {
            1
        }
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<StepBatch>> {
        Arc::new(Self {
            device: device.clone(),
            ..self.copy()
        })
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<StepBatch>> {
        debug_assert_eq!(
            end,
            start + 1,
            "a step loader is split one share per device"
        );
        Arc::new(Self {
            shard: start,
            ..self.copy()
        })
    }
}

/// The validation loader burn-train requires: empty (held-out evaluation is `eval`'s job), for
/// any item type.
pub struct NoValidation<T>(std::marker::PhantomData<fn() -> T>);

impl<T> Default for NoValidation<T> {
    fn default() -> Self {
        Self(std::marker::PhantomData)
    }
}

impl<T: Send + 'static> DataLoader<T> for NoValidation<T> {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<T> + 'a> {
        Box::new(Empty(std::marker::PhantomData))
    }

    fn num_items(&self) -> usize {
        0
    }

    fn to_device(&self, _device: &Device) -> Arc<dyn DataLoader<T>> {
        Arc::new(Self::default())
    }

    fn slice(&self, _start: usize, _end: usize) -> Arc<dyn DataLoader<T>> {
        Arc::new(Self::default())
    }
}

struct Empty<T>(std::marker::PhantomData<fn() -> T>);

impl<T> Iterator for Empty<T> {
    type Item = Result<T, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        None
    }
}

impl<T> DataLoaderIterator<T> for Empty<T> {
    fn progress(&self) -> Progress {
        Progress::new(0, 0, Some("steps".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(start: usize, end: usize, every: usize) -> RunPlan {
        RunPlan {
            samples: 8,
            batch_size: 3,
            steps_per_epoch: 3,
            total: 9,
            start,
            end,
            every,
            seed: 7,
        }
    }

    #[test]
    fn chunks_end_at_checkpoints_the_halt_and_the_end() {
        assert_eq!(plan(0, 9, 4).chunk_ends(), vec![4, 8, 9]);
        assert_eq!(plan(0, 6, 4).chunk_ends(), vec![4, 6]);
        // Resumed from a halt at 6: the next checkpoint is still at 8.
        let resumed = plan(6, 9, 4);
        assert_eq!(resumed.chunk_ends(), vec![8, 9]);
        assert_eq!(resumed.end_of_chunk(1), Some(8));
        assert_eq!(resumed.end_of_chunk(2), Some(9));
        assert_eq!(resumed.end_of_chunk(0), None);
        assert_eq!(resumed.end_of_chunk(3), None);
        assert_eq!(plan(0, 9, 0).chunk_ends(), vec![9]);
    }

    #[test]
    fn every_sample_once_per_epoch_and_the_last_batch_is_short() {
        let p = plan(0, 9, 0);
        for epoch in 0..3 {
            let order = epoch_order(8, 7, epoch);
            let mut seen: Vec<usize> = (0..3)
                .flat_map(|k| p.batch(epoch * 3 + k, &order))
                .map(|s| s.index)
                .collect();
            assert_eq!(p.batch(epoch * 3 + 2, &order).len(), 2);
            seen.sort_unstable();
            assert_eq!(seen, (0..8).collect::<Vec<_>>());
        }
        assert_ne!(epoch_order(8, 7, 0), epoch_order(8, 7, 1));
    }
}
