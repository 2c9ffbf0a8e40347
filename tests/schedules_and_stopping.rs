//! Learning-rate schedules against their closed forms, early stopping, and
//! warm starts.

use downhill::{reference, GradientDescent, Model, Optimizer, Schedule, StopReason, Synthetic};
use ndarray::{array, Array1, Array2};

/// One feature and a target, both standardized in float64: with SGD at rate
/// η from zero the error shrinks by 1 − 2η per epoch, so the loss at the
/// start of epoch k is 1 − r² + r² (1 − 2η)^(2(k−1)).
fn standardized_problem() -> (Array2<f32>, Array1<f32>, f64) {
    let x: Vec<f64> = (0..20).map(f64::from).collect();
    let y: Vec<f64> = x.iter().map(|&v| 3.0 * v + 5.0 + 4.0 * (1.7 * v).sin()).collect();
    let standardize = |v: &[f64]| -> Vec<f64> {
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        let s = (v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / n).sqrt();
        v.iter().map(|a| (a - m) / s).collect()
    };
    let (zx, zy) = (standardize(&x), standardize(&y));
    let r = zx.iter().zip(&zy).map(|(a, b)| a * b).sum::<f64>() / zx.len() as f64;
    let x = Array2::from_shape_fn((zx.len(), 1), |(i, _)| zx[i] as f32);
    let y = zy.iter().map(|&v| v as f32).collect();
    (x, y, r)
}

/// scikit-learn's `tol` / `n_iter_no_change` rule on a loss sequence: the
/// 1-based epoch at which it stops, if it does.
fn sklearn_stop(losses: &[f64], tol: f64, patience: usize) -> Option<usize> {
    let (mut best, mut count) = (f64::INFINITY, 0);
    for (i, &loss) in losses.iter().enumerate() {
        if loss > best - tol {
            count += 1;
        } else {
            count = 0;
        }
        best = best.min(loss);
        if count >= patience {
            return Some(i + 1);
        }
    }
    None
}

#[test]
fn early_stopping_fires_when_the_improvement_falls_below_the_tolerance() {
    let (x, y, r) = standardized_problem();
    let closed_form = |k: i32| 1.0 - r * r + r * r * 0.64f64.powi(k - 1);
    // Improvement from epoch k − 1 to k: r²·0.36·0.64^(k−2). A tolerance
    // halfway (geometrically) between those of epochs 10 and 11 makes epoch
    // 11 the first without enough improvement, with a 20 % margin either side.
    let tol = r * r * 0.36 * 0.64f64.powf(8.5);
    let patience = 3;
    let losses: Vec<f64> = (1..=100).map(closed_form).collect();
    let expected = sklearn_stop(&losses, tol, patience).expect("the loss flattens");
    assert_eq!(expected, 13, "epochs 11, 12 and 13 improve too little");
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(0.1))
        .tolerance(tol)
        .patience(patience)
        .max_epochs(100)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    assert_eq!(fitted.stop_reason(), StopReason::Converged { epoch: 13 });
    assert_eq!(fitted.history().len(), 13);
    for (record, expected) in fitted.history().records().iter().zip(&losses) {
        assert!((record.loss - expected).abs() < 1e-6, "{record:?} vs {expected}");
    }
}

#[test]
fn early_stopping_on_a_flat_loss_waits_exactly_patience_epochs() {
    // From the optimum the loss is flat: epoch 1 sets the best, every later
    // epoch improves by less than the tolerance.
    let (x, y, r) = standardized_problem();
    for patience in [1, 4, 7] {
        let fitted = GradientDescent::linear()
            .optimizer(Optimizer::sgd(0.1))
            .warm_start(array![r as f32], 0.0)
            .tolerance(1e-6)
            .patience(patience)
            .max_epochs(100)
            .fit(x.view(), y.view())
            .expect("valid data and settings");
        assert_eq!(
            fitted.stop_reason(),
            StopReason::Converged { epoch: 1 + patience }
        );
    }
}

#[test]
fn without_a_tolerance_the_run_goes_to_max_epochs() {
    let (x, y, r) = standardized_problem();
    let fitted = GradientDescent::linear()
        .warm_start(array![r as f32], 0.0)
        .max_epochs(30)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    assert_eq!(fitted.stop_reason(), StopReason::MaxEpochs);
    assert_eq!(fitted.history().len(), 30);
}

#[test]
fn a_tolerance_never_met_in_time_ends_at_max_epochs() {
    // At lr 0.01 every epoch improves the loss by more than 1e-4 for a long time.
    let (x, y, _) = standardized_problem();
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(0.01))
        .tolerance(1e-4)
        .max_epochs(40)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    assert_eq!(fitted.stop_reason(), StopReason::MaxEpochs);
}

/// The learning rates a fit records, epoch by epoch.
fn recorded_rates(schedule: Schedule, lr: f32, epochs: usize) -> Vec<f64> {
    let (x, y, _) = standardized_problem();
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(lr))
        .schedule(schedule)
        .max_epochs(epochs)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    let records = fitted.history().records();
    assert_eq!(records.len(), epochs);
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record.epoch, i + 1);
    }
    records.iter().map(|r| r.learning_rate).collect()
}

/// Compares recorded rates with `formula(e)`, e counted from 0.
fn assert_rates(got: &[f64], formula: impl Fn(f64) -> f64, what: &str) {
    for (e, &rate) in got.iter().enumerate() {
        let expected = formula(e as f64);
        assert!(
            (rate - expected).abs() <= 1e-12 * expected.abs().max(1e-300),
            "{what}, epoch {}: {rate} vs {expected}",
            e + 1
        );
    }
}

#[test]
fn constant_schedule_keeps_the_base_rate() {
    let eta = f64::from(0.1f32);
    assert_rates(
        &recorded_rates(Schedule::constant(), 0.1, 10),
        |_| eta,
        "constant",
    );
    assert_eq!(Schedule::default(), Schedule::constant());
}

#[test]
fn step_decay_follows_its_closed_form() {
    // PyTorch StepLR: η₀ · γ^⌊e / step⌋.
    let eta = f64::from(0.1f32);
    let got = recorded_rates(Schedule::step_decay(3, 0.5), 0.1, 11);
    assert_rates(&got, |e| eta * 0.5f64.powf((e / 3.0).floor()), "step decay");
    assert_eq!(got[2], eta);
    assert_eq!(got[3], eta / 2.0);
    assert_eq!(got[9], eta / 8.0);
}

#[test]
fn exponential_follows_its_closed_form() {
    // PyTorch ExponentialLR: η₀ · γ^e.
    let eta = f64::from(0.1f32);
    let got = recorded_rates(Schedule::exponential(0.9), 0.1, 12);
    assert_rates(&got, |e| eta * 0.9f64.powf(e), "exponential");
}

#[test]
fn inverse_scaling_follows_its_closed_form() {
    // scikit-learn invscaling with t the 1-based epoch: η₀ / t^power.
    let eta = f64::from(0.1f32);
    for power in [0.25, 0.5, 1.0] {
        let got = recorded_rates(Schedule::inverse_scaling(power), 0.1, 9);
        assert_rates(&got, |e| eta / (e + 1.0).powf(power), "inverse scaling");
    }
    assert_rates(
        &recorded_rates(Schedule::inverse_scaling(0.0), 0.1, 5),
        |_| eta,
        "power 0 is constant",
    );
}

#[test]
fn cosine_follows_its_closed_form() {
    // PyTorch CosineAnnealingLR: min + (η₀ − min)(1 + cos(π e / T)) / 2.
    let eta = f64::from(0.1f32);
    let (min, period) = (0.001, 8);
    let got = recorded_rates(Schedule::cosine(min, period), 0.1, 12);
    let formula = |e: f64| min + (eta - min) * (1.0 + (std::f64::consts::PI * e / period as f64).cos()) / 2.0;
    assert_rates(&got, formula, "cosine");
    assert!((got[4] - (eta + min) / 2.0).abs() < 1e-15, "half way at T/2");
    assert!((got[8] - min).abs() < 1e-15, "the minimum at T");
}

#[test]
fn the_scheduled_rate_is_the_one_the_update_uses() {
    // SGD on y = 2x + 3 (x = 1..5) from zero with the rate halved every
    // epoch: three steps by hand with the gradient (2/5) Σ r (x, 1).
    let x = Array2::from_shape_fn((5, 1), |(i, _)| (i + 1) as f32);
    let y = x.column(0).mapv(|v| 2.0 * v + 3.0);
    let eta = f64::from(0.02f32);
    let (mut w, mut b) = (0.0f64, 0.0f64);
    for e in 0..3 {
        let (mut gw, mut gb) = (0.0, 0.0);
        for i in 1..=5 {
            let xi = f64::from(i);
            let r = w * xi + b - (2.0 * xi + 3.0);
            gw += 0.4 * r * xi;
            gb += 0.4 * r;
        }
        let lr = eta * 0.5f64.powi(e);
        w -= lr * gw;
        b -= lr * gb;
    }
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(0.02))
        .schedule(Schedule::step_decay(1, 0.5))
        .max_epochs(3)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    assert!(
        (f64::from(fitted.weights()[0]) - w).abs() < 1e-5,
        "{} vs {w}",
        fitted.weights()[0]
    );
    assert!(
        (f64::from(fitted.bias()) - b).abs() < 1e-5,
        "{} vs {b}",
        fitted.bias()
    );
}

/// PyTorch's ReduceLROnPlateau (mode min, relative threshold 1e-4, no
/// cooldown, eps 1e-8) on a loss sequence: the rate of each epoch.
fn plateau_rates(losses: &[f64], eta: f64, factor: f64, patience: usize) -> Vec<f64> {
    let (mut best, mut bad, mut lr) = (f64::INFINITY, 0, eta);
    let mut rates = vec![];
    for &loss in losses {
        rates.push(lr);
        if loss < best * (1.0 - 1e-4) {
            best = loss;
            bad = 0;
        } else {
            bad += 1;
        }
        if bad > patience {
            let reduced = lr * factor;
            if lr - reduced > 1e-8 {
                lr = reduced;
            }
            bad = 0;
        }
    }
    rates
}

#[test]
fn reduce_on_plateau_reduces_on_a_flat_loss() {
    // From the optimum the loss never improves: with patience 2 the rate is
    // cut after every third epoch without improvement.
    let (x, y, r) = standardized_problem();
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(0.1))
        .schedule(Schedule::reduce_on_plateau(0.5, 2))
        .warm_start(array![r as f32], 0.0)
        .max_epochs(11)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    let got: Vec<f64> = fitted
        .history()
        .records()
        .iter()
        .map(|r| r.learning_rate)
        .collect();
    let eta = f64::from(0.1f32);
    let by_hand = [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125].map(|f| eta * f);
    assert_eq!(got, by_hand);
    assert_eq!(got, plateau_rates(&fitted.history().losses(), eta, 0.5, 2));
}

#[test]
fn reduce_on_plateau_keeps_the_rate_while_the_loss_improves() {
    // From zero at lr 0.1 the loss falls by a factor of about 0.64 of the
    // excess every epoch, far more than 1e-4 relative.
    let (x, y, _) = standardized_problem();
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(0.1))
        .schedule(Schedule::reduce_on_plateau(0.5, 0))
        .max_epochs(15)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    let losses = fitted.history().losses();
    let got: Vec<f64> = fitted
        .history()
        .records()
        .iter()
        .map(|r| r.learning_rate)
        .collect();
    assert_eq!(got, plateau_rates(&losses, f64::from(0.1f32), 0.5, 0));
    assert!(got[..10].iter().all(|&r| r == f64::from(0.1f32)), "{got:?}");
}

#[test]
fn reduce_on_plateau_skips_reductions_smaller_than_eps() {
    // PyTorch skips a reduction of less than 1e-8: at a rate of 1.5e-8 and
    // factor 0.5 the cut would be 7.5e-9.
    let (x, y, r) = standardized_problem();
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(1.5e-8))
        .schedule(Schedule::reduce_on_plateau(0.5, 0))
        .warm_start(array![r as f32], 0.0)
        .max_epochs(6)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    let eta = f64::from(1.5e-8f32);
    assert!(fitted.history().records().iter().all(|r| r.learning_rate == eta));
}

/// Linear data whose features have very different scales and offsets.
fn scaled_data() -> (Array2<f32>, Array1<f32>) {
    let s = Synthetic::generate(Model::Linear, 200, 3, 0.5, 17).expect("valid sizes");
    let mut x = s.x;
    for (j, (scale, offset)) in [(10.0f32, 5.0f32), (0.1, -3.0), (1.0, 100.0)]
        .into_iter()
        .enumerate()
    {
        x.column_mut(j).mapv_inplace(|v| v * scale + offset);
    }
    (x, s.y)
}

fn optimum(x: &Array2<f32>, y: &Array1<f32>) -> (Array1<f32>, f32, f64) {
    let (w, b) = reference::least_squares(x.view(), y.view(), 0.0).expect("valid data");
    let (w, b) = (w.mapv(|v| v as f32), b as f32);
    let loss = reference::gradient(Model::Linear, x.view(), y.view(), w.view(), b, 0.0)
        .expect("valid data")
        .loss;
    (w, b, loss)
}

fn assert_stays_at_optimum(fitted: &downhill::Fitted, w: &Array1<f32>, b: f32, loss: f64) {
    let first = fitted.history().records()[0].loss;
    assert!(
        (first - loss).abs() < 1e-6 * loss,
        "first epoch {first}, optimum {loss}"
    );
    for (got, want) in fitted.weights().iter().zip(w) {
        assert!((got - want).abs() < 1e-4 * want.abs().max(1.0), "{got} vs {want}");
    }
    assert!(
        (fitted.bias() - b).abs() < 1e-4 * b.abs().max(1.0),
        "{} vs {b}",
        fitted.bias()
    );
    for record in fitted.history().records() {
        assert!((record.loss - loss).abs() < 1e-5 * loss, "{record:?}");
    }
}

#[test]
fn warm_start_from_the_optimum_stays_there() {
    let (x, y) = scaled_data();
    let (w, b, loss) = optimum(&x, &y);
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(1e-4))
        .warm_start(w.clone(), b)
        .max_epochs(20)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    assert_stays_at_optimum(&fitted, &w, b, loss);
}

#[test]
fn standardize_with_warm_start_in_original_units_stays_at_the_optimum() {
    let (x, y) = scaled_data();
    let (w, b, loss) = optimum(&x, &y);
    // The warm start is in the units of x; the first epoch's loss, taken on
    // the standardized data, is the same because the predictions are.
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(0.1))
        .standardize(true)
        .warm_start(w.clone(), b)
        .max_epochs(20)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    assert_stays_at_optimum(&fitted, &w, b, loss);
}

#[test]
fn standardize_with_warm_start_elsewhere_moves_to_the_optimum() {
    // A start away from the optimum, in original units: its first loss is
    // the loss of those parameters on the original data.
    let (x, y) = scaled_data();
    let (w, b, loss) = optimum(&x, &y);
    let start = array![0.1f32, 2.0, -0.5];
    let start_loss = reference::gradient(Model::Linear, x.view(), y.view(), start.view(), 1.0, 0.0)
        .expect("valid data")
        .loss;
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(0.1))
        .standardize(true)
        .warm_start(start, 1.0)
        .max_epochs(300)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    let first = fitted.history().records()[0].loss;
    assert!(
        (first - start_loss).abs() < 1e-5 * start_loss,
        "{first} vs {start_loss}"
    );
    let last = fitted.history().final_loss().expect("epochs ran");
    assert!((last - loss).abs() < 1e-5 * loss, "{last} vs {loss}");
    for (got, want) in fitted.weights().iter().zip(&w) {
        assert!((got - want).abs() < 1e-3 * want.abs().max(1.0), "{got} vs {want}");
    }
    assert!((fitted.bias() - b).abs() < 1e-3 * b.abs().max(1.0));
}
