//! The CLI contract (README, "CLI") for `forward` and `generate`, on the tiny InternVL fixtures
//! (`tests/fixtures/internvl/`, both checkpoint layouts) and on bad inputs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use draction::burn::tensor::{DType, TensorData};
use skeletonllm_model::load::{read_safetensors, write_safetensors};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/internvl")
}

fn case() -> BTreeMap<String, TensorData> {
    read_safetensors(&fixtures().join("tiny_case.safetensors")).unwrap()
}

fn run(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skeletonllm"))
        .args(args)
        .output()
        .expect("run skeletonllm")
}

fn ok(args: &[&Path]) {
    let out = run(args);
    assert!(
        out.status.success(),
        "skeletonllm {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a failing command; returns its one-line error.
fn fails(args: &[&Path]) -> String {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?}: expected a clean failure, got {:?}: {stderr}",
        out.status
    );
    assert!(
        stderr.starts_with("error: ") && stderr.trim_end().lines().count() == 1,
        "{args:?}: one error line expected: {stderr}"
    );
    stderr
}

fn p(s: &str) -> &Path {
    Path::new(s)
}

/// Named tensors of an inputs file.
type Inputs<'a> = Vec<(&'a str, TensorData)>;

/// Write an inputs file.
fn write_inputs(path: &Path, tensors: Inputs) {
    let tensors = tensors
        .into_iter()
        .map(|(n, t)| (n.to_string(), t))
        .collect();
    write_safetensors(path, tensors).unwrap();
}

/// Inputs file: the fixture's input_ids, attention_mask and pixel_values.
fn fixture_inputs(dir: &Path) -> PathBuf {
    let c = case();
    let path = dir.join("in.safetensors");
    write_inputs(
        &path,
        vec![
            ("input_ids", c["input_ids"].clone()),
            ("attention_mask", c["attention_mask"].clone()),
            ("pixel_values", c["pixel_values"].clone()),
        ],
    );
    path
}

fn max_abs(a: &TensorData, b: &TensorData) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter::<f32>()
        .zip(b.iter::<f32>())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn forward_matches_transformers_in_both_layouts() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = fixture_inputs(tmp.path());
    let expected = case();
    for layout in ["tiny_hf", "tiny_orig"] {
        let out = tmp.path().join(format!("{layout}.safetensors"));
        let model = fixtures().join(layout);
        ok(&[
            p("forward"),
            p("--model"),
            &model,
            p("--inputs"),
            &inputs,
            p("--out"),
            &out,
        ]);
        let got = read_safetensors(&out).unwrap();
        assert_eq!(got.len(), 3, "{:?}", got.keys());
        for (name, tol) in [
            ("logits", 1e-4),
            ("image_features", 2e-5),
            ("vision_last_hidden_state", 2e-5),
        ] {
            assert_eq!(got[name].dtype(), DType::F32, "{name}");
            let err = max_abs(&got[name], &expected[name]);
            assert!(err <= tol, "{layout} {name}: max abs diff {err} > {tol}");
        }
        assert_eq!(got["logits"].shape().to_vec(), [1, 32, 208]);
        assert_eq!(got["image_features"].shape().to_vec(), [2, 4, 64]);
        assert_eq!(
            got["vision_last_hidden_state"].shape().to_vec(),
            [2, 17, 32]
        );
    }
}

#[test]
fn forward_text_only_writes_logits_only() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = tmp.path().join("text.safetensors");
    write_inputs(
        &inputs,
        vec![
            (
                "input_ids",
                TensorData::new(vec![201i64, 16, 79, 202], [1, 4]),
            ),
            ("attention_mask", TensorData::new(vec![true; 4], [1, 4])),
        ],
    );
    let out = tmp.path().join("out.safetensors");
    let model = fixtures().join("tiny_hf");
    ok(&[
        p("forward"),
        p("--model"),
        &model,
        p("--inputs"),
        &inputs,
        p("--out"),
        &out,
    ]);
    let got = read_safetensors(&out).unwrap();
    assert_eq!(got.keys().collect::<Vec<_>>(), ["logits"]);
    assert_eq!(got["logits"].shape().to_vec(), [1, 4, 208]);
}

fn generate(model: &Path, inputs: &Path, out: &Path, extra: &[&str]) -> Vec<i64> {
    let mut args = vec![
        p("generate"),
        p("--model"),
        model,
        p("--inputs"),
        inputs,
        p("--out"),
        out,
    ];
    args.extend(extra.iter().map(|s| p(s)));
    ok(&args);
    let got = read_safetensors(out).unwrap();
    let ids = &got["generated_ids"];
    assert_eq!(ids.dtype(), DType::I64);
    assert_eq!(ids.shape().to_vec()[0], 1);
    ids.iter::<i64>().collect()
}

#[test]
fn generate_matches_transformers_greedy_in_both_layouts() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = fixture_inputs(tmp.path());
    let expected: Vec<i64> = case()["generated_ids"].iter::<i64>().collect();
    let out = tmp.path().join("gen.safetensors");
    for layout in ["tiny_hf", "tiny_orig"] {
        let model = fixtures().join(layout);
        let got = generate(
            &model,
            &inputs,
            &out,
            &["--max-new-tokens", "8", "--greedy"],
        );
        assert_eq!(got, expected, "{layout}");
    }
    // Without --greedy the tiny checkpoint (no generation_config.json) decodes greedily too.
    let model = fixtures().join("tiny_hf");
    let got = generate(&model, &inputs, &out, &["--max-new-tokens", "3"]);
    assert_eq!(got, expected[..3]);
}

#[test]
fn generate_stops_on_eos_unless_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = fixture_inputs(tmp.path());
    let expected: Vec<i64> = case()["generated_ids"].iter::<i64>().collect(); // [97, 16, 96, ...]
    // A copy of tiny_hf whose EOS is the third greedy token.
    let model = tmp.path().join("model");
    std::fs::create_dir(&model).unwrap();
    let src = fixtures().join("tiny_hf");
    std::fs::copy(
        src.join("model.safetensors"),
        model.join("model.safetensors"),
    )
    .unwrap();
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    config["text_config"]["eos_token_id"] = expected[2].into();
    std::fs::write(model.join("config.json"), config.to_string()).unwrap();

    let out = tmp.path().join("gen.safetensors");
    let args = ["--max-new-tokens", "8", "--greedy"];
    assert_eq!(generate(&model, &inputs, &out, &args), expected[..3]);
    let args = ["--max-new-tokens", "8", "--greedy", "--ignore-eos"];
    assert_eq!(generate(&model, &inputs, &out, &args), expected);
    // Sampling with a seed is reproducible.
    let args = [
        "--max-new-tokens",
        "6",
        "--ignore-eos",
        "--top-p",
        "0.9",
        "--seed",
        "3",
    ];
    let a = generate(&model, &inputs, &out, &args);
    assert_eq!(a.len(), 6);
    assert_eq!(a, generate(&model, &inputs, &out, &args));
}

#[test]
fn bad_inputs_fail_with_one_line_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let model = fixtures().join("tiny_hf");
    let out = tmp.path().join("out.safetensors");
    let c = case();
    let forward = |inputs: &Path| {
        fails(&[
            p("forward"),
            p("--model"),
            &model,
            p("--inputs"),
            inputs,
            p("--out"),
            &out,
        ])
    };
    let bad = |name: &str, tensors: Inputs| {
        let path = tmp.path().join(format!("{name}.safetensors"));
        write_inputs(&path, tensors);
        path
    };
    let ids = c["input_ids"].clone();
    let pixels = c["pixel_values"].clone();
    let float_ids = TensorData::new(ids.iter::<f32>().collect::<Vec<_>>(), [1, 32]);
    let int_pixels = TensorData::new(vec![0i64; 2 * 3 * 56 * 56], [2, 3, 56, 56]);
    let small = TensorData::new(vec![0.0f32; 2 * 3 * 28 * 28], [2, 3, 28, 28]);
    let oblong = TensorData::new(vec![0.0f32; 2 * 3 * 56 * 28], [2, 3, 56, 28]);
    let batch2 = TensorData::new(vec![1i64; 4], [2, 2]);
    let huge_id = TensorData::new(vec![1i64, 5000], [1, 2]);
    let short_mask = TensorData::new(vec![1i64; 3], [1, 3]);
    let cases: Vec<(&str, Inputs, &str)> = vec![
        (
            "float_ids",
            vec![("input_ids", float_ids), ("pixel_values", pixels.clone())],
            "input_ids",
        ),
        (
            "no_ids",
            vec![("pixel_values", pixels.clone())],
            "input_ids",
        ),
        (
            "int_pixels",
            vec![("input_ids", ids.clone()), ("pixel_values", int_pixels)],
            "pixel_values",
        ),
        (
            "small_images",
            vec![("input_ids", ids.clone()), ("pixel_values", small)],
            "image tokens",
        ),
        (
            "oblong",
            vec![("input_ids", ids.clone()), ("pixel_values", oblong)],
            "pixel_values",
        ),
        (
            "no_images",
            vec![("input_ids", ids.clone())],
            "image tokens",
        ),
        ("batch2", vec![("input_ids", batch2)], "[1, L]"),
        ("huge_id", vec![("input_ids", huge_id)], "vocabulary"),
        (
            "short_mask",
            vec![
                ("input_ids", ids.clone()),
                ("attention_mask", short_mask),
                ("pixel_values", pixels),
            ],
            "attention_mask",
        ),
    ];
    for (name, tensors, needle) in cases {
        let path = bad(name, tensors);
        let err = forward(&path);
        assert!(
            err.contains(&format!("{name}.safetensors")) && err.contains(needle),
            "{name}: {err}"
        );
    }
    assert!(!out.exists(), "nothing written on failure");

    // Not a safetensors file.
    let garbage = tmp.path().join("garbage.safetensors");
    std::fs::write(&garbage, "not safetensors").unwrap();
    assert!(forward(&garbage).contains("garbage.safetensors"));
    // A missing inputs file.
    let missing = tmp.path().join("missing.safetensors");
    assert!(forward(&missing).contains("missing.safetensors"));

    let inputs = fixture_inputs(tmp.path());
    // A folder that is not a checkpoint.
    let err = fails(&[
        p("forward"),
        p("--model"),
        tmp.path(),
        p("--inputs"),
        &inputs,
        p("--out"),
        &out,
    ]);
    assert!(err.contains("config.json"), "{err}");
    // An output in a missing folder.
    let nowhere = tmp.path().join("no/such/dir/out.safetensors");
    let err = fails(&[
        p("forward"),
        p("--model"),
        &model,
        p("--inputs"),
        &inputs,
        p("--out"),
        &nowhere,
    ]);
    assert!(err.contains("out.safetensors"), "{err}");
    // --skeleton is not in yet.
    let skeleton = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/samples/missing.skeleton");
    let err = fails(&[
        p("forward"),
        p("--model"),
        &model,
        p("--inputs"),
        &inputs,
        p("--out"),
        &out,
        p("--skeleton"),
        &skeleton,
    ]);
    // --skeleton needs `frame_indices` in the inputs (tests/skeleton_cli.rs covers the rest).
    assert!(
        err.contains("frame_indices") && err.contains("in.safetensors"),
        "{err}"
    );
    // generate: the same checks.
    let err = fails(&[
        p("generate"),
        p("--model"),
        &model,
        p("--inputs"),
        &bad(
            "gen_small",
            vec![
                ("input_ids", c["input_ids"].clone()),
                (
                    "pixel_values",
                    TensorData::new(vec![0.0f32; 3 * 28 * 28], [1, 3, 28, 28]),
                ),
            ],
        ),
        p("--max-new-tokens"),
        p("2"),
        p("--out"),
        &out,
    ]);
    assert!(
        err.contains("gen_small.safetensors") && err.contains("image tokens"),
        "{err}"
    );
}
