//! Every kind of bad input gets its own error variant, naming the offending
//! value; a run that blows up stops with `Diverged` and keeps finite
//! parameters.

use downhill::{
    gradient, reference, Device, Error, GradientDescent, Model, Optimizer, Schedule, StopReason, Variant,
};
use downhill::{DataError, EstimatorError, MathError, TrainError};
use ndarray::{array, Array1, Array2};

fn xy() -> (Array2<f32>, Array1<f32>) {
    (
        array![[1.0f32, 2.0], [3.0, 4.0], [5.0, 7.0]],
        array![1.0f32, 0.0, 1.0],
    )
}

fn fit_err(descent: GradientDescent) -> Error {
    let (x, y) = xy();
    descent.fit(x.view(), y.view()).expect_err("the input is bad")
}

fn fit_data_err(model: Model, x: Array2<f32>, y: Array1<f32>) -> Error {
    GradientDescent::new(model)
        .fit(x.view(), y.view())
        .expect_err("the input is bad")
}

fn linear_fit(x: &Array2<f32>, y: &Array1<f32>) -> downhill::Fitted {
    GradientDescent::linear()
        .max_epochs(3)
        .fit(x.view(), y.view())
        .expect("valid data")
}

#[test]
fn shape_mismatch() {
    let (x, _) = xy();
    assert_eq!(
        fit_data_err(Model::Linear, x, array![1.0f32, 2.0]),
        Error::ShapeMismatch { x_rows: 3, y_len: 2 }
    );
}

#[test]
fn empty_data_without_rows() {
    assert_eq!(
        fit_data_err(Model::Linear, Array2::zeros((0, 2)), Array1::zeros(0)),
        Error::EmptyData { rows: 0, features: 2 }
    );
}

#[test]
fn empty_data_without_features() {
    assert_eq!(
        fit_data_err(Model::Linear, Array2::zeros((3, 0)), Array1::zeros(3)),
        Error::EmptyData { rows: 3, features: 0 }
    );
}

#[test]
fn nan_in_x_names_its_row_and_column() {
    let (mut x, y) = xy();
    x[[2, 1]] = f32::NAN;
    for model in [Model::Linear, Model::Logistic] {
        let err = fit_data_err(model, x.clone(), y.clone());
        assert!(
            matches!(err, Error::Data(DataError::NonFiniteFeature { row: 2, column: 1, value }) if value.is_nan()),
            "{err:?}"
        );
    }
}

#[test]
fn infinity_in_x_names_its_row_and_column() {
    let (mut x, y) = xy();
    x[[1, 0]] = f32::INFINITY;
    assert_eq!(
        fit_data_err(Model::Linear, x.clone(), y.clone()),
        Error::Data(DataError::NonFiniteFeature {
            row: 1,
            column: 0,
            value: f32::INFINITY
        })
    );
    x[[1, 0]] = f32::NEG_INFINITY;
    assert_eq!(
        fit_data_err(Model::Logistic, x, y),
        Error::Data(DataError::NonFiniteFeature {
            row: 1,
            column: 0,
            value: f32::NEG_INFINITY
        })
    );
}

#[test]
fn non_finite_x_is_found_with_every_variant_and_with_standardize() {
    let (mut x, y) = xy();
    x[[0, 1]] = f32::NAN;
    x[[2, 0]] = f32::INFINITY;
    for descent in [
        GradientDescent::linear().variant(Variant::Stochastic),
        GradientDescent::linear().variant(Variant::MiniBatch(2)),
        GradientDescent::linear().standardize(true),
        GradientDescent::linear().warm_start(array![1.0f32, -1.0], 0.5),
    ] {
        let err = descent.fit(x.view(), y.view()).expect_err("X holds a NaN");
        // The first offending entry in row-major order.
        assert!(
            matches!(err, Error::Data(DataError::NonFiniteFeature { row: 0, column: 1, value }) if value.is_nan()),
            "{err:?}"
        );
    }
}

#[test]
fn infinite_x_is_found_by_the_logistic_model_from_a_warm_start() {
    // With non-zero weights the margin of the row is ±∞ rather than NaN.
    for value in [f32::INFINITY, f32::NEG_INFINITY] {
        for labels in [array![1.0f32, 1.0, 1.0], array![0.0f32, 0.0, 0.0]] {
            let (mut x, _) = xy();
            x[[1, 1]] = value;
            let err = GradientDescent::logistic()
                .warm_start(array![0.5f32, 0.5], 0.0)
                .fit(x.view(), labels.view())
                .expect_err("X holds an infinity");
            assert_eq!(
                err,
                Error::Data(DataError::NonFiniteFeature {
                    row: 1,
                    column: 1,
                    value
                }),
                "labels {labels}"
            );
        }
    }
}

#[test]
fn non_finite_x_among_many_rows_is_found() {
    let mut x = Array2::from_shape_fn((10_000, 3), |(i, j)| ((i * 7 + j) % 13) as f32 * 0.1);
    let y = Array1::from_shape_fn(10_000, |i| (i % 5) as f32);
    x[[9_001, 2]] = f32::NEG_INFINITY;
    x[[9_500, 0]] = f32::NAN;
    assert_eq!(
        fit_data_err(Model::Linear, x, y),
        Error::Data(DataError::NonFiniteFeature {
            row: 9_001,
            column: 2,
            value: f32::NEG_INFINITY
        })
    );
}

#[test]
fn nan_in_y_names_its_row() {
    let (x, mut y) = xy();
    y[1] = f32::NAN;
    let err = fit_data_err(Model::Linear, x, y);
    assert!(
        matches!(err, Error::Data(DataError::NonFiniteTarget { row: 1, value }) if value.is_nan()),
        "{err:?}"
    );
}

#[test]
fn infinity_in_y_names_its_row() {
    let (x, mut y) = xy();
    y[2] = f32::NEG_INFINITY;
    assert_eq!(
        fit_data_err(Model::Linear, x, y),
        Error::Data(DataError::NonFiniteTarget {
            row: 2,
            value: f32::NEG_INFINITY
        })
    );
}

#[test]
fn labels_outside_zero_and_one_for_logistic() {
    for (row, value) in [(0, 0.5f32), (2, 2.0), (1, -1.0), (1, 1.0000001)] {
        let (x, mut y) = xy();
        y[row] = value;
        assert_eq!(
            fit_data_err(Model::Logistic, x.clone(), y.clone()),
            Error::InvalidLabel { row, value }
        );
        // The same targets are fine for the linear model.
        assert!(GradientDescent::linear().fit(x.view(), y.view()).is_ok());
    }
}

#[test]
fn nan_label_for_logistic_is_a_non_finite_target() {
    let (x, mut y) = xy();
    y[0] = f32::NAN;
    let err = fit_data_err(Model::Logistic, x, y);
    assert!(
        matches!(err, Error::Data(DataError::NonFiniteTarget { row: 0, value }) if value.is_nan()),
        "{err:?}"
    );
}

#[test]
fn zero_batch_size() {
    assert_eq!(
        fit_err(GradientDescent::linear().variant(Variant::MiniBatch(0))),
        Error::Estimator(EstimatorError::ZeroBatchSize)
    );
}

#[test]
fn non_finite_learning_rate() {
    let err = fit_err(GradientDescent::linear().optimizer(Optimizer::sgd(f32::NAN)));
    assert!(
        matches!(err, Error::Math(MathError::InvalidLearningRate { value }) if value.is_nan()),
        "{err:?}"
    );
    for value in [f32::INFINITY, f32::NEG_INFINITY] {
        assert_eq!(
            fit_err(GradientDescent::linear().optimizer(Optimizer::adam(value))),
            Error::Math(MathError::InvalidLearningRate { value })
        );
    }
}

#[test]
fn non_positive_learning_rate() {
    let optimizers = |lr: f32| -> Vec<Optimizer> {
        vec![
            Optimizer::sgd(lr).into(),
            Optimizer::momentum(lr, 0.9).into(),
            Optimizer::nesterov(lr, 0.9).into(),
            Optimizer::adagrad(lr).into(),
            Optimizer::rmsprop(lr).into(),
            Optimizer::adam(lr).into(),
        ]
    };
    for value in [0.0f32, -0.1] {
        for optimizer in optimizers(value) {
            assert_eq!(
                fit_err(GradientDescent::linear().optimizer(optimizer)),
                Error::Math(MathError::InvalidLearningRate { value }),
                "{optimizer:?}"
            );
        }
    }
}

#[test]
fn negative_or_nan_penalty() {
    assert_eq!(
        fit_err(GradientDescent::linear().l2(-0.5)),
        Error::Estimator(EstimatorError::InvalidPenalty {
            part: "L2",
            value: -0.5
        })
    );
    let err = fit_err(GradientDescent::linear().l2(f32::NAN));
    assert!(
        matches!(err, Error::Estimator(EstimatorError::InvalidPenalty { value, .. }) if value.is_nan()),
        "{err:?}"
    );
    assert_eq!(
        fit_err(GradientDescent::linear().l2(f32::INFINITY)),
        Error::Estimator(EstimatorError::InvalidPenalty {
            part: "L2",
            value: f32::INFINITY
        })
    );
    // Zero is no penalty at all.
    assert!(GradientDescent::linear().l2(0.0).validate().is_ok());
}

#[test]
fn zero_epochs() {
    assert_eq!(
        fit_err(GradientDescent::linear().max_epochs(0)),
        Error::Estimator(EstimatorError::ZeroEpochs)
    );
}

#[test]
fn invalid_tolerance() {
    for value in [-1e-3, f64::INFINITY] {
        assert_eq!(
            fit_err(GradientDescent::linear().tolerance(value)),
            Error::Estimator(EstimatorError::InvalidTolerance { value })
        );
    }
    let err = fit_err(GradientDescent::linear().tolerance(f64::NAN));
    assert!(
        matches!(err, Error::Estimator(EstimatorError::InvalidTolerance { value }) if value.is_nan()),
        "{err:?}"
    );
    assert!(GradientDescent::linear().tolerance(0.0).validate().is_ok());
}

#[test]
fn zero_rows_per_shuffle_block() {
    let shuffle = downhill::Shuffle::Blocks { rows: 0 };
    assert_eq!(
        fit_err(
            GradientDescent::linear()
                .variant(Variant::MiniBatch(4))
                .shuffle(shuffle)
        ),
        Error::Data(DataError::ZeroBlockRows)
    );
}

#[test]
fn invalid_parameter_tolerance() {
    for value in [-1e-3, f64::INFINITY] {
        assert_eq!(
            fit_err(GradientDescent::linear().parameter_tolerance(value)),
            Error::Estimator(EstimatorError::InvalidTolerance { value })
        );
    }
    assert!(GradientDescent::linear()
        .parameter_tolerance(0.0)
        .validate()
        .is_ok());
}

#[test]
fn zero_patience() {
    assert_eq!(
        fit_err(GradientDescent::linear().tolerance(1e-4).patience(0)),
        Error::Estimator(EstimatorError::ZeroPatience)
    );
    assert_eq!(
        fit_err(GradientDescent::linear().parameter_tolerance(1e-4).patience(0)),
        Error::Estimator(EstimatorError::ZeroPatience)
    );
}

#[test]
fn a_momentum_from_the_data_needs_a_momentum_rule() {
    let rules: [(Optimizer, &str); 2] = [
        (Optimizer::adam(0.01).into(), "adam"),
        (Optimizer::sgd(0.1).into(), "sgd"),
    ];
    for (optimizer, rule) in rules {
        assert_eq!(
            fit_err(GradientDescent::linear().optimizer(optimizer).auto_momentum(true)),
            Error::Estimator(EstimatorError::MomentumOfRule { rule: rule.into() })
        );
    }
    let nesterov = GradientDescent::linear().optimizer(Optimizer::nesterov(0.1, 0.5));
    assert!(nesterov.auto_momentum(true).validate().is_ok());
}

#[test]
fn invalid_optimizer_constants() {
    let cases: Vec<(Optimizer, &str, f32, &str)> = vec![
        (Optimizer::momentum(0.1, 1.0).into(), "beta", 1.0, "[0, 1)"),
        (Optimizer::nesterov(0.1, -0.1).into(), "beta", -0.1, "[0, 1)"),
        (Optimizer::adagrad(0.1).eps(0.0).into(), "eps", 0.0, "(0, ∞)"),
        (
            Optimizer::adagrad(0.1).eps(f32::INFINITY).into(),
            "eps",
            f32::INFINITY,
            "(0, ∞)",
        ),
        (Optimizer::rmsprop(0.1).alpha(1.0).into(), "alpha", 1.0, "[0, 1)"),
        (Optimizer::rmsprop(0.1).eps(-1e-8).into(), "eps", -1e-8, "(0, ∞)"),
        (
            Optimizer::adam(0.1).betas(1.0, 0.999).into(),
            "beta1",
            1.0,
            "[0, 1)",
        ),
        (
            Optimizer::adam(0.1).betas(0.9, 1.5).into(),
            "beta2",
            1.5,
            "[0, 1)",
        ),
        (
            Optimizer::adam(0.1).betas(-0.5, 0.999).into(),
            "beta1",
            -0.5,
            "[0, 1)",
        ),
        (Optimizer::adam(0.1).eps(0.0).into(), "eps", 0.0, "(0, ∞)"),
    ];
    for (optimizer, name, value, expected) in cases {
        assert_eq!(
            fit_err(GradientDescent::linear().optimizer(optimizer)),
            Error::Math(MathError::InvalidOptimizerConstant {
                name,
                value,
                expected
            }),
            "{optimizer:?}"
        );
        assert_eq!(
            optimizer.validate(),
            Err(Error::Math(MathError::InvalidOptimizerConstant {
                name,
                value,
                expected
            }))
        );
    }
    let err = fit_err(GradientDescent::linear().optimizer(Optimizer::adam(0.1).betas(0.9, f32::NAN)));
    assert!(
        matches!(err, Error::Math(MathError::InvalidOptimizerConstant { name: "beta2", value, .. }) if value.is_nan()),
        "{err:?}"
    );
    // A momentum of 0 is plain gradient descent, and allowed.
    assert!(Optimizer::from(Optimizer::momentum(0.1, 0.0)).validate().is_ok());
}

#[test]
fn invalid_schedule_parameters() {
    let cases = [
        (Schedule::step_decay(0, 0.5), "every", 0.0, "[1, ∞)"),
        (Schedule::step_decay(10, 1.5), "factor", 1.5, "(0, 1]"),
        (Schedule::step_decay(10, 0.0), "factor", 0.0, "(0, 1]"),
        (Schedule::exponential(0.0), "gamma", 0.0, "(0, 1]"),
        (Schedule::exponential(1.01), "gamma", 1.01, "(0, 1]"),
        (Schedule::inverse_scaling(-0.5), "power", -0.5, "[0, ∞)"),
        (
            Schedule::inverse_scaling(f64::INFINITY),
            "power",
            f64::INFINITY,
            "[0, ∞)",
        ),
        (Schedule::cosine(-0.1, 10), "min_lr", -0.1, "[0, ∞)"),
        (Schedule::cosine(0.0, 0), "epochs", 0.0, "[1, ∞)"),
        (Schedule::reduce_on_plateau(1.0, 3), "factor", 1.0, "(0, 1)"),
        (Schedule::reduce_on_plateau(0.0, 3), "factor", 0.0, "(0, 1)"),
    ];
    for (schedule, name, value, expected) in cases {
        assert_eq!(
            fit_err(GradientDescent::linear().schedule(schedule)),
            Error::Train(TrainError::InvalidScheduleParameter {
                name,
                value,
                expected
            }),
            "{schedule:?}"
        );
    }
    let err = fit_err(GradientDescent::linear().schedule(Schedule::exponential(f64::NAN)));
    assert!(
        matches!(err, Error::Train(TrainError::InvalidScheduleParameter { name: "gamma", value, .. }) if value.is_nan()),
        "{err:?}"
    );
}

#[test]
fn invalid_divergence_factor() {
    for value in [1.0, 0.5, -2.0] {
        assert_eq!(
            fit_err(GradientDescent::linear().divergence_factor(value)),
            Error::Estimator(EstimatorError::InvalidDivergenceFactor { value })
        );
    }
    let err = fit_err(GradientDescent::linear().divergence_factor(f64::NAN));
    assert!(
        matches!(err, Error::Estimator(EstimatorError::InvalidDivergenceFactor { value }) if value.is_nan()),
        "{err:?}"
    );
    assert!(GradientDescent::linear()
        .divergence_factor(f64::INFINITY)
        .validate()
        .is_ok());
}

#[test]
fn warm_start_with_the_wrong_length() {
    assert_eq!(
        fit_err(GradientDescent::linear().warm_start(array![1.0f32, 2.0, 3.0], 0.0)),
        Error::FeatureCountMismatch {
            expected: 2,
            found: 3
        }
    );
}

#[test]
fn warm_start_with_nan() {
    let err = fit_err(GradientDescent::linear().warm_start(array![1.0f32, f32::NAN], 0.0));
    assert!(
        matches!(&err, Error::Data(DataError::NonFiniteParameter { name, value }) if name == "weights[1]" && value.is_nan()),
        "{err:?}"
    );
    assert_eq!(
        fit_err(GradientDescent::linear().warm_start(array![1.0f32, 2.0], f32::INFINITY)),
        Error::Data(DataError::NonFiniteParameter {
            name: "bias".into(),
            value: f32::INFINITY
        })
    );
}

#[test]
fn auto_says_which_device_ran() {
    let (x, y) = xy();
    let fitted = GradientDescent::linear()
        .device(Device::Auto)
        .fit(x.view(), y.view())
        .expect("valid data");
    // Auto runs on a hardware GPU where one exists and on the CPU otherwise
    // (software adapters are skipped); tests/no_adapter.rs covers a machine
    // with no adapter at all.
    #[cfg(feature = "gpu")]
    let hardware_gpu = downhill::GpuContext::shared().is_ok_and(|c| !c.adapter().is_software());
    #[cfg(not(feature = "gpu"))]
    let hardware_gpu = false;
    let expected = if hardware_gpu { Device::Gpu } else { Device::Cpu };
    assert_eq!(fitted.device(), expected);
    assert_eq!(Device::Auto.resolve(), Ok(expected));
    assert_eq!(Device::default(), Device::Auto);
}

#[test]
fn predict_with_the_wrong_feature_count() {
    let (x, y) = xy();
    let fitted = linear_fit(&x, &y);
    let wide = Array2::<f32>::zeros((2, 3));
    assert_eq!(
        fitted.predict(wide.view()),
        Err(Error::FeatureCountMismatch {
            expected: 2,
            found: 3
        })
    );
    assert_eq!(
        fitted.score(wide.view(), array![1.0f32, 2.0].view()),
        Err(Error::FeatureCountMismatch {
            expected: 2,
            found: 3
        })
    );
}

#[test]
fn predict_with_non_finite_features() {
    let (x, y) = xy();
    let fitted = linear_fit(&x, &y);
    let bad = array![[1.0f32, 2.0], [f32::INFINITY, 0.0]];
    assert_eq!(
        fitted.predict(bad.view()),
        Err(Error::Data(DataError::NonFiniteFeature {
            row: 1,
            column: 0,
            value: f32::INFINITY
        }))
    );
}

#[test]
fn score_with_bad_targets() {
    let (x, y) = xy();
    let fitted = linear_fit(&x, &y);
    assert_eq!(
        fitted.score(x.view(), array![1.0f32].view()),
        Err(Error::ShapeMismatch { x_rows: 3, y_len: 1 })
    );
    let logistic = GradientDescent::logistic()
        .fit(x.view(), y.view())
        .expect("valid data");
    assert_eq!(
        logistic.score(x.view(), array![1.0f32, 0.5, 0.0].view()),
        Err(Error::InvalidLabel { row: 1, value: 0.5 })
    );
}

#[test]
fn predict_proba_on_a_linear_model() {
    let (x, y) = xy();
    let fitted = linear_fit(&x, &y);
    assert_eq!(
        fitted.predict_proba(x.view()),
        Err(Error::Estimator(EstimatorError::NotLogistic))
    );
}

#[test]
fn gradient_with_bad_input() {
    let (x, y) = xy();
    let w = array![0.5f32, -0.5];
    let cpu = Device::Cpu;
    assert_eq!(
        gradient(
            &cpu,
            Model::Linear,
            x.view(),
            array![1.0f32].view(),
            w.view(),
            0.0
        ),
        Err(Error::ShapeMismatch { x_rows: 3, y_len: 1 })
    );
    assert_eq!(
        gradient(
            &cpu,
            Model::Linear,
            x.view(),
            y.view(),
            array![1.0f32].view(),
            0.0
        ),
        Err(Error::FeatureCountMismatch {
            expected: 2,
            found: 1
        })
    );
    let err = gradient(
        &cpu,
        Model::Linear,
        x.view(),
        y.view(),
        array![0.0f32, f32::NAN].view(),
        0.0,
    )
    .expect_err("a NaN weight");
    assert!(
        matches!(&err, Error::Data(DataError::NonFiniteParameter { name, value }) if name == "weights[1]" && value.is_nan()),
        "{err:?}"
    );
    assert_eq!(
        gradient(
            &cpu,
            Model::Linear,
            x.view(),
            y.view(),
            w.view(),
            f32::NEG_INFINITY
        ),
        Err(Error::Data(DataError::NonFiniteParameter {
            name: "bias".into(),
            value: f32::NEG_INFINITY
        }))
    );
    let mut bad_x = x.clone();
    bad_x[[2, 1]] = f32::INFINITY;
    assert_eq!(
        gradient(&cpu, Model::Linear, bad_x.view(), y.view(), w.view(), 0.0),
        Err(Error::Data(DataError::NonFiniteFeature {
            row: 2,
            column: 1,
            value: f32::INFINITY
        }))
    );
    let mut bad_y = y.clone();
    bad_y[0] = f32::INFINITY;
    assert_eq!(
        gradient(&cpu, Model::Linear, x.view(), bad_y.view(), w.view(), 0.0),
        Err(Error::Data(DataError::NonFiniteTarget {
            row: 0,
            value: f32::INFINITY
        }))
    );
    assert_eq!(
        gradient(
            &cpu,
            Model::Logistic,
            x.view(),
            array![1.0f32, 3.0, 0.0].view(),
            w.view(),
            0.0
        ),
        Err(Error::InvalidLabel { row: 1, value: 3.0 })
    );
    assert_eq!(
        gradient(
            &cpu,
            Model::Linear,
            Array2::zeros((0, 2)).view(),
            Array1::zeros(0).view(),
            w.view(),
            0.0
        ),
        Err(Error::EmptyData { rows: 0, features: 2 })
    );
}

#[test]
fn gradient_with_zero_weights_still_finds_non_finite_x() {
    // With w = 0 an infinite feature could be multiplied away; it must still
    // be reported, not silently give a finite gradient.
    let (mut x, y) = xy();
    x[[1, 1]] = f32::INFINITY;
    assert_eq!(
        gradient(
            &Device::Cpu,
            Model::Linear,
            x.view(),
            y.view(),
            array![0.0f32, 0.0].view(),
            0.0
        ),
        Err(Error::Data(DataError::NonFiniteFeature {
            row: 1,
            column: 1,
            value: f32::INFINITY
        }))
    );
}

#[test]
fn reference_functions_with_bad_input() {
    let (x, y) = xy();
    assert_eq!(
        reference::least_squares(x.view(), array![1.0f32].view(), 0.0),
        Err(Error::ShapeMismatch { x_rows: 3, y_len: 1 })
    );
    let mut bad = x.clone();
    bad[[0, 0]] = f32::INFINITY;
    assert_eq!(
        reference::gradient(
            Model::Linear,
            bad.view(),
            y.view(),
            array![0.0f32, 0.0].view(),
            0.0,
            0.0
        ),
        Err(Error::Data(DataError::NonFiniteFeature {
            row: 0,
            column: 0,
            value: f32::INFINITY
        }))
    );
}

#[test]
fn hyperparameters_are_checked_without_data() {
    assert_eq!(
        GradientDescent::linear().max_epochs(0).validate(),
        Err(Error::Estimator(EstimatorError::ZeroEpochs))
    );
    assert_eq!(GradientDescent::linear().validate(), Ok(()));
}

/// Data on which plain SGD with a large rate overshoots further each epoch.
fn explosive() -> (Array2<f32>, Array1<f32>) {
    let x = Array2::from_shape_fn((4, 1), |(i, _)| (i + 1) as f32);
    let y = x.column(0).mapv(|v| 2.0 * v + 1.0);
    (x, y)
}

#[test]
fn an_exploding_loss_stops_with_diverged_and_keeps_the_start_of_that_epoch() {
    let (x, y) = explosive();
    let descent = GradientDescent::linear()
        .optimizer(Optimizer::sgd(0.5))
        .max_epochs(1000);
    let fitted = descent
        .fit(x.view(), y.view())
        .expect("divergence is not an error");
    let StopReason::Diverged { epoch } = fitted.stop_reason() else {
        panic!("expected divergence, got {:?}", fitted.stop_reason());
    };
    assert!(epoch > 1 && epoch < 1000, "{epoch}");
    assert_eq!(fitted.history().len(), epoch);
    let first = fitted.history().records()[0].loss;
    let last = fitted.history().final_loss().expect("epochs ran");
    assert!(!last.is_finite() || last > 1e6 * first, "{first} → {last}");
    assert!(fitted.weights().iter().all(|w| w.is_finite()) && fitted.bias().is_finite());
    // The parameters are those at the start of the diverging epoch: the end
    // of the run that stops one epoch earlier.
    let before = descent
        .clone()
        .max_epochs(epoch - 1)
        .fit(x.view(), y.view())
        .expect("valid data");
    assert_eq!(before.stop_reason(), StopReason::MaxEpochs);
    assert_eq!(fitted.weights(), before.weights());
    assert_eq!(fitted.bias().to_bits(), before.bias().to_bits());
}

#[test]
fn a_non_finite_loss_stops_with_diverged_and_keeps_finite_parameters() {
    // With no factor limit the loss runs until float32 overflows.
    let (x, y) = explosive();
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(0.5))
        .divergence_factor(f64::INFINITY)
        .max_epochs(10_000)
        .fit(x.view(), y.view())
        .expect("divergence is not an error");
    assert!(
        matches!(fitted.stop_reason(), StopReason::Diverged { .. }),
        "{:?}",
        fitted.stop_reason()
    );
    assert!(!fitted.history().final_loss().expect("epochs ran").is_finite());
    assert!(
        fitted.weights().iter().all(|w| w.is_finite()) && fitted.bias().is_finite(),
        "{} {}",
        fitted.weights(),
        fitted.bias()
    );
}

/// Fits `x`, `y` with plain SGD and checks the run diverged at epoch 2
/// and still returns finite parameters.
fn assert_diverges_at_epoch_2_with_finite_parameters(x: Array2<f32>, y: Array1<f32>, lr: f32) {
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::sgd(lr))
        .max_epochs(100)
        .fit(x.view(), y.view())
        .expect("divergence is not an error");
    assert_eq!(fitted.stop_reason(), StopReason::Diverged { epoch: 2 });
    // DESIGN.md: "keeps the last finite parameters". The first step already
    // overflowed them, so the last finite ones are the start of epoch 1.
    assert!(
        fitted.weights().iter().all(|w| w.is_finite()) && fitted.bias().is_finite(),
        "{} {}",
        fitted.weights(),
        fitted.bias()
    );
}

#[test]
fn a_huge_learning_rate_stops_with_diverged_and_keeps_finite_parameters() {
    // One step of lr 1e38 from zero overflows the parameters to infinity;
    // epoch 2's loss at them is NaN.
    let (x, y) = explosive();
    assert_diverges_at_epoch_2_with_finite_parameters(x, y, 1e38);
}

#[test]
fn badly_scaled_data_stop_with_diverged_and_keep_finite_parameters() {
    // Finite but huge values: the first gradient, (2/n) Σ −y x = −7e38, is
    // beyond float32 and the first step sets w to +inf even at lr 0.01.
    let x = array![[1e20f32], [2e20]];
    let y = array![1e18f32, 3e18];
    assert_diverges_at_epoch_2_with_finite_parameters(x, y, 0.01);
}

#[cfg(not(feature = "gpu"))]
#[test]
fn without_the_gpu_feature_gpu_is_an_error_and_auto_runs_on_the_cpu() {
    let err = fit_err(GradientDescent::linear().device(Device::Gpu));
    assert!(
        matches!(&err, Error::Engine(downhill::EngineError::GpuUnavailable { reason }) if reason.contains("gpu")),
        "{err:?}"
    );
    let (x, y) = xy();
    let fitted = GradientDescent::linear()
        .device(Device::Auto)
        .fit(x.view(), y.view())
        .expect("valid data");
    assert_eq!(fitted.device(), Device::Cpu);
}

#[test]
fn coefficients_that_overflow_float32_in_the_data_units_are_an_error() {
    // Standardized, the fit is easy; back in the data's units the weight
    // is about 1e10 / 1.4e-30, beyond float32.
    let x = array![[1e-30f32], [2e-30], [3e-30], [4e-30], [5e-30]];
    let y = array![1e10f32, 3e10, 2e10, 5e10, 4e10];
    let descent = GradientDescent::linear()
        .standardize(true)
        .standardize_target(true);
    match descent.fit(x.view(), y.view()) {
        Err(Error::CoefficientOverflow {
            feature: Some(0),
            margin: 0,
            margins: 1,
            value,
            standardized: true,
        }) => assert!(!value.is_finite(), "{value}"),
        other => panic!("{:?}", other.err()),
    }
}
