//! Losses: answer-token cross entropy (the authors'), logit distillation to a teacher's
//! distributions, and a discriminative margin between a right and a wrong answer.

use burn::tensor::activation::{log_softmax, relu, softmax};
use burn::tensor::{Int, Tensor, TensorData};

/// The logits that predict the answer tokens: rows `answer_start - 1 .. len - 1` of `[1, L, V]`.
///
/// # Panics
/// If `answer_start` is 0 or beyond the sequence.
pub fn answer_logits(logits: Tensor<3>, answer_start: usize) -> Tensor<2> {
    let [_, l, v] = logits.dims();
    assert!(
        answer_start >= 1 && answer_start < l,
        "answer_start out of range"
    );
    logits
        .slice([0..1, answer_start - 1..l - 1, 0..v])
        .reshape([l - answer_start, v])
}

/// Mean cross entropy of the answer tokens `ids[answer_start..]` under `logits` `[1, L, V]`.
pub fn answer_cross_entropy(logits: Tensor<3>, ids: &[i64], answer_start: usize) -> Tensor<1> {
    let device = logits.device();
    let rows = answer_logits(logits, answer_start); // [n, V]
    let n = ids.len() - answer_start;
    let targets =
        Tensor::<1, Int>::from_data(TensorData::new(ids[answer_start..].to_vec(), [n]), &device);
    let lp = log_softmax(rows, 1);
    let picked = lp.gather(1, targets.reshape([n, 1])); // [n, 1]
    picked.mean().neg()
}

/// `τ² · KL(teacher ‖ student)` at temperature `τ`, averaged over rows; both `[n, V]` (the
/// teacher's are constants).
pub fn distillation_kl(student: Tensor<2>, teacher: Tensor<2>, tau: f64) -> Tensor<1> {
    let [n, _] = student.dims();
    let p = softmax(teacher.clone() / tau, 1);
    let log_p = log_softmax(teacher / tau, 1);
    let log_q = log_softmax(student / tau, 1);
    ((p * (log_p - log_q)).sum() / n as f64) * (tau * tau)
}

/// `max(0, margin - (log p(good) - log p(bad)))` for the first answer token, at the row that
/// predicts it (`logits` `[1, L, V]`).
pub fn first_token_margin(
    logits: Tensor<3>,
    answer_start: usize,
    good: i64,
    bad: i64,
    margin: f64,
) -> Tensor<1> {
    let [_, _, v] = logits.dims();
    let row = logits
        .slice([0..1, answer_start - 1..answer_start, 0..v])
        .reshape([1, v]);
    let lp = log_softmax(row, 1).reshape([v]);
    let good = lp.clone().narrow(0, good as usize, 1);
    let bad = lp.narrow(0, bad as usize, 1);
    relu((good - bad).neg() + margin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn cross_entropy_of_a_sure_answer_is_small_and_of_a_wrong_one_large() {
        let device = Device::default();
        // L = 3, V = 4; the answer is ids[2] = 1, predicted by row 1.
        let mut values = vec![0.0f32; 12];
        values[4 + 1] = 20.0;
        let logits = Tensor::<3>::from_data(TensorData::new(values, [1, 3, 4]), &device);
        let good = answer_cross_entropy(logits.clone(), &[0, 3, 1], 2).into_scalar::<f32>();
        let bad = answer_cross_entropy(logits, &[0, 3, 2], 2).into_scalar::<f32>();
        assert!(good < 1e-6 && bad > 19.0, "{good} {bad}");
    }

    #[test]
    fn kl_is_zero_for_equal_distributions_and_positive_otherwise() {
        let device = Device::default();
        let a = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0], [1, 3]), &device);
        let b = Tensor::<2>::from_data(TensorData::new(vec![3.0f32, 2.0, 1.0], [1, 3]), &device);
        let same = distillation_kl(a.clone(), a.clone(), 2.0).into_scalar::<f32>();
        let diff = distillation_kl(a, b, 2.0).into_scalar::<f32>();
        assert!(same.abs() < 1e-6 && diff > 0.1, "{same} {diff}");
    }

    #[test]
    fn margin_is_zero_once_the_gap_exceeds_it() {
        let device = Device::default();
        let logits = Tensor::<3>::from_data(
            TensorData::new(vec![0.0f32, 0.0, 5.0, 0.0, 0.0, 0.0], [1, 2, 3]),
            &device,
        );
        let hinge = |m| first_token_margin(logits.clone(), 1, 2, 0, m).into_scalar::<f32>();
        assert!(hinge(1.0).abs() < 1e-6);
        assert!((hinge(6.0) - 1.0).abs() < 1e-5);
    }
}
