//! Worked examples with answers known from the math: the straight line
//! y = 2x + 3, and one standardized feature, whose least-squares weight is
//! the Pearson correlation of x and y.

use downhill::{GradientDescent, Optimizer, StopReason, Variant};
use ndarray::{Array1, Array2};

/// x = 1..5 and y = 2x + 3.
fn line() -> (Array2<f32>, Array1<f32>) {
    let x = Array2::from_shape_fn((5, 1), |(i, _)| (i + 1) as f32);
    let y = x.column(0).mapv(|v| 2.0 * v + 3.0);
    (x, y)
}

/// 2×2 matrices in float64, row-major.
type Mat2 = [[f64; 2]; 2];

fn mat_mul(a: Mat2, b: Mat2) -> Mat2 {
    [
        [
            a[0][0] * b[0][0] + a[0][1] * b[1][0],
            a[0][0] * b[0][1] + a[0][1] * b[1][1],
        ],
        [
            a[1][0] * b[0][0] + a[1][1] * b[1][0],
            a[1][0] * b[0][1] + a[1][1] * b[1][1],
        ],
    ]
}

/// (w, b) after `epochs` full-batch gradient steps of size `lr` from zero on
/// x = 1..5, y = 2x + 3, in closed form.
///
/// The loss (1/5) Σ (w x + b − y)² has the constant Hessian
/// H = (2/5) [[Σx², Σx], [Σx, 5]] = [[22, 6], [6, 2]], so one step maps the
/// error e = θ − θ* to (I − lr H) e and after k steps e_k = (I − lr H)^k e_0,
/// with θ* = (2, 3) and e_0 = −θ*.
fn line_after(epochs: usize, lr: f64) -> (f64, f64) {
    let step = [[1.0 - lr * 22.0, -lr * 6.0], [-lr * 6.0, 1.0 - lr * 2.0]];
    let mut power = [[1.0, 0.0], [0.0, 1.0]];
    for _ in 0..epochs {
        power = mat_mul(power, step);
    }
    let (e_w, e_b) = (
        power[0][0] * -2.0 + power[0][1] * -3.0,
        power[1][0] * -2.0 + power[1][1] * -3.0,
    );
    (2.0 + e_w, 3.0 + e_b)
}

fn fit_line(epochs: usize) -> downhill::Fitted {
    let (x, y) = line();
    GradientDescent::linear()
        .variant(Variant::Full)
        .optimizer(Optimizer::sgd(0.01))
        .max_epochs(epochs)
        .fit(x.view(), y.view())
        .expect("valid data and settings")
}

#[test]
fn line_after_a_thousand_epochs_is_near_two_and_three_and_on_the_closed_form_path() {
    let fitted = fit_line(1000);
    let (w, b) = (f64::from(fitted.weights()[0]), f64::from(fitted.bias()));
    // The slow eigenvalue of H is 12 − √136 ≈ 0.3377, so the error shrinks by
    // only 1 − 0.003377 per epoch: after 1,000 epochs it is still about
    // 3.4 % of the start, w ≈ 2.021 and b ≈ 2.923 (the slow eigenvector
    // points mostly along b).
    let (w_k, b_k) = line_after(1000, 0.01);
    assert!(
        (w_k - 2.021281).abs() < 1e-5 && (b_k - 2.923169).abs() < 1e-5,
        "{w_k} {b_k}"
    );
    assert!((w - 2.0).abs() < 0.05, "w = {w}");
    assert!((b - 3.0).abs() < 0.08, "b = {b}");
    assert!((w - w_k).abs() < 1e-3, "w = {w}, closed form {w_k}");
    assert!((b - b_k).abs() < 1e-3, "b = {b}, closed form {b_k}");
    assert_eq!(fitted.stop_reason(), StopReason::MaxEpochs);
    assert_eq!(fitted.history().len(), 1000);
    assert_eq!(fitted.gradient_evaluations(), 1000);
}

#[test]
fn line_within_1e4_given_enough_epochs() {
    // The epochs after which the exact (float64) iteration is within 1e-5 of
    // (2, 3): a tenth of the tolerance is left for float32 rounding.
    let epochs = (1..20_000)
        .find(|&k| {
            let (w, b) = line_after(k, 0.01);
            (w - 2.0).abs() < 1e-5 && (b - 3.0).abs() < 1e-5
        })
        .expect("the iteration contracts");
    // ln(1e-5 / 2.36) / ln(1 − 0.01 · 0.3377) ≈ 3,660.
    assert!((3000..4500).contains(&epochs), "{epochs}");
    // In float32 the run stalls near |b − 3| ≈ 4e-5: once 0.01·∂b is below
    // half an ulp of 3 (1.2e-7) the update no longer changes b. That floor
    // is under the 1e-4 asked for.
    let fitted = fit_line(epochs);
    let (w, b) = (fitted.weights()[0], fitted.bias());
    assert!((w - 2.0).abs() < 1e-4, "w = {w} after {epochs} epochs");
    assert!((b - 3.0).abs() < 1e-4, "b = {b} after {epochs} epochs");
}

#[test]
fn line_first_epochs_follow_the_update_rule_by_hand() {
    // Epoch 1 from zero: r = −y, ∂w = (2/5) Σ −y x = −(2/5)·155 = −62,
    // ∂b = (2/5) Σ −y = −(2/5)·45 = −18; w = 0.62, b = 0.18.
    let fitted = fit_line(1);
    assert!((fitted.weights()[0] - 0.62).abs() < 1e-6);
    assert!((fitted.bias() - 0.18).abs() < 1e-6);
    // The recorded loss is the one at the start of the epoch: mean of y².
    assert!((fitted.history().records()[0].loss - 445.0 / 5.0).abs() < 1e-9);
}

/// A single feature with a strong but imperfect linear relation to y.
fn noisy_line() -> (Vec<f64>, Vec<f64>) {
    let x: Vec<f64> = (0..20).map(f64::from).collect();
    let y = x.iter().map(|&v| 3.0 * v + 5.0 + 4.0 * (1.7 * v).sin()).collect();
    (x, y)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Population standard deviation.
fn sd(v: &[f64]) -> f64 {
    let m = mean(v);
    (v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let (mx, my) = (mean(x), mean(y));
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let syy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    cov / (sxx * syy).sqrt()
}

fn standardized(v: &[f64]) -> Vec<f64> {
    let (m, s) = (mean(v), sd(v));
    v.iter().map(|a| (a - m) / s).collect()
}

/// x and y both standardized in float64, then stored as float32.
fn standardized_problem() -> (Array2<f32>, Array1<f32>, f64) {
    let (x, y) = noisy_line();
    let r = pearson(&x, &y);
    let zx = standardized(&x);
    let zy = standardized(&y);
    let x = Array2::from_shape_fn((zx.len(), 1), |(i, _)| zx[i] as f32);
    let y = zy.iter().map(|&v| v as f32).collect();
    (x, y, r)
}

fn fit_standardized(lr: f32, epochs: usize) -> downhill::Fitted {
    let (x, y, _) = standardized_problem();
    GradientDescent::linear()
        .optimizer(Optimizer::sgd(lr))
        .max_epochs(epochs)
        .fit(x.view(), y.view())
        .expect("valid data and settings")
}

#[test]
fn standardized_weight_is_the_pearson_correlation() {
    let (_, _, r) = standardized_problem();
    // On standardized x and y the Hessian is 2I: each epoch at lr 0.1 keeps
    // 0.8 of the error, 0.8^200 ≈ 4e-20.
    let fitted = fit_standardized(0.1, 200);
    let w = f64::from(fitted.weights()[0]);
    assert!((w - r).abs() < 1e-5, "w = {w}, r = {r}");
    assert!(f64::from(fitted.bias()).abs() < 1e-5, "b = {}", fitted.bias());
}

#[test]
fn standardize_flag_reports_the_weight_in_original_units() {
    let (xs, ys) = noisy_line();
    let r = pearson(&xs, &ys);
    let slope = r * sd(&ys) / sd(&xs);
    let intercept = mean(&ys) - slope * mean(&xs);
    let x = Array2::from_shape_fn((xs.len(), 1), |(i, _)| xs[i] as f32);
    let y: Array1<f32> = ys.iter().map(|&v| v as f32).collect();
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(0.1))
        .standardize(true)
        .max_epochs(300)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    let (w, b) = (f64::from(fitted.weights()[0]), f64::from(fitted.bias()));
    assert!(
        (w - slope).abs() < 1e-4 * slope.abs(),
        "w = {w}, r·sy/sx = {slope}"
    );
    assert!(
        (b - intercept).abs() < 1e-4 * intercept.abs().max(1.0),
        "b = {b}, {intercept}"
    );
}

#[test]
fn learning_rate_1_05_diverges_on_standardized_data() {
    let (_, _, r) = standardized_problem();
    let fitted = fit_standardized(1.05, 500);
    // Each epoch multiplies the error by 1 − 2·1.05 = −1.1, so the loss at
    // the start of epoch k is 1 − r² + r²·1.21^(k−1) (the first is 1). The
    // run diverges at the first k whose loss exceeds 1e6 times the first.
    let loss = |k: i32| 1.0 - r * r + r * r * 1.21f64.powi(k - 1);
    let expected = (1..).find(|&k| loss(k) > 1e6).expect("the loss grows");
    assert_eq!(expected, 74);
    assert_eq!(fitted.stop_reason(), StopReason::Diverged { epoch: 74 });
    assert_eq!(fitted.history().len(), 74);
    // The parameters are those of the start of epoch 74: w = r(1 − (−1.1)^73).
    let w = f64::from(fitted.weights()[0]);
    let expected_w = r * (1.0 - (-1.1f64).powi(73));
    assert!(
        w.is_finite() && (w - expected_w).abs() < 1e-3 * expected_w,
        "{w} vs {expected_w}"
    );
    let losses = fitted.history().losses();
    assert!(
        losses.windows(2).all(|p| p[1] > p[0]),
        "the loss grows every epoch"
    );
}

#[test]
fn learning_rate_0_1_converges_on_standardized_data() {
    let (x, y, r) = standardized_problem();
    let fitted = fit_standardized(0.1, 100);
    assert_eq!(fitted.stop_reason(), StopReason::MaxEpochs);
    // Closed form of the float32 data: w* = Σ x y / Σ x², in float64.
    let sxy: f64 = x
        .column(0)
        .iter()
        .zip(&y)
        .map(|(&a, &b)| f64::from(a) * f64::from(b))
        .sum();
    let sxx: f64 = x.column(0).iter().map(|&a| f64::from(a).powi(2)).sum();
    let w = f64::from(fitted.weights()[0]);
    assert!((w - sxy / sxx).abs() < 1e-5, "w = {w}, closed form {}", sxy / sxx);
    assert!((w - r).abs() < 1e-5);
    // The loss falls to the optimum 1 − r².
    let last = fitted.history().final_loss().expect("epochs ran");
    assert!((last - (1.0 - r * r)).abs() < 1e-5, "{last}");
}

#[test]
fn learning_rate_0_01_is_still_far_after_60_epochs() {
    let (x, y, r) = standardized_problem();
    let fitted = fit_standardized(0.01, 60);
    // Each epoch keeps 1 − 2·0.01 = 0.98 of the error: w_60 = r(1 − 0.98^60),
    // 0.98^60 ≈ 0.298 of the way still to go.
    let kept = 0.98f64.powi(60);
    let w = f64::from(fitted.weights()[0]);
    assert!((w - r * (1.0 - kept)).abs() < 1e-4, "w = {w}");
    assert!((r - w) > 0.29 * r, "w = {w} is too close to r = {r}");
    // The loss at the fitted parameters is 1 − r² + r²·0.98^120, more than
    // twice the optimum 1 − r² for this strongly correlated data.
    assert!(r > 0.98, "the data are meant to be strongly correlated: r = {r}");
    let optimal = 1.0 - r * r;
    let b = f64::from(fitted.bias());
    let loss: f64 = x
        .column(0)
        .iter()
        .zip(&y)
        .map(|(&a, &t)| (w * f64::from(a) + b - f64::from(t)).powi(2))
        .sum::<f64>()
        / y.len() as f64;
    assert!((loss - (optimal + r * r * kept * kept)).abs() < 1e-4, "{loss}");
    assert!(loss > 2.0 * optimal, "loss {loss}, optimum {optimal}");
}
