//! Fits on a standardized target: the parameters and predictions come back
//! in the target's units, and raw scales stop mattering to the learning rate.

use downhill::{reference, Device, Error, GradientDescent, Model, Optimizer, TargetScaling};
use downhill::{DataError, EstimatorError};
use ndarray::{Array1, Array2};

/// Features around 1e3, 1e4 and 1e5 with spreads a tenth of that, a target
/// around 1e4: the raw problem is hopeless for plain descent at any one
/// learning rate.
fn raw_scales() -> (Array2<f32>, Array1<f32>) {
    let n = 500;
    let mut state = 7u64;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut x = Array2::zeros((n, 3));
    let mut y = Array1::zeros(n);
    for i in 0..n {
        let a = 1e3 * (1.0 + 0.2 * uniform());
        let b = 1e4 * (1.0 + 0.2 * uniform());
        let c = 1e5 * (1.0 + 0.2 * uniform()) + 30.0 * a;
        x[[i, 0]] = a as f32;
        x[[i, 1]] = b as f32;
        x[[i, 2]] = c as f32;
        y[i] = (3.0 * a - 0.5 * b + 0.02 * c + 5000.0 + 50.0 * uniform()) as f32;
    }
    (x, y)
}

#[test]
fn a_standardized_target_converges_to_the_closed_form_in_the_target_s_units() {
    let (x, y) = raw_scales();
    let (w, b) = reference::least_squares(x.view(), y.view(), 0.0).unwrap();
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(0.1))
        .standardize(true)
        .standardize_target(true)
        .max_epochs(20_000)
        .tolerance(1e-12)
        .patience(20)
        .device(Device::Cpu)
        .fit(x.view(), y.view())
        .unwrap();
    let scaling = fitted.target_scaling().expect("the target was scaled");
    assert!(scaling.scale > 100.0, "{scaling:?}");
    for (found, expected) in fitted.weights().iter().zip(w.iter()) {
        assert!(
            (f64::from(*found) - expected).abs() <= 1e-4 * expected.abs(),
            "{:?} vs {w}",
            fitted.weights()
        );
    }
    assert!(
        (f64::from(fitted.bias()) - b).abs() <= 1e-4 * b.abs(),
        "{} vs {b}",
        fitted.bias()
    );
    // Predictions in the target's units: R² as the closed form's.
    let closed = x.mapv(f64::from).dot(&w) + b;
    let closed_r2 = downhill::metrics::r2(y.view(), closed.mapv(|v| v as f32).view()).unwrap();
    let r2 = fitted.score(x.view(), y.view()).unwrap();
    assert!((r2 - closed_r2).abs() <= 1e-5, "{r2} vs {closed_r2}");
}

#[test]
fn adam_at_its_usual_rate_reaches_the_closed_form_s_r2_on_a_scaled_target() {
    let (x, y) = raw_scales();
    let (w, b) = reference::least_squares(x.view(), y.view(), 0.0).unwrap();
    let closed = x.mapv(f64::from).dot(&w) + b;
    let closed_r2 = downhill::metrics::r2(y.view(), closed.mapv(|v| v as f32).view()).unwrap();
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::adam(0.01))
        .variant(downhill::Variant::MiniBatch(32))
        .standardize(true)
        .standardize_target(true)
        .max_epochs(200)
        .device(Device::Cpu)
        .fit(x.view(), y.view())
        .unwrap();
    let r2 = fitted.score(x.view(), y.view()).unwrap();
    assert!((r2 - closed_r2).abs() <= 1e-3, "{r2} vs {closed_r2}");
}

#[test]
fn a_warm_start_is_read_in_the_target_s_units() {
    let (x, y) = raw_scales();
    let (w, b) = reference::least_squares(x.view(), y.view(), 0.0).unwrap();
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(0.01))
        .standardize(true)
        .standardize_target(true)
        .warm_start(w.mapv(|v| v as f32), b as f32)
        .max_epochs(1)
        .device(Device::Cpu)
        .fit(x.view(), y.view())
        .unwrap();
    // Started at the optimum: the first loss is the residual variance over
    // the target's variance, 1 − R² of the closed form.
    let closed = x.mapv(f64::from).dot(&w) + b;
    let closed_r2 = downhill::metrics::r2(y.view(), closed.mapv(|v| v as f32).view()).unwrap();
    let loss = fitted.history().records()[0].loss;
    assert!(
        (loss - (1.0 - closed_r2)).abs() <= 1e-3 * (1.0 - closed_r2) + 1e-6,
        "{loss} vs {}",
        1.0 - closed_r2
    );
}

#[test]
fn the_target_scaling_is_the_population_mean_and_deviation() {
    let scaling = TargetScaling::fit(ndarray::array![1.0f32, 3.0].view()).unwrap();
    assert_eq!(
        scaling,
        TargetScaling {
            mean: 2.0,
            scale: 1.0
        }
    );
    let constant = TargetScaling::fit(ndarray::array![5.0f32, 5.0].view()).unwrap();
    assert_eq!(constant.scale, 1.0);
    assert!(matches!(
        TargetScaling::fit(ndarray::array![1.0f32, f32::NAN].view()),
        Err(Error::Data(DataError::NonFiniteTarget { row: 1, .. }))
    ));
}

#[test]
fn a_logistic_target_is_not_scaled() {
    let x = ndarray::array![[0.0f32], [1.0]];
    let y = ndarray::array![0.0f32, 1.0];
    assert!(matches!(
        GradientDescent::new(Model::Logistic)
            .standardize_target(true)
            .fit(x.view(), y.view()),
        Err(Error::Estimator(EstimatorError::TargetScalingOfLabels))
    ));
}

#[cfg(feature = "serde")]
#[test]
fn a_scaled_target_is_saved_and_resumed_exactly() {
    let (x, y) = raw_scales();
    let settings = GradientDescent::linear()
        .optimizer(Optimizer::adam(0.01))
        .variant(downhill::Variant::MiniBatch(64))
        .standardize(true)
        .standardize_target(true)
        .device(Device::Cpu);
    let whole = settings.clone().max_epochs(8).fit(x.view(), y.view()).unwrap();
    let first = settings.clone().max_epochs(4).fit(x.view(), y.view()).unwrap();
    let loaded = downhill::Fitted::from_json(&first.to_json().unwrap(), "memory").unwrap();
    assert_eq!(loaded.target_scaling(), first.target_scaling());
    assert_eq!(
        loaded.predict(x.view()).unwrap(),
        first.predict(x.view()).unwrap()
    );
    let resumed = settings
        .clone()
        .max_epochs(4)
        .resume(&loaded)
        .fit(x.view(), y.view())
        .unwrap();
    assert_eq!(resumed.weights(), whole.weights());
    assert_eq!(resumed.bias().to_bits(), whole.bias().to_bits());
    assert!(matches!(
        settings
            .standardize_target(false)
            .max_epochs(1)
            .resume(&loaded)
            .fit(x.view(), y.view()),
        Err(Error::ResumeMismatch { .. })
    ));
}
