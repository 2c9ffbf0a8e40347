//! The stop rules that decide between convergence and divergence under
//! early stopping, and the parameters a stopped run keeps.

use downhill::EstimatorError;
use downhill::{reference, Device, GradientDescent, Model, Optimizer, StopReason, Synthetic};
use ndarray::{Array1, Array2};

/// Two nearly equal features: the Hessian of the mean squared error has
/// the eigenvalue 2 · 2 = 4 along their sum (the factor 2 of the loss
/// times the pair's eigenvalue 2), so plain gradient descent at lr 0.75
/// multiplies the error along it by |1 − 0.75 · 4| = 2 each epoch and the
/// loss by about 4: too slowly for the divergence factor (1e6) within five
/// epochs.
fn nearly_collinear() -> (Array2<f32>, Array1<f32>) {
    let n = 400;
    let x = Array2::from_shape_fn((n, 2), |(i, j)| {
        let t = (i as f32 / n as f32 - 0.5) * 3.4641; // unit variance
        let wiggle = if (i * 7 + j) % 2 == 0 { 1e-3 } else { -1e-3 };
        t + wiggle
    });
    let y = x.column(0).mapv(|a| 3.0 * a + 1.0);
    (x, y)
}

#[test]
fn a_loss_rising_through_the_patience_window_is_divergence() {
    let (x, y) = nearly_collinear();
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(0.75))
        .tolerance(1e-6)
        .patience(5)
        .max_epochs(5000)
        .device(Device::Cpu)
        .fit(x.view(), y.view())
        .unwrap();
    let losses = fitted.history().losses();
    assert!(
        matches!(fitted.stop_reason(), StopReason::Diverged { .. }),
        "{} with losses {losses:?}",
        fitted.stop_reason()
    );
    // Stopped by the window, long before the factor 1e6 would have fired.
    assert!(losses.last().unwrap() < &(1e6 * losses[0]), "{losses:?}");
    // It keeps its best epoch's parameters, and says which epoch that was.
    let best = fitted.best_epoch().expect("early stopping chose the parameters");
    let lowest = losses.iter().cloned().fold(f64::INFINITY, f64::min);
    assert_eq!(losses[best - 1], lowest);
}

#[test]
fn a_converged_full_batch_run_keeps_the_parameters_its_best_loss_was_measured_at() {
    let data = Synthetic::generate(Model::Linear, 300, 3, 0.5, 4).unwrap();
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(0.05))
        .tolerance(1e-4)
        .patience(3)
        .max_epochs(10_000)
        .device(Device::Cpu)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    let StopReason::Converged { epoch } = fitted.stop_reason() else {
        panic!("expected convergence, got {}", fitted.stop_reason());
    };
    let best = fitted.best_epoch().expect("early stopping chose the parameters");
    assert!(best <= epoch);
    // The full batch's loss of an epoch is taken at its start: the kept
    // parameters have exactly that loss (float64 reference, f32 rounding).
    let at_kept = reference::gradient(
        Model::Linear,
        data.x.view(),
        data.y.view(),
        fitted.weights(),
        fitted.bias(),
        0.0,
    )
    .unwrap()
    .loss;
    let recorded = fitted.history().records()[best - 1].loss;
    assert!(
        (at_kept - recorded).abs() <= 1e-5 * recorded,
        "{at_kept} vs {recorded}"
    );
}

#[test]
fn without_early_stopping_no_best_epoch_is_chosen() {
    let data = Synthetic::generate(Model::Linear, 100, 2, 0.5, 4).unwrap();
    let fitted = GradientDescent::linear()
        .max_epochs(20)
        .device(Device::Cpu)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    assert_eq!(fitted.stop_reason(), StopReason::MaxEpochs);
    assert_eq!(fitted.best_epoch(), None);
}

#[test]
fn early_stopping_on_held_out_rows_watches_their_loss() {
    // Many noisy rows and few features: the training loss keeps falling a
    // little while the held-out loss stops improving.
    let data = Synthetic::generate(Model::Linear, 400, 3, 1.0, 8).unwrap();
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(0.05))
        .validation_fraction(0.25)
        .tolerance(1e-4)
        .patience(3)
        .max_epochs(5000)
        .device(Device::Cpu)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    let records = fitted.history().records();
    assert!(records
        .iter()
        .all(|r| r.validation_loss.is_some_and(f64::is_finite)));
    assert!(
        matches!(fitted.stop_reason(), StopReason::Converged { .. }),
        "{}",
        fitted.stop_reason()
    );
    // The parameters kept are those of the lowest held-out loss.
    let best = fitted.best_epoch().unwrap();
    let lowest = records
        .iter()
        .map(|r| r.validation_loss.unwrap())
        .fold(f64::INFINITY, f64::min);
    assert_eq!(records[best - 1].validation_loss, Some(lowest));
    // The held-out loss is the mean squared error of the fitted model on
    // the rows the seeded split held out.
    let split = downhill::data::train_test_split(data.x.view(), data.y.view(), 0.25, 0, false).unwrap();
    let predicted = fitted.predict(split.x_test.view()).unwrap();
    let mse = downhill::metrics::mse(split.y_test.view(), predicted.view()).unwrap();
    assert!((mse - lowest).abs() <= 1e-4 * lowest, "{mse} vs {lowest}");
    assert!(matches!(
        GradientDescent::linear().validation_fraction(1.0).validate(),
        Err(downhill::Error::Estimator(EstimatorError::InvalidValidationFraction { value })) if value == 1.0
    ));
}

/// The largest change of one parameter between two epochs' ends over the
/// largest magnitude at the second.
fn relative_change(before: &(Array1<f32>, f32), after: &(Array1<f32>, f32)) -> f64 {
    let flat =
        |(w, b): &(Array1<f32>, f32)| -> Vec<f64> { w.iter().chain([b]).map(|&v| f64::from(v)).collect() };
    let (before, after) = (flat(before), flat(after));
    let change = before
        .iter()
        .zip(&after)
        .map(|(a, b)| (b - a).abs())
        .fold(0.0, f64::max);
    change / after.iter().map(|v| v.abs()).fold(0.0, f64::max)
}

#[test]
fn the_parameter_tolerance_stops_once_the_parameters_settle_for_the_patience() {
    let data = Synthetic::generate(Model::Linear, 300, 3, 0.5, 4).unwrap();
    let (tolerance, patience) = (1e-5, 3);
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(0.05))
        .parameter_tolerance(tolerance)
        .patience(patience)
        .max_epochs(10_000)
        .track_parameters(true)
        .device(Device::Cpu)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    let StopReason::Converged { epoch } = fitted.stop_reason() else {
        panic!("expected convergence, got {}", fitted.stop_reason());
    };
    // Without early stopping on the loss, the run keeps its last epoch.
    assert_eq!(fitted.best_epoch(), None);
    let path = fitted.history().parameters();
    assert_eq!(path.len(), epoch);
    let changes: Vec<f64> = path
        .windows(2)
        .map(|pair| relative_change(&pair[0], &pair[1]))
        .collect();
    // The last `patience` epochs moved less than the tolerance; the one
    // before them did not (else the run would have stopped earlier).
    let (before, last) = changes.split_at(changes.len() - patience);
    assert!(last.iter().all(|&c| c <= tolerance), "{last:?}");
    assert!(
        before.last().is_some_and(|&c| c > tolerance),
        "{:?}",
        before.last()
    );
    assert_eq!(fitted.weights(), path[epoch - 1].0);
    // The closed form is near: plain descent's error is at most κ times its
    // last step.
    let (w, _) = reference::least_squares(data.x.view(), data.y.view(), 0.0).unwrap();
    for (found, expected) in fitted.weights().iter().zip(&w) {
        assert!((f64::from(*found) - expected).abs() <= 1e-3 * expected.abs().max(1.0));
    }
}

/// Where a mini-batch Adam fit's parameters wander around the optimum at
/// learning rate `rate` (issue 23): near it, the mean gradient is about 0,
/// so Adam's second moment is the variance σ_g² of a coordinate's batch
/// gradient and its steps are `rate` · (noise)/σ_g: a preconditioned SGD
/// whose parameter j settles with variance `rate` · σ_g / (2 h_j), h_j the
/// curvature. For the squared error on standard-normal features (h = 2 per
/// coordinate, bias included) with residuals of standard deviation σ, a
/// row's gradient 2 x r has standard deviation 2σ and a batch of B rows'
/// σ_g = 2σ/√B (rows drawn with replacement); each coordinate then adds
/// h_j/2 · variance = `rate` · σ/(2√B) to the expected loss, and the d + 1
/// coordinates `(d + 1) · rate · σ / (2√B)`. The fit draws a permutation
/// every epoch instead, whose batch gradients at the optimum sum to zero
/// over the epoch: its epochs end nearer the optimum than that, so this
/// expected excess bounds where an epoch's end lands at that rate.
fn adam_noise_floor(rate: f64, coordinates: usize, sigma: f64, batch: usize) -> f64 {
    coordinates as f64 * rate * sigma / (2.0 * (batch as f64).sqrt())
}

/// The float64 loss of `fitted`'s parameters on `x`, `y`.
fn loss_at(fitted: &downhill::Fitted, x: &Array2<f32>, y: &Array1<f32>) -> f64 {
    reference::gradient(
        Model::Linear,
        x.view(),
        y.view(),
        fitted.weights(),
        fitted.bias(),
        0.0,
    )
    .unwrap()
    .loss
}

#[test]
fn a_mini_batch_adam_fit_under_early_stopping_ends_within_the_noise_of_its_cut_rate() {
    let (rows, features, sigma, batch, rate) = (4096, 4, 1.0, 32, 0.01);
    let data = Synthetic::generate(Model::Linear, rows, features, sigma as f32, 0).unwrap();
    let optimum = GradientDescent::linear()
        .solver(downhill::Solver::lbfgs())
        .device(Device::Cpu)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    let best = loss_at(&optimum, &data.x, &data.y);
    // The library's defaults but for the variant, the rate, and early
    // stopping at the command line's tolerance (1e-7).
    let fitted = GradientDescent::linear()
        .variant(downhill::Variant::MiniBatch(batch))
        .optimizer(Optimizer::adam(rate as f32))
        .tolerance(1e-7)
        .max_epochs(1000)
        .device(Device::Cpu)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    let excess = loss_at(&fitted, &data.x, &data.y) - best;
    // The default rule halves the rate 3 times before it stops: within the
    // noise of rate / 8. (Stopping at the first stall, at the full rate,
    // left it 20 times that far.)
    let floor = adam_noise_floor(rate / 8.0, features + 1, sigma, batch);
    assert!(
        excess <= floor,
        "excess loss {excess:.3e} over the optimum {best:.6}, the noise at rate/8 {floor:.3e}; {} after {} epochs",
        fitted.stop_reason(),
        fitted.history().len()
    );
    let rates: Vec<f64> = fitted
        .history()
        .records()
        .iter()
        .map(|r| r.learning_rate)
        .collect();
    assert_eq!(fitted.training_state().rate_cuts(), 3);
    assert!((rates[rates.len() - 1] - rate / 8.0).abs() < 1e-9, "{rates:?}");
}

#[test]
#[cfg(feature = "serde")] // the saved model
fn a_mini_batch_whose_noisy_loss_stops_improving_does_not_say_converged() {
    let data = Synthetic::generate(Model::Linear, 1000, 3, 1.0, 5).unwrap();
    let fitted = GradientDescent::linear()
        .variant(downhill::Variant::MiniBatch(16))
        .optimizer(Optimizer::adam(0.05))
        .tolerance(1e-7)
        .max_epochs(5000)
        .device(Device::Cpu)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    let said = fitted.stop_reason().to_string();
    assert!(
        fitted.history().len() < 5000,
        "the patience rule stopped it: {said}"
    );
    assert!(!said.contains("converged"), "{said}");
    assert!(said.contains("the loss stopped improving"), "{said}");
    let json = fitted.to_json().unwrap();
    assert!(json.contains("stopped_improving"), "{json}");
    // The full batch's loss has no noise: its stall is convergence, as before.
    let full = GradientDescent::linear()
        .optimizer(Optimizer::sgd(0.1))
        .tolerance(1e-7)
        .max_epochs(5000)
        .device(Device::Cpu)
        .fit(data.x.view(), data.y.view())
        .unwrap();
    assert!(
        matches!(full.stop_reason(), StopReason::Converged { .. }),
        "{}",
        full.stop_reason()
    );
}
