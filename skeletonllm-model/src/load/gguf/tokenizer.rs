//! The tokenizer a GGUF file describes (`tokenizer.ggml.*`), rebuilt as a Hugging Face
//! [`tokenizers::Tokenizer`], and its ChatML chat template.
//!
//! Only `tokenizer.ggml.model = "gpt2"` (byte-level BPE: SmolLM2, Llama 3, Qwen2) is handled:
//! the vocabulary (`tokens`, already in the byte-level alphabet) and `merges` make a BPE model;
//! the pre-tokenizer follows `tokenizer.ggml.pre` as llama.cpp does (`smollm`/`starcoder`/...:
//! every digit split off, then the GPT-2 regex; `llama3`-style and `qwen2` regexes; anything
//! else: the GPT-2 regex); tokens typed CONTROL (3) become special added tokens and
//! USER_DEFINED (4) plain added tokens, so `<|im_start|>` stays whole.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::load::gguf::{GgufError, GgufFile, GgufMetadata, GgufValue};

/// `tokenizer.ggml.pre` values whose pre-tokenizer splits every digit, then applies GPT-2's regex.
const DIGITS_THEN_GPT2: &[&str] = &[
    "smollm",
    "starcoder",
    "refact",
    "command-r",
    "codeshell",
    "exaone",
    "minerva",
];
/// `tokenizer.ggml.pre` values using the Llama 3 regex.
const LLAMA3: &[&str] = &[
    "llama3",
    "llama-v3",
    "llama-bpe",
    "falcon3",
    "smaug-bpe",
    "dbrx",
    "pixtral",
];
/// `tokenizer.ggml.pre` values using the Qwen2 regex.
const QWEN2: &[&str] = &["qwen2", "deepseek-r1-qwen"];

const LLAMA3_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// GGUF token type of control tokens (`<|im_start|>`).
pub const TOKEN_TYPE_CONTROL: i64 = 3;
/// GGUF token type of user-defined added tokens.
pub const TOKEN_TYPE_USER_DEFINED: i64 = 4;

/// A byte-level BPE tokenizer built from GGUF metadata, with its special ids and chat template.
#[derive(Debug, Clone)]
pub struct GgufTokenizer {
    inner: tokenizers::Tokenizer,
    /// `tokenizer.ggml.bos_token_id`.
    pub bos_token_id: Option<u32>,
    /// `tokenizer.ggml.eos_token_id`.
    pub eos_token_id: Option<u32>,
    /// `tokenizer.ggml.padding_token_id`.
    pub pad_token_id: Option<u32>,
    /// `tokenizer.ggml.add_bos_token` (false when absent): [`GgufTokenizer::encode`] prepends BOS.
    pub add_bos: bool,
    /// `tokenizer.chat_template` (Jinja source).
    pub chat_template: Option<String>,
    path: PathBuf,
}

fn tok_err(path: &Path, msg: impl Into<String>) -> GgufError {
    GgufError::Tokenizer {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

fn string_array<'a>(
    meta: &'a GgufMetadata,
    key: &str,
    path: &Path,
) -> Result<Vec<&'a str>, GgufError> {
    let items = meta
        .get(key)
        .and_then(GgufValue::as_array)
        .ok_or_else(|| tok_err(path, format!("`{key}` is missing or not an array")))?;
    items
        .iter()
        .map(|v| {
            v.as_str()
                .ok_or_else(|| tok_err(path, format!("`{key}` holds a {}", v.type_name())))
        })
        .collect()
}

impl GgufTokenizer {
    /// Open a GGUF file and build its tokenizer.
    ///
    /// # Errors
    ///
    /// As [`GgufFile::open`] and [`GgufTokenizer::from_metadata`].
    pub fn from_file(path: &Path) -> Result<Self, GgufError> {
        let file = GgufFile::open(path)?;
        Self::from_metadata(&file.metadata, path)
    }

    /// Build the tokenizer from parsed metadata (`path` names the file in errors).
    ///
    /// # Errors
    ///
    /// [`GgufError::Tokenizer`] for a non-`gpt2` model, missing or ill-typed keys, a malformed
    /// merge, or ids outside the vocabulary.
    pub fn from_metadata(meta: &GgufMetadata, path: &Path) -> Result<Self, GgufError> {
        match meta.get_str("tokenizer.ggml.model") {
            Some("gpt2") => {}
            other => {
                return Err(tok_err(
                    path,
                    format!(
                        "tokenizer.ggml.model {other:?}: only \"gpt2\" (byte-level BPE) is supported"
                    ),
                ));
            }
        }
        let tokens = string_array(meta, "tokenizer.ggml.tokens", path)?;
        let merges = match meta.get("tokenizer.ggml.merges") {
            Some(_) => string_array(meta, "tokenizer.ggml.merges", path)?,
            None => Vec::new(),
        };
        let types: Vec<i64> = match meta.get("tokenizer.ggml.token_type") {
            None => vec![1; tokens.len()],
            Some(v) => {
                let items = v
                    .as_array()
                    .ok_or_else(|| tok_err(path, "`tokenizer.ggml.token_type` is not an array"))?;
                if items.len() != tokens.len() {
                    return Err(tok_err(
                        path,
                        format!("{} token types for {} tokens", items.len(), tokens.len()),
                    ));
                }
                items
                    .iter()
                    .map(|t| {
                        t.as_i64().ok_or_else(|| {
                            tok_err(path, format!("a token type is a {}", t.type_name()))
                        })
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        let n = tokens.len();
        let id = |key: &str| -> Result<Option<u32>, GgufError> {
            match meta.get(key) {
                None => Ok(None),
                Some(v) => v
                    .as_u64()
                    .filter(|&i| (i as usize) < n)
                    .map(|i| Some(i as u32))
                    .ok_or_else(|| tok_err(path, format!("`{key}` = {v:?} is not a token id"))),
            }
        };

        let mut vocab = serde_json::Map::with_capacity(n);
        for (i, t) in tokens.iter().enumerate() {
            vocab.entry(t.to_string()).or_insert(json!(i));
        }
        let merges: Vec<Value> = merges
            .iter()
            .map(|m| match m.split(' ').collect::<Vec<_>>().as_slice() {
                [a, b] => Ok(json!([a, b])),
                _ => Err(tok_err(path, format!("merge {m:?} is not two tokens"))),
            })
            .collect::<Result<_, _>>()?;
        let added: Vec<Value> = tokens
            .iter()
            .zip(&types)
            .enumerate()
            .filter(|(_, (_, t))| **t == TOKEN_TYPE_CONTROL || **t == TOKEN_TYPE_USER_DEFINED)
            .map(|(i, (tok, t))| {
                json!({"id": i, "content": tok, "single_word": false, "lstrip": false,
                       "rstrip": false, "normalized": false,
                       "special": *t == TOKEN_TYPE_CONTROL})
            })
            .collect();
        let byte_level = |use_regex: bool| {
            json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
                   "use_regex": use_regex})
        };
        let split = |regex: &str| {
            json!({"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated",
                 "invert": false},
                byte_level(false)]})
        };
        let pre = meta.get_str("tokenizer.ggml.pre").unwrap_or("default");
        let pre_tokenizer = if DIGITS_THEN_GPT2.contains(&pre) {
            json!({"type": "Sequence", "pretokenizers": [
                {"type": "Digits", "individual_digits": true}, byte_level(true)]})
        } else if LLAMA3.contains(&pre) {
            split(LLAMA3_REGEX)
        } else if QWEN2.contains(&pre) {
            split(QWEN2_REGEX)
        } else {
            byte_level(true)
        };
        let spec = json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": added,
            "normalizer": null,
            "pre_tokenizer": pre_tokenizer,
            "post_processor": null,
            "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true,
                        "use_regex": true},
            "model": {"type": "BPE", "dropout": null, "unk_token": null,
                      "continuing_subword_prefix": null, "end_of_word_suffix": null,
                      "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                      "vocab": vocab, "merges": merges},
        });
        let inner: tokenizers::Tokenizer = serde_json::from_value(spec)
            .map_err(|e| tok_err(path, format!("building the BPE tokenizer: {e}")))?;
        Ok(Self {
            inner,
            bos_token_id: id("tokenizer.ggml.bos_token_id")?,
            eos_token_id: id("tokenizer.ggml.eos_token_id")?,
            pad_token_id: id("tokenizer.ggml.padding_token_id")?,
            add_bos: meta
                .get_bool("tokenizer.ggml.add_bos_token")
                .unwrap_or(false),
            chat_template: meta.get_str("tokenizer.chat_template").map(str::to_string),
            path: path.to_path_buf(),
        })
    }

    /// Token ids of a text; special tokens written in the text (`<|im_start|>`) map to their
    /// ids; BOS is prepended when `add_bos` is set.
    ///
    /// # Errors
    ///
    /// [`GgufError::Tokenizer`] when the `tokenizers` crate fails.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, GgufError> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| tok_err(&self.path, format!("encode: {e}")))?;
        let mut ids = Vec::with_capacity(enc.len() + 1);
        if self.add_bos
            && let Some(bos) = self.bos_token_id
        {
            ids.push(bos);
        }
        ids.extend_from_slice(enc.get_ids());
        Ok(ids)
    }

    /// Text of token ids, special tokens dropped if `skip_special_tokens`.
    ///
    /// # Errors
    ///
    /// [`GgufError::Tokenizer`] when the `tokenizers` crate fails.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String, GgufError> {
        self.inner
            .decode(ids, skip_special_tokens)
            .map_err(|e| tok_err(&self.path, format!("decode: {e}")))
    }

    /// Id of a token string (vocabulary or added token).
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Number of ids, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The wrapped `tokenizers` tokenizer.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// The ids that end an answer: EOS and `<|im_end|>` (if present), sorted and deduplicated.
    pub fn stop_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .eos_token_id
            .into_iter()
            .chain(self.token_to_id("<|im_end|>"))
            .map(i64::from)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The default system prompt a ChatML template inserts when the conversation has none
    /// (SmolLM2's "You are a helpful AI assistant named SmolLM, ..."), if it has one.
    pub fn default_system_prompt(&self) -> Option<&str> {
        let template = self.chat_template.as_deref()?;
        let start = template.find("<|im_start|>system\n")? + "<|im_start|>system\n".len();
        let len = template[start..].find("<|im_end|>")?;
        Some(&template[start..start + len])
    }

    /// A ChatML prompt (`<|im_start|>role\ncontent<|im_end|>\n` per message, then
    /// `<|im_start|>assistant\n`) as SmolLM2's template renders it with
    /// `add_generation_prompt`: [`GgufTokenizer::default_system_prompt`] is prepended when the
    /// first message is not a system one. `messages` are `(role, content)` pairs.
    ///
    /// # Errors
    ///
    /// [`GgufError::Tokenizer`] when the vocabulary has no `<|im_start|>` (not a ChatML model).
    pub fn chatml_prompt(&self, messages: &[(&str, &str)]) -> Result<String, GgufError> {
        if self.token_to_id("<|im_start|>").is_none() {
            return Err(tok_err(
                &self.path,
                "no <|im_start|> token: not a ChatML model",
            ));
        }
        let mut out = String::new();
        if messages.first().is_none_or(|(role, _)| *role != "system")
            && let Some(system) = self.default_system_prompt()
        {
            out.push_str(&format!("<|im_start|>system\n{system}<|im_end|>\n"));
        }
        for (role, content) in messages {
            out.push_str(&format!("<|im_start|>{role}\n{content}<|im_end|>\n"));
        }
        out.push_str("<|im_start|>assistant\n");
        Ok(out)
    }
}
