//! Choosing the next token from one row of logits, on the host, as transformers does it:
//! repetition penalty ([`apply_repetition_penalty`]), then for sampling the warpers in
//! transformers' order, temperature ([`apply_temperature`]) → top-k ([`top_k_filter`]) →
//! nucleus ([`top_p_filter`]), then a draw from the softmax with a seeded generator.

/// How the next token is chosen.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Sampler {
    /// Greedy: the highest logit, the first one on ties (as `torch.argmax`).
    #[default]
    Argmax,
    /// Sampling with top-k and nucleus filtering (transformers' `do_sample=True,
    /// temperature=t, top_k=k, top_p=p`; note that transformers' default `top_k` is 50, here
    /// [`Sampler::top_p`] leaves it off).
    TopP {
        /// Keep the most likely tokens until their probabilities add up to `p`
        /// (at least one token; `p >= 1` keeps all, `p -> 0` is greedy).
        p: f64,
        /// Keep only the `top_k` largest logits (and any tied with the `k`-th) before the
        /// nucleus filter; `0` = off, `1` = greedy.
        top_k: usize,
        /// Logits are divided by it; `<= 0` means greedy.
        temperature: f64,
        /// State of the SplitMix64 generator: the seed at first, advanced by every draw, so a
        /// clone made before sampling replays the same draws.
        seed: u64,
    },
}

impl Sampler {
    /// Nucleus sampling with this seed (no top-k).
    pub fn top_p(p: f64, temperature: f64, seed: u64) -> Self {
        Self::TopP {
            p,
            top_k: 0,
            temperature,
            seed,
        }
    }

    /// Top-k sampling with this seed (no nucleus filter).
    pub fn top_k(k: usize, temperature: f64, seed: u64) -> Self {
        Self::TopP {
            p: 1.0,
            top_k: k,
            temperature,
            seed,
        }
    }

    /// This sampler with top-k filtering (`0` = off); [`Sampler::Argmax`] is unchanged.
    pub fn with_top_k(mut self, k: usize) -> Self {
        if let Self::TopP { top_k, .. } = &mut self {
            *top_k = k;
        }
        self
    }

    /// Pick a token id from one row of logits (penalties already applied).
    ///
    /// # Shapes
    ///
    /// - logits: `[V]`
    ///
    /// # Panics
    ///
    /// Panics if `logits` is empty.
    pub fn sample(&mut self, logits: &[f32]) -> usize {
        assert!(!logits.is_empty(), "sample: no logits");
        match self {
            Sampler::Argmax => argmax(logits),
            Sampler::TopP {
                p,
                top_k,
                temperature,
                seed,
            } => {
                if temperature.is_nan() || *temperature <= 0.0 {
                    return argmax(logits);
                }
                let mut scores = logits.to_vec();
                apply_temperature(&mut scores, *temperature);
                top_k_filter(&mut scores, *top_k);
                top_p_filter(&mut scores, *p);
                let probs = softmax(&scores);
                draw(&probs, unit_f64(seed))
            }
        }
    }
}

/// Index of the largest value, the first one on ties (NaN never wins unless all are NaN).
///
/// # Panics
///
/// Panics if `logits` is empty.
pub fn argmax(logits: &[f32]) -> usize {
    assert!(!logits.is_empty(), "argmax: no logits");
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] || logits[best].is_nan() && !v.is_nan() {
            best = i;
        }
    }
    best
}

/// transformers' `RepetitionPenaltyLogitsProcessor`: for every id in `seen` (prompt and
/// generated tokens, repeats counted once), a positive logit is divided by `penalty` and a
/// negative one multiplied by it. `penalty == 1` changes nothing; ids outside the row are
/// ignored.
pub fn apply_repetition_penalty(logits: &mut [f32], seen: &[i64], penalty: f32) {
    if penalty == 1.0 {
        return;
    }
    let mut done = vec![false; logits.len()];
    for &id in seen {
        let Ok(i) = usize::try_from(id) else { continue };
        if i >= logits.len() || done[i] {
            continue;
        }
        done[i] = true;
        let v = logits[i];
        logits[i] = if v < 0.0 { v * penalty } else { v / penalty };
    }
}

/// transformers' `TemperatureLogitsWarper`: divide every logit by `temperature`.
pub fn apply_temperature(logits: &mut [f32], temperature: f64) {
    if temperature != 1.0 {
        for v in logits {
            *v = (f64::from(*v) / temperature) as f32;
        }
    }
}

/// transformers' `TopKLogitsWarper` (`min_tokens_to_keep = 1`): set to `-inf` every logit
/// below the `k`-th largest (ties with it are kept, as `scores < topk(scores, k)[-1]`).
/// `k == 0` or `k >= len` keeps everything.
pub fn top_k_filter(logits: &mut [f32], k: usize) {
    if k == 0 || k >= logits.len() {
        return;
    }
    let mut sorted = logits.to_vec();
    // Descending; NaN ranks last.
    let key = |v: f32| if v.is_nan() { f32::NEG_INFINITY } else { v };
    let (_, kth, _) = sorted.select_nth_unstable_by(k - 1, |a, b| key(*b).total_cmp(&key(*a)));
    let kth = key(*kth);
    for v in logits {
        if v.is_nan() || *v < kth {
            *v = f32::NEG_INFINITY;
        }
    }
}

/// transformers' `TopPLogitsWarper` (`min_tokens_to_keep = 1`): set to `-inf` every logit
/// outside the smallest set of most likely tokens whose probabilities reach `p`.
///
/// A token is kept when the probability of the tokens ranked above it is below `p` (the same set
/// as transformers' "cumulative probability from the least likely `<= 1 - p` is removed"); ties
/// rank by index. `p >= 1` keeps everything.
pub fn top_p_filter(logits: &mut [f32], p: f64) {
    if p >= 1.0 || logits.is_empty() {
        return;
    }
    let probs = softmax(logits);
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_unstable_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    let mut above = 0.0f64;
    let mut kept = 0;
    for &i in &order {
        if kept > 0 && above >= p {
            logits[i] = f32::NEG_INFINITY;
        } else {
            kept += 1;
        }
        above += probs[i];
    }
}

/// Softmax in f64 (`-inf` logits get probability 0).
fn softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max)
        .max(f32::MIN);
    let exp: Vec<f64> = logits
        .iter()
        .map(|&v| (f64::from(v) - f64::from(max)).exp())
        .collect();
    let sum: f64 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

/// The index where the cumulative probability first exceeds `u * total` (multinomial draw).
fn draw(probs: &[f64], u: f64) -> usize {
    let total: f64 = probs.iter().sum();
    let target = u * total;
    let mut acc = 0.0;
    let mut last = 0;
    for (i, &q) in probs.iter().enumerate() {
        if q > 0.0 {
            acc += q;
            last = i;
            if acc > target {
                return i;
            }
        }
    }
    last
}

/// One SplitMix64 step (Steele, Lea & Flood 2014): advances `state`, returns 64 random bits.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform draw in `[0, 1)` with 53 random bits.
fn unit_f64(state: &mut u64) -> f64 {
    (splitmix64(state) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random logits.
    fn logits(seed: u64, n: usize) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| (unit_f64(&mut s) * 20.0 - 10.0) as f32)
            .collect()
    }

    #[test]
    fn argmax_takes_the_first_maximum() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, -1.0]), 1);
        assert_eq!(argmax(&[f32::NAN, 0.5, 2.0]), 2);
        assert_eq!(Sampler::Argmax.sample(&[0.0, -1.0, 7.0]), 2);
    }

    #[test]
    fn repetition_penalty_divides_positive_and_multiplies_negative_logits() {
        // HF: score = where(score < 0, score * penalty, score / penalty) on seen ids.
        let mut l = vec![2.0, -1.0, 0.5, 3.0, 0.0];
        apply_repetition_penalty(&mut l, &[0, 1, 1, 4, 99, -3], 2.0);
        assert_eq!(l, [1.0, -2.0, 0.5, 3.0, 0.0]);
        let mut l = vec![2.0, -1.0];
        apply_repetition_penalty(&mut l, &[0, 1], 1.0);
        assert_eq!(l, [2.0, -1.0]);
    }

    #[test]
    fn top_p_keeps_the_nucleus() {
        // probabilities 0.5, 0.3, 0.15, 0.05 (in a shuffled order)
        let probs = [0.15f64, 0.5, 0.05, 0.3];
        let base: Vec<f32> = probs.iter().map(|q| q.ln() as f32).collect();
        let kept = |p: f64| {
            let mut l = base.clone();
            top_p_filter(&mut l, p);
            l.iter().map(|v| v.is_finite()).collect::<Vec<_>>()
        };
        assert_eq!(kept(0.4), [false, true, false, false]);
        assert_eq!(kept(0.7), [false, true, false, true]);
        assert_eq!(kept(0.9), [true, true, false, true]);
        assert_eq!(kept(0.99), [true, true, true, true]);
        assert_eq!(kept(1.0), [true, true, true, true]);
        assert_eq!(kept(0.0), [false, true, false, false]);
    }

    #[test]
    fn top_p_near_zero_is_argmax() {
        for seed in 0..50 {
            let l = logits(seed, 1000);
            let mut sampler = Sampler::top_p(1e-9, 0.7, seed);
            assert_eq!(sampler.sample(&l), argmax(&l), "seed {seed}");
        }
        let mut cold = Sampler::top_p(0.9, 0.0, 1);
        assert_eq!(cold.sample(&[0.0, 5.0, 1.0]), 1);
    }

    #[test]
    fn a_fixed_seed_is_reproducible() {
        let l: Vec<f32> = vec![0.0; 50];
        let run = |seed| {
            let mut s = Sampler::top_p(1.0, 1.0, seed);
            (0..200).map(|_| s.sample(&l)).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let mut a = Sampler::top_p(0.9, 1.0, 3);
        let mut b = a.clone();
        assert_eq!(a.sample(&l), b.sample(&l));
        assert_ne!(a, Sampler::top_p(0.9, 1.0, 3), "the state advances");
    }

    #[test]
    fn sampling_follows_the_probabilities() {
        // p(0) = 1/4, p(1) = 3/4; with top_p 0.7 only token 1 survives.
        let l = [0.25f32.ln(), 0.75f32.ln()];
        let mut s = Sampler::top_p(1.0, 1.0, 11);
        let n = 8000;
        let ones = (0..n).filter(|_| s.sample(&l) == 1).count();
        let freq = ones as f64 / n as f64;
        assert!((freq - 0.75).abs() < 0.02, "{freq}");
        let mut s = Sampler::top_p(0.7, 1.0, 11);
        assert!((0..100).all(|_| s.sample(&l) == 1));
        // Temperature 0.5 squares the odds: 1 : 9.
        let mut s = Sampler::top_p(1.0, 0.5, 12);
        let ones = (0..n).filter(|_| s.sample(&l) == 1).count();
        let freq = ones as f64 / n as f64;
        assert!((freq - 0.9).abs() < 0.02, "{freq}");
    }

    #[test]
    fn top_k_keeps_the_k_largest() {
        let mut l = vec![0.5f32, 3.0, -1.0, 2.0, 2.0, 7.0];
        top_k_filter(&mut l, 3);
        let kept: Vec<bool> = l.iter().map(|v| v.is_finite()).collect();
        assert_eq!(
            kept,
            [false, true, false, true, true, true],
            "ties with the k-th stay"
        );
        let mut l = vec![0.5f32, 3.0, -1.0];
        top_k_filter(&mut l, 0);
        assert_eq!(l, [0.5, 3.0, -1.0]);
        top_k_filter(&mut l, 5);
        assert_eq!(l, [0.5, 3.0, -1.0]);
        top_k_filter(&mut l, 1);
        assert_eq!(l, [f32::NEG_INFINITY, 3.0, f32::NEG_INFINITY]);
    }

    #[test]
    fn top_k_one_is_greedy() {
        for seed in 0..50 {
            let l = logits(seed, 500);
            let mut s = Sampler::top_k(1, 1.3, seed);
            assert_eq!(s.sample(&l), argmax(&l), "seed {seed}");
            let mut s = Sampler::top_p(0.95, 2.0, seed).with_top_k(1);
            assert_eq!(s.sample(&l), argmax(&l), "seed {seed}");
        }
    }

    #[test]
    fn only_top_k_ids_are_drawn() {
        let l = logits(99, 200);
        let mut order: Vec<usize> = (0..l.len()).collect();
        order.sort_by(|&a, &b| l[b].total_cmp(&l[a]));
        let allowed = &order[..5];
        let mut drawn = std::collections::BTreeSet::new();
        for seed in 0..2000 {
            // A high temperature flattens the distribution: without top-k most ids would appear.
            let id = Sampler::top_k(5, 50.0, seed).sample(&l);
            assert!(allowed.contains(&id), "seed {seed}: {id}");
            drawn.insert(id);
        }
        assert_eq!(drawn.len(), 5, "all five are drawn");
        // Top-k before top-p: with k = 5 and p = 0.999 still only the top five.
        let mut s = Sampler::top_p(0.999, 50.0, 3).with_top_k(5);
        assert!((0..500).all(|_| allowed.contains(&s.sample(&l))));
        assert_eq!(Sampler::Argmax.with_top_k(3), Sampler::Argmax);
    }
}
