//! The InternVL3 tokenizer and chat template on the real Qwen BPE.
//!
//! Needs the Qwen tokenizer fetched by `skeletonllm-model/tests/fetch_qwen_tokenizer.sh` into
//! `$SKELETONLLM_DATA/qwen_tokenizer/tokenizer.json` (default data dir: `<repo>/.data`).
//! Expected ids were computed independently with the Python `tokenizers` package (0.23.3): the
//! text between special tokens encoded with the unmodified Qwen tokenizer, the special ids
//! spliced in by hand (and, as a cross-check, the whole prompt encoded by a tokenizer.json with
//! the InternVL tokens added).

use std::path::PathBuf;
use std::sync::OnceLock;

use skeletonllm_model::text::tokenizer::{INTERNVL_ADDED_TOKENS, InternVlTokenizer, SpecialTokens};
use skeletonllm_model::{Conversation, Error};

fn qwen_tokenizer_path() -> PathBuf {
    skeletonllm_model::draction::testdata::data_dir("qwen_tokenizer").join("tokenizer.json")
}

/// Loaded once for all tests (parsing 11 MB of JSON takes a second in debug builds).
fn tokenizer() -> &'static InternVlTokenizer {
    static TOKENIZER: OnceLock<InternVlTokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(|| {
        InternVlTokenizer::from_qwen_file(&qwen_tokenizer_path()).expect("Qwen tokenizer loads")
    })
}

const SYSTEM: &str = "You are an expert in video categorization and human action recognition.";
const USER: &str = "Frame1: <image>\nFrame2: <image>\nWhat is the person doing? Answer briefly \
                    — café, naïve, 你好, 123456 tabs\tand  spaces.";

/// Python `tokenizers` 0.23.3, 4 `<IMG_CONTEXT>` per image.
const EXPECTED: [u32; 77] = [
    151644, 8948, 198, 2610, 525, 458, 6203, 304, 2766, 22049, 2022, 323, 3738, 1917, 17843, 13,
    151645, 198, 151644, 872, 198, 4369, 16, 25, 220, 151665, 151667, 151667, 151667, 151667,
    151666, 198, 4369, 17, 25, 220, 151665, 151667, 151667, 151667, 151667, 151666, 198, 3838, 374,
    279, 1697, 3730, 30, 21806, 26753, 1959, 51950, 11, 94880, 586, 11, 220, 108386, 11, 220, 16,
    17, 18, 19, 20, 21, 22398, 52477, 220, 12621, 13, 151645, 198, 151644, 77091, 198,
];

#[test]
fn special_tokens_have_the_internvl3_ids() {
    let tok = tokenizer();
    assert_eq!(
        *tok.special_tokens(),
        SpecialTokens {
            endoftext: 151643,
            im_start: 151644,
            im_end: 151645,
            img_start: 151665,
            img_end: 151666,
            img_context: 151667,
        }
    );
    assert_eq!(tok.vocab_size(), 151674, "InternVL3's vocab_size");
    for (k, token) in INTERNVL_ADDED_TOKENS.iter().enumerate() {
        assert_eq!(tok.token_to_id(token), Some(151665 + k as u32), "{token}");
    }
    // Qwen3's extra added tokens are gone; `<think>` is ordinary text again.
    assert_eq!(tok.token_to_id("<think>"), None);
    assert_eq!(tok.token_to_id("<|file_sep|>"), Some(151664));
}

#[test]
fn plain_text_matches_python_tokenizers() {
    let tok = tokenizer();
    assert_eq!(tok.encode("Hello world").unwrap(), [9707, 1879]);
    assert_eq!(tok.encode("Hello, world!").unwrap(), [9707, 11, 1879, 0]);
}

#[test]
fn chat_with_images_matches_python_tokenizers() {
    let tok = tokenizer();
    let ids = Conversation::new(SYSTEM)
        .encode(tok, USER, &[4, 4])
        .unwrap();
    assert_eq!(ids, EXPECTED);

    let text = tok.decode(&ids, true).unwrap();
    assert_eq!(
        text,
        format!(
            "system\n{SYSTEM}\nuser\n{}\nassistant\n",
            USER.replace("<image>", "")
        )
    );
    let with_special = tok.decode(&ids[..4], false).unwrap();
    assert_eq!(with_special, "<|im_start|>system\nYou");
}

#[test]
fn full_size_images_expand_to_256_tokens_each() {
    let tok = tokenizer();
    let ids = Conversation::new(SYSTEM)
        .encode(tok, USER, &[256, 256])
        .unwrap();
    assert_eq!(ids.len(), EXPECTED.len() + 2 * (256 - 4));
    assert_eq!(ids.iter().filter(|&&id| id == 151667).count(), 512);
    let err = Conversation::new(SYSTEM)
        .encode(tok, USER, &[256])
        .unwrap_err();
    assert!(matches!(err, Error::PlaceholderMismatch { .. }), "{err}");
}

#[test]
fn a_tokenizer_without_internvl_tokens_is_rejected_by_from_file() {
    let err = InternVlTokenizer::from_file(&qwen_tokenizer_path()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("tokenizer.json") && text.contains("<img>"),
        "{text}"
    );
}
