//! Fuzz tests for the skeleton-file parsers.
//!
//! For every format: (a) arbitrary bytes (and token soups of the format's vocabulary), and
//! (b) structure-aware mutations of valid seed files built here (tokens replaced, inserted,
//! deleted, duplicated or swapped; numbers replaced by huge, negative, `nan` or `inf` values;
//! bits flipped; the file truncated). Each input is written to a temporary file and read through
//! [`draction::io::read`] with the format given, with the format detected from the extension,
//! and with the format sniffed from the content of an extension-less copy.
//!
//! The contract checked: no panic (the runner reports one as a failure), no slow read, and the
//! result is either `Ok` with a consistent skeleton (`positions` = frames·persons·joints·3 finite
//! values, `valid` = frames·persons·joints, invalid joints exactly 0, frames and persons no
//! larger than the file, the dense size in proportion to the file, the frame rate positive and
//! finite if known) or an `Err` whose message names the file (and, for the line-oriented NTU
//! and BVH formats, the line). The plain tests at the end read small files that claim huge
//! sizes, and inputs whose dense output or hierarchy would be out of proportion to them.
//!
//! Cases per test default to 256 so that `cargo test` stays fast; `PROPTEST_CASES` overrides
//! that, e.g.
//! `PROPTEST_CASES=20000 cargo test --release -p draction --test fuzz_parsers -- --nocapture`
//! (each test prints how many cases and reads it ran and how long they took).

use std::cell::Cell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use draction::io::{ReadOptions, detect, read, read_with};
use draction::{Error, Format, Skeleton};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// [`DEFAULT_CASES`] per test, unless `PROPTEST_CASES` is set (`Config::with_cases` alone
/// would ignore it).
fn config() -> Config {
    let mut c = if std::env::var_os("PROPTEST_CASES").is_some() {
        Config::default()
    } else {
        Config::with_cases(DEFAULT_CASES)
    };
    // The runner is driven by hand, so there is no source file to persist failures next to.
    c.failure_persistence = None;
    c
}

/// Cases per fuzz test in a plain `cargo test` (each test takes well under a second).
const DEFAULT_CASES: u32 = 256;

/// One read may take at most this long (debug build, small files).
const SLOW: Duration = Duration::from_secs(5);

/// The most joint slots (frames × persons × joints) a file of `len` bytes may expand to (as
/// `draction::io` allows).
fn dense_limit(len: usize) -> usize {
    (1usize << 22).max(len.saturating_mul(16))
}

/// A file's bytes, shown escaped when a case fails.
#[derive(Clone)]
struct Input(Vec<u8>);

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\" ({} bytes)", self.0.escape_ascii(), self.0.len())
    }
}

/// What a fuzz test feeds its inputs to.
#[derive(Clone, Copy)]
struct Target {
    format: Format,
    /// Extension of the named copy (detection by extension).
    ext: &'static str,
}

#[derive(Default)]
struct Stats {
    cases: Cell<usize>,
    reads: Cell<usize>,
    ok: Cell<usize>,
}

/// Runs `strategy` through `target`'s parser and panics with the (shrunk) failing input.
fn fuzz(name: &str, target: Target, strategy: impl Strategy<Value = Input>) {
    let dir = tempfile::tempdir().unwrap();
    let stats = Stats::default();
    let mut runner = TestRunner::new(config());
    let start = Instant::now();
    let result = runner.run(&strategy, |input| {
        stats.cases.set(stats.cases.get() + 1);
        check_input(dir.path(), target, &input.0, &stats)
    });
    eprintln!(
        "fuzz {name}: {} cases, {} reads ({} Ok) in {:.2?}",
        stats.cases.get(),
        stats.reads.get(),
        stats.ok.get(),
        start.elapsed()
    );
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
}

/// Writes `bytes` to a file named for `target` and to an extension-less one, and reads them
/// every way that applies.
fn check_input(
    dir: &Path,
    target: Target,
    bytes: &[u8],
    stats: &Stats,
) -> Result<(), TestCaseError> {
    let named = dir.join(format!("fuzz_case.{}", target.ext));
    let bare = dir.join("fuzz_case_noext");
    std::fs::write(&named, bytes).unwrap();
    std::fs::write(&bare, bytes).unwrap();
    let plain = ReadOptions::default();
    let mut reads: Vec<(&PathBuf, Option<Format>, ReadOptions)> = vec![
        (&named, Some(target.format), plain.clone()),
        (&named, None, plain.clone()),
        (&bare, None, plain.clone()),
    ];
    match target.format {
        Format::Ntu => reads.push((
            &named,
            Some(Format::Ntu),
            ReadOptions {
                max_bodies: Some(2),
                ..Default::default()
            },
        )),
        Format::Npy => reads.push((&named, Some(Format::HumanMl3d), plain.clone())),
        Format::Json => reads.push((
            &named,
            Some(Format::Json),
            ReadOptions {
                layout: Some("coco17".into()),
                ..Default::default()
            },
        )),
        _ => {}
    }
    for (path, format, opts) in reads {
        let t = Instant::now();
        let result = read_with(path, format, &opts);
        let took = t.elapsed();
        stats.reads.set(stats.reads.get() + 1);
        prop_assert!(
            took < SLOW,
            "reading {} as {format:?} took {took:?}",
            path.display()
        );
        match result {
            Ok(s) => {
                stats.ok.set(stats.ok.get() + 1);
                check_skeleton(&s, bytes.len(), opts.max_bodies)?;
            }
            Err(e) => {
                let fmt = format.or_else(|| detect(path).ok());
                check_error(&e, path, fmt)?;
            }
        }
    }
    Ok(())
}

/// An error must name the file, and for NTU and BVH parse errors the line too.
fn check_error(e: &Error, path: &Path, format: Option<Format>) -> Result<(), TestCaseError> {
    let msg = e.to_string();
    let shown = path.display().to_string();
    prop_assert!(
        msg.contains(&shown),
        "error does not name {shown}: {msg} ({e:?})"
    );
    if let (Some(Format::Ntu | Format::Bvh), Error::Parse(p)) = (format, e) {
        prop_assert!(
            p.line.is_some() && msg.starts_with(&format!("{shown}:")),
            "{format:?} error without a line: {msg}"
        );
    }
    Ok(())
}

/// The invariants of a skeleton read from a file of `len` bytes (with `max_bodies` body slots
/// asked for, if any: those are the caller's, not the file's).
fn check_skeleton(
    s: &Skeleton,
    len: usize,
    max_bodies: Option<usize>,
) -> Result<(), TestCaseError> {
    let [f, p, j] = s.dims();
    prop_assert_eq!(j, s.layout().num_joints());
    prop_assert!(s.layout().check().is_ok(), "{:?}", s.layout().check());
    prop_assert!(
        f <= len && (p <= len || Some(p) == max_bodies),
        "{f} frames × {p} persons from a {len}-byte file"
    );
    let n = f.checked_mul(p).and_then(|x| x.checked_mul(j));
    prop_assert!(n.is_some(), "[{f}, {p}, {j}] overflows");
    let n = n.unwrap();
    prop_assert!(
        n <= dense_limit(len),
        "[{f}, {p}, {j}] from a {len}-byte file"
    );
    prop_assert!(
        s.fps.is_none_or(|f| f > 0.0 && f.is_finite()),
        "fps {:?}",
        s.fps
    );
    prop_assert_eq!(s.positions().len(), n * 3);
    prop_assert_eq!(s.valid().len(), n);
    for (i, (xyz, &v)) in s.positions().chunks_exact(3).zip(s.valid()).enumerate() {
        prop_assert!(xyz.iter().all(|x| x.is_finite()), "joint slot {i}: {xyz:?}");
        prop_assert!(v || xyz == [0.0; 3], "invalid joint slot {i} holds {xyz:?}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------------

/// Values that break parsers: limits of every integer type, overflow, non-finite floats, odd
/// spellings.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "2",
    "3",
    "6",
    "7",
    "17",
    "22",
    "25",
    "44",
    "51",
    "54",
    "75",
    "255",
    "65535",
    "1000000000",
    "-1000000000",
    "2147483648",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
    "1e308",
    "-1e308",
    "1e309",
    "-1e309",
    "1e-320",
    "1e-300",
    "1e40",
    "1e-40",
    "3.5e38",
    "-3.5e38",
    "1e39",
    "nan",
    "NaN",
    "-nan",
    "inf",
    "-inf",
    "infinity",
    "+1",
    "0x10",
    "1.",
    ".5",
    "1e",
    "--1",
    "0.5",
    "-0.25",
];

/// Tokens of every format's syntax, mixed in everywhere.
const COMMON: &[&str] = &[
    "", " ", "\n", "\r\n", "\t", "{", "}", "[", "]", ",", ":", "\"", "null", "true", "false", "x",
    "\0", "é", "\u{feff}", "[]", "{}", "\"\"",
];

const NTU_WORDS: &[&str] = &["72057594037931101", "0.1", "2"];

const BVH_WORDS: &[&str] = &[
    "HIERARCHY",
    "ROOT",
    "JOINT",
    "End",
    "Site",
    "OFFSET",
    "CHANNELS",
    "MOTION",
    "Frames:",
    "Frame",
    "Time:",
    "Xposition",
    "Yposition",
    "Zposition",
    "Xrotation",
    "Yrotation",
    "Zrotation",
    "Wrotation",
    "x",
    "Hips",
    "{ OFFSET 0 0 0 }",
    "JOINT A { OFFSET 0 0 0 }",
    "End Site { OFFSET 0 0 0 }",
];

const JSON_WORDS: &[&str] = &[
    "\"format\"",
    "\"draction-skeleton-v1\"",
    "\"layout\"",
    "\"ntu25\"",
    "\"coco17\"",
    "\"smpl22\"",
    "\"bvh\"",
    "\"fps\"",
    "\"joints\"",
    "\"parents\"",
    "\"frames\"",
    "\"skeletons\"",
    "\"people\"",
    "\"pose_keypoints_2d\"",
    "\"images\"",
    "\"annotations\"",
    "\"id\"",
    "\"image_id\"",
    "\"keypoints\"",
    "\"Loop\"",
    "\"Frames\"",
    "\"wrap\"",
    "[1,2,3]",
    "[[1,2,3]]",
    "[null]",
    "{\"a\":[[[[[[[[[[[[1]]]]]]]]]]]]}",
];

const NPY_WORDS: &[&str] = &[
    "'descr'",
    "'<f4'",
    "'>f4'",
    "'<f8'",
    "'>f8'",
    "'<f2'",
    "'|u1'",
    "'<i4'",
    "'<i8'",
    "'<c8'",
    "'f4'",
    "'fortran_order'",
    "True",
    "False",
    "'shape'",
    "(",
    ")",
    "(0,)",
    "()",
    "(1000000000, 25, 3)",
    "(0, 1000000000000000000, 25, 3)",
    "(1000000000000000000, 0, 25, 3)",
    "3L",
    "'",
];

/// One edit of a file. Indices are taken modulo what they index, so any value is valid and
/// shrinking stays meaningful.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replaces token `at` by word `with` (of the format's words and [`NUMBERS`]).
    Replace { at: usize, with: usize },
    /// Replaces numeric token `at` by [`NUMBERS`]`[with]`.
    Number { at: usize, with: usize },
    /// Inserts word `with` and separator `sep` before token `at`.
    Insert { at: usize, with: usize, sep: usize },
    /// Deletes `len` tokens from `at` (and the separator after them if `sep`).
    Delete { at: usize, len: usize, sep: bool },
    /// Copies tokens `at..at + len` (with what separates them) before token `to`.
    Duplicate { at: usize, len: usize, to: usize },
    /// Swaps tokens `a` and `b`.
    Swap { a: usize, b: usize },
    /// Flips bit `bit` of byte `at`.
    Flip { at: usize, bit: u8 },
    /// Inserts raw bytes at byte `at`.
    Bytes { at: usize, bytes: Vec<u8> },
    /// Cuts the file at byte `at`.
    Truncate { at: usize },
}

const SEPARATORS: &[&str] = &[" ", ",", "\n", "", "\r\n"];

/// Bytes that end a token besides whitespace.
fn is_punct(b: u8) -> bool {
    b"{}[](),:\"".contains(&b)
}

/// Byte ranges of the tokens: runs of bytes that are neither whitespace nor punctuation.
fn tokens(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() || is_punct(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !is_punct(b[i]) {
            i += 1;
        }
        out.push((start, i));
    }
    out
}

fn is_number(t: &[u8]) -> bool {
    std::str::from_utf8(t).is_ok_and(|s| s.parse::<f64>().is_ok())
}

/// Applies `m` to `b`, drawing words from `words`.
fn apply(b: &mut Vec<u8>, m: &Mutation, words: &[&str]) {
    let word = |i: usize| -> &str {
        let n = words.len() + NUMBERS.len();
        let i = i % n;
        if i < words.len() {
            words[i]
        } else {
            NUMBERS[i - words.len()]
        }
    };
    let toks = tokens(b);
    match *m {
        Mutation::Replace { at, with } if !toks.is_empty() => {
            let (s, e) = toks[at % toks.len()];
            b.splice(s..e, word(with).bytes());
        }
        Mutation::Number { at, with } => {
            let nums: Vec<_> = toks.iter().filter(|&&(s, e)| is_number(&b[s..e])).collect();
            if let Some(&&(s, e)) = nums.get(at % nums.len().max(1)) {
                b.splice(s..e, NUMBERS[with % NUMBERS.len()].bytes());
            }
        }
        Mutation::Insert { at, with, sep } => {
            let pos = toks.get(at % (toks.len() + 1)).map_or(b.len(), |t| t.0);
            let text = format!("{}{}", word(with), SEPARATORS[sep % SEPARATORS.len()]);
            b.splice(pos..pos, text.bytes());
        }
        Mutation::Delete { at, len, sep } if !toks.is_empty() => {
            let first = at % toks.len();
            let last = (first + len.max(1) - 1).min(toks.len() - 1);
            let (s, mut e) = (toks[first].0, toks[last].1);
            if sep {
                while e < b.len() && (b[e].is_ascii_whitespace() || b[e] == b',') {
                    e += 1;
                }
            }
            b.drain(s..e);
        }
        Mutation::Duplicate { at, len, to } if !toks.is_empty() => {
            let first = at % toks.len();
            let last = (first + len.max(1) - 1).min(toks.len() - 1);
            let (s, mut e) = (toks[first].0, toks[last].1);
            // Take the separator after the range along, so the copy stays a list item.
            while e < b.len() && (b[e].is_ascii_whitespace() || b[e] == b',') {
                e += 1;
            }
            let copy = b[s..e].to_vec();
            let pos = toks[to % toks.len()].0;
            b.splice(pos..pos, copy);
        }
        Mutation::Swap { a, b: c } if !toks.is_empty() => {
            let (x, y) = (toks[a % toks.len()], toks[c % toks.len()]);
            let (x, y) = if x.0 <= y.0 { (x, y) } else { (y, x) };
            if x.1 <= y.0 {
                let tx = b[x.0..x.1].to_vec();
                let ty = b[y.0..y.1].to_vec();
                b.splice(y.0..y.1, tx);
                b.splice(x.0..x.1, ty);
            }
        }
        Mutation::Flip { at, bit } if !b.is_empty() => {
            let i = at % b.len();
            b[i] ^= 1 << (bit % 8);
        }
        Mutation::Bytes { at, ref bytes } => {
            let i = at % (b.len() + 1);
            b.splice(i..i, bytes.iter().copied());
        }
        Mutation::Truncate { at } => {
            let i = at % (b.len() + 1);
            b.truncate(i);
        }
        _ => {}
    }
}

/// Edits of the raw bytes only (for binary files).
fn byte_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), any::<u8>()).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        1 => (any::<usize>(), vec(any::<u8>(), 1..9))
            .prop_map(|(at, bytes)| Mutation::Bytes { at, bytes }),
        1 => any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

/// Any edit.
fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), any::<usize>()).prop_map(|(at, with)| Mutation::Replace { at, with }),
        4 => (any::<usize>(), any::<usize>()).prop_map(|(at, with)| Mutation::Number { at, with }),
        2 => (any::<usize>(), any::<usize>(), any::<usize>())
            .prop_map(|(at, with, sep)| Mutation::Insert { at, with, sep }),
        2 => (any::<usize>(), 1..4usize, any::<bool>())
            .prop_map(|(at, len, sep)| Mutation::Delete { at, len, sep }),
        1 => (any::<usize>(), 1..40usize, any::<usize>())
            .prop_map(|(at, len, to)| Mutation::Duplicate { at, len, to }),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap { a, b }),
        2 => byte_mutation(),
    ]
}

/// Seeds edited by 1 to 8 mutations (mostly one or two, so that many stay nearly valid).
fn mutated(seeds: Vec<Vec<u8>>, words: &'static [&'static str]) -> impl Strategy<Value = Input> {
    let muts = prop_oneof![2 => vec(mutation(), 1..3), 1 => vec(mutation(), 3..9)];
    (select(seeds), muts).prop_map(move |(mut b, muts)| {
        for m in &muts {
            apply(&mut b, m, words);
        }
        Input(b)
    })
}

/// Arbitrary bytes, bytes of the format's alphabet, and soups of the format's words.
fn arbitrary(
    alphabet: &'static [u8],
    words: &'static [&'static str],
) -> impl Strategy<Value = Input> {
    let all_words: Vec<&'static str> = words.iter().chain(NUMBERS).chain(COMMON).copied().collect();
    prop_oneof![
        vec(any::<u8>(), 0..1500).prop_map(Input),
        vec(select(alphabet.to_vec()), 0..1500).prop_map(Input),
        vec((select(all_words), select(SEPARATORS.to_vec())), 0..200).prop_map(|ws| {
            Input(
                ws.iter()
                    .flat_map(|(w, s)| [*w, *s])
                    .collect::<String>()
                    .into_bytes(),
            )
        }),
    ]
}

fn words(extra: &[&'static str]) -> &'static [&'static str] {
    Box::leak(
        extra
            .iter()
            .chain(COMMON)
            .copied()
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    )
}

// ---------------------------------------------------------------------------------------------
// Seeds: small valid files of every format
// ---------------------------------------------------------------------------------------------

/// NTU text: per frame, the joint count of each body.
fn ntu_seed(frames: &[&[usize]], crlf: bool) -> Vec<u8> {
    let mut s = format!("{}\n", frames.len());
    for (t, bodies) in frames.iter().enumerate() {
        s += &format!("{}\n", bodies.len());
        for (b, &nj) in bodies.iter().enumerate() {
            s += "72057594037931101 0 1 1 1 1 0 -0.1 0.2 2\n";
            s += &format!("{nj}\n");
            for j in 0..nj {
                let v = 0.1 * (t + b + j) as f32;
                s += &format!(
                    "{v} {} {} 100.5 200.5 300 400 0.5 0.5 0.5 0.5 2\n",
                    v + 1.0,
                    -v
                );
            }
        }
    }
    if crlf {
        s = s.replace('\n', "\r\n");
    }
    s.into_bytes()
}

fn ntu_seeds() -> Vec<Vec<u8>> {
    vec![
        ntu_seed(&[&[25]], false),
        ntu_seed(&[&[2], &[], &[1, 3]], true),
        ntu_seed(&[&[3, 3], &[3]], false),
        ntu_seed(&[], false),
    ]
}

/// The BVH of `draction/src/io/bvh.rs`'s unit tests: every channel kind, an End Site and a
/// channel-less joint.
const BVH_TINY: &str = include_str!("fixtures/tiny.bvh");

fn bvh_seeds() -> Vec<Vec<u8>> {
    vec![
        BVH_TINY.as_bytes().to_vec(),
        BVH_TINY.replace('\n', "\r\n").into_bytes(),
        b"HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\nCHANNELS 1 Xposition\n}\nROOT B\n{\nOFFSET 0 5 0\n\
          CHANNELS 0\nJOINT C\n{\nOFFSET 1 0 0\n}\n}\nMOTION\nFrames: 2\nFrame Time: 0.1\n1\n\n2\n"
            .to_vec(),
    ]
}

/// A DeepMimic frame: duration, root position and quaternion, then the joints' rotations.
fn deepmimic_frame(k: f64) -> Vec<f64> {
    let mut f = vec![0.0333, 0.1 * k, 0.9, -0.2, 0.9, 0.1, 0.3, -0.1];
    // chest, neck, right hip: quaternions; right knee: angle; right ankle, shoulder:
    // quaternions; right elbow: angle; then the left side alike.
    for q in [4, 4, 4, 1, 4, 4, 1, 4, 1, 4, 4, 1] {
        if q == 4 {
            f.extend([0.9, 0.1 * k, -0.2, 0.3]);
        } else {
            f.push(0.5 - 0.1 * k);
        }
    }
    assert_eq!(f.len(), 44);
    f
}

fn deepmimic_seeds() -> Vec<Vec<u8>> {
    let rows = |n: usize| {
        (0..n)
            .map(|k| {
                let v: Vec<String> = deepmimic_frame(k as f64)
                    .iter()
                    .map(|x| format!("{x}"))
                    .collect();
                format!("[{}]", v.join(", "))
            })
            .collect::<Vec<_>>()
            .join(",\n")
    };
    vec![
        format!(
            "{{\n\"Loop\": \"wrap\",\n\"Frames\":\n[\n{}\n]\n}}\n",
            rows(2)
        )
        .into_bytes(),
        format!("{{\"Loop\":\"none\",\"Frames\":[{}]}}", rows(1)).into_bytes(),
    ]
}

/// `n` points `[x, y, z]` (every `hole`-th one `null`).
fn points(n: usize, hole: usize, base: f32) -> String {
    let p: Vec<String> = (0..n)
        .map(|j| {
            if hole > 0 && j % hole == hole - 1 {
                "null".into()
            } else {
                format!("[{}, {}, {}]", base + j as f32, -0.5 * j as f32, 2.25)
            }
        })
        .collect();
    format!("[{}]", p.join(", "))
}

fn json_seeds() -> Vec<Vec<u8>> {
    vec![
        format!(
            "{{\"format\": \"draction-skeleton-v1\", \"layout\": \"bvh\", \"fps\": 30.0, \
             \"joints\": [\"Hips\", \"Spine\", \"Head\"], \"parents\": [null, 0, 1], \
             \"frames\": [[{}], [{}, {}]]}}",
            points(3, 2, 0.0),
            points(3, 0, 1.0),
            points(3, 3, 2.0)
        )
        .into_bytes(),
        format!(
            "{{\"format\": \"draction-skeleton-v1\", \"layout\": \"coco17\", \"fps\": 25,\n\
             \"frames\": [\n[{}],\n[]\n]}}",
            points(17, 5, 0.5)
        )
        .into_bytes(),
        format!(
            "{{\"skeletons\": [{}, {}]}}",
            points(22, 0, 0.0),
            points(22, 0, 1.0)
        )
        .into_bytes(),
    ]
}

/// OpenPose keypoints `x, y, c` of `n` joints (every 4th one with confidence 0).
fn keypoints(n: usize, base: f32) -> String {
    let k: Vec<String> = (0..n)
        .map(|j| {
            let c = if j % 4 == 3 { 0.0 } else { 0.8 };
            format!("{},{},{c}", base + j as f32, base - j as f32)
        })
        .collect();
    format!("[{}]", k.join(","))
}

fn openpose_seeds() -> Vec<Vec<u8>> {
    vec![
        format!(
            "{{\"version\":1.3,\"people\":[{{\"person_id\":[-1],\"pose_keypoints_2d\":{},\
             \"face_keypoints_2d\":[]}},{{\"person_id\":[-1],\"pose_keypoints_2d\":{}}}]}}",
            keypoints(18, 10.0),
            keypoints(18, 50.0)
        )
        .into_bytes(),
        format!(
            "{{\"version\":1.3,\"people\":[{{\"pose_keypoints_2d\":{}}},{{}}]}}",
            keypoints(25, 3.0)
        )
        .into_bytes(),
    ]
}

fn coco_seeds() -> Vec<Vec<u8>> {
    vec![
        format!(
            "{{\"images\": [{{\"id\": 7}}, {{\"id\": 3}}], \"annotations\": [\
             {{\"image_id\": 7, \"keypoints\": {}}}, {{\"image_id\": 3, \"keypoints\": {}}}, \
             {{\"image_id\": 3, \"keypoints\": {}}}]}}",
            keypoints(17, 1.0),
            keypoints(17, 2.0),
            keypoints(17, 3.0)
        )
        .into_bytes(),
        format!(
            "[{{\"image_id\": 1, \"keypoints\": {}, \"score\": 0.9}}]",
            keypoints(17, 4.0)
        )
        .into_bytes(),
    ]
}

/// An `.npy` header dict and its data.
#[derive(Debug, Clone)]
struct NpySeed {
    version: u8,
    dict: String,
    data: Vec<u8>,
}

fn npy_seed(version: u8, descr: &str, shape: &[usize]) -> NpySeed {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape_txt = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_txt}, }}");
    let n: usize = shape.iter().product();
    let be = descr.starts_with('>');
    let mut data = Vec::new();
    for i in 0..n {
        let v = i as f64 * 0.5 - 3.0;
        let mut b: Vec<u8> = match &descr[1..] {
            "f4" => (v as f32).to_le_bytes().to_vec(),
            "f8" => v.to_le_bytes().to_vec(),
            "i4" => (i as i32 - 7).to_le_bytes().to_vec(),
            "i8" => (i as i64 - 7).to_le_bytes().to_vec(),
            "u1" => vec![i as u8],
            "f2" => (0x3c00u16 + i as u16).to_le_bytes().to_vec(),
            other => panic!("{other}"),
        };
        if be {
            b.reverse();
        }
        data.extend(b);
    }
    NpySeed {
        version,
        dict,
        data,
    }
}

/// The file of an `.npy` seed; `header_len` overrides the true header length.
fn npy_bytes(seed: &NpySeed, dict: &[u8], header_len: Option<u32>) -> Vec<u8> {
    let start = if seed.version == 1 { 10 } else { 12 };
    let mut header = dict.to_vec();
    let total = start + header.len() + 1;
    header.extend(std::iter::repeat_n(b' ', (64 - total % 64) % 64));
    header.push(b'\n');
    let len = header_len.unwrap_or(header.len() as u32);
    let mut out = b"\x93NUMPY".to_vec();
    out.extend([seed.version, 0]);
    if seed.version == 1 {
        out.extend((len as u16).to_le_bytes());
    } else {
        out.extend(len.to_le_bytes());
    }
    out.extend(header);
    out.extend(&seed.data);
    out
}

fn npy_seeds() -> Vec<NpySeed> {
    vec![
        npy_seed(1, "<f4", &[2, 25, 3]),
        npy_seed(2, ">f8", &[1, 2, 17, 3]),
        npy_seed(1, "<i4", &[3, 15, 2]),
        npy_seed(3, "<f2", &[2, 22, 3]),
        npy_seed(1, "|u1", &[1, 18, 3]),
        npy_seed(1, ">i8", &[1, 24, 3]),
        npy_seed(1, "<f4", &[0, 25, 3]),
    ]
}

/// Mutated `.npy` files: token edits of the header dict, the header length kept true or
/// garbled, then raw byte edits of the whole file.
fn npy_mutated() -> impl Strategy<Value = Input> {
    let words = words(NPY_WORDS);
    (
        select(npy_seeds()),
        vec(mutation(), 0..5),
        prop_oneof![3 => Just(None), 1 => any::<u32>().prop_map(Some)],
        vec(byte_mutation(), 0..4),
    )
        .prop_map(move |(seed, dict_muts, header_len, byte_muts)| {
            let mut dict = seed.dict.clone().into_bytes();
            for m in &dict_muts {
                apply(&mut dict, m, words);
            }
            let mut b = npy_bytes(&seed, &dict, header_len);
            for m in &byte_muts {
                apply(&mut b, m, words);
            }
            Input(b)
        })
}

// ---------------------------------------------------------------------------------------------
// The fuzz tests
// ---------------------------------------------------------------------------------------------

const NTU: Target = Target {
    format: Format::Ntu,
    ext: "skeleton",
};
const BVH: Target = Target {
    format: Format::Bvh,
    ext: "bvh",
};
const NPY: Target = Target {
    format: Format::Npy,
    ext: "npy",
};
const JSON: Target = Target {
    format: Format::Json,
    ext: "json",
};
const OPENPOSE: Target = Target {
    format: Format::OpenPose,
    ext: "json",
};
const COCO: Target = Target {
    format: Format::Coco,
    ext: "json",
};
const DEEPMIMIC: Target = Target {
    format: Format::DeepMimic,
    ext: "txt",
};

const NTU_ALPHABET: &[u8] = b"0123456789 \n\r\t.-+e";
const BVH_ALPHABET: &[u8] = b"0123456789 \n{}.-HIERARCHYROOTJOINTMOFSETCHANLSFrmesTi:";
const JSON_ALPHABET: &[u8] = b"0123456789 \n{}[],:\".-enulltruefalse";
const NPY_ALPHABET: &[u8] = b"\x93NUMPY\x01\x02\x03\x00{}'():, <>fiu248descrshapeTrueFalse";

#[test]
fn ntu_arbitrary_bytes() {
    fuzz(
        "ntu/arbitrary",
        NTU,
        arbitrary(NTU_ALPHABET, words(NTU_WORDS)),
    );
}

#[test]
fn ntu_mutated_seeds() {
    fuzz("ntu/mutated", NTU, mutated(ntu_seeds(), words(NTU_WORDS)));
}

#[test]
fn bvh_arbitrary_bytes() {
    fuzz(
        "bvh/arbitrary",
        BVH,
        arbitrary(BVH_ALPHABET, words(BVH_WORDS)),
    );
}

#[test]
fn bvh_mutated_seeds() {
    fuzz("bvh/mutated", BVH, mutated(bvh_seeds(), words(BVH_WORDS)));
}

#[test]
fn npy_arbitrary_bytes() {
    let strategy = prop_oneof![
        arbitrary(NPY_ALPHABET, words(NPY_WORDS)),
        (1..4u8, vec(any::<u8>(), 0..600)).prop_map(|(v, rest)| {
            let mut b = b"\x93NUMPY".to_vec();
            b.extend([v, 0]);
            b.extend(rest);
            Input(b)
        }),
    ];
    fuzz("npy/arbitrary", NPY, strategy);
}

#[test]
fn npy_mutated_seeds() {
    fuzz("npy/mutated", NPY, npy_mutated());
}

#[test]
fn json_arbitrary_bytes() {
    fuzz(
        "json/arbitrary",
        JSON,
        arbitrary(JSON_ALPHABET, words(JSON_WORDS)),
    );
}

#[test]
fn json_mutated_seeds() {
    fuzz(
        "json/mutated",
        JSON,
        mutated(json_seeds(), words(JSON_WORDS)),
    );
}

#[test]
fn openpose_arbitrary_bytes() {
    fuzz(
        "openpose/arbitrary",
        OPENPOSE,
        arbitrary(JSON_ALPHABET, words(JSON_WORDS)),
    );
}

#[test]
fn openpose_mutated_seeds() {
    fuzz(
        "openpose/mutated",
        OPENPOSE,
        mutated(openpose_seeds(), words(JSON_WORDS)),
    );
}

#[test]
fn coco_arbitrary_bytes() {
    fuzz(
        "coco/arbitrary",
        COCO,
        arbitrary(JSON_ALPHABET, words(JSON_WORDS)),
    );
}

#[test]
fn coco_mutated_seeds() {
    fuzz(
        "coco/mutated",
        COCO,
        mutated(coco_seeds(), words(JSON_WORDS)),
    );
}

#[test]
fn deepmimic_arbitrary_bytes() {
    fuzz(
        "deepmimic/arbitrary",
        DEEPMIMIC,
        arbitrary(JSON_ALPHABET, words(JSON_WORDS)),
    );
}

#[test]
fn deepmimic_mutated_seeds() {
    fuzz(
        "deepmimic/mutated",
        DEEPMIMIC,
        mutated(deepmimic_seeds(), words(JSON_WORDS)),
    );
}

/// The seeds themselves are valid, so the mutations start from files every parser accepts.
#[test]
fn seeds_are_valid() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(Target, Vec<Vec<u8>>)> = vec![
        (NTU, ntu_seeds()),
        (BVH, bvh_seeds()),
        (
            NPY,
            npy_seeds()
                .iter()
                .map(|s| npy_bytes(s, s.dict.as_bytes(), None))
                .collect(),
        ),
        (JSON, json_seeds()),
        (OPENPOSE, openpose_seeds()),
        (COCO, coco_seeds()),
        (DEEPMIMIC, deepmimic_seeds()),
    ];
    for (target, seeds) in cases {
        for (i, seed) in seeds.iter().enumerate() {
            let path = dir.path().join(format!("seed{i}.{}", target.ext));
            std::fs::write(&path, seed).unwrap();
            for format in [Some(target.format), None] {
                let s = read(&path, format)
                    .unwrap_or_else(|e| panic!("{:?} seed {i} ({format:?}): {e}", target.format));
                check_skeleton(&s, seed.len(), None).unwrap();
                assert!(s.source.format.is_some());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Bounded reads: small files claiming huge sizes
// ---------------------------------------------------------------------------------------------

/// Reads `bytes` as `format` (and detected) from a file named `name`: it must fail quickly,
/// naming the file, and the error must mention `want` (when read as `format`).
fn assert_rejected(dir: &Path, name: &str, format: Format, bytes: &[u8], want: &str) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    for f in [Some(format), None] {
        let t = Instant::now();
        let result = read(&path, f);
        let took = t.elapsed();
        let e = match result {
            Ok(s) => panic!("{name} ({f:?}) was read: {:?}", s.dims()),
            Err(e) => e.to_string(),
        };
        assert!(
            took < Duration::from_secs(2),
            "{name} ({f:?}) took {took:?}: {e}"
        );
        assert!(e.contains(&path.display().to_string()), "{name}: {e}");
        // Detection looks at the first 4 KB only, so a big file may be taken for another format.
        if f.is_some() || detect(&path).ok() == Some(format) {
            assert!(e.contains(want), "{name} ({f:?}): {e:?} lacks {want:?}");
        }
    }
}

#[test]
fn small_files_claiming_huge_sizes_are_rejected_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let body_info = "72057594037931101 0 1 1 1 1 0 -0.1 0.2 2\n";
    let joint = "0.1 0.2 0.3 0 0 0 0 1 0 0 0 2\n";
    let big = "more than the file can hold";
    // NTU: frames, bodies, joints.
    assert_rejected(d, "frames.skeleton", Format::Ntu, b"1000000000\n0\n", big);
    assert_rejected(
        d,
        "frames_u64.skeleton",
        Format::Ntu,
        b"18446744073709551616\n0\n",
        "frame count",
    );
    let text = format!("1\n1000000000\n{body_info}25\n{}", joint.repeat(25));
    assert!(text.len() < 2048);
    assert_rejected(d, "bodies.skeleton", Format::Ntu, text.as_bytes(), big);
    let text = format!("1\n1\n{body_info}1000000000\n{}", joint.repeat(25));
    assert_rejected(d, "joints.skeleton", Format::Ntu, text.as_bytes(), big);
    let text = format!("1\n1\n{body_info}-25\n{}", joint.repeat(25));
    assert_rejected(
        d,
        "negative.skeleton",
        Format::Ntu,
        text.as_bytes(),
        "negative",
    );
    // BVH: Frames:, channels.
    let bvh = |frames: &str, channels: &str| {
        format!(
            "HIERARCHY\nROOT Hips\n{{\n  OFFSET 0 0 0\n  CHANNELS {channels}\n}}\n\
             MOTION\nFrames: {frames}\nFrame Time: 0.01\n1 2 3\n4 5 6\n"
        )
    };
    let xyz = "3 Xposition Yposition Zposition";
    assert_rejected(
        d,
        "frames.bvh",
        Format::Bvh,
        bvh("1000000000", xyz).as_bytes(),
        big,
    );
    assert_rejected(
        d,
        "frames_max.bvh",
        Format::Bvh,
        bvh("18446744073709551615", xyz).as_bytes(),
        "frame count",
    );
    assert_rejected(
        d,
        "no_channels.bvh",
        Format::Bvh,
        bvh("1000000000", "0").as_bytes(),
        "no CHANNELS",
    );
    assert_rejected(
        d,
        "channels.bvh",
        Format::Bvh,
        bvh("2", "1000000000 Xposition").as_bytes(),
        "must be 0 to 6",
    );
    // npy: shape and header length.
    let npy = |shape: &str| {
        let seed = npy_seed(1, "<f4", &[1, 25, 3]);
        let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
        npy_bytes(&seed, dict.as_bytes(), None)
    };
    let more = "needs more data";
    for (i, shape) in [
        "(1000000000, 25, 3)",
        "(1000000000, 2, 25, 3)",
        "(99999999999, 99999999999, 99999999999)",
        "(4611686018427387904, 4, 25, 3)",
    ]
    .iter()
    .enumerate()
    {
        let bytes = npy(shape);
        assert!(bytes.len() < 2048);
        assert_rejected(d, &format!("shape{i}.npy"), Format::Npy, &bytes, more);
    }
    // Empty arrays claiming huge dimensions.
    for (i, shape) in [
        "(0, 1000000000000000000, 25, 3)",
        "(1000000000000000000, 0, 25, 3)",
    ]
    .iter()
    .enumerate()
    {
        assert_rejected(
            d,
            &format!("empty{i}.npy"),
            Format::Npy,
            &npy(shape),
            "shape",
        );
    }
    let mut bytes = npy("(1, 25, 3)");
    bytes[8..12].copy_from_slice(&[0xff; 4]);
    bytes[6] = 2;
    assert_rejected(d, "header_len.npy", Format::Npy, &bytes, "header length");
    // JSON formats: nesting far deeper than any skeleton.
    let deep = format!("{}{}", "[".repeat(1500), "]".repeat(1500));
    for (name, format, text) in [
        ("deep.json", Format::Json, format!("{{\"frames\": {deep}}}")),
        (
            "deep_field.json",
            Format::Json,
            format!("{{\"x\": {deep}, \"frames\": []}}"),
        ),
        (
            "deep_op.json",
            Format::OpenPose,
            format!("{{\"people\": {deep}}}"),
        ),
        (
            "deep_coco.json",
            Format::Coco,
            format!("{{\"annotations\": {deep}}}"),
        ),
        (
            "deep_dm.txt",
            Format::DeepMimic,
            format!("{{\"Loop\": \"wrap\", \"Frames\": {deep}}}"),
        ),
    ] {
        let path = d.join(name);
        std::fs::write(&path, &text).unwrap();
        let t = Instant::now();
        let e = read(&path, Some(format)).unwrap_err().to_string();
        assert!(t.elapsed() < Duration::from_secs(2), "{name}");
        assert!(e.contains(&path.display().to_string()), "{name}: {e}");
    }
}

/// Files of tens of KB whose frame count times their largest body count (or joint count) is
/// huge: the dense `[frames, persons, joints, 3]` output must stay proportional to the file.
#[test]
fn dense_output_stays_proportional_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let want = "too large for";
    // NTU: one frame of 2000 joint-less bodies, then 2000 empty frames.
    let mut ntu = "2001\n2000\n".to_string();
    ntu += &"0 0 0 0 0 0 0 0 0 0 0\n".repeat(2000);
    ntu += &"0\n".repeat(2000);
    // BVH: a root with one channel and 2000 channel-less joints; 20000 frames.
    let mut bvh = "HIERARCHY\nROOT r\n{\nOFFSET 0 0 0\nCHANNELS 1 Xposition\n".to_string();
    bvh += &"JOINT j\n{\nOFFSET 0 0 0\n}\n".repeat(2000);
    bvh += "}\nMOTION\nFrames: 20000\nFrame Time: 0.01\n";
    bvh += &"1\n".repeat(20000);
    // JSON: a one-joint layout, one frame of 10000 bodies, then 10000 empty frames.
    let json = format!(
        "{{\"layout\": \"bvh\", \"joints\": [\"a\"], \"parents\": [null], \"frames\": [[{}],{}[]]}}",
        vec!["[null]"; 10000].join(","),
        "[],".repeat(10000)
    );
    // COCO: 5000 images, 300 annotations on one of them.
    let images: Vec<String> = (0..5000).map(|i| format!("{{\"id\":{i}}}")).collect();
    let ann = format!(
        "{{\"image_id\":0,\"keypoints\":[{}]}}",
        vec!["0"; 51].join(",")
    );
    let coco = format!(
        "{{\"images\":[{}],\"annotations\":[{}]}}",
        images.join(","),
        vec![ann; 300].join(",")
    );
    for (name, format, text) in [
        ("dense.skeleton", Format::Ntu, ntu),
        ("dense.bvh", Format::Bvh, bvh),
        ("dense.json", Format::Json, json),
        ("dense_coco.json", Format::Coco, coco),
    ] {
        assert!(text.len() < 128 * 1024, "{name}: {} bytes", text.len());
        assert_rejected(d, name, format, text.as_bytes(), want);
    }
    // OpenPose: a folder of 3000 empty frames and one frame of 3000 people.
    let folder = d.join("openpose");
    std::fs::create_dir(&folder).unwrap();
    for i in 0..3000 {
        std::fs::write(folder.join(format!("f{i:05}.json")), "{\"people\":[]}").unwrap();
    }
    let crowd = format!("{{\"people\":[{}]}}", vec!["{}"; 3000].join(","));
    std::fs::write(folder.join("f99999.json"), crowd).unwrap();
    let t = Instant::now();
    let e = match read(&folder, None) {
        Ok(s) => panic!("openpose folder was read: {:?}", s.dims()),
        Err(e) => e.to_string(),
    };
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(
        e.contains(&folder.display().to_string()) && e.contains(want),
        "{e}"
    );
}

/// Hierarchies of 100000 chained joints (1 MB of JSON, 2.5 MB of BVH) used to take over 10 s:
/// checking a hierarchy walks every joint's parent chain.
#[test]
fn huge_hierarchies_are_rejected_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let n = 100_000;
    let parents: Vec<String> = (0..n)
        .map(|i: usize| i.checked_sub(1).map_or("null".into(), |p| p.to_string()))
        .collect();
    let json = format!(
        "{{\"layout\": \"chain\", \"joints\": [{}], \"parents\": [{}], \"frames\": []}}",
        vec!["\"a\""; n].join(","),
        parents.join(",")
    );
    assert_rejected(
        dir.path(),
        "chain.json",
        Format::Json,
        json.as_bytes(),
        "more than 10000",
    );
    let mut bvh = "HIERARCHY\nROOT r\n{\nOFFSET 0 0 0\nCHANNELS 1 Xposition\n".to_string();
    bvh += &"JOINT j\n{\nOFFSET 0 0 0\n".repeat(n - 1);
    bvh += &"}\n".repeat(n);
    bvh += "MOTION\nFrames: 0\nFrame Time: 0.01\n";
    assert_rejected(
        dir.path(),
        "chain.bvh",
        Format::Bvh,
        bvh.as_bytes(),
        "more than 10000",
    );
}
