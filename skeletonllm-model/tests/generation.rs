//! Generation options on the tiny fixture model: sampling, repetition penalty, stop ids and the
//! streaming callback, against transformers (`tests/fixtures/internvl/make_sampling_fixtures.py`).

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Int, Tensor, TensorData};
use skeletonllm_model::generation::sampling::{
    apply_repetition_penalty, apply_temperature, top_p_filter,
};
use skeletonllm_model::load::{self, read_safetensors};
use skeletonllm_model::{
    CheckpointConfig, Error, GenerateOptions, InternVl, InternVlInput, Sampler, generate,
    generate_batch, generate_streaming, left_pad, load_pretrained,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/internvl")
}

fn open(name: &str) -> BTreeMap<String, TensorData> {
    read_safetensors(&fixtures().join(name)).expect("fixture")
}

fn values<T: burn::tensor::Element>(case: &BTreeMap<String, TensorData>, name: &str) -> Vec<T> {
    case[name].iter::<T>().collect()
}

fn model() -> InternVl {
    load_pretrained(&fixtures().join("tiny_hf"), &Device::default()).expect("tiny model")
}

fn input() -> InternVlInput {
    let case = open("tiny_case.safetensors");
    let device = Device::default();
    InternVlInput::new(Tensor::<2, Int>::from_data(
        case["input_ids"].clone(),
        &device,
    ))
    .attention_mask(Tensor::from_data(case["attention_mask"].clone(), &device))
    .pixel_values(Tensor::from_data(case["pixel_values"].clone(), &device))
}

fn greedy_fixture() -> Vec<i64> {
    values(&open("tiny_case.safetensors"), "generated_ids")
}

#[test]
fn repetition_penalty_and_top_p_match_transformers_processors() {
    let case = open("tiny_case_sampling.safetensors");
    let logits: Vec<f32> = values(&case, "logits");
    let seen: Vec<i64> = values(&case, "seen_ids");

    let mut rep = logits.clone();
    apply_repetition_penalty(&mut rep, &seen, 1.3);
    let want: Vec<f32> = values(&case, "rep_logits");
    for (i, (a, b)) in rep.iter().zip(&want).enumerate() {
        assert!((a - b).abs() <= 1e-6, "rep_logits[{i}]: {a} vs {b}");
    }

    let mut warped = logits;
    apply_temperature(
        &mut warped,
        f64::from(values::<f32>(&case, "temperature")[0]),
    );
    top_p_filter(&mut warped, f64::from(values::<f32>(&case, "top_p")[0]));
    let want: Vec<f32> = values(&case, "top_p_logits");
    let kept = want.iter().filter(|v| v.is_finite()).count();
    assert!(kept > 1 && kept < want.len(), "a real nucleus: {kept}");
    for (i, (a, b)) in warped.iter().zip(&want).enumerate() {
        assert_eq!(
            a.is_finite(),
            b.is_finite(),
            "top_p_logits[{i}]: {a} vs {b}"
        );
        if b.is_finite() {
            assert!((a - b).abs() <= 1e-5, "top_p_logits[{i}]: {a} vs {b}");
        }
    }
}

#[test]
fn greedy_with_repetition_penalty_matches_transformers() {
    let case = open("tiny_case_sampling.safetensors");
    let expected: Vec<i64> = values(&case, "generated_ids_rep");
    let penalty = values::<f32>(&case, "repetition_penalty")[0];
    assert_ne!(expected, greedy_fixture(), "the penalty changes the answer");
    let model = model();
    for use_cache in [true, false] {
        let options = GenerateOptions {
            repetition_penalty: penalty,
            use_cache,
            ..GenerateOptions::greedy(expected.len())
        };
        let got = generate(&model, input(), options).unwrap();
        assert_eq!(got, expected, "use_cache = {use_cache}");
    }
}

#[test]
fn top_p_near_zero_is_greedy_and_a_seed_replays() {
    let model = model();
    let expected = greedy_fixture();
    let options =
        GenerateOptions::greedy(expected.len()).with_sampler(Sampler::top_p(1e-6, 1.0, 42));
    assert_eq!(generate(&model, input(), options).unwrap(), expected);

    let sampled = |seed| {
        let options = GenerateOptions::greedy(12).with_sampler(Sampler::top_p(1.0, 1.5, seed));
        generate(&model, input(), options).unwrap()
    };
    let a = sampled(7);
    assert_eq!(a, sampled(7), "same seed, same tokens");
    assert_ne!(a, sampled(8), "another seed, other tokens");
}

#[test]
fn stops_on_eos_unless_ignored_and_streams_every_token() {
    let model = model();
    let expected = greedy_fixture(); // [97, 16, 96, ...]
    let stop = expected[2];
    let options = GenerateOptions::greedy(expected.len()).with_eos(vec![stop, 9999]);
    let mut streamed = Vec::new();
    let got = generate_streaming(&model, input(), options.clone(), |id| {
        streamed.push(id);
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(got, expected[..3]);
    assert_eq!(streamed, got);

    let ignoring = GenerateOptions {
        ignore_eos: true,
        ..options
    };
    assert_eq!(
        generate(&model, input(), ignoring.clone()).unwrap(),
        expected
    );

    // The callback stops generation after the token it returns Break for.
    let mut count = 0;
    let got = generate_streaming(&model, input(), ignoring, |_| {
        count += 1;
        if count == 5 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!(got, expected[..5]);
}

#[test]
fn stop_ids_come_from_the_checkpoint() {
    for dir in ["tiny_hf", "tiny_orig"] {
        let dir = fixtures().join(dir);
        let config = CheckpointConfig::from_json_file(&dir.join("config.json")).unwrap();
        assert_eq!(
            load::eos_token_ids(&dir, &config).unwrap(),
            [202],
            "{}",
            dir.display()
        );
    }
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let model = model();
    let device = Device::default();
    let ids = |v: Vec<i64>| {
        let n = v.len();
        Tensor::<2, Int>::from_data(TensorData::new(v, [1, n]), &device)
    };
    // Out-of-vocabulary id (vocab 208).
    let err = generate(
        &model,
        InternVlInput::new(ids(vec![1, 208])),
        GenerateOptions::greedy(1),
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::BadInput { name, .. } if name == "input_ids"),
        "{err}"
    );
    // Image tokens without images.
    let err = model
        .check_input(&InternVlInput::new(ids(vec![1, 205, 205])))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::ImageTokenMismatch {
                tokens: 2,
                features: 0
            }
        ),
        "{err}"
    );
    // A non-square image, wrong channels, a grid not divisible by the shuffle factor.
    for shape in [[1, 3, 56, 28], [1, 1, 56, 56], [1, 3, 42, 42]] {
        let input = InternVlInput::new(ids(vec![1, 205, 205, 205, 205]))
            .pixel_values(Tensor::zeros(shape, &device));
        let err = model.check_input(&input).unwrap_err();
        assert!(
            matches!(&err, Error::BadInput { name, .. } if name == "pixel_values"),
            "{shape:?}: {err}"
        );
    }
    // A mask of the wrong length.
    let input = InternVlInput::new(ids(vec![1, 2, 3]))
        .attention_mask(Tensor::<2, Int>::ones([1, 2], &device));
    let err = model.check_input(&input).unwrap_err();
    assert!(err.to_string().contains("attention_mask"), "{err}");
}

/// Left-padded batches give every row exactly what the prompt gives alone: greedy and sampled,
/// with and without the cache, an image row among text rows, each row stopping on its own.
#[test]
fn batched_generation_with_left_padding_matches_each_prompt_alone() {
    let model = model();
    let device = Device::default();
    let image = input();
    let image_ids: Vec<i64> = image.input_ids.to_data().iter::<i64>().collect();
    let pixels = image.pixel_values.clone().unwrap();
    let prompts = vec![
        vec![1i64, 17, 42, 8],
        image_ids.clone(),
        vec![3i64, 99, 150, 7, 60, 61, 62, 12, 5],
        vec![44i64],
    ];
    let alone = |options: &GenerateOptions| -> Vec<Vec<i64>> {
        prompts
            .iter()
            .map(|p| {
                let ids =
                    Tensor::<2, Int>::from_data(TensorData::new(p.clone(), [1, p.len()]), &device);
                let mut input = InternVlInput::new(ids);
                if *p == image_ids {
                    input = input.pixel_values(pixels.clone());
                }
                generate(&model, input, options.clone()).unwrap()
            })
            .collect()
    };
    let batched = |options: &GenerateOptions| {
        let input = left_pad(&prompts, 200, &device).pixel_values(pixels.clone());
        generate_batch(&model, input, options.clone()).unwrap()
    };
    // A stop id that ends one row early but not the others.
    let free = alone(&GenerateOptions::greedy(10));
    let stop = free[0][3];
    let stops: Vec<usize> = free
        .iter()
        .map(|g| g.iter().position(|&t| t == stop).map_or(10, |i| i + 1))
        .collect();
    assert!(
        stops.iter().any(|&n| n < 10) && stops.contains(&10),
        "{free:?}"
    );
    for use_cache in [true, false] {
        let greedy = GenerateOptions {
            use_cache,
            ..GenerateOptions::greedy(10)
        };
        for options in [
            greedy.clone(),
            greedy.clone().with_eos(vec![stop]),
            GenerateOptions {
                repetition_penalty: 1.3,
                ..greedy.clone().with_sampler(Sampler::top_p(0.9, 1.5, 7))
            },
        ] {
            let want = alone(&options);
            let got = batched(&options);
            assert_eq!(got, want, "use_cache = {use_cache}, {options:?}");
        }
    }
}
