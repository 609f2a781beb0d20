//! Criterion benchmarks of DrAction on a synthetic 2-body clip, 12 frames: the fast path
//! forward and forward+backward at 224² and 448², and the reference path at 224².
//! `benches/compare_torch.sh` compares the same cases with PyTorch in one run.

use criterion::{Criterion, criterion_group, criterion_main};
use draction::burn::tensor::{Device, Distribution, Tensor};
use draction::render::{Camera, Clip, ClipOptions, DrAction, DrActionConfig, Rasterizer};

fn setup(device: &Device) -> (DrAction, Clip) {
    device.seed(0);
    let model =
        DrActionConfig::new().init_with_pose(&draction::synthetic::ntu_standing_pose(), device);
    let clip = Clip::prepare(
        &draction::synthetic::walking_ntu(90, 2),
        25,
        &ClipOptions::default(),
    )
    .expect("a valid synthetic clip");
    (model, clip)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("draction_12x2bodies");
    group.sample_size(10);
    let cases = [
        (Rasterizer::Fast, 224),
        (Rasterizer::Fast, 448),
        (Rasterizer::Reference, 224),
    ];
    for (raster, size) in cases {
        let device = skeletonllm::device();
        let (model, clip) = setup(&device);
        let cam = Camera::new(size);
        group.bench_function(format!("{}_fwd_{size}", raster.name()), |b| {
            b.iter(|| {
                draction::checkpoint::host_values(model.render_with(&clip, cam, raster, &device))
            })
        });
        let device = skeletonllm::device().autodiff();
        let (model, clip) = setup(&device);
        let w = Tensor::<4>::random(
            [clip.frames, size, size, 3],
            Distribution::Uniform(0.0, 1.0),
            &device,
        );
        group.bench_function(format!("{}_fwdbwd_{size}", raster.name()), |b| {
            b.iter(|| {
                let grads = (model.render_with(&clip, cam, raster, &device) * w.clone())
                    .sum()
                    .backward();
                model
                    .canonical_features
                    .grad(&grads)
                    .map(draction::checkpoint::host_values)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
