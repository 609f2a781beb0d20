//! HF-native InternVL checkpoints (`InternVLForConditionalGeneration`).
//!
//! The hub's `-hf` files (and what transformers 5 writes) already use the model's own names:
//! `vision_tower.*`, `multi_modal_projector.*`, `language_model.model.*`,
//! `language_model.lm_head.weight`. The table maps transformers' in-memory names (as produced by
//! a plain `torch.save(model.state_dict())`) onto them.

/// `(regex, replacement)` pairs applied in order, through burn-store's `KeyRemapper`.
pub const KEY_TABLE: &[(&str, &str)] = &[
    (r"^lm_head\.", "language_model.lm_head."),
    (r"^model\.language_model\.", "language_model.model."),
    (r"^model\.vision_tower\.", "vision_tower."),
    (r"^model\.multi_modal_projector\.", "multi_modal_projector."),
];

/// Tensors that may be present and are not weights of the model (regexes on renamed keys): our
/// SkeletonLLM directories carry the DrAction tensors under the authors' prefix.
pub const IGNORED: &[&str] = &[r"^_skeleton_renderer_module\.", r"rotary_emb\.inv_freq$"];

/// A key that only this layout has (used to check a config's claim against the tensors).
pub const MARKER: &str = "vision_tower.";
