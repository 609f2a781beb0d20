//! The InternVL3 tokenizer: a Hugging Face `tokenizer.json` (Qwen2.5 byte-level BPE) with
//! InternVL's added tokens, loaded with the `tokenizers` crate.
//!
//! InternVL3's vocabulary is Qwen2.5's (151643 BPE tokens + 22 added tokens, `<|endoftext|>`
//! 151643 … `<|file_sep|>` 151664) followed by InternVL's 9 special tokens
//! ([`INTERNVL_ADDED_TOKENS`], `<img>` 151665 … `</box>` 151673): 151674 ids, the checkpoints'
//! `vocab_size`. A checkpoint's own `tokenizer.json` is loaded with
//! [`InternVlTokenizer::from_file`]; a bare Qwen2.5/Qwen3 `tokenizer.json` (same BPE) gets the
//! InternVL tokens with [`InternVlTokenizer::from_qwen_file`].

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};

/// InternVL's added tokens in id order, all special; the first one takes the id right after the
/// Qwen2.5 vocabulary ([`INTERNVL_FIRST_ADDED_ID`]).
pub const INTERNVL_ADDED_TOKENS: [&str; 9] = [
    "<img>",
    "</img>",
    "<IMG_CONTEXT>",
    "<quad>",
    "</quad>",
    "<ref>",
    "</ref>",
    "<box>",
    "</box>",
];

/// Id of `<img>` in InternVL3 (Qwen2.5's vocabulary has 151665 ids before it).
pub const INTERNVL_FIRST_ADDED_ID: u32 = 151665;

/// `<img>`: opens an image block.
pub const IMG_START: &str = "<img>";
/// `</img>`: closes an image block.
pub const IMG_END: &str = "</img>";
/// `<IMG_CONTEXT>`: one per image token; image features replace its embeddings.
pub const IMG_CONTEXT: &str = "<IMG_CONTEXT>";
/// `<|im_start|>`: opens a chat turn.
pub const IM_START: &str = "<|im_start|>";
/// `<|im_end|>`: closes a chat turn (the chat models' end of answer).
pub const IM_END: &str = "<|im_end|>";
/// `<|endoftext|>`: Qwen's end of document (and padding).
pub const ENDOFTEXT: &str = "<|endoftext|>";

/// Ids of the tokens the InternVL prompt format and generation use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialTokens {
    /// `<|endoftext|>` (151643 in InternVL3).
    pub endoftext: u32,
    /// `<|im_start|>` (151644).
    pub im_start: u32,
    /// `<|im_end|>` (151645).
    pub im_end: u32,
    /// `<img>` (151665).
    pub img_start: u32,
    /// `</img>` (151666).
    pub img_end: u32,
    /// `<IMG_CONTEXT>` (151667).
    pub img_context: u32,
}

/// A `tokenizer.json` with the InternVL special tokens resolved.
///
/// Should be created with [InternVlTokenizer::from_file] (a tokenizer that already has the
/// InternVL tokens) or [InternVlTokenizer::from_qwen_file] (a bare Qwen tokenizer).
#[derive(Debug, Clone)]
pub struct InternVlTokenizer {
    inner: tokenizers::Tokenizer,
    special: SpecialTokens,
    path: PathBuf,
}

fn tok_error(path: &Path, msg: impl Into<String>) -> Error {
    Error::Tokenizer {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// The `added_tokens` array of a parsed `tokenizer.json`.
fn added_tokens_mut<'a>(json: &'a mut Value, path: &Path) -> Result<&'a mut Vec<Value>> {
    json.get_mut("added_tokens")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| tok_error(path, "no `added_tokens` array"))
}

fn token_id(token: &Value) -> Option<u64> {
    token.get("id").and_then(Value::as_u64)
}

fn token_content(token: &Value) -> Option<&str> {
    token.get("content").and_then(Value::as_str)
}

/// Give a bare Qwen2.5/Qwen3 `tokenizer.json` InternVL3's added tokens, in place.
///
/// Added tokens with ids from [`INTERNVL_FIRST_ADDED_ID`] on (Qwen3's `<tool_response>`,
/// `</tool_response>`, `<think>`, `</think>`, absent from Qwen2.5) are dropped, then
/// [`INTERNVL_ADDED_TOKENS`] are appended as special tokens with ids 151665..=151673. A tokenizer
/// that already has `<IMG_CONTEXT>` is left as it is.
///
/// # Errors
///
/// [`Error::Tokenizer`] when the JSON has no `added_tokens` array, or when the ids before 151665
/// do not end right before it (not a Qwen2.5-family vocabulary).
pub fn add_internvl_tokens(json: &mut Value, path: &Path) -> Result<()> {
    let added = added_tokens_mut(json, path)?;
    if added.iter().any(|t| token_content(t) == Some(IMG_CONTEXT)) {
        return Ok(());
    }
    let first = u64::from(INTERNVL_FIRST_ADDED_ID);
    added.retain(|t| token_id(t).is_some_and(|id| id < first));
    let last = added.iter().filter_map(token_id).max();
    if last != Some(first - 1) {
        return Err(tok_error(
            path,
            format!(
                "not a Qwen2.5-family tokenizer: its added tokens below {first} end at {last:?}, \
                 expected {}",
                first - 1
            ),
        ));
    }
    push_internvl_tokens(added, first);
    Ok(())
}

/// Appends [`INTERNVL_ADDED_TOKENS`] as special added tokens with ids `first..`.
fn push_internvl_tokens(added: &mut Vec<Value>, first: u64) {
    for (k, content) in INTERNVL_ADDED_TOKENS.iter().enumerate() {
        added.push(serde_json::json!({
            "id": first + k as u64,
            "content": content,
            "single_word": false,
            "lstrip": false,
            "rstrip": false,
            "normalized": false,
            "special": true,
        }));
    }
}

/// Give any `tokenizer.json` (a GGUF model's, say) InternVL3's added tokens
/// ([`INTERNVL_ADDED_TOKENS`]) with ids right after its `vocab_size` ids, in place; returns
/// the new vocabulary size.
///
/// # Errors
///
/// [`Error::Tokenizer`] when the JSON has no `added_tokens` array.
pub fn append_internvl_tokens(json: &mut Value, vocab_size: usize, path: &Path) -> Result<usize> {
    push_internvl_tokens(added_tokens_mut(json, path)?, vocab_size as u64);
    Ok(vocab_size + INTERNVL_ADDED_TOKENS.len())
}

impl InternVlTokenizer {
    /// Load a `tokenizer.json` that already has the InternVL tokens (a checkpoint's own).
    ///
    /// # Errors
    ///
    /// [`Error::Io`]/[`Error::Json`] for the file, [`Error::Tokenizer`] when the `tokenizers`
    /// crate rejects it, an added token does not get the id the file declares, or one of the
    /// tokens in [`SpecialTokens`] is missing.
    pub fn from_file(path: &Path) -> Result<Self> {
        Self::from_json(read_json(path)?, path)
    }

    /// Load a bare Qwen2.5/Qwen3 `tokenizer.json` and add InternVL3's tokens
    /// ([`add_internvl_tokens`]).
    ///
    /// # Errors
    ///
    /// As [InternVlTokenizer::from_file] and [`add_internvl_tokens`].
    pub fn from_qwen_file(path: &Path) -> Result<Self> {
        let mut json = read_json(path)?;
        add_internvl_tokens(&mut json, path)?;
        Self::from_json(json, path)
    }

    /// The tokenizer of a checkpoint directory: its `tokenizer.json`.
    ///
    /// # Errors
    ///
    /// As [InternVlTokenizer::from_file].
    pub fn from_model_dir(dir: &Path) -> Result<Self> {
        Self::from_file(&dir.join("tokenizer.json"))
    }

    /// Build from a parsed `tokenizer.json` (`path` is only used in messages).
    ///
    /// # Errors
    ///
    /// As [InternVlTokenizer::from_file].
    pub fn from_json(json: Value, path: &Path) -> Result<Self> {
        let declared: Vec<(String, u64)> = json
            .get("added_tokens")
            .and_then(Value::as_array)
            .map(|tokens| {
                tokens
                    .iter()
                    .filter_map(|t| Some((token_content(t)?.to_string(), token_id(t)?)))
                    .collect()
            })
            .unwrap_or_default();
        let text = json.to_string();
        let inner: tokenizers::Tokenizer = text
            .parse()
            .map_err(|e| tok_error(path, format!("cannot load: {e}")))?;
        // The crate numbers added tokens consecutively, whatever ids the file declares.
        for (content, id) in &declared {
            let got = inner.token_to_id(content);
            if got.map(u64::from) != Some(*id) {
                return Err(tok_error(
                    path,
                    format!("added token {content:?} declared with id {id} but loads as {got:?}"),
                ));
            }
        }
        let find = |token: &str| {
            inner
                .token_to_id(token)
                .ok_or_else(|| tok_error(path, format!("no {token} token")))
        };
        let special = SpecialTokens {
            endoftext: find(ENDOFTEXT)?,
            im_start: find(IM_START)?,
            im_end: find(IM_END)?,
            img_start: find(IMG_START)?,
            img_end: find(IMG_END)?,
            img_context: find(IMG_CONTEXT)?,
        };
        Ok(Self {
            inner,
            special,
            path: path.to_path_buf(),
        })
    }

    /// Ids of the InternVL special tokens.
    pub fn special_tokens(&self) -> &SpecialTokens {
        &self.special
    }

    /// Number of ids, added tokens included (151674 for InternVL3).
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The id of a token string (an added token or a byte-level BPE token).
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The token string of an id.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// Token ids of `text`. Special tokens written in the text (`<|im_start|>`, `<img>`, ...)
    /// become their ids; nothing is prepended or appended (Qwen has no BOS), as transformers'
    /// `tokenizer(text).input_ids`.
    ///
    /// # Errors
    ///
    /// [`Error::Tokenizer`] if the `tokenizers` crate fails.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .inner
            .encode(text, false)
            .map_err(|e| tok_error(&self.path, format!("encode: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Text of `ids`; with `skip_special_tokens`, special tokens are left out.
    ///
    /// # Errors
    ///
    /// [`Error::Tokenizer`] if the `tokenizers` crate fails.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special_tokens)
            .map_err(|e| tok_error(&self.path, format!("decode: {e}")))
    }

    /// Checks that `text` from a user (a question, a label) is plain text: it must not spell a
    /// special token (`<|im_end|>`, `<IMG_CONTEXT>`, …) nor the image placeholder `<image>`,
    /// which would otherwise end the turn or take the place of a frame.
    ///
    /// # Errors
    ///
    /// [`Error::SpecialToken`] naming the first such token found.
    pub fn check_plain_text(&self, text: &str) -> Result<()> {
        let placeholder = crate::text::template::IMAGE_PLACEHOLDER;
        if text.contains(placeholder) {
            return Err(Error::SpecialToken {
                token: placeholder.to_string(),
            });
        }
        let decoder = self.inner.get_added_tokens_decoder();
        let mut specials: Vec<&str> = decoder
            .values()
            .filter(|t| t.special)
            .map(|t| t.content.as_str())
            .filter(|c| !c.is_empty())
            .collect();
        specials.sort_unstable();
        match specials.into_iter().find(|c| text.contains(c)) {
            Some(token) => Err(Error::SpecialToken {
                token: token.to_string(),
            }),
            None => Ok(()),
        }
    }

    /// The wrapped `tokenizers` tokenizer.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }
}

/// Splits `text` as the `Whitespace` pre-tokeniser does: runs of word characters
/// (alphanumeric or `_`) and runs of other non-space characters.
pub fn whitespace_words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start: Option<(usize, bool)> = None;
    for (i, c) in text.char_indices() {
        let kind = if c.is_whitespace() {
            None
        } else {
            Some(c.is_alphanumeric() || c == '_')
        };
        match (start, kind) {
            (Some((_, k)), Some(w)) if k == w => {}
            (Some((s, _)), _) => {
                out.push(&text[s..i]);
                start = kind.map(|w| (i, w));
            }
            (None, Some(w)) => start = Some((i, w)),
            (None, None) => {}
        }
    }
    if let Some((s, _)) = start {
        out.push(&text[s..]);
    }
    out
}

/// A word-level `tokenizer.json` for small models trained from scratch: every word of `texts`
/// ([`whitespace_words`]) in first-seen order gets ids 0.., then `<|endoftext|>`, `<|im_start|>`,
/// `<|im_end|>`, `<img>`, `</img>`, `<IMG_CONTEXT>` (special) and `[UNK]` for any other word.
/// Decoding joins words with spaces. A test and example factory (the `testing` feature).
#[cfg(any(test, feature = "testing"))]
pub fn word_level_json<S: AsRef<str>>(texts: &[S]) -> Value {
    let specials = [ENDOFTEXT, IM_START, IM_END, IMG_START, IMG_END, IMG_CONTEXT];
    let mut vocab = serde_json::Map::new();
    for text in texts {
        for word in whitespace_words(text.as_ref()) {
            if !vocab.contains_key(word) && !specials.contains(&word) && word != "[UNK]" {
                let id = vocab.len();
                vocab.insert(word.to_string(), id.into());
            }
        }
    }
    let first = vocab.len();
    let added: Vec<Value> = specials
        .iter()
        .enumerate()
        .map(|(k, s)| {
            serde_json::json!({"id": first + k, "content": s, "single_word": false,
                "lstrip": false, "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    for (k, s) in specials.iter().enumerate() {
        vocab.insert(s.to_string(), (first + k).into());
    }
    vocab.insert("[UNK]".into(), (first + specials.len()).into());
    serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": added, "normalizer": null,
        "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null,
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A word-level tokenizer with the tiny fixtures' ids: words 0..199, then `<|endoftext|>`
    /// 200, `<|im_start|>` 201, `<|im_end|>` 202, `<img>` 203, `</img>` 204, `<IMG_CONTEXT>` 205,
    /// `[UNK]` 206 (any other word).
    /// Words `w0`…`w199` (ids 0–199), the special tokens 200–205, `[UNK]` 206.
    pub(crate) fn tiny_tokenizer_json() -> Value {
        let words: Vec<String> = (0..200).map(|i| format!("w{i}")).collect();
        word_level_json(&[words.join(" ")])
    }

    #[test]
    fn tiny_tokenizer_has_the_fixture_ids() {
        let tok = InternVlTokenizer::from_json(tiny_tokenizer_json(), Path::new("tiny")).unwrap();
        assert_eq!(
            *tok.special_tokens(),
            SpecialTokens {
                endoftext: 200,
                im_start: 201,
                im_end: 202,
                img_start: 203,
                img_end: 204,
                img_context: 205
            }
        );
        assert_eq!(
            tok.encode("<|im_start|>w16 w79<img><IMG_CONTEXT></img>")
                .unwrap(),
            [201, 16, 79, 203, 205, 204]
        );
    }

    #[test]
    fn word_level_tokenizer_round_trips_its_words() {
        let json = word_level_json(&["walk, run", "put on hat/cap"]);
        let tok = InternVlTokenizer::from_json(json, Path::new("words")).unwrap();
        assert_eq!(tok.vocab_size(), 8 + 7);
        assert_eq!(tok.encode("run walk").unwrap(), [2, 0]);
        assert_eq!(tok.encode("hat/cap<|im_end|>").unwrap(), [5, 6, 7, 10]);
        assert_eq!(tok.encode("jump").unwrap(), [14]); // [UNK]
        assert_eq!(tok.decode(&[3, 4, 5], true).unwrap(), "put on hat");
        assert_eq!(whitespace_words(" a_b1,, c\n"), ["a_b1", ",,", "c"]);
    }

    #[test]
    fn missing_special_token_is_named() {
        let mut json = tiny_tokenizer_json();
        let added = json["added_tokens"].as_array_mut().unwrap();
        added.retain(|t| t["content"] != IMG_CONTEXT);
        json["model"]["vocab"]
            .as_object_mut()
            .unwrap()
            .remove(IMG_CONTEXT);
        let err = InternVlTokenizer::from_json(json, Path::new("tiny.json")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("tiny.json") && text.contains("<IMG_CONTEXT>"),
            "{text}"
        );
    }

    #[test]
    fn added_token_with_a_gap_is_rejected() {
        let mut json = tiny_tokenizer_json();
        json["added_tokens"][5]["id"] = 207.into(); // the crate would give it 205
        let err = InternVlTokenizer::from_json(json, Path::new("gap.json")).unwrap_err();
        assert!(err.to_string().contains("declared with id 207"), "{err}");
    }

    #[test]
    fn adding_internvl_tokens_needs_a_qwen_vocabulary() {
        let mut json = tiny_tokenizer_json();
        json["added_tokens"]
            .as_array_mut()
            .unwrap()
            .retain(|t| t["id"].as_u64() < Some(203));
        let err = add_internvl_tokens(&mut json, Path::new("tiny.json")).unwrap_err();
        assert!(err.to_string().contains("not a Qwen2.5-family"), "{err}");
        // Already there: untouched.
        let mut json = tiny_tokenizer_json();
        let before = json.clone();
        add_internvl_tokens(&mut json, Path::new("tiny.json")).unwrap();
        assert_eq!(json, before);
    }
}
