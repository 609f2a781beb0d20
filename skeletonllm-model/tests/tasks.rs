//! The task APIs on a tiny random SkeletonLLM: likelihood ranking equals the full-sequence
//! (no cache) computation, YES/NO probabilities, generation, and a saved model directory that
//! loads back to the same answers.

use skeletonllm_model::draction::burn::tensor::activation::log_softmax;
use skeletonllm_model::draction::burn::tensor::{Device, Int, Tensor, TensorData};
use skeletonllm_model::draction::render::{DrActionConfig, Rasterizer};
use skeletonllm_model::draction::synthetic;
use skeletonllm_model::load::save::{hf_config_json, save_pretrained};
use skeletonllm_model::tasks::softmax;
use skeletonllm_model::text::tokenizer::word_level_json;
use skeletonllm_model::{
    Assistant, InternVlConfig, InternVlInput, InternVlTokenizer, SkeletonLlm, TaskOptions,
    text::prompts,
};

const LABELS: [&str; 4] = ["walk", "run fast", "jump up", "sit down"];

fn vocabulary() -> Vec<String> {
    let mut texts: Vec<String> = LABELS.iter().map(|s| s.to_string()).collect();
    texts.push(prompts::TEMPLATE_SYSTEM_MESSAGE.into());
    texts.push(prompts::mqa_question(&LABELS));
    texts.push(prompts::frame_block(2));
    texts.push(prompts::discft_question("walk"));
    texts.push(prompts::CAPTION_QUESTION.into());
    texts.push("YES NO a person walks forward".into());
    texts
}

fn assistant(device: &Device) -> (Assistant, InternVlConfig, serde_json::Value) {
    device.seed(3);
    let tok_json = word_level_json(&vocabulary());
    let tokenizer = InternVlTokenizer::from_json(tok_json.clone(), "words".as_ref()).unwrap();
    let config = InternVlConfig::tiny(
        tokenizer.vocab_size(),
        tokenizer.special_tokens().img_context as usize,
    );
    let internvl = config.init(device);
    let renderer = DrActionConfig::new().init_with_pose(&synthetic::ntu_standing_pose(), device);
    let model = SkeletonLlm::new(renderer, internvl);
    let options = TaskOptions {
        frames: 2,
        max_label_tokens: 4,
        max_text_tokens: 6,
        ..TaskOptions::default()
    };
    (
        Assistant::new(model, tokenizer, device.clone()).with_options(options),
        config,
        tok_json,
    )
}

/// Log-likelihood of `answer` + `<|im_end|>` after `prompt` from one full forward (no cache).
fn full_sequence_score(a: &Assistant, prompt: &[i64], answer: &[i64], pixels: Tensor<4>) -> f32 {
    let im_end = i64::from(a.tokenizer.special_tokens().im_end);
    let mut ids = prompt.to_vec();
    ids.extend_from_slice(answer);
    ids.push(im_end);
    let n = ids.len();
    let input = InternVlInput::new(Tensor::<2, Int>::from_data(
        TensorData::new(ids.clone(), [1, n]),
        a.device(),
    ))
    .pixel_values(pixels);
    let logits = a.model.internvl.forward(input).unwrap().logits; // [1, n, V]
    let [_, _, v] = logits.dims();
    let lp: Vec<f32> = log_softmax(logits.reshape([n, v]), 1)
        .into_data()
        .iter::<f32>()
        .collect();
    (prompt.len()..n)
        .map(|t| lp[(t - 1) * v + ids[t] as usize])
        .sum()
}

#[test]
fn ranking_matches_the_full_sequence_likelihoods() {
    let device = Device::default();
    let (a, _, _) = assistant(&device);
    let skel = synthetic::walking_ntu(40, 1);
    let clip = a.clip(&skel).unwrap();
    let ranking = a.rank_labels(&clip, &LABELS).unwrap();
    assert_eq!(ranking.len(), LABELS.len());
    let total: f32 = ranking.iter().map(|r| r.probability).sum();
    assert!((total - 1.0).abs() < 1e-5, "{total}");
    assert!(
        ranking
            .windows(2)
            .all(|w| w[0].log_likelihood >= w[1].log_likelihood)
    );
    let prompt = a
        .prompt_ids(clip.frames, &prompts::mqa_question(&LABELS))
        .unwrap();
    for r in &ranking {
        let answer = a.encode_answer(&r.label).unwrap();
        let expected = full_sequence_score(&a, &prompt, &answer, a.pixels(&clip));
        assert!(
            (expected - r.log_likelihood).abs() < 1e-3,
            "{}: cached {} vs full {expected}",
            r.label,
            r.log_likelihood
        );
    }
    // Multi-token labels are scored on all their tokens: "run fast" is 2 words.
    assert_eq!(a.encode_answer("run fast").unwrap().len(), 2);
}

#[test]
fn recognize_verify_caption_ask() {
    let device = Device::default();
    let (a, _, _) = assistant(&device);
    let skel = synthetic::walking_ntu(40, 1);
    let rec = a.recognize(&skel, &LABELS).unwrap();
    assert_eq!(rec.ranking.len(), 4);
    assert_eq!(
        rec.parsed,
        skeletonllm_model::text::answer::parse_answer(&rec.answer, &LABELS),
        "{rec:?}"
    );

    let v = a.verify(&skel, "walk").unwrap();
    let clip = a.clip(&skel).unwrap();
    let prompt = a
        .prompt_ids(clip.frames, &prompts::discft_question("walk"))
        .unwrap();
    let yes = full_sequence_score(
        &a,
        &prompt,
        &a.encode_answer("YES").unwrap(),
        a.pixels(&clip),
    );
    let no = full_sequence_score(
        &a,
        &prompt,
        &a.encode_answer("NO").unwrap(),
        a.pixels(&clip),
    );
    let p = softmax(&[yes, no])[0];
    assert!(
        (v.yes_probability - p).abs() < 1e-4,
        "{} vs {p}",
        v.yes_probability
    );
    assert_eq!(v.yes, p >= 0.5);

    let mut streamed = String::new();
    let caption = a.caption(&skel, |t| streamed.push_str(t)).unwrap();
    assert_eq!(streamed.trim(), caption);
    let answer = a.ask(&skel, "What does the person do?", |_| {}).unwrap();
    assert!(answer.split_whitespace().count() <= 6, "{answer}");

    assert!(a.recognize(&skel, &[] as &[&str]).is_err());
}

#[test]
fn saved_directory_loads_back_with_the_same_answers() {
    let device = Device::default();
    let (a, config, tok_json) = assistant(&device);
    let dir = tempfile::tempdir().unwrap();
    save_pretrained(
        dir.path(),
        &a.model.internvl,
        &hf_config_json(&config),
        Some(&a.model.renderer),
        Some(&tok_json),
    )
    .unwrap();
    let b = Assistant::load(dir.path(), &device)
        .unwrap()
        .with_options(a.options.clone());
    let skel = synthetic::walking_ntu(40, 1);
    for raster in [Rasterizer::Fast] {
        assert_eq!(a.options.raster, raster);
        let ra = a.rank_labels(&a.clip(&skel).unwrap(), &LABELS).unwrap();
        let rb = b.rank_labels(&b.clip(&skel).unwrap(), &LABELS).unwrap();
        for (x, y) in ra.iter().zip(&rb) {
            assert_eq!(x.label, y.label);
            assert!((x.log_likelihood - y.log_likelihood).abs() < 1e-4);
        }
    }
}

#[test]
fn logits_from_equals_the_tail_of_the_full_logits() {
    let device = Device::default();
    let (a, _, _) = assistant(&device);
    let clip = a.clip(&synthetic::walking_ntu(40, 1)).unwrap();
    let ids = a
        .prompt_ids(clip.frames, prompts::CAPTION_QUESTION)
        .unwrap();
    let n = ids.len();
    let input = InternVlInput::new(Tensor::<2, Int>::from_data(
        TensorData::new(ids.clone(), [1, n]),
        a.device(),
    ))
    .pixel_values(a.pixels(&clip));
    let full = a.model.internvl.forward(input.clone()).unwrap().logits;
    let [_, _, v] = full.dims();
    let k = n - 3;
    let tail = a
        .model
        .internvl
        .forward(input.logits_from(k))
        .unwrap()
        .logits;
    assert_eq!(tail.dims(), [1, 3, v]);
    let want: Vec<f32> = full.narrow(1, k, 3).into_data().iter::<f32>().collect();
    let got: Vec<f32> = tail.into_data().iter::<f32>().collect();
    let worst = want
        .iter()
        .zip(&got)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-6, "{worst}");
}
