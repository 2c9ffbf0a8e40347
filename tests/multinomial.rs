//! Multinomial logistic regression (softmax and cross-entropy over K
//! classes) against scikit-learn's `LogisticRegression` on iris, wine and
//! digits (tests/data/make_multinomial.py computed the optima): L-BFGS to
//! 1e-6 and full-batch descent to 1e-4, with and without sample weights;
//! the predictions, probabilities, saving and resuming of a multinomial
//! model; and the inputs it refuses.

mod common;

use downhill::EstimatorError;
use std::path::Path;

use ndarray::{Array1, Array2, Axis};

use downhill::{
    ClassWeight, Device, Error, Fitted, GradientDescent, Optimizer, Penalty, Solver, StopReason, Variant,
};

fn data_path(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A CSV of numbers and one column of labels (`label_column`), the labels
/// numbered in sorted order: the features (every other numeric column but
/// `skip`), the class codes, and the column `extra` where named.
fn read_classes(
    name: &str,
    label_column: &str,
    extra: Option<&str>,
) -> (Array2<f32>, Array1<f32>, Option<Array1<f32>>) {
    let text = std::fs::read_to_string(data_path(name)).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let label_at = header.iter().position(|&h| h == label_column).unwrap();
    let extra_at = extra.map(|e| header.iter().position(|&h| h == e).unwrap());
    let records: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let mut labels: Vec<&str> = records.iter().map(|r| r[label_at]).collect();
    labels.sort_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(a), Ok(b)) => a.total_cmp(&b),
        _ => a.cmp(b),
    });
    labels.dedup();
    let features: Vec<usize> = (0..header.len())
        .filter(|&j| j != label_at && Some(j) != extra_at)
        .collect();
    let x = Array2::from_shape_fn((records.len(), features.len()), |(i, j)| {
        records[i][features[j]].parse().unwrap()
    });
    let y = records
        .iter()
        .map(|r| labels.iter().position(|&l| l == r[label_at]).unwrap() as f32)
        .collect();
    let extra = extra_at.map(|e| records.iter().map(|r| r[e].parse().unwrap()).collect());
    (x, y, extra)
}

/// One setting of `<name>_expected.csv`: alpha, the objective at the
/// optimum, and the intercepts (K) and weights (features × K).
struct Expected {
    alpha: f32,
    objective: f64,
    intercepts: Vec<f64>,
    weights: Array2<f64>,
}

fn expected(name: &str, weighted: bool) -> Expected {
    let table = downhill::data::read_csv(data_path(&format!("{name}_expected.csv")), None, None)
        .unwrap()
        .x;
    let rows: Vec<_> = table
        .rows()
        .into_iter()
        .filter(|r| (r[0] == 1.0) == weighted)
        .collect();
    let text = std::fs::read_to_string(data_path(&format!("{name}_expected.csv"))).unwrap();
    // The objective in full precision (read_csv reads float32).
    let objective: f64 = text
        .lines()
        .skip(1)
        .find(|l| l.starts_with(if weighted { "1," } else { "0," }))
        .unwrap()
        .split(',')
        .nth(3)
        .unwrap()
        .parse()
        .unwrap();
    let classes = rows.len();
    let features = table.ncols() - 6;
    Expected {
        alpha: rows[0][2],
        objective,
        intercepts: rows.iter().map(|r| f64::from(r[5])).collect(),
        weights: Array2::from_shape_fn((features, classes), |(j, k)| f64::from(rows[k][6 + j])),
    }
}

/// The final objective at most `relative` above scikit-learn's, and every
/// intercept and weight within `parameters` of the largest expected one.
fn assert_reaches(fitted: &Fitted, expected: &Expected, relative: f64, parameters: f64, what: &str) {
    let found: Vec<f64> = fitted
        .intercepts()
        .iter()
        .chain(fitted.coefficients().iter())
        .map(|&v| f64::from(v))
        .collect();
    let wanted: Vec<f64> = expected
        .intercepts
        .iter()
        .chain(expected.weights.iter())
        .copied()
        .collect();
    let loss = fitted.history().records().last().unwrap().loss;
    assert!(
        loss - expected.objective <= relative * expected.objective,
        "{what}: objective {loss} vs {}",
        expected.objective
    );
    common::assert_near(&found, &wanted, parameters, what);
}

fn devices(what: &str) -> Vec<Device> {
    let mut devices = vec![Device::Cpu];
    if common::gpu(what).is_some() {
        devices.push(Device::Gpu);
    }
    devices
}

#[test]
fn lbfgs_reaches_scikit_learns_optimum_on_iris_to_1e_6() {
    let (x, y, weights) = read_classes("iris.csv", "species", Some("weight"));
    let weights = weights.unwrap();
    for device in devices("multinomial L-BFGS on iris") {
        for weighted in [false, true] {
            let expected = expected("iris", weighted);
            let settings = GradientDescent::multinomial(3)
                .penalty(Penalty::L2(expected.alpha))
                .solver(Solver::lbfgs())
                .max_epochs(1000)
                .device(device);
            let fitted = match weighted {
                false => settings.fit(x.view(), y.view()),
                true => settings.fit_weighted(x.view(), y.view(), weights.view()),
            }
            .unwrap();
            assert!(
                !matches!(
                    fitted.stop_reason(),
                    StopReason::MaxEpochs | StopReason::Diverged { .. }
                ),
                "{}",
                fitted.stop_reason()
            );
            // Raw iris is ill-conditioned (correlated measurements, the
            // setosa separable): float32 margins pin the parameters to
            // about 1e-5 of the largest, the objective to far better.
            assert_reaches(
                &fitted,
                &expected,
                1e-6,
                1e-5,
                &format!("iris {device:?} weighted {weighted}"),
            );
        }
    }
}

#[test]
fn lbfgs_reaches_scikit_learns_optimum_on_wine_and_digits() {
    let (wine_x, wine_y, _) = read_classes("wine.csv", "cultivar", None);
    let (digits_x, digits_y, _) = read_classes("digits.csv", "digit", None);
    for device in devices("multinomial L-BFGS on wine and digits") {
        // Digits takes some 3000 iterations: minutes on lavapipe, so the
        // GPU's ten-class kernel is checked against the CPU engine in
        // tests/gpu_parity.rs instead.
        let digits = (device == Device::Cpu).then_some(("digits", &digits_x, &digits_y, 10, false));
        for (name, x, y, classes, standardize) in [Some(("wine", &wine_x, &wine_y, 3, true)), digits]
            .into_iter()
            .flatten()
        {
            let expected = expected(name, false);
            let fitted = GradientDescent::multinomial(classes)
                .penalty(Penalty::L2(expected.alpha))
                .standardize(standardize)
                .solver(Solver::lbfgs())
                .max_epochs(10_000)
                .device(device)
                .fit(x.view(), y.view())
                .unwrap();
            // Digits' raw pixels are the least conditioned: scikit-learn's
            // own optimum (tol 1e-12) lies 2e-8 above the objective this
            // fit reaches.
            // The intercepts are the least determined (every pixel is at
            // least 0, and they are not penalized).
            let close = if name == "digits" { 5e-4 } else { 1e-5 };
            assert_reaches(&fitted, &expected, 1e-6, close, &format!("{name} {device:?}"));
        }
    }
}

#[test]
fn descent_reaches_the_wine_optimum_to_1e_4_on_every_device() {
    let (x, y, _) = read_classes("wine.csv", "cultivar", None);
    let expected = expected("wine", false);
    for device in devices("multinomial descent on wine") {
        let fitted = GradientDescent::multinomial(3)
            .penalty(Penalty::L2(expected.alpha))
            .standardize(true)
            .optimizer(Optimizer::nesterov(1.0, 0.0))
            .auto_learning_rate(true)
            .auto_momentum(true)
            .parameter_tolerance(1e-9)
            .max_epochs(100_000)
            .device(device)
            .fit(x.view(), y.view())
            .unwrap();
        assert_reaches(
            &fitted,
            &expected,
            1e-4,
            1e-4,
            &format!("wine descent {device:?}"),
        );
        // The same optimum as the explicit L-BFGS fit, in far fewer passes.
        let lbfgs = GradientDescent::multinomial(3)
            .penalty(Penalty::L2(expected.alpha))
            .standardize(true)
            .solver(Solver::lbfgs())
            .max_epochs(10_000)
            .device(device)
            .fit(x.view(), y.view())
            .unwrap();
        assert!(
            lbfgs.gradient_evaluations() * 10 < fitted.gradient_evaluations(),
            "L-BFGS {} passes, descent {}",
            lbfgs.gradient_evaluations(),
            fitted.gradient_evaluations()
        );
    }
}

/// The mean cross-entropy of `fitted`'s probabilities on rows `x` with
/// classes `y`.
fn cross_entropy(fitted: &Fitted, x: &Array2<f32>, y: &Array1<f32>) -> f64 {
    let probabilities = fitted.class_probabilities(x.view()).unwrap();
    let total: f64 = probabilities
        .rows()
        .into_iter()
        .zip(y)
        .map(|(p, &k)| -f64::from(p[k as usize]).ln())
        .sum();
    total / y.len() as f64
}

/// Iris, standardized, by every optimizer on mini-batches: each ends
/// within 2% of the optimum's cross-entropy, at 95% accuracy or more, the probabilities of
/// every row sum to 1, and the predicted class is the most probable one.
#[test]
fn every_optimizer_fits_iris_on_mini_batches() {
    let (x, y, _) = read_classes("iris.csv", "species", Some("weight"));
    let alpha = 1e-2;
    let optimum = GradientDescent::multinomial(3)
        .penalty(Penalty::L2(alpha))
        .standardize(true)
        .solver(Solver::lbfgs())
        .max_epochs(10_000)
        .fit(x.view(), y.view())
        .unwrap();
    let best = cross_entropy(&optimum, &x, &y);
    for optimizer in [
        Optimizer::from(Optimizer::sgd(0.1)),
        Optimizer::from(Optimizer::momentum(0.05, 0.9)),
        Optimizer::from(Optimizer::nesterov(0.05, 0.9)),
        Optimizer::from(Optimizer::adagrad(0.5)),
        Optimizer::from(Optimizer::rmsprop(0.01)),
        Optimizer::from(Optimizer::adam(0.02)),
    ] {
        let fitted = GradientDescent::multinomial(3)
            .penalty(Penalty::L2(alpha))
            .standardize(true)
            .variant(Variant::MiniBatch(16))
            .optimizer(optimizer)
            .max_epochs(300)
            .fit(x.view(), y.view())
            .unwrap();
        let loss = cross_entropy(&fitted, &x, &y);
        assert!(
            loss <= best * 1.02 + 1e-3,
            "{optimizer}: cross-entropy {loss}, optimum's {best}"
        );
        let accuracy = fitted.score(x.view(), y.view()).unwrap();
        assert!(accuracy >= 0.95, "{optimizer}: accuracy {accuracy}");
        let probabilities = fitted.class_probabilities(x.view()).unwrap();
        let predicted = fitted.predict(x.view()).unwrap();
        for (row, &class) in probabilities.rows().into_iter().zip(&predicted) {
            assert!((row.sum() - 1.0).abs() < 1e-5, "{optimizer}: {row}");
            let most = row
                .iter()
                .enumerate()
                .fold(0, |k, (j, &p)| if p > row[k] { j } else { k });
            assert_eq!(most as f32, class, "{optimizer}: {row}");
        }
    }
}

/// `balanced` class weights are n / (K · countₖ): the same fit as those
/// weights given per row.
#[test]
fn balanced_class_weights_equal_the_per_row_weights_they_stand_for() {
    let (x, y, _) = read_classes("wine.csv", "cultivar", None);
    let counts = [0.0, 1.0, 2.0].map(|k| y.iter().filter(|&&v| v == k).count() as f32);
    assert!(counts[0] != counts[1], "the classes of wine are of unequal sizes");
    let n = y.len() as f32;
    let weights = y.mapv(|k| n / (3.0 * counts[k as usize]));
    let settings = GradientDescent::multinomial(3)
        .penalty(Penalty::L2(0.01))
        .standardize(true)
        .solver(Solver::lbfgs())
        .max_epochs(1000);
    let balanced = settings
        .clone()
        .class_weight(ClassWeight::Balanced)
        .fit(x.view(), y.view())
        .unwrap();
    let given = settings.fit_weighted(x.view(), y.view(), weights.view()).unwrap();
    common::assert_near(
        &common::coefficients_and_intercepts(&balanced),
        &common::coefficients_and_intercepts(&given),
        1e-5,
        "balanced against per-row weights",
    );
}

/// A saved multinomial model loads with the same predictions and
/// probabilities; a resumed fit equals the uninterrupted one bit for bit on
/// the CPU.
#[test]
#[cfg(feature = "serde")] // saved models
fn a_multinomial_model_saves_loads_and_resumes_exactly() {
    let (x, y, _) = read_classes("iris.csv", "species", Some("weight"));
    let settings = GradientDescent::multinomial(3)
        .standardize(true)
        .variant(Variant::MiniBatch(10))
        .optimizer(Optimizer::adam(0.01))
        .device(Device::Cpu);
    let whole = settings.clone().max_epochs(20).fit(x.view(), y.view()).unwrap();
    let first = settings.clone().max_epochs(8).fit(x.view(), y.view()).unwrap();
    let path = std::env::temp_dir().join(format!("downhill_multinomial_{}.json", std::process::id()));
    first.save(&path).unwrap();
    let loaded = Fitted::load(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(loaded.coefficients(), first.coefficients());
    assert_eq!(loaded.intercepts(), first.intercepts());
    assert_eq!(loaded.classes(), Some(3));
    assert_eq!(
        loaded.class_probabilities(x.view()).unwrap(),
        first.class_probabilities(x.view()).unwrap()
    );
    let resumed = settings
        .max_epochs(12)
        .resume(&loaded)
        .fit(x.view(), y.view())
        .unwrap();
    assert_eq!(resumed.coefficients(), whole.coefficients());
    assert_eq!(resumed.intercepts(), whole.intercepts());
    assert_eq!(resumed.history().records().len(), 20);
}

#[test]
fn what_a_multinomial_fit_refuses() {
    let x = ndarray::array![[0.0f32, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]];
    let three = GradientDescent::multinomial(3).max_epochs(5);
    // A label that is not a class, named by its row.
    for (bad, row) in [(3.0, 2), (-1.0, 1), (1.5, 0)] {
        let mut y = ndarray::array![0.0f32, 1.0, 2.0, 1.0];
        y[row] = bad;
        let error = three.fit(x.view(), y.view()).unwrap_err();
        assert!(
            matches!(error, Error::InvalidClass { row: r, value, classes: 3 } if r == row && value == bad),
            "{error}"
        );
    }
    let y = ndarray::array![0.0f32, 1.0, 2.0, 1.0];
    assert!(matches!(
        GradientDescent::multinomial(1)
            .fit(x.view(), y.view())
            .unwrap_err(),
        Error::Estimator(EstimatorError::InvalidClassCount { classes: 1, .. })
    ));
    // More classes than a table can name: refused before any allocation.
    assert!(matches!(
        GradientDescent::multinomial(u32::MAX)
            .fit(x.view(), y.view())
            .unwrap_err(),
        Error::Estimator(EstimatorError::InvalidClassCount {
            classes: u32::MAX,
            ..
        })
    ));
    // A resume under another number of classes (or another loss) is not a
    // continuation.
    let three_fitted = three.fit(x.view(), y.view()).unwrap();
    for other in [GradientDescent::multinomial(4), GradientDescent::logistic()] {
        let y = ndarray::array![0.0f32, 1.0, 1.0, 0.0];
        assert!(
            matches!(
                other.resume(&three_fitted).fit(x.view(), y.view()).unwrap_err(),
                Error::ResumeMismatch { .. }
            ),
            "a resume from three classes"
        );
    }
    // Binary logistic regression still wants 0 and 1.
    assert!(matches!(
        GradientDescent::logistic().fit(x.view(), y.view()).unwrap_err(),
        Error::InvalidLabel { row: 2, .. }
    ));
    assert!(matches!(
        three
            .clone()
            .warm_start(ndarray::array![0.0f32, 0.0], 0.0)
            .fit(x.view(), y.view())
            .unwrap_err(),
        Error::Estimator(EstimatorError::PerClass {
            method: "warm_start",
            ..
        })
    ));
    assert!(matches!(
        three
            .clone()
            .class_weight(ClassWeight::Given {
                negative: 1.0,
                positive: 2.0
            })
            .fit(x.view(), y.view())
            .unwrap_err(),
        Error::Estimator(EstimatorError::PerClass {
            method: "ClassWeight::Given",
            classes: 3,
            ..
        })
    ));
    assert!(matches!(
        three
            .clone()
            .track_parameters(true)
            .fit(x.view(), y.view())
            .unwrap_err(),
        Error::Estimator(EstimatorError::PerClass {
            method: "track_parameters",
            ..
        })
    ));
    let fitted = three.fit(x.view(), y.view()).unwrap();
    assert!(matches!(
        fitted.margins(x.view()).unwrap_err(),
        Error::Estimator(EstimatorError::PerClass {
            method: "margins",
            instead: "class_margins",
            ..
        })
    ));
    assert!(matches!(
        fitted.predict_proba(x.view()).unwrap_err(),
        Error::Estimator(EstimatorError::PerClass {
            method: "predict_proba",
            instead: "class_probabilities",
            ..
        })
    ));
    assert_eq!(fitted.class_margins(x.view()).unwrap().dim(), (4, 3));
    // Too few features for the model, named.
    assert!(matches!(
        fitted
            .class_probabilities(x.slice(ndarray::s![.., ..1]))
            .unwrap_err(),
        Error::FeatureCountMismatch {
            expected: 2,
            found: 1
        }
    ));
}

/// The binary model's probabilities per class are (1 − p, p).
#[test]
fn a_binary_model_gives_both_class_probabilities() {
    let (x, y, _) = common::logistic_table();
    let fitted = GradientDescent::logistic()
        .max_epochs(20)
        .fit(x.view(), y.view())
        .unwrap();
    let p = fitted.predict_proba(x.view()).unwrap();
    let both = fitted.class_probabilities(x.view()).unwrap();
    assert_eq!(both.column(1), p);
    for (row, p) in both.rows().into_iter().zip(&p) {
        assert!((row[0] - (1.0 - p)).abs() < 1e-7);
    }
    assert_eq!(fitted.classes(), Some(2));
    assert_eq!(both.len_of(Axis(1)), 2);
}
