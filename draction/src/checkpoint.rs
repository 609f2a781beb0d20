//! DrAction checkpoints in the authors' `skeletonllm-draction-v1` format: a safetensors file
//! (tensor names = the renderer's state-dict keys, `__metadata__` strings) plus an optional JSON
//! manifest with the file's SHA-256. bf16/f16 tensors are widened to f32 on load.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result, read_bytes};
use crate::render::model::{DrAction, Mlp};

/// The format tag in the metadata.
pub const FORMAT: &str = "skeletonllm-draction-v1";
/// The prefix of the renderer's tensors inside a full SkeletonLLM checkpoint.
pub const SKELETONLLM_PREFIX: &str = "_skeleton_renderer_module._renderer.";

/// Checkpoint metadata (the `__metadata__` strings of the safetensors header).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata {
    /// Name (e.g. `draction_candidate_01_lbs`).
    pub name: String,
    /// Free-form description.
    pub description: String,
    /// Reported metric, if any.
    pub metric: Option<String>,
    /// Frames rendered per clip in training.
    pub render_frames: usize,
    /// Image side in training.
    pub render_size: usize,
    /// Every other metadata entry.
    pub extra: BTreeMap<String, String>,
}

/// A tensor read from a safetensors file, widened to f32.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

fn err(path: &Path, msg: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// Reads every tensor of a safetensors file as f32, with the header metadata.
pub fn read_safetensors(
    path: &Path,
) -> Result<(BTreeMap<String, HostTensor>, HashMap<String, String>)> {
    let bytes = read_bytes(path)?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| err(path, format!("not a safetensors file: {e}")))?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| err(path, e.to_string()))?;
    let meta = header.metadata().clone().unwrap_or_default();
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        let raw = view.data();
        let data: Vec<f32> = match view.dtype() {
            Dtype::F32 => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::BF16 => raw
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Dtype::F16 => raw
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Dtype::F64 => raw
                .chunks_exact(8)
                .map(|c| {
                    f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
                })
                .collect(),
            Dtype::I64 => raw
                .chunks_exact(8)
                .map(|c| {
                    i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
                })
                .collect(),
            other => {
                return Err(err(
                    path,
                    format!("tensor '{name}' has unsupported dtype {other:?}"),
                ));
            }
        };
        out.insert(
            name,
            HostTensor {
                shape: view.shape().to_vec(),
                data,
            },
        );
    }
    Ok((out, meta))
}

/// The names a DrAction checkpoint must hold (`nfm.*` only with NFM).
fn expected_names(nfm: bool) -> Vec<&'static str> {
    let mut v = vec![
        "canonical_joints",
        "canonical_means",
        "canonical_opacities",
        "canonical_quats",
        "canonical_scales",
        "lbs_weights_logits",
        "canonical_features",
        "appearance_head.0.weight",
        "appearance_head.0.bias",
        "appearance_head.2.weight",
        "appearance_head.2.bias",
        "depth_mix_logit",
    ];
    if nfm {
        v.extend(["nfm.0.weight", "nfm.0.bias", "nfm.2.weight", "nfm.2.bias"]);
    }
    v
}

/// Loads a DrAction checkpoint (`skeletonllm-draction-v1`, or any safetensors file with the
/// renderer's tensors, optionally under [`SKELETONLLM_PREFIX`]). When a JSON manifest with a
/// `sha256` sits beside the file (`x.safetensors` → `x.json`), the hash is checked.
pub fn load(path: &Path, device: &Device) -> Result<(DrAction, Metadata)> {
    let (tensors, meta) = read_safetensors(path)?;
    verify_manifest(path)?;
    let tensors: BTreeMap<String, HostTensor> =
        if tensors.keys().any(|k| k.starts_with(SKELETONLLM_PREFIX)) {
            tensors
                .into_iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix(SKELETONLLM_PREFIX)
                        .map(|s| (s.to_string(), v))
                })
                .collect()
        } else {
            tensors
        };
    let model = from_tensors(path, &tensors, device)?;
    Ok((model, metadata_from(&meta)))
}

fn metadata_from(meta: &HashMap<String, String>) -> Metadata {
    let mut extra: BTreeMap<String, String> =
        meta.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let mut take = |k: &str| extra.remove(k);
    Metadata {
        name: take("name").unwrap_or_default(),
        description: take("description").unwrap_or_default(),
        metric: take("metric"),
        render_frames: take("render_frames")
            .and_then(|v| v.parse().ok())
            .unwrap_or(12),
        render_size: take("render_size")
            .and_then(|v| v.parse().ok())
            .unwrap_or(448),
        extra,
    }
}

/// Checks `path`'s SHA-256 against the manifest beside it, if there is one.
fn verify_manifest(path: &Path) -> Result<()> {
    let manifest = path.with_extension("json");
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        return Ok(());
    };
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| err(&manifest, format!("manifest is not JSON: {e}")))?;
    if json.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Ok(());
    }
    if let Some(want) = json.get("sha256").and_then(|s| s.as_str()) {
        let got = format!("{:x}", Sha256::digest(read_bytes(path)?));
        if got != want {
            return Err(err(
                path,
                format!(
                    "SHA-256 {got} does not match the manifest {} ({want})",
                    manifest.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Builds the module from host tensors, reporting every missing, unexpected or mis-shaped one.
pub fn from_tensors(
    path: &Path,
    t: &BTreeMap<String, HostTensor>,
    device: &Device,
) -> Result<DrAction> {
    let nfm = t.keys().any(|k| k.starts_with("nfm."));
    let expected = expected_names(nfm);
    let mut problems = Vec::new();
    for name in &expected {
        if !t.contains_key(*name) {
            problems.push(format!("missing '{name}'"));
        }
    }
    for name in t.keys() {
        if !expected.contains(&name.as_str()) {
            problems.push(format!("unexpected '{name}'"));
        }
    }
    if !problems.is_empty() {
        return Err(err(path, problems.join(", ")));
    }
    let [k, j] = match t["lbs_weights_logits"].shape.as_slice() {
        &[k, j] => [k, j],
        s => {
            return Err(err(
                path,
                format!("'lbs_weights_logits' has shape {s:?}, expected [K, J]"),
            ));
        }
    };
    let fdim = t["canonical_features"].shape.last().copied().unwrap_or(0);
    let hidden = t["appearance_head.0.weight"]
        .shape
        .first()
        .copied()
        .unwrap_or(0);
    let mut want: Vec<(&str, Vec<usize>)> = vec![
        ("canonical_joints", vec![j, 3]),
        ("canonical_means", vec![k, 3]),
        ("canonical_opacities", vec![k, 1]),
        ("canonical_quats", vec![k, 4]),
        ("canonical_scales", vec![k, 3]),
        ("canonical_features", vec![k, fdim]),
        ("appearance_head.0.weight", vec![hidden, fdim]),
        ("appearance_head.0.bias", vec![hidden]),
        ("appearance_head.2.weight", vec![4, hidden]),
        ("appearance_head.2.bias", vec![4]),
    ];
    if nfm {
        want.extend([
            ("nfm.0.weight", vec![hidden, 10]),
            ("nfm.0.bias", vec![hidden]),
            ("nfm.2.weight", vec![5, hidden]),
            ("nfm.2.bias", vec![5]),
        ]);
    }
    for (name, shape) in &want {
        if &t[*name].shape != shape {
            problems.push(format!(
                "'{name}' has shape {:?}, expected {shape:?}",
                t[*name].shape
            ));
        }
    }
    if t["depth_mix_logit"].data.len() != 1 {
        problems.push(format!(
            "'depth_mix_logit' has shape {:?}, expected a scalar",
            t["depth_mix_logit"].shape
        ));
    }
    if !problems.is_empty() {
        return Err(err(path, problems.join(", ")));
    }
    let param2 = |name: &str| -> Param<Tensor<2>> {
        let h = &t[name];
        Param::from_tensor(Tensor::from_data(
            TensorData::new(h.data.clone(), [h.shape[0], h.shape[1]]),
            device,
        ))
    };
    let linear = |prefix: &str| -> Linear {
        let w = &t[&format!("{prefix}.weight")];
        let b = &t[&format!("{prefix}.bias")];
        // PyTorch stores [out, in]; Burn's Linear holds [in, out].
        let weight = Tensor::<2>::from_data(
            TensorData::new(w.data.clone(), [w.shape[0], w.shape[1]]),
            device,
        )
        .transpose();
        let bias = Tensor::<1>::from_data(TensorData::new(b.data.clone(), [b.shape[0]]), device);
        Linear {
            weight: Param::from_tensor(weight),
            bias: Some(Param::from_tensor(bias)),
        }
    };
    let mlp = |prefix: &str| Mlp {
        fc1: linear(&format!("{prefix}.0")),
        fc2: linear(&format!("{prefix}.2")),
    };
    Ok(DrAction {
        canonical_joints: param2("canonical_joints"),
        canonical_means: param2("canonical_means"),
        canonical_scales: param2("canonical_scales"),
        canonical_quats: param2("canonical_quats"),
        lbs_weights_logits: param2("lbs_weights_logits"),
        canonical_features: param2("canonical_features"),
        appearance_head: mlp("appearance_head"),
        nfm: nfm.then(|| mlp("nfm")),
        depth_mix_logit: Param::from_tensor(Tensor::from_data(
            TensorData::new(t["depth_mix_logit"].data.clone(), [1]),
            device,
        )),
    })
}

/// A tensor's values on the host as f32.
pub fn host_values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec_as::<f32>().unwrap_or_default()
}

/// Host copies of every tensor of `model`, under checkpoint names and shapes (PyTorch layout).
pub fn to_tensors(model: &DrAction) -> BTreeMap<String, HostTensor> {
    let host = |t: Tensor<2>| HostTensor {
        shape: t.dims().to_vec(),
        data: host_values(t),
    };
    let mut out = BTreeMap::new();
    let mut put = |name: &str, h: HostTensor| {
        out.insert(name.to_string(), h);
    };
    put("canonical_joints", host(model.canonical_joints.val()));
    put("canonical_means", host(model.canonical_means.val()));
    put("canonical_scales", host(model.canonical_scales.val()));
    put("canonical_quats", host(model.canonical_quats.val()));
    put("lbs_weights_logits", host(model.lbs_weights_logits.val()));
    put("canonical_features", host(model.canonical_features.val()));
    let k = model.num_gaussians();
    put(
        "canonical_opacities",
        HostTensor {
            shape: vec![k, 1],
            data: vec![1.0; k],
        },
    );
    let d = host_values(model.depth_mix_logit.val());
    put(
        "depth_mix_logit",
        HostTensor {
            shape: vec![],
            data: d,
        },
    );
    let mut mlp = |prefix: &str, m: &Mlp| {
        for (i, l) in [(0, &m.fc1), (2, &m.fc2)] {
            put(
                &format!("{prefix}.{i}.weight"),
                host(l.weight.val().transpose()),
            );
            if let Some(b) = &l.bias {
                let b = b.val();
                put(
                    &format!("{prefix}.{i}.bias"),
                    HostTensor {
                        shape: b.dims().to_vec(),
                        data: host_values(b),
                    },
                );
            }
        }
    };
    mlp("appearance_head", &model.appearance_head);
    if let Some(n) = &model.nfm {
        mlp("nfm", n);
    }
    out
}

/// Saves `model` as `skeletonllm-draction-v1`: `path` (safetensors, f32) and the manifest
/// beside it (`.json`), both written atomically.
pub fn save(model: &DrAction, meta: &Metadata, path: &Path) -> Result<PathBuf> {
    let tensors = to_tensors(model);
    let bytes_of: BTreeMap<&str, Vec<u8>> = tensors
        .iter()
        .map(|(k, v)| {
            (
                k.as_str(),
                v.data.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views = tensors.iter().map(|(k, v)| {
        let view = safetensors::tensor::TensorView::new(
            Dtype::F32,
            v.shape.clone(),
            &bytes_of[k.as_str()],
        )
        .expect("sizes agree by construction");
        (k.clone(), view)
    });
    let cfg = model.config();
    let mut md: HashMap<String, String> = meta
        .extra
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    md.insert("format".into(), FORMAT.into());
    md.insert("name".into(), meta.name.clone());
    md.insert("description".into(), meta.description.clone());
    if let Some(m) = &meta.metric {
        md.insert("metric".into(), m.clone());
    }
    md.insert("num_line_samples".into(), cfg.num_line_samples.to_string());
    md.insert("render_frames".into(), meta.render_frames.to_string());
    md.insert("render_size".into(), meta.render_size.to_string());
    md.insert("enable_nfm".into(), cfg.enable_nfm.to_string());
    let bytes = safetensors::serialize(views, Some(md)).map_err(|e| err(path, e.to_string()))?;
    crate::io::write_atomic(path, &bytes)?;
    let manifest = serde_json::json!({
        "format": FORMAT,
        "name": meta.name,
        "description": meta.description,
        "num_line_samples": cfg.num_line_samples,
        "render_frames": meta.render_frames,
        "render_size": meta.render_size,
        "num_joints": cfg.num_joints,
        "num_gaussians": cfg.num_gaussians(),
        "feature_dim": cfg.feature_dim,
        "enable_nfm": cfg.enable_nfm,
        "tensor_count": tensors.len(),
        "tensors": tensors.iter().map(|(k, v)| (k.clone(), v.shape.clone())).collect::<BTreeMap<_, _>>(),
        "sha256": format!("{:x}", Sha256::digest(&bytes)),
    });
    let mpath = path.with_extension("json");
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| err(path, e.to_string()))?;
    crate::io::write_atomic(&mpath, text.as_bytes())?;
    Ok(mpath)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::model::DrActionConfig;

    fn pose() -> Vec<[f32; 3]> {
        (0..25)
            .map(|i| [i as f32 * 0.02, 1.0 - i as f32 * 0.05, 3.0])
            .collect()
    }

    #[test]
    fn save_load_round_trip_and_manifest_hash() {
        let device = Device::default();
        let model = DrActionConfig::new().init_with_pose(&pose(), &device);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.safetensors");
        let meta = Metadata {
            name: "mine".into(),
            render_frames: 12,
            render_size: 224,
            ..Default::default()
        };
        save(&model, &meta, &path).unwrap();
        let (back, m) = load(&path, &device).unwrap();
        assert_eq!(m.name, "mine");
        assert_eq!(m.render_size, 224);
        assert_eq!(m.extra["format"], FORMAT);
        let (a, b) = (to_tensors(&model), to_tensors(&back));
        assert_eq!(a, b);
        assert_eq!(a["appearance_head.0.weight"].shape, vec![64, 3]);
        assert_eq!(a.len(), 16);
        // A changed byte fails the manifest check.
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 1] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let e = load(&path, &device).unwrap_err().to_string();
        assert!(e.contains("does not match the manifest"), "{e}");
    }

    #[test]
    fn missing_unexpected_and_misshaped_are_named() {
        let device = Device::default();
        let model = DrActionConfig::new()
            .with_enable_nfm(false)
            .init_with_pose(&pose(), &device);
        let mut t = to_tensors(&model);
        t.remove("canonical_means");
        t.insert(
            "bogus".into(),
            HostTensor {
                shape: vec![1],
                data: vec![0.0],
            },
        );
        t.get_mut("canonical_scales").unwrap().shape = vec![265, 2];
        let e = from_tensors(Path::new("w.safetensors"), &t, &device)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("missing 'canonical_means'") && e.contains("unexpected 'bogus'"),
            "{e}"
        );
        t.remove("bogus");
        t.insert(
            "canonical_means".into(),
            HostTensor {
                shape: vec![265, 3],
                data: vec![0.0; 795],
            },
        );
        t.get_mut("canonical_scales").unwrap().data.truncate(530);
        let e = from_tensors(Path::new("w.safetensors"), &t, &device)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'canonical_scales' has shape [265, 2], expected [265, 3]"),
            "{e}"
        );
    }

    /// The authors' released checkpoints in `../shared` (not part of the project): bf16 widening,
    /// manifest hashes, NFM presence, known scalars. Run:
    /// `cargo test -p draction -- --ignored released_candidates`.
    #[test]
    #[ignore = "needs ../shared/reference/draction_weights; run: cargo test -p draction -- --ignored released_candidates"]
    fn released_candidates() {
        let dir = std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/reference/draction_weights"
        ));
        let device = Device::default();
        for (c, nfm, logit) in [
            ("01", true, -0.4921875f32),
            ("02", true, -247.0 / 512.0),
            ("03", false, -0.4375),
        ] {
            let (m, meta) = load(
                &dir.join(format!("draction_candidate_{c}.safetensors")),
                &device,
            )
            .unwrap();
            assert_eq!(m.num_gaussians(), 265);
            assert_eq!(m.nfm.is_some(), nfm, "candidate {c}");
            assert_eq!(
                host_values(m.depth_mix_logit.val()),
                vec![logit],
                "candidate {c}"
            );
            assert_eq!(meta.render_size, 448);
            let scales = host_values(m.canonical_scales.val());
            assert!(scales.iter().all(|&x| x == 41.0 / 2048.0)); // bf16(0.02)
        }
    }

    #[test]
    fn not_safetensors_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.safetensors");
        std::fs::write(&p, b"hello").unwrap();
        let e = load(&p, &Device::default()).unwrap_err().to_string();
        assert!(
            e.contains("x.safetensors") && e.contains("not a safetensors file"),
            "{e}"
        );
    }
}
