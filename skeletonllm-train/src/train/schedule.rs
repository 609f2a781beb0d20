//! The learning-rate schedule: linear warm-up then cosine decay to zero.

/// Cosine schedule with linear warm-up.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CosineWarmup {
    /// Peak learning rate.
    pub base_lr: f64,
    /// Warm-up optimizer steps.
    pub warmup_steps: usize,
    /// Total optimizer steps.
    pub total_steps: usize,
}

impl CosineWarmup {
    /// A schedule over `total_steps` with `warmup_ratio` of them warming up (at least one when
    /// the ratio is positive).
    pub fn new(base_lr: f64, warmup_ratio: f64, total_steps: usize) -> Self {
        let warmup = (warmup_ratio * total_steps as f64).ceil() as usize;
        Self {
            base_lr,
            warmup_steps: warmup.min(total_steps),
            total_steps: total_steps.max(1),
        }
    }

    /// The learning rate of optimizer step `step` (0-based), as transformers'
    /// `get_cosine_schedule_with_warmup`.
    pub fn lr(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.base_lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let span = (self.total_steps - self.warmup_steps).max(1) as f64;
        let progress = ((step - self.warmup_steps) as f64 / span).min(1.0);
        self.base_lr * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

/// [`CosineWarmup`] as burn-train's learning-rate scheduler: the optimizer steps taken are its
/// state (a resumed run starts it at the checkpoint's step).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosineWarmupScheduler {
    /// The schedule.
    pub schedule: CosineWarmup,
    /// Optimizer steps taken.
    pub step: usize,
}

impl burn::optim::lr_scheduler::LrScheduler for CosineWarmupScheduler {
    fn step(&mut self) -> burn::optim::LearningRate {
        let lr = self.schedule.lr(self.step);
        self.step += 1;
        lr
    }

    fn to_record(&self) -> burn::optim::lr_scheduler::LrSchedulerRecord {
        burn::optim::lr_scheduler::LrSchedulerRecord::new().with_scalar("step", self.step as u64)
    }

    fn load_record(&mut self, record: burn::optim::lr_scheduler::LrSchedulerRecord) {
        if let Some(step) = record.scalar::<u64>("step") {
            self.step = step as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_then_decays_to_zero() {
        let s = CosineWarmup::new(1e-3, 0.1, 100);
        assert_eq!(s.warmup_steps, 10);
        assert!((s.lr(0) - 1e-4).abs() < 1e-12);
        assert!((s.lr(9) - 1e-3).abs() < 1e-12);
        assert!((s.lr(10) - 1e-3).abs() < 1e-12);
        assert!((s.lr(55) - 5e-4).abs() < 1e-9);
        assert!(s.lr(99) < 1e-5 && s.lr(99) > 0.0);
        for k in 10..99 {
            assert!(s.lr(k + 1) <= s.lr(k));
        }
    }

    #[test]
    fn the_scheduler_steps_through_the_schedule_and_keeps_its_place() {
        use burn::optim::lr_scheduler::LrScheduler;
        let schedule = CosineWarmup::new(1e-3, 0.1, 100);
        let mut a = CosineWarmupScheduler { schedule, step: 0 };
        let first: Vec<f64> = (0..30).map(|_| a.step()).collect();
        assert_eq!(first, (0..30).map(|k| schedule.lr(k)).collect::<Vec<_>>());
        let mut b = CosineWarmupScheduler { schedule, step: 0 };
        b.load_record(a.to_record());
        assert_eq!(b.step(), schedule.lr(30));
    }
}
