//! Full batch, stochastic and mini-batch: where they end up, and how many
//! gradients they evaluate.

use downhill::{reference, GradientDescent, Model, Optimizer, Schedule, StopReason, Synthetic, Variant};
use ndarray::{array, Array1, Array2};

fn data() -> (Array2<f32>, Array1<f32>) {
    let s = Synthetic::generate(Model::Linear, 300, 3, 0.5, 7).expect("valid sizes");
    (s.x, s.y)
}

/// The float64 loss at the fitted parameters and at the closed-form optimum.
fn losses(fitted: &downhill::Fitted, x: &Array2<f32>, y: &Array1<f32>) -> (f64, f64) {
    let at = |w: Array1<f32>, b: f32| {
        reference::gradient(Model::Linear, x.view(), y.view(), w.view(), b, 0.0)
            .expect("valid data")
            .loss
    };
    let (w_star, b_star) = reference::least_squares(x.view(), y.view(), 0.0).expect("valid data");
    let optimum = at(w_star.mapv(|v| v as f32), b_star as f32);
    (at(fitted.weights().to_owned(), fitted.bias()), optimum)
}

#[test]
fn stochastic_with_a_decaying_rate_reaches_the_optimal_loss_within_one_percent() {
    let (x, y) = data();
    let fitted = GradientDescent::linear()
        .variant(Variant::Stochastic)
        .optimizer(Optimizer::sgd(0.01))
        .schedule(Schedule::exponential(0.9))
        .max_epochs(40)
        .seed(3)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    let (loss, optimum) = losses(&fitted, &x, &y);
    assert!(loss <= 1.01 * optimum, "loss {loss}, optimum {optimum}");
    assert!(
        loss >= optimum * (1.0 - 1e-9),
        "nothing beats the closed form: {loss} < {optimum}"
    );
    assert_eq!(fitted.gradient_evaluations(), 40 * 300);
}

#[test]
fn mini_batch_with_a_decaying_rate_reaches_the_optimal_loss_within_one_percent() {
    let (x, y) = data();
    let fitted = GradientDescent::linear()
        .variant(Variant::MiniBatch(32))
        .optimizer(Optimizer::sgd(0.05))
        .schedule(Schedule::step_decay(20, 0.3))
        .max_epochs(100)
        .seed(3)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    let (loss, optimum) = losses(&fitted, &x, &y);
    assert!(loss <= 1.01 * optimum, "loss {loss}, optimum {optimum}");
    // 300 rows in batches of 32: nine full batches and one of 12.
    assert_eq!(fitted.gradient_evaluations(), 100 * 10);
}

#[test]
fn mini_batch_with_adam_and_inverse_scaling_reaches_the_optimal_loss_within_one_percent() {
    let (x, y) = data();
    let fitted = GradientDescent::linear()
        .variant(Variant::MiniBatch(50))
        .optimizer(Optimizer::adam(0.1))
        .schedule(Schedule::inverse_scaling(1.0))
        .max_epochs(200)
        .seed(11)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    let (loss, optimum) = losses(&fitted, &x, &y);
    assert!(loss <= 1.01 * optimum, "loss {loss}, optimum {optimum}");
}

#[test]
fn full_batch_evaluates_one_gradient_per_epoch() {
    let (x, y) = data();
    let fitted = GradientDescent::linear()
        .max_epochs(17)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    assert_eq!(fitted.gradient_evaluations(), 17);
    assert_eq!(fitted.history().len(), 17);
    let records = fitted.history().records();
    assert!(records.iter().enumerate().all(|(i, r)| r.epoch == i + 1));
    assert!(records.windows(2).all(|p| p[0].seconds <= p[1].seconds) && records[0].seconds >= 0.0);
}

#[test]
fn mini_batch_evaluates_epochs_times_ceil_n_over_b_gradients() {
    let (x, y) = data();
    for (batch, per_epoch) in [(1, 300), (7, 43), (100, 3), (299, 2), (300, 1), (1000, 1)] {
        let fitted = GradientDescent::linear()
            .variant(Variant::MiniBatch(batch))
            .max_epochs(4)
            .fit(x.view(), y.view())
            .expect("valid data and settings");
        assert_eq!(fitted.gradient_evaluations(), 4 * per_epoch, "batch {batch}");
        assert_eq!(fitted.history().len(), 4);
    }
    let stochastic = GradientDescent::linear()
        .variant(Variant::Stochastic)
        .max_epochs(2)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    assert_eq!(stochastic.gradient_evaluations(), 600);
}

#[test]
fn batch_sizes_of_the_variants() {
    assert_eq!(Variant::Full.batch_size(), None);
    assert_eq!(Variant::Stochastic.batch_size(), Some(1));
    assert_eq!(Variant::MiniBatch(8).batch_size(), Some(8));
    assert_eq!(Variant::default(), Variant::Full);
}

#[test]
fn the_last_shorter_batch_takes_a_full_step() {
    // Five identical rows (x = 1, y = 1): every batch has the same mean
    // gradient whatever its size, so the result depends only on the number
    // of steps, whichever rows the permutation puts in each batch. With
    // batches of 2 an epoch takes 3 steps (2, 2 and the last row alone).
    // Each SGD step maps u = w + b to u − lr·(2(u − 1) + 2(u − 1)), so
    // 1 − u ← (1 − 4 lr)(1 − u) and w = b = u / 2 throughout.
    let x = Array2::from_elem((5, 1), 1.0f32);
    let y = Array1::from_elem(5, 1.0f32);
    let lr = 0.1f64;
    let fitted = GradientDescent::linear()
        .variant(Variant::MiniBatch(2))
        .optimizer(Optimizer::sgd(lr as f32))
        .max_epochs(1)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    assert_eq!(fitted.gradient_evaluations(), 3);
    let u = 1.0 - (1.0 - 4.0 * lr).powi(3);
    assert!(
        (f64::from(fitted.weights()[0]) - u / 2.0).abs() < 1e-6,
        "{}",
        fitted.weights()[0]
    );
    assert!(
        (f64::from(fitted.bias()) - u / 2.0).abs() < 1e-6,
        "{}",
        fitted.bias()
    );
    // Dropping the last row, or averaging it over the nominal batch size of
    // 2, would give these instead.
    let two_steps = 1.0 - (1.0 - 4.0 * lr).powi(2);
    let half_last = 1.0 - (1.0 - 4.0 * lr).powi(2) * (1.0 - 2.0 * lr);
    assert!((u - two_steps).abs() > 0.05 && (u - half_last).abs() > 0.05);
}

#[test]
fn epoch_loss_is_the_mean_of_the_batch_losses_at_their_start() {
    // Identical rows again: the batch loss at u is (u − 1)², each step
    // multiplies 1 − u by 0.6, so the epoch's three batch losses are
    // 1, 0.36, 0.1296, and the record is their mean.
    let x = Array2::from_elem((5, 1), 1.0f32);
    let y = Array1::from_elem(5, 1.0f32);
    let fitted = GradientDescent::linear()
        .variant(Variant::MiniBatch(2))
        .optimizer(Optimizer::sgd(0.1))
        .max_epochs(1)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    let expected = (1.0 + 0.36 + 0.1296) / 3.0;
    let got = fitted.history().records()[0].loss;
    assert!((got - expected).abs() < 1e-6, "{got} vs {expected}");
}

#[test]
fn stochastic_is_mini_batch_of_one() {
    let (x, y) = data();
    let run = |variant| {
        GradientDescent::linear()
            .variant(variant)
            .max_epochs(3)
            .seed(5)
            .fit(x.view(), y.view())
            .expect("valid data and settings")
    };
    let (a, b) = (run(Variant::Stochastic), run(Variant::MiniBatch(1)));
    assert_eq!(a.weights(), b.weights());
    assert_eq!(a.bias().to_bits(), b.bias().to_bits());
    assert_eq!(a.history().losses(), b.history().losses());
}

#[test]
fn a_batch_as_large_as_the_data_is_the_full_batch_up_to_row_order() {
    // One batch of every row, in a shuffled order: the same step as the full
    // batch up to the order of the float32 sums.
    let x = array![[1.0f32, 0.5], [2.0, -1.0], [3.0, 0.25], [4.0, 2.0]];
    let y = array![1.0f32, 2.0, 2.5, 5.0];
    let run = |variant| {
        GradientDescent::linear()
            .variant(variant)
            .optimizer(Optimizer::sgd(0.02))
            .max_epochs(50)
            .fit(x.view(), y.view())
            .expect("valid data and settings")
    };
    let (full, batch) = (run(Variant::Full), run(Variant::MiniBatch(4)));
    assert_eq!(batch.stop_reason(), StopReason::MaxEpochs);
    for (a, b) in full.weights().iter().zip(batch.weights()) {
        assert!((a - b).abs() < 1e-5, "{a} {b}");
    }
    assert!((full.bias() - batch.bias()).abs() < 1e-5);
}
