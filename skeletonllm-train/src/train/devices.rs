//! Which devices a run trains on: the `--devices` flag of `train` and `train_ntu`.

use burn::tensor::Device;

use crate::error::{Result, TrainError};

/// The devices named by `spec`, as autodiff devices:
///
/// - `default`: the enabled backend's default device (CUDA, then wgpu, then the CPU);
/// - `all`: every CUDA GPU (with `--features cuda`), else every wgpu adapter (with `wgpu`),
///   else the CPU once;
/// - a comma list of `cuda:N`, `wgpu:N` and `cpu`; `cpu` may repeat (several workers share the
///   CPU, which tests the multi-device path on a machine without GPUs).
///
/// With `gradient_checkpointing`, the devices recompute memory-bound ops in the backward pass
/// instead of keeping their activations (Burn's gradient checkpointing); the model must then be
/// created or loaded on them.
///
/// # Errors
/// [`TrainError::Config`] naming the entry that is unknown, not built in, or out of range.
pub fn parse_devices(spec: &str, gradient_checkpointing: bool) -> Result<Vec<Device>> {
    let bad = |msg: String| TrainError::Config(format!("--devices {spec}: {msg}"));
    let spec = spec.trim();
    let devices = match spec {
        "" | "default" => vec![Device::default()],
        "all" => all_devices(),
        list => list
            .split(',')
            .map(|entry| one_device(entry.trim()).map_err(bad))
            .collect::<Result<Vec<_>>>()?,
    };
    if devices.is_empty() {
        return Err(bad("no device found".into()));
    }
    Ok(devices
        .into_iter()
        .map(|d| {
            let d = d.autodiff();
            if gradient_checkpointing {
                d.gradient_checkpointing()
            } else {
                d
            }
        })
        .collect())
}

fn all_devices() -> Vec<Device> {
    #[cfg(feature = "cuda")]
    {
        let gpus: Vec<Device> = Device::enumerate(burn::tensor::DeviceType::Cuda)
            .into_iter()
            .collect();
        if !gpus.is_empty() {
            return gpus;
        }
    }
    #[cfg(feature = "wgpu")]
    {
        let adapters: Vec<Device> = Device::enumerate(burn::tensor::DeviceType::Wgpu)
            .into_iter()
            .collect();
        if !adapters.is_empty() {
            return adapters;
        }
    }
    vec![Device::default()]
}

fn index(entry: &str, prefix: &str) -> std::result::Result<usize, String> {
    entry[prefix.len()..]
        .parse()
        .map_err(|_| format!("`{entry}`: the part after `{prefix}` must be a device number"))
}

fn one_device(entry: &str) -> std::result::Result<Device, String> {
    if entry == "cpu" {
        #[cfg(feature = "flex")]
        return Ok(Device::flex());
        #[cfg(not(feature = "flex"))]
        return Err("`cpu` needs the `flex` feature in this build".into());
    }
    if entry.starts_with("cuda:") {
        let n = index(entry, "cuda:")?;
        #[cfg(feature = "cuda")]
        return Ok(Device::cuda(n));
        #[cfg(not(feature = "cuda"))]
        return Err(format!(
            "`{entry}` (GPU {n}) needs a build with `--features cuda`"
        ));
    }
    if entry.starts_with("wgpu:") {
        let n = index(entry, "wgpu:")?;
        #[cfg(feature = "wgpu")]
        {
            let adapters = Device::enumerate(burn::tensor::DeviceType::Wgpu);
            return adapters
                .get(n)
                .cloned()
                .ok_or_else(|| format!("`{entry}`: there are {} wgpu adapters", adapters.len()));
        }
        #[cfg(not(feature = "wgpu"))]
        return Err(format!(
            "`{entry}` (adapter {n}) needs a build with `--features wgpu`"
        ));
    }
    Err(format!(
        "`{entry}` is not a device: use default, all, cpu, cuda:N or wgpu:N"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_and_bad_entries() {
        assert_eq!(parse_devices("default", false).unwrap().len(), 1);
        assert!(parse_devices("default", false).unwrap()[0].is_autodiff());
        let plain = &parse_devices("default", false).unwrap()[0];
        let gc = &parse_devices("default", true).unwrap()[0];
        assert!(gc.is_autodiff());
        assert_ne!(
            gc.gradient_checkpointing_strategy(),
            plain.gradient_checkpointing_strategy()
        );
        #[cfg(feature = "flex")]
        assert_eq!(parse_devices("cpu,cpu", false).unwrap().len(), 2);
        let e = parse_devices("cpu,tpu:0", false).unwrap_err().to_string();
        assert!(e.contains("`tpu:0` is not a device"), "{e}");
        let e = parse_devices("cuda:x", false).unwrap_err().to_string();
        assert!(e.contains("device number"), "{e}");
        #[cfg(not(feature = "cuda"))]
        {
            let e = parse_devices("cuda:1", false).unwrap_err().to_string();
            assert!(e.contains("--features cuda"), "{e}");
        }
    }
}
