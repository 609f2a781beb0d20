//! Writes `assets/draction_default.safetensors`: a hand-set DrAction checkpoint (no training,
//! no NFM) that colours the body by part — left limbs blue, right limbs red, torso green, head
//! white — so that renders are readable without the authors' weights.
//!
//! ```sh
//! cargo run --example make_default_draction -- assets/draction_default.safetensors
//! ```

use anyhow::Result;
use draction::burn::module::Param;
use draction::burn::tensor::{Device, Tensor, TensorData};
use draction::checkpoint::{self, Metadata};
use draction::render::DrActionConfig;
use draction::{BodyPart, Layout};

fn part_colour(part: Option<BodyPart>) -> [f32; 3] {
    match part {
        Some(BodyPart::LeftArm) | Some(BodyPart::LeftLeg) => [0.25, 0.45, 1.0],
        Some(BodyPart::RightArm) | Some(BodyPart::RightLeg) => [1.0, 0.3, 0.25],
        Some(BodyPart::Head) => [0.95, 0.95, 0.95],
        _ => [0.3, 0.95, 0.4],
    }
}

fn main() -> Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "assets/draction_default.safetensors".into());
    let device = Device::default();
    device.seed(0);
    let cfg = DrActionConfig::new().with_enable_nfm(false);
    let mut model = cfg.init_with_pose(&draction::synthetic::ntu_standing_pose(), &device);
    let layout = Layout::builtin("ntu25")?;
    let part = |j: usize| layout.canonical[j].map(BodyPart::of);
    // Per-Gaussian colour: joints by their part, bone samples by the part of the bone's first
    // joint (the limb end in the authors' NTU bone order).
    let mut feats: Vec<f32> = (0..25).flat_map(|j| part_colour(part(j))).collect();
    for &(a, _) in &draction::layout::NTU_BONES_1BASED {
        for _ in 0..cfg.num_line_samples {
            feats.extend(part_colour(part(a - 1)));
        }
    }
    let k = cfg.num_gaussians();
    model.canonical_features =
        Param::from_tensor(Tensor::from_data(TensorData::new(feats, [k, 3]), &device));
    // Appearance head: hidden = relu(features) on units 0..3; rgb logits = 6·f − 3, α logit 3.
    let h = cfg.hidden;
    let mut w1 = vec![0.0f32; 3 * h]; // Burn layout [in, out]
    for i in 0..3 {
        w1[i * h + i] = 1.0;
    }
    let mut w2 = vec![0.0f32; h * 4];
    for i in 0..3 {
        w2[i * 4 + i] = 6.0;
    }
    let b2 = vec![-3.0, -3.0, -3.0, 3.0];
    let fc1 = &mut model.appearance_head.fc1;
    fc1.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w1, [3, h]), &device));
    fc1.bias = Some(Param::from_tensor(Tensor::zeros([h], &device)));
    let fc2 = &mut model.appearance_head.fc2;
    fc2.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w2, [h, 4]), &device));
    fc2.bias = Some(Param::from_tensor(Tensor::from_data(
        TensorData::new(b2, [4]),
        &device,
    )));
    model.depth_mix_logit = Param::from_tensor(Tensor::from_data(
        TensorData::new(vec![-1.5f32], [1]),
        &device,
    ));
    let meta = Metadata {
        name: "draction_default_v1".into(),
        description: "Hand-set DrAction renderer (no NFM): body parts coloured left blue, right red, torso green, head white, mixed with depth colour.".into(),
        metric: None,
        render_frames: 12,
        render_size: 448,
        extra: Default::default(),
    };
    let manifest = checkpoint::save(&model, &meta, out.as_ref())?;
    eprintln!("wrote {out} and {}", manifest.display());
    Ok(())
}
