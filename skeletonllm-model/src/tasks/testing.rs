//! Test and example factories (the `testing` feature): a tiny random [`Assistant`].

use burn::tensor::Device;

use super::Assistant;
use crate::error::Result;
use crate::skeleton_llm::SkeletonLlm;
use crate::text::tokenizer::InternVlTokenizer;

impl Assistant {
    /// A tiny random model ([`crate::InternVlConfig::tiny`]) on `renderer`, with a word-level
    /// tokenizer that knows every word of `texts`: for examples and smoke tests (its answers
    /// are meaningless).
    ///
    /// # Errors
    /// [`Error::Tokenizer`] if the word-level tokenizer cannot be built.
    pub fn tiny_random<S: AsRef<str>>(
        texts: &[S],
        renderer: draction::render::DrAction,
        device: &Device,
    ) -> Result<Self> {
        let tokenizer = InternVlTokenizer::from_json(
            crate::text::tokenizer::word_level_json(texts),
            "tiny".as_ref(),
        )?;
        let config = crate::InternVlConfig::tiny(
            tokenizer.vocab_size(),
            tokenizer.special_tokens().img_context as usize,
        );
        let model = SkeletonLlm::new(renderer, config.init(device));
        Ok(Self::new(model, tokenizer, device.clone()))
    }
}
