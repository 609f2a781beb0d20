//! The vision side: images to LM embeddings.
//!
//! [`intern_vit`]: pixel values `[n, 3, H, W]` → InternViT → `[n, 1 + patches, C]`;
//! [`projector`]: drop CLS, pixel shuffle 0.5, `LayerNorm → Linear → GELU → Linear` →
//! `[n, tokens, D]` image embeddings.

pub mod intern_vit;
pub mod projector;

pub use intern_vit::{InternVit, InternVitConfig};
pub use projector::{MultiModalProjector, MultiModalProjectorConfig, pixel_shuffle};
