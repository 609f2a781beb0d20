//! The GGUF loader against the fixtures of `tests/fixtures/gguf/make_gguf_fixture.py`
//! (transformers' `LlamaForCausalLM` logits, `gguf.quants.dequantize` values, transformers' GGUF
//! tokenizer ids), plus an ignored test on the real SmolLM2-135M-Instruct GGUF
//! (`SMOLLM2_GGUF=path cargo test --release -p skeletonllm-model --test gguf -- --ignored`).

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Int, Tensor, TensorData};
use skeletonllm_model::load::gguf::tokenizer::GgufTokenizer;
use skeletonllm_model::load::gguf::{
    GgmlType, GgufError, GgufFile, GgufValue, load_gguf_llama, qwen2_config, untie_head,
};
use skeletonllm_model::load::read_safetensors;
use skeletonllm_model::{GenerateOptions, generate_text};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/gguf")
}

fn expected(name: &str) -> TensorData {
    let all = read_safetensors(&fixtures().join("expected.safetensors")).expect("expected file");
    all.get(name)
        .cloned()
        .unwrap_or_else(|| panic!("no {name}"))
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn check_logits(file: &str, key: &str) -> f32 {
    let device = Device::default();
    let (lm, meta) = load_gguf_llama(&fixtures().join(file), &device).expect("load fixture");
    assert_eq!(meta.architecture(), Some("llama"));
    let ids = expected("input_ids");
    let logits = lm.forward(Tensor::<2, Int>::from_data(ids, &device), None);
    let want = expected(key);
    assert_eq!(logits.dims().to_vec(), want.shape().to_vec());
    let got: Vec<f32> = logits.into_data().try_to_vec().unwrap();
    let diff = max_abs_diff(&got, &want.try_to_vec::<f32>().unwrap());
    println!("{file}: max |logits - transformers| = {diff:e}");
    assert!(diff < 1e-4, "{file}: max logit difference {diff}");
    diff
}

#[test]
fn tied_fixture_matches_transformers_logits() {
    check_logits("tiny_llama.gguf", "logits_tied");
}

#[test]
fn untied_fixture_matches_transformers_logits() {
    check_logits("tiny_llama_untied.gguf", "logits_untied");
}

#[test]
fn config_from_metadata() {
    let file = GgufFile::open(&fixtures().join("tiny_llama.gguf")).unwrap();
    let c = qwen2_config(&file).unwrap();
    assert_eq!(
        (c.hidden_size, c.num_hidden_layers, c.intermediate_size),
        (64, 2, 96)
    );
    assert_eq!((c.num_attention_heads, c.num_key_value_heads), (4, 2));
    assert_eq!((c.rope_theta, c.max_position_embeddings), (100000.0, 128));
    assert!((c.rms_norm_eps - 1e-5).abs() < 1e-9);
    assert!(c.tie_word_embeddings && !c.attention_bias && !c.mlp_bias);
    assert_eq!(file.metadata.version, 3);
    let untied = GgufFile::open(&fixtures().join("tiny_llama_untied.gguf")).unwrap();
    assert!(!qwen2_config(&untied).unwrap().tie_word_embeddings);
}

#[test]
fn dequantisation_matches_gguf_py() {
    let file = GgufFile::open(&fixtures().join("dequant.gguf")).unwrap();
    for (name, ty) in [
        ("f32", GgmlType::F32),
        ("f16", GgmlType::F16),
        ("bf16", GgmlType::BF16),
        ("q8_0", GgmlType::Q8_0),
        ("q4_0", GgmlType::Q4_0),
        ("q4_1", GgmlType::Q4_1),
    ] {
        assert_eq!(file.tensor(name).unwrap().ggml_type, ty);
        let (shape, values) = file.tensor_f32(name).unwrap();
        let want = expected(&format!("dequant.{name}"));
        assert_eq!(shape, want.shape().to_vec(), "{name}");
        let diff = max_abs_diff(&values, &want.try_to_vec::<f32>().unwrap());
        assert_eq!(diff, 0.0, "{name}: dequantised values differ by {diff}");
    }
    // Random bytes of the right size: a K-quant now dequantises (values checked below).
    assert_eq!(file.tensor_f32("q6_k").unwrap().1.len(), 2 * 256);
}

/// Q4_K, Q5_K, Q6_K against `gguf.quants.dequantize` and Q8_K against ggml's formula, on
/// random blocks (`tests/fixtures/gguf/make_kquant_fixture.py`); bit-exact.
#[test]
fn k_quant_dequantisation_matches_gguf_py() {
    let file = GgufFile::open(&fixtures().join("kquant.gguf")).unwrap();
    let all = read_safetensors(&fixtures().join("kquant_expected.safetensors")).unwrap();
    for (name, ty) in [
        ("q4_k", GgmlType::Q4_K),
        ("q5_k", GgmlType::Q5_K),
        ("q6_k", GgmlType::Q6_K),
        ("q8_k", GgmlType::Q8_K),
    ] {
        assert_eq!(file.tensor(name).unwrap().ggml_type, ty);
        assert!(ty.is_supported(), "{ty:?}");
        let (shape, values) = file.tensor_f32(name).unwrap();
        let want = &all[&format!("dequant.{name}")];
        assert_eq!(shape, want.shape().to_vec(), "{name}");
        let want: Vec<f32> = want.iter::<f32>().collect();
        assert!(want.iter().any(|v| *v != 0.0), "{name}: a real fixture");
        for (i, (a, b)) in values.iter().zip(&want).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "{name}[{i}]: {a} vs {b}");
        }
    }
    // Truncated data is an error, not a panic.
    let err = skeletonllm_model::load::gguf::dequantize(GgmlType::Q5_K, &[0u8; 175]).unwrap_err();
    assert!(err.to_string().contains("176"), "{err}");
    // Q3_K is listed but not dequantised.
    let err = file.tensor_f32("q3_k").unwrap_err();
    assert!(
        matches!(&err, GgufError::Tensor { name, .. } if name == "q3_k"),
        "{err}"
    );
    assert!(err.to_string().contains("Q3_K"), "{err}");
}

#[test]
fn metadata_values_of_every_type() {
    let file = GgufFile::open(&fixtures().join("dequant.gguf")).unwrap();
    let m = &file.metadata;
    assert_eq!(m.get("fixture.u8"), Some(&GgufValue::U8(200)));
    assert_eq!(m.get("fixture.i8"), Some(&GgufValue::I8(-7)));
    assert_eq!(m.get("fixture.u16"), Some(&GgufValue::U16(60000)));
    assert_eq!(m.get("fixture.i16"), Some(&GgufValue::I16(-30000)));
    assert_eq!(m.get("fixture.i32"), Some(&GgufValue::I32(-123456)));
    assert_eq!(m.get("fixture.u64"), Some(&GgufValue::U64(1 << 40)));
    assert_eq!(m.get("fixture.i64"), Some(&GgufValue::I64(-(1 << 40))));
    assert_eq!(m.get("fixture.f64"), Some(&GgufValue::F64(0.125)));
    assert_eq!(m.get("fixture.bool"), Some(&GgufValue::Bool(true)));
    let nested = m
        .get("fixture.nested")
        .and_then(GgufValue::as_array)
        .unwrap();
    assert_eq!(nested.len(), 2);
    let inner: Vec<i64> = nested[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(inner, [1, 2]);
    let floats: Vec<f64> = m
        .get("fixture.floats")
        .and_then(GgufValue::as_array)
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(floats, [0.5, -1.5]);
    assert_eq!(m.architecture(), Some("llama"));
}

/// A directory of its own under the system temp dir, removed on drop (no extra dependency).
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("gguf-test-{}-{tag}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_copy(bytes: &[u8], name: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new(name);
    let path = dir.0.join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

#[test]
fn truncated_file_is_an_error_naming_the_file() {
    let bytes = std::fs::read(fixtures().join("tiny_llama.gguf")).unwrap();
    // Cut in the tensor data, in the tensor table, in the metadata, in the header.
    for cut in [bytes.len() - 1, bytes.len() / 2, 5000, 100, 20, 3] {
        let (_dir, path) = temp_copy(&bytes[..cut], "cut.gguf");
        let err = load_gguf_llama(&path, &Device::default()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("cut.gguf"), "cut at {cut}: {msg}");
        assert!(
            matches!(err, GgufError::Format { .. } | GgufError::Tensor { .. }),
            "cut at {cut}: {msg}"
        );
    }
}

#[test]
fn lying_lengths_are_errors_not_allocations() {
    let bytes = std::fs::read(fixtures().join("tiny_llama.gguf")).unwrap();
    // The tensor count (bytes 8..16) and metadata count (16..24) set absurdly high.
    for at in [8usize, 16] {
        let mut b = bytes.clone();
        b[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        let (_dir, path) = temp_copy(&b, "lying.gguf");
        let err = GgufFile::open(&path).unwrap_err();
        assert!(matches!(err, GgufError::Format { .. }), "{err}");
    }
    // The first key's length (bytes 24..32) set past the end of the file.
    let mut b = bytes.clone();
    b[24..32].copy_from_slice(&(1u64 << 50).to_le_bytes());
    let (_dir, path) = temp_copy(&b, "lying.gguf");
    let err = GgufFile::open(&path).unwrap_err();
    assert!(err.to_string().contains("exceeds"), "{err}");
    // Not a GGUF file at all, and a missing file.
    let (_dir, path) = temp_copy(b"PK\x03\x04 definitely not gguf", "zip.gguf");
    assert!(
        GgufFile::open(&path)
            .unwrap_err()
            .to_string()
            .contains("not a GGUF file")
    );
    let err = GgufFile::open(Path::new("/nonexistent/model.gguf")).unwrap_err();
    assert!(matches!(err, GgufError::Io { .. }), "{err}");
}

#[test]
fn fixture_tokenizer_matches_transformers() {
    let tok = GgufTokenizer::from_file(&fixtures().join("tiny_llama.gguf")).unwrap();
    let cases: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("tokenizer_expected.json")).unwrap(),
    )
    .unwrap();
    for case in cases.as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let want: Vec<u32> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let ids = tok.encode(text).unwrap();
        assert_eq!(ids, want, "{text:?}");
        assert_eq!(tok.decode(&ids, false).unwrap(), text);
    }
    assert_eq!(tok.stop_ids(), [2]);
    assert_eq!(
        tok.default_system_prompt(),
        Some("You are a helpful AI assistant named SmolLM, trained by Hugging Face")
    );
}

/// The real model: `SMOLLM2_GGUF=/path/SmolLM2-135M-Instruct.Q4_1.gguf` (see
/// `scripts/fetch-smollm2.sh`). Tokenizer on ~20 strings, chat prompts, next-token logits and
/// greedy answers, all against transformers (`smollm2_expected.json`).
#[test]
#[ignore = "needs the real model; run: SMOLLM2_GGUF=$(scripts/fetch-smollm2.sh) cargo test --release -p skeletonllm-model --test gguf -- --ignored"]
fn smollm2_matches_transformers() {
    let Ok(path) = std::env::var("SMOLLM2_GGUF") else {
        eprintln!("SMOLLM2_GGUF not set: skipped");
        return;
    };
    let path = PathBuf::from(path);
    let want: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("smollm2_expected.json")).unwrap(),
    )
    .unwrap();
    let ids_of = |v: &serde_json::Value| -> Vec<i64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap())
            .collect()
    };
    let tok = GgufTokenizer::from_file(&path).unwrap();
    let cases = want["tokenizer"].as_array().unwrap();
    let mut agree = 0;
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let ids: Vec<i64> = tok
            .encode(text)
            .unwrap()
            .into_iter()
            .map(i64::from)
            .collect();
        if ids == ids_of(&case["ids"]) {
            agree += 1;
        } else {
            eprintln!("tokenizer differs on {text:?}: {ids:?}");
        }
    }
    println!("tokenizer: {agree}/{} strings agree", cases.len());
    assert_eq!(agree, cases.len());

    let device = Device::default();
    let (mut lm, _) = load_gguf_llama(&path, &device).unwrap();
    let chats = want["chats"].as_array().unwrap();
    let mut last_logits = Vec::new();
    for chat in chats {
        let prompt = tok
            .chatml_prompt(&[("user", chat["question"].as_str().unwrap())])
            .unwrap();
        assert_eq!(prompt, chat["prompt"].as_str().unwrap());
        let prompt_ids: Vec<i64> = tok
            .encode(&prompt)
            .unwrap()
            .into_iter()
            .map(i64::from)
            .collect();
        assert_eq!(prompt_ids, ids_of(&chat["prompt_ids"]));
        let input = TensorData::new(prompt_ids.clone(), [1, prompt_ids.len()]);
        let logits = lm.forward(Tensor::<2, Int>::from_data(input, &device), None);
        let row: Vec<f32> = logits
            .narrow(1, prompt_ids.len() - 1, 1)
            .into_data()
            .try_to_vec()
            .unwrap();
        last_logits.push((prompt_ids, row));
    }
    // Same logits with the head untied (what the example does for speed).
    untie_head(&mut lm);
    for (chat, (prompt_ids, row)) in chats.iter().zip(&last_logits) {
        let top_ids = ids_of(&chat["top_logit_ids"]);
        let diff = top_ids
            .iter()
            .zip(chat["top_logits"].as_array().unwrap())
            .map(|(&id, v)| (row[id as usize] - v.as_f64().unwrap() as f32).abs())
            .fold(0.0f32, f32::max);
        println!("max |logit - transformers| over the top 32 = {diff:e}");
        assert!(diff < 1e-3, "logits differ by {diff}");

        let expected = ids_of(&chat["generated_ids"]);
        let options = GenerateOptions::greedy(expected.len()).with_eos(tok.stop_ids());
        let generated = generate_text(&lm, prompt_ids, options, |_| {
            std::ops::ControlFlow::Continue(())
        });
        let ids: Vec<u32> = generated.iter().map(|&i| i as u32).collect();
        println!("generated: {:?}", tok.decode(&ids, false).unwrap());
        assert_eq!(generated, expected);
    }
}

#[test]
fn corrupted_bytes_never_panic() {
    // Random byte changes in the header, metadata and tensor table: loading the model and the
    // tokenizer returns an error naming the file (or, for harmless changes, succeeds).
    let bytes = std::fs::read(fixtures().join("tiny_llama.gguf")).unwrap();
    let header_end = GgufFile::open(&fixtures().join("tiny_llama.gguf"))
        .unwrap()
        .data_offset as usize;
    let dir = TempDir::new("corrupt");
    let path = dir.0.join("corrupt.gguf");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut errors, mut loaded) = (0, 0);
    for _ in 0..300 {
        let mut b = bytes.clone();
        // Mostly the header/metadata/tensor table, where lengths and counts live.
        for _ in 0..1 + next() % 4 {
            let at = (next() as usize) % header_end;
            b[at] = next() as u8;
        }
        std::fs::write(&path, &b).unwrap();
        let _ = GgufTokenizer::from_file(&path); // Ok or Err, never a panic
        match load_gguf_llama(&path, &Device::default()) {
            Ok(_) => loaded += 1,
            Err(e) => {
                assert!(e.to_string().contains("corrupt.gguf"), "{e}");
                errors += 1;
            }
        }
    }
    println!("300 corrupted files: {errors} errors, {loaded} still loadable");
}

#[test]
fn generate_text_with_and_without_cache() {
    let device = Device::default();
    let (lm, _) = load_gguf_llama(&fixtures().join("tiny_llama.gguf"), &device).unwrap();
    let prompt: Vec<i64> = expected("input_ids").iter::<i64>().collect();
    let run = |use_cache: bool| {
        let mut options = GenerateOptions::greedy(6);
        options.use_cache = use_cache;
        generate_text(&lm, &prompt, options, |_| {
            std::ops::ControlFlow::Continue(())
        })
    };
    let cached = run(true);
    assert_eq!(cached, run(false));
    // The first new id is the argmax of transformers' last-position logits.
    let logits: Vec<f32> = expected("logits_tied").try_to_vec().unwrap();
    let last = &logits[logits.len() - 320..];
    let argmax = (0..last.len())
        .max_by(|&a, &b| last[a].total_cmp(&last[b]))
        .unwrap() as i64;
    assert_eq!(cached[0], argmax);
    let mut untied = lm.clone();
    untie_head(&mut untied);
    assert_eq!(
        generate_text(&untied, &prompt, GenerateOptions::greedy(6), |_| {
            std::ops::ControlFlow::Continue(())
        }),
        cached
    );
    assert!(
        generate_text(&lm, &[], GenerateOptions::greedy(3), |_| {
            std::ops::ControlFlow::Continue(())
        })
        .is_empty()
    );
}
