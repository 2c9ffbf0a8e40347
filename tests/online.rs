//! `Fitted::partial_fit`: epochs over new rows that continue a fit exactly
//! where it stood (scikit-learn's `partial_fit`).

use downhill::{Device, GradientDescent, Model, Optimizer, Schedule, Synthetic, Variant};
use ndarray::s;

fn settings() -> GradientDescent {
    GradientDescent::linear()
        .variant(Variant::MiniBatch(16))
        .optimizer(Optimizer::adam(0.02))
        .schedule(Schedule::step_decay(2, 0.5))
        .standardize(true)
        .standardize_target(true)
        .seed(4)
        .device(Device::Cpu)
}

/// Three partial fits of one epoch over the same rows after a first fit of
/// one epoch are one fit of four epochs, bit for bit: the optimizer state,
/// the schedule and the shuffling carry over.
#[test]
fn partial_fits_over_the_same_rows_equal_one_longer_fit() {
    let data = Synthetic::generate(Model::Linear, 500, 3, 0.3, 2).unwrap();
    let (x, y) = (data.x.view(), data.y.view());
    let whole = settings().max_epochs(4).fit(x, y).unwrap();
    let mut online = settings().max_epochs(1).fit(x, y).unwrap();
    for _ in 0..3 {
        online = online.partial_fit(x, y, 1).unwrap();
    }
    assert_eq!(online.weights(), whole.weights());
    assert_eq!(online.bias(), whole.bias());
    assert_eq!(online.history().losses(), whole.history().losses());
    assert_eq!(online.training_state(), whole.training_state());
}

/// New rows are scaled as the first ones were, and no tolerance set for
/// the first fit ends a partial fit early.
#[test]
fn partial_fits_over_new_rows_keep_the_first_standardization_and_run_every_epoch() {
    let data = Synthetic::generate(Model::Linear, 2000, 3, 0.3, 6).unwrap();
    let first = settings()
        .tolerance(1e-1)
        .patience(1)
        .max_epochs(50)
        .fit(data.x.slice(s![..1000, ..]), data.y.slice(s![..1000]))
        .unwrap();
    let mut online = first.clone();
    for chunk in 0..5 {
        let rows = 1000 + chunk * 200..1000 + (chunk + 1) * 200;
        online = online
            .partial_fit(data.x.slice(s![rows.clone(), ..]), data.y.slice(s![rows]), 2)
            .unwrap();
    }
    assert_eq!(online.history().len(), first.history().len() + 10);
    assert_eq!(online.standardizer(), first.standardizer());
    assert_eq!(online.target_scaling(), first.target_scaling());
    // The fit keeps near the generating weights.
    for (w, truth) in online.weights().iter().zip(&data.weights) {
        assert!((w - truth).abs() < 0.05 * truth.abs().max(1.0), "{w} vs {truth}");
    }
}
