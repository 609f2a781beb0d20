//! InternVL's `internvl2_5` chat template (InternVL2.5 and InternVL3), with images.
//!
//! ```text
//! <|im_start|>system\n{system}<|im_end|>\n
//! <|im_start|>user\n{user}<|im_end|>\n            (one per earlier turn, then the new one)
//! <|im_start|>assistant\n{answer}<|im_end|>\n     (earlier turns only)
//! <|im_start|>assistant\n                          (the prompt ends here)
//! ```
//!
//! Each `<image>` placeholder, in order over the whole prompt, becomes `<img>` + N ×
//! `<IMG_CONTEXT>` + `</img>` (N = 256 for a 448 px image through pixel shuffle 0.5). This is
//! OpenGVLab's `Conversation` (`SeparatorStyle.MPT`, `sep = "<|im_end|>\n"`) followed by the
//! `query.replace('<image>', image_tokens, 1)` of `InternVLChatModel.chat`. Unlike `chat`, nothing
//! is added for images without a placeholder: write the `<image>` placeholders yourself
//! (`chat` prepends `"<image>\n"` to the question).

use crate::error::{Error, Result};
use crate::text::tokenizer::{
    IM_END, IM_START, IMG_CONTEXT, IMG_END, IMG_START, InternVlTokenizer,
};

/// The `internvl2_5` template's default system message (what InternVL3 answers with when the
/// caller sets none).
pub const INTERNVL_SYSTEM_MESSAGE: &str = "你是书生·万象，英文名是InternVL，是由上海人工智能实验室、清华大学及多家合作单位联合开发的多模态大语言模型。";

/// The placeholder a prompt writes where an image goes.
pub const IMAGE_PLACEHOLDER: &str = "<image>";

/// A chat: a system message and the earlier turns; [Conversation::prompt] adds the new question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// The system message.
    pub system: String,
    /// Earlier `(user, assistant)` turns, oldest first.
    pub history: Vec<(String, String)>,
}

impl Conversation {
    /// A chat with this system message and no history.
    pub fn new(system: impl Into<String>) -> Self {
        Self {
            system: system.into(),
            history: Vec::new(),
        }
    }

    /// A chat with InternVL's default system message ([`INTERNVL_SYSTEM_MESSAGE`]).
    pub fn internvl() -> Self {
        Self::new(INTERNVL_SYSTEM_MESSAGE)
    }

    /// With one more earlier turn.
    pub fn with_turn(mut self, user: impl Into<String>, assistant: impl Into<String>) -> Self {
        self.history.push((user.into(), assistant.into()));
        self
    }

    /// The prompt text for a new user message, ending with `<|im_start|>assistant\n` (the
    /// placeholders are left as they are).
    pub fn prompt(&self, user: &str) -> String {
        let turn = |role: &str, text: &str| format!("{IM_START}{role}\n{text}{IM_END}\n");
        let mut out = turn("system", &self.system);
        for (question, answer) in &self.history {
            out += &turn("user", question);
            out += &turn("assistant", answer);
        }
        out += &turn("user", user);
        out += IM_START;
        out += "assistant\n";
        out
    }

    /// Token ids of [Conversation::prompt] with the image placeholders expanded
    /// ([`expand_image_placeholders`]).
    ///
    /// # Errors
    ///
    /// [`Error::PlaceholderMismatch`] when the prompt (history included) has not exactly one
    /// placeholder per entry of `tokens_per_image`; [`Error::Tokenizer`] if encoding fails.
    pub fn encode(
        &self,
        tokenizer: &InternVlTokenizer,
        user: &str,
        tokens_per_image: &[usize],
    ) -> Result<Vec<u32>> {
        tokenizer.encode(&expand_image_placeholders(
            &self.prompt(user),
            tokens_per_image,
        )?)
    }
}

/// Replace the `<image>` placeholders in order: the i-th becomes `<img>` +
/// `tokens_per_image[i]` × `<IMG_CONTEXT>` + `</img>`.
///
/// # Errors
///
/// [`Error::PlaceholderMismatch`] unless `text` has exactly `tokens_per_image.len()`
/// placeholders.
pub fn expand_image_placeholders(text: &str, tokens_per_image: &[usize]) -> Result<String> {
    let pieces: Vec<&str> = text.split(IMAGE_PLACEHOLDER).collect();
    let placeholders = pieces.len() - 1;
    if placeholders != tokens_per_image.len() {
        return Err(Error::PlaceholderMismatch {
            placeholders,
            images: tokens_per_image.len(),
        });
    }
    let mut out = String::with_capacity(text.len() + tokens_per_image.iter().sum::<usize>() * 13);
    out += pieces[0];
    for (&n, piece) in tokens_per_image.iter().zip(&pieces[1..]) {
        out += IMG_START;
        out += &IMG_CONTEXT.repeat(n);
        out += IMG_END;
        out += piece;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::text::tokenizer::tests::tiny_tokenizer_json;

    #[test]
    fn prompt_is_the_internvl2_5_template() {
        let chat = Conversation::new("SYS");
        assert_eq!(
            chat.prompt("Q <image>"),
            "<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\nQ <image><|im_end|>\n\
             <|im_start|>assistant\n"
        );
        let chat = chat.with_turn("Q1", "A1");
        assert_eq!(
            chat.prompt("Q2"),
            "<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\nQ1<|im_end|>\n\
             <|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nQ2<|im_end|>\n\
             <|im_start|>assistant\n"
        );
        assert!(Conversation::internvl().prompt("").contains("InternVL"));
    }

    #[test]
    fn placeholders_expand_in_order() {
        assert_eq!(
            expand_image_placeholders("a<image>b<image>", &[1, 2]).unwrap(),
            "a<img><IMG_CONTEXT></img>b<img><IMG_CONTEXT><IMG_CONTEXT></img>"
        );
        assert_eq!(expand_image_placeholders("none", &[]).unwrap(), "none");
        let err = expand_image_placeholders("<image><image>", &[4]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::PlaceholderMismatch {
                    placeholders: 2,
                    images: 1
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn tiny_prompt_ids_have_the_fixture_layout() {
        let tok = InternVlTokenizer::from_json(tiny_tokenizer_json(), Path::new("tiny")).unwrap();
        // The word-level tokenizer knows `w0`..`w199`; the role names become [UNK] (206).
        let ids = Conversation::new("w16 w79 w139")
            .encode(&tok, "w41 <image> w191 <image> w61", &[4, 4])
            .unwrap();
        let block = [203, 205, 205, 205, 205, 204];
        let mut want = vec![201, 206, 16, 79, 139, 202, 201, 206, 41];
        want.extend(block);
        want.push(191);
        want.extend(block);
        want.extend([61, 202, 201, 206]);
        assert_eq!(ids, want);
    }
}
