//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong when a user file (config, weights, inputs) comes in.
///
/// Programmer errors (mis-shaped tensors handed to a `forward`) panic instead and are documented
/// under `# Panics`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A JSON file (config, shard index) did not parse into the expected structure.
    #[error("{}: invalid JSON: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The underlying parse error.
        source: serde_json::Error,
    },
    /// A config parsed but asks for something this port does not implement, or is inconsistent.
    #[error("{}: unsupported config: {msg}", path.display())]
    Config {
        /// The config file (empty when the config was built in code).
        path: PathBuf,
        /// What is wrong, naming the key.
        msg: String,
    },
    /// A safetensors file could not be opened or decoded.
    #[error("{}: safetensors: {msg}", path.display())]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        msg: String,
    },
    /// The weights do not fit the model: every missing, unexpected or mis-shaped tensor is named.
    #[error(
        "{}: weights do not match the model: {} missing {:?}, {} unexpected {:?}, {} mis-shaped {:?}",
        path.display(), missing.len(), missing, unexpected.len(), unexpected,
        mismatched.len(), mismatched
    )]
    Weights {
        /// The checkpoint (file or directory).
        path: PathBuf,
        /// Model parameters (Burn module paths) no tensor was found for.
        missing: Vec<String>,
        /// Checkpoint tensors (after renaming) that no parameter takes.
        unexpected: Vec<String>,
        /// Tensors present under the right name but with the wrong shape or kind, with details.
        mismatched: Vec<String>,
    },
    /// A tensor named by the caller is absent from an input file.
    #[error("{}: no tensor named `{name}`", path.display())]
    MissingInput {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        name: String,
    },
    /// The prompt's `<IMG_CONTEXT>` tokens do not match the image features (HF raises the same).
    #[error(
        "image tokens and image features do not match: {tokens} image tokens in input_ids, \
         {features} feature rows from the images"
    )]
    ImageTokenMismatch {
        /// Number of `image_token_id` positions in `input_ids`.
        tokens: usize,
        /// `num_images * tokens_per_image`.
        features: usize,
    },
    /// An input tensor has the wrong dtype, rank or shape, or values the model cannot take.
    #[error("{}`{name}`: {msg}", file_prefix(path))]
    BadInput {
        /// The input file (empty when the input was built in code).
        path: PathBuf,
        /// The tensor name (`input_ids`, `attention_mask`, `pixel_values`, ...).
        name: String,
        /// What is wrong, with the expected and the actual value.
        msg: String,
    },
    /// A `tokenizer.json` could not be loaded, lacks a token the model needs, or failed to
    /// encode or decode.
    #[error("{}tokenizer: {msg}", file_prefix(path))]
    Tokenizer {
        /// The tokenizer file (empty when the tokenizer was built in code).
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// A chat prompt does not fit its images: the number of `<image>` placeholders differs from
    /// the number of images.
    #[error("prompt has {placeholders} `<image>` placeholders but {images} images were given")]
    PlaceholderMismatch {
        /// `<image>` placeholders in the prompt.
        placeholders: usize,
        /// Images (entries of `tokens_per_image`).
        images: usize,
    },
    /// A downloaded file does not match its recorded checksum.
    #[error("{}: corrupt: {msg}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What differs and how to get a good copy.
        msg: String,
    },
    /// User text (a question, a label) spells a special token of the prompt format.
    #[error(
        "contains the special token `{token}`: questions and labels are plain text and may not \
         contain the prompt's control tokens"
    )]
    SpecialToken {
        /// The special token found.
        token: String,
    },
    /// The skeleton cannot be rendered (no joint present, too many joints or frames).
    #[error(transparent)]
    Skeleton(#[from] draction::Error),
    /// A GGUF language model could not be read or loaded (the error names the file).
    #[error(transparent)]
    Gguf(Box<crate::load::gguf::GgufError>),
    /// LoRA adapters could not be saved or loaded (the error names the file).
    #[error(transparent)]
    Lora(Box<crate::lora::LoraError>),
    /// The DrAction tensors of a checkpoint do not form a renderer.
    #[error("{}: renderer: {source}", path.display())]
    Renderer {
        /// The checkpoint file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: draction::Error,
    },
    /// A task cannot run on its inputs (a skeleton that cannot be rendered, no labels, an
    /// answer that encodes to nothing).
    #[error("{0}")]
    Task(String),
}

impl From<crate::load::gguf::GgufError> for Error {
    fn from(e: crate::load::gguf::GgufError) -> Self {
        Self::Gguf(Box::new(e))
    }
}

impl From<crate::lora::LoraError> for Error {
    fn from(e: crate::lora::LoraError) -> Self {
        Self::Lora(Box::new(e))
    }
}

/// `"path: "`, or nothing for an empty path (inputs built in code).
fn file_prefix(path: &std::path::Path) -> String {
    if path.as_os_str().is_empty() {
        String::new()
    } else {
        format!("{}: ", path.display())
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
