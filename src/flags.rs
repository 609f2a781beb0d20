//! Command-line flags shared by the `skeletonllm train` command and the `train_ntu` example:
//! the optimisation settings of one stage, with the authors' values as defaults.

use skeletonllm_model::{BaseDtype, LoraConfig};
use skeletonllm_train::train::{Stage, TrainConfig};

/// The optimisation settings of a training stage (`--lr`, `--epochs`, LoRA, losses, …).
#[derive(clap::Args, Debug, Clone)]
pub struct TrainFlags {
    /// Epochs (default: the authors', 1 for stages 1-3 and 3 for stage 4).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Peak learning rate.
    #[arg(long, default_value_t = 2e-5)]
    pub lr: f64,
    /// Warm-up fraction of the steps.
    #[arg(long, default_value_t = 0.03)]
    pub warmup_ratio: f64,
    /// AdamW weight decay.
    #[arg(long, default_value_t = 0.05)]
    pub weight_decay: f64,
    /// Samples per optimizer step (gradient accumulation).
    #[arg(long, default_value_t = 1)]
    pub batch_size: usize,
    /// Seed (data order, frames, dropout).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Checkpoint every N optimizer steps.
    #[arg(long, default_value_t = 100)]
    pub checkpoint_every: usize,
    /// Stop after N optimizer steps.
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// LoRA rank (stages 3, 4).
    #[arg(long, default_value_t = 32)]
    pub lora_rank: usize,
    /// LoRA alpha.
    #[arg(long, default_value_t = 64.0)]
    pub lora_alpha: f64,
    /// LoRA dropout.
    #[arg(long, default_value_t = 0.05)]
    pub lora_dropout: f64,
    /// Weight of the YES/NO (first answer token) margin loss (0 = the authors' plain CE).
    #[arg(long, default_value_t = 0.0)]
    pub margin_weight: f64,
    /// Weight λ of the KL to a teacher's token distributions (CE gets 1 − λ; needs a teacher).
    #[arg(long, default_value_t = 0.0)]
    pub distill_weight: f64,
    /// Temperature τ of the distillation.
    #[arg(long, default_value_t = 2.0)]
    pub distill_temperature: f64,
    /// Train the ViT and the LM too (models not pretrained, e.g. the tiny one).
    #[arg(long)]
    pub from_scratch: bool,
    /// Devices to train on: `default`, `all`, or a list such as `cuda:0,cuda:1` (data
    /// parallel: DDP on CUDA, burn-train's multi-device strategy elsewhere; `cpu,cpu` runs two
    /// workers on the CPU).
    #[arg(long, default_value = "default")]
    pub devices: String,
    /// Dtype of the frozen ViT and LM weights: auto (bf16 on CUDA, f16 on wgpu, f32 on the
    /// CPU), f32, bf16 or f16; what trains stays f32.
    #[arg(long, default_value = "auto", value_parser = parse_base_dtype)]
    pub base_dtype: BaseDtype,
    /// Burn's gradient checkpointing: recompute memory-bound ops in the backward pass instead of
    /// keeping their activations.
    #[arg(long)]
    pub grad_checkpointing: bool,
    /// Stop after N optimizer steps with a checkpoint (the schedule still spans the whole run;
    /// `--resume` continues it).
    #[arg(long)]
    pub stop_after: Option<usize>,
}

fn parse_base_dtype(s: &str) -> Result<BaseDtype, String> {
    s.parse()
}

impl TrainFlags {
    /// Checks the values (positive rate, fractions in range, counts at least 1); the error
    /// names the flag.
    ///
    /// # Errors
    /// A message naming the first bad flag.
    pub fn check(&self) -> Result<(), String> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(format!("--lr must be a positive number, not {}", self.lr));
        }
        if !(0.0..1.0).contains(&self.warmup_ratio) {
            return Err(format!(
                "--warmup-ratio must be in [0, 1), not {}",
                self.warmup_ratio
            ));
        }
        if self.batch_size == 0 || self.checkpoint_every == 0 || self.lora_rank == 0 {
            return Err(
                "--batch-size, --checkpoint-every and --lora-rank must be at least 1".into(),
            );
        }
        if self.epochs == Some(0) || self.max_steps == Some(0) || self.stop_after == Some(0) {
            return Err("--epochs, --max-steps and --stop-after must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.distill_weight) {
            return Err(format!(
                "--distill-weight must be in [0, 1], not {}",
                self.distill_weight
            ));
        }
        if !(self.distill_temperature.is_finite() && self.distill_temperature > 0.0) {
            return Err("--distill-temperature must be positive".into());
        }
        Ok(())
    }

    /// The authors' config of `stage` with these flags applied.
    pub fn config(&self, stage: Stage) -> TrainConfig {
        let mut config = TrainConfig::authors(stage);
        config.epochs = self.epochs.unwrap_or(config.epochs);
        config.lr = self.lr;
        config.warmup_ratio = self.warmup_ratio;
        config.weight_decay = self.weight_decay;
        config.batch_size = self.batch_size;
        config.seed = self.seed;
        config.checkpoint_every = self.checkpoint_every;
        config.max_steps = self.max_steps;
        config.lora =
            LoraConfig::new(self.lora_rank, self.lora_alpha).with_dropout(self.lora_dropout);
        config.margin_weight = self.margin_weight;
        config.distill_weight = self.distill_weight;
        config.distill_temperature = self.distill_temperature;
        config.from_scratch = self.from_scratch;
        config.halt_after = self.stop_after;
        config.base_dtype = self.base_dtype;
        config
    }

    /// The devices of `--devices`, as autodiff devices (with gradient checkpointing under
    /// `--grad-checkpointing`).
    ///
    /// # Errors
    /// A message naming the entry that is not a device of this build.
    pub fn devices(
        &self,
    ) -> Result<Vec<skeletonllm_train::draction::burn::tensor::Device>, String> {
        skeletonllm_train::train::parse_devices(&self.devices, self.grad_checkpointing)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        flags: TrainFlags,
    }

    #[test]
    fn defaults_are_the_authors_and_bad_values_name_the_flag() {
        let flags = Cli::parse_from(["x"]).flags;
        assert_eq!(flags.check(), Ok(()));
        for stage in [Stage::Warmup, Stage::Refine] {
            let got = flags.config(stage);
            let want = TrainConfig::authors(stage);
            assert_eq!(
                (
                    got.epochs,
                    got.lr,
                    got.warmup_ratio,
                    got.weight_decay,
                    got.batch_size
                ),
                (
                    want.epochs,
                    want.lr,
                    want.warmup_ratio,
                    want.weight_decay,
                    want.batch_size
                )
            );
            assert_eq!(
                (got.seed, got.checkpoint_every),
                (want.seed, want.checkpoint_every)
            );
            assert_eq!(got.lora, want.lora);
            assert_eq!(
                (
                    got.margin_weight,
                    got.distill_weight,
                    got.distill_temperature
                ),
                (
                    want.margin_weight,
                    want.distill_weight,
                    want.distill_temperature
                )
            );
        }
        let bad = Cli::parse_from(["x", "--warmup-ratio", "1.5"]).flags;
        assert!(bad.check().unwrap_err().contains("--warmup-ratio"));
        let bad = Cli::parse_from(["x", "--lr", "nan"]).flags;
        assert!(bad.check().unwrap_err().contains("--lr"));
        let bad = Cli::parse_from(["x", "--epochs", "0"]).flags;
        assert!(bad.check().unwrap_err().contains("--epochs"));
        let set =
            Cli::parse_from(["x", "--lr", "0.001", "--lora-rank", "4", "--epochs", "7"]).flags;
        let c = set.config(Stage::CrDistill);
        assert_eq!((c.lr, c.lora.rank, c.epochs), (0.001, 4, 7));
    }
}
