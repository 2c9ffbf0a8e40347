//! Sample and class weights: the weighted log-loss + L2 against
//! scikit-learn's `LogisticRegression(sample_weight=…)`
//! (tests/data/make_logistic.py), a weight of 2 against the row written
//! twice, class weights `balanced` against the unweighted fit on an
//! imbalanced table, and each kind of bad weight's own error.

mod common;

use common::{assert_near, logistic_expected, parameters};
use downhill::EstimatorError;

use downhill::data::source::{DataSource, InMemory, Weighted};
use downhill::Synthetic;
use downhill::{
    ClassWeight, Device, Error, Fitted, GradientDescent, Model, Optimizer, Penalty, Solver, Variant,
};
use ndarray::{concatenate, s, Array1, Array2, Axis};

#[test]
fn weighted_log_loss_with_l2_reaches_scikit_learns_optimum() {
    let (x, y, weights) = common::logistic_table();
    for row in logistic_expected().rows().into_iter().filter(|row| row[1] == 1.0) {
        let alpha = row[2];
        let expected: Vec<f64> = row.iter().skip(3).map(|&v| f64::from(v)).collect();
        // L-BFGS to 1e-6.
        let by_lbfgs = GradientDescent::logistic()
            .penalty(Penalty::L2(alpha))
            .solver(Solver::lbfgs())
            .max_epochs(1000)
            .device(Device::Cpu)
            .fit_weighted(x.view(), y.view(), weights.view())
            .unwrap();
        assert_eq!(
            by_lbfgs.device(),
            Device::Cpu,
            "Device::Auto runs weighted rows on the CPU"
        );
        assert_near(
            &parameters(&by_lbfgs),
            &expected,
            1e-6,
            &format!("L-BFGS, alpha {alpha}"),
        );
        // Full-batch descent to 1e-4.
        let by_descent = GradientDescent::logistic()
            .penalty(Penalty::L2(alpha))
            .optimizer(Optimizer::nesterov(1.0, 0.0))
            .auto_learning_rate(true)
            .auto_momentum(true)
            .parameter_tolerance(1e-9)
            .max_epochs(200_000)
            .device(Device::Cpu)
            .fit_weighted(x.view(), y.view(), weights.view())
            .unwrap();
        assert_near(
            &parameters(&by_descent),
            &expected,
            1e-4,
            &format!("descent, alpha {alpha}"),
        );
        // The unweighted optimum is elsewhere: the weights matter.
        let unweighted = logistic_expected()
            .row(if alpha > 0.01 { 0 } else { 2 })
            .to_owned();
        let apart = unweighted
            .iter()
            .skip(3)
            .zip(&expected)
            .any(|(&u, &e)| (f64::from(u) - e).abs() > 1e-2);
        assert!(apart, "the weighted and unweighted optima coincide");
    }
}

#[test]
fn a_weight_of_two_is_the_row_written_twice() {
    let data = Synthetic::generate(Model::Linear, 200, 3, 0.5, 4).unwrap();
    let mut weights = Array1::<f32>::ones(200);
    weights.slice_mut(s![..50]).fill(2.0);
    let x_twice = concatenate(Axis(0), &[data.x.view(), data.x.slice(s![..50, ..])]).unwrap();
    let y_twice = concatenate(Axis(0), &[data.y.view(), data.y.slice(s![..50])]).unwrap();
    for variant in [Variant::Full] {
        let settings = GradientDescent::linear()
            .variant(variant)
            .penalty(Penalty::L2(0.01))
            .optimizer(Optimizer::sgd(0.1))
            .max_epochs(300)
            .device(Device::Cpu);
        let weighted = settings
            .fit_weighted(data.x.view(), data.y.view(), weights.view())
            .unwrap();
        let twice = settings.fit(x_twice.view(), y_twice.view()).unwrap();
        assert_near(
            &parameters(&weighted),
            &parameters(&twice),
            1e-5,
            "weight 2 against twice",
        );
        for (a, b) in weighted.history().losses().iter().zip(twice.history().losses()) {
            assert!((a - b).abs() <= 1e-5 * b, "{a} vs {b}");
        }
    }
}

/// A mini-batch step weighs its rows against the mean weight of all rows:
/// its sums are divided by its rows times that mean (not by its own
/// weight, under which a single row's weight would divide out), so a row's
/// step grows with its weight, as scikit-learn's SGD steps. Expected: the
/// steps written out in float64 (the squared error's slope is 2r), on the
/// CPU and the GPU, single rows and batches of two, in the stored order.
#[test]
fn a_mini_batch_step_grows_with_its_rows_weights() {
    let x = ndarray::array![[1.0f32, 0.5], [-0.5, 2.0], [0.25, -1.0], [2.0, 1.0], [-1.0, -0.5]];
    let y = ndarray::array![1.0f32, -2.0, 0.5, 3.0, 1.5];
    let weights = ndarray::array![1.0f32, 3.0, 0.5, 2.0, 0.0];
    let mean = weights.iter().map(|&w| f64::from(w)).sum::<f64>() / 5.0;
    let lr = 0.05;
    let mut devices = vec![(Device::Cpu, None)];
    if let Some(context) = common::gpu("weighted mini-batch steps on the GPU") {
        devices.push((Device::Gpu, Some(context)));
    }
    for batch in [1usize, 2] {
        // The steps in float64.
        let (mut w, mut b) = ([0.0f64; 2], 0.0f64);
        for start in (0..5).step_by(batch) {
            let rows = start..(start + batch).min(5);
            let divisor = rows.len() as f64 * mean;
            let (mut g, mut gb) = ([0.0f64; 2], 0.0f64);
            for i in rows {
                let z = f64::from(x[[i, 0]]) * w[0] + f64::from(x[[i, 1]]) * w[1] + b;
                let slope = f64::from(weights[i]) * 2.0 * (z - f64::from(y[i])) / divisor;
                g[0] += slope * f64::from(x[[i, 0]]);
                g[1] += slope * f64::from(x[[i, 1]]);
                gb += slope;
            }
            w[0] -= lr * g[0];
            w[1] -= lr * g[1];
            b -= lr * gb;
        }
        let expected = [b, w[0], w[1]];
        for (device, context) in &devices {
            let mut settings = GradientDescent::linear()
                .variant(Variant::MiniBatch(batch))
                .shuffle(downhill::Shuffle::None)
                .optimizer(Optimizer::sgd(lr as f32))
                .max_epochs(1)
                .device(*device);
            if let Some(context) = context {
                settings = settings.gpu_context(context.clone());
            }
            let fitted = settings.fit_weighted(x.view(), y.view(), weights.view()).unwrap();
            assert_near(
                &parameters(&fitted),
                &expected,
                1e-6,
                &format!("{device:?}, batches of {batch}"),
            );
        }
    }
}

/// An imbalanced table: one row in ten is of class 1, and the classes
/// overlap.
fn imbalanced() -> (Array2<f32>, Array1<f32>) {
    let data = Synthetic::generate(Model::Logistic, 4000, 4, 0.0, 21).unwrap();
    let mut x = data.x;
    let y = Array1::from_shape_fn(4000, |i| f32::from(i % 10 == 0));
    // The positives sit a little apart along the first two features.
    for (mut row, &label) in x.rows_mut().into_iter().zip(&y) {
        if label == 1.0 {
            row[0] += 1.0;
            row[1] -= 0.5;
        }
    }
    (x, y)
}

fn recall(fitted: &Fitted, x: &Array2<f32>, y: &Array1<f32>) -> f64 {
    let predicted = fitted.predict(x.view()).unwrap();
    let positives = y.iter().filter(|&&v| v == 1.0).count();
    let found = predicted
        .iter()
        .zip(y)
        .filter(|(&p, &t)| p == 1.0 && t == 1.0)
        .count();
    found as f64 / positives as f64
}

#[test]
fn balanced_class_weights_raise_the_minority_recall() {
    let (x, y) = imbalanced();
    let settings = GradientDescent::logistic()
        .standardize(true)
        .solver(Solver::lbfgs())
        .penalty(Penalty::L2(1e-3))
        .device(Device::Cpu);
    let plain = settings.clone().fit(x.view(), y.view()).unwrap();
    let balanced = settings
        .clone()
        .class_weight(ClassWeight::Balanced)
        .fit(x.view(), y.view())
        .unwrap();
    let (before, after) = (recall(&plain, &x, &y), recall(&balanced, &x, &y));
    eprintln!("minority recall: unweighted {before:.3}, balanced {after:.3}");
    assert!(after > before + 0.3, "recall {before} → {after}");
    // Balanced is n / (2 countₖ): 4000 / 800 for the positives, 4000 / 7200
    // for the rest, as sample weights give the same fit.
    let weights = y.mapv(|v| if v == 1.0 { 5.0 } else { 4000.0 / 7200.0 });
    let by_hand = settings.fit_weighted(x.view(), y.view(), weights.view()).unwrap();
    assert_near(
        &parameters(&balanced),
        &parameters(&by_hand),
        1e-6,
        "balanced against by hand",
    );
    // Given weights multiply the sample weights.
    let given = GradientDescent::logistic()
        .class_weight(ClassWeight::Given {
            negative: 1.0,
            positive: 9.0,
        })
        .max_epochs(50)
        .device(Device::Cpu);
    let halves = Array1::from_elem(4000, 0.5f32);
    let a = given.fit_weighted(x.view(), y.view(), halves.view()).unwrap();
    let b = given.fit(x.view(), y.view()).unwrap();
    assert_near(
        &parameters(&a),
        &parameters(&b),
        1e-6,
        "a common factor changes nothing",
    );
}

#[test]
fn bad_weights_each_have_their_own_error() {
    let (x, y, weights) = common::logistic_table();
    let fit = |weights: &Array1<f32>| {
        GradientDescent::logistic()
            .max_epochs(2)
            .fit_weighted(x.view(), y.view(), weights.view())
    };
    let mut negative = weights.clone();
    negative[17] = -0.5;
    assert_eq!(
        fit(&negative).unwrap_err(),
        Error::InvalidWeight { row: 17, value: -0.5 }
    );
    let mut nan = weights.clone();
    nan[3] = f32::NAN;
    assert!(matches!(fit(&nan), Err(Error::InvalidWeight { row: 3, value }) if value.is_nan()));
    assert_eq!(fit(&Array1::zeros(500)).unwrap_err(), Error::ZeroWeights);
    assert_eq!(
        fit(&Array1::ones(499)).unwrap_err(),
        Error::WeightCountMismatch {
            rows: 500,
            weights: 499
        }
    );
    let rows = InMemory::new(x.view(), y.view()).unwrap();
    assert!(matches!(
        Weighted::new(&rows, vec![1.0; 3]),
        Err(Error::WeightCountMismatch {
            rows: 500,
            weights: 3
        })
    ));
    assert_eq!(
        GradientDescent::linear()
            .class_weight(ClassWeight::Balanced)
            .fit(x.view(), y.view())
            .unwrap_err(),
        Error::Estimator(EstimatorError::ClassWeightOfModel { model: "linear" })
    );
    assert_eq!(
        GradientDescent::logistic()
            .class_weight(ClassWeight::Given {
                negative: 1.0,
                positive: f32::INFINITY
            })
            .fit(x.view(), y.view())
            .unwrap_err(),
        Error::Estimator(EstimatorError::InvalidClassWeight {
            label: 1.0,
            weight: f32::INFINITY
        })
    );
    // A held-out row's bad weight is named by its row in the caller's data.
    let held_out_negative = GradientDescent::logistic().validation_fraction(0.5).fit_weighted(
        x.view(),
        y.view(),
        negative.view(),
    );
    assert_eq!(
        held_out_negative.unwrap_err(),
        Error::InvalidWeight { row: 17, value: -0.5 }
    );
    assert_eq!(
        GradientDescent::logistic()
            .class_weight(ClassWeight::Given {
                negative: 0.0,
                positive: 0.0
            })
            .fit(x.view(), y.view())
            .unwrap_err(),
        Error::ZeroWeights
    );
    assert!(matches!(
        InMemory::new(x.view(), y.slice(ndarray::s![..499])),
        Err(Error::ShapeMismatch {
            x_rows: 500,
            y_len: 499
        })
    ));
    // A source of the caller's making whose weights are short is an error,
    // not a panic, on every engine.
    struct ShortWeights<'a>(InMemory<'a>);
    impl downhill::data::source::DataSource for ShortWeights<'_> {
        fn rows(&self) -> usize {
            self.0.rows()
        }
        fn features(&self) -> usize {
            self.0.features()
        }
        fn block(&self, start: usize, rows: usize) -> downhill::Result<downhill::data::source::Block<'_>> {
            self.0.block(start, rows)
        }
        fn weights(&self, _: usize, rows: usize) -> downhill::Result<Option<std::borrow::Cow<'_, [f32]>>> {
            Ok(Some(vec![1.0; rows.saturating_sub(1)].into()))
        }
    }
    let short = ShortWeights(InMemory::new(x.view(), y.view()).unwrap());
    for device in [Device::Cpu, Device::Auto] {
        let result = GradientDescent::logistic()
            .max_epochs(2)
            .device(device)
            .fit_source(&short);
        assert!(
            matches!(result, Err(Error::WeightCountMismatch { .. })),
            "{device:?}: {result:?}"
        );
    }
    // Held-out rows keep their weights.
    let held = GradientDescent::logistic()
        .validation_fraction(0.2)
        .max_epochs(3)
        .fit_weighted(x.view(), y.view(), weights.view())
        .unwrap();
    assert!(held
        .history()
        .records()
        .iter()
        .all(|r| r.validation_loss.is_some_and(f64::is_finite)));
}

/// The same weighted fit on the CPU and on `context`: the epoch losses
/// and the parameters within 1e-4.
fn assert_gpu_follows_cpu(
    settings: GradientDescent,
    context: &std::sync::Arc<downhill::GpuContext>,
    (x, y, weights): (&Array2<f32>, &Array1<f32>, &Array1<f32>),
    what: &str,
) {
    let cpu = settings
        .clone()
        .device(Device::Cpu)
        .fit_weighted(x.view(), y.view(), weights.view())
        .unwrap();
    let gpu = settings
        .gpu_context(context.clone())
        .device(Device::Gpu)
        .fit_weighted(x.view(), y.view(), weights.view())
        .unwrap();
    assert_eq!(gpu.device(), Device::Gpu);
    for (a, b) in gpu.history().losses().iter().zip(cpu.history().losses()) {
        assert!((a - b).abs() <= 1e-4 * b.abs(), "{what}: {a} vs {b}");
    }
    assert_near(&parameters(&gpu), &parameters(&cpu), 1e-4, what);
}

#[test]
fn the_gpu_weighs_rows_as_the_cpu_does() {
    let Some(context) = common::gpu("weighted rows on the GPU") else {
        return;
    };
    let (x, y, weights) = common::logistic_table();
    // Every step kernel: the full batch, fused small batches, gathered
    // large ones; and the sums of L-BFGS.
    for (variant, solver) in [
        (Variant::Full, Solver::GradientDescent),
        (Variant::MiniBatch(32), Solver::GradientDescent),
        (Variant::MiniBatch(300), Solver::GradientDescent),
        (Variant::Full, Solver::lbfgs()),
    ] {
        let settings = GradientDescent::logistic()
            .variant(variant)
            .solver(solver)
            .standardize(true)
            .penalty(Penalty::L2(0.01))
            .class_weight(ClassWeight::Balanced)
            .optimizer(Optimizer::adam(0.01))
            .max_epochs(20)
            .seed(5);
        assert_gpu_follows_cpu(
            settings,
            &context,
            (&x, &y, &weights),
            &format!("{variant} {solver}"),
        );
    }
    // X split across many buffers (gathered batches cross them), and
    // streamed through a GPU budget smaller than the data.
    let split = common::gpu_split("weighted rows across buffers").expect("the adapter of the shared context");
    for (variant, budget) in [
        (Variant::Full, None),
        (Variant::MiniBatch(100), None),
        (Variant::Full, Some(4096)),
    ] {
        let mut settings = GradientDescent::logistic()
            .variant(variant)
            .shuffle(downhill::Shuffle::Blocks { rows: 50 })
            .penalty(Penalty::L2(0.01))
            .optimizer(Optimizer::sgd(0.05))
            .max_epochs(10)
            .seed(5);
        if let Some(bytes) = budget {
            settings = settings.gpu_memory_budget(bytes);
        }
        let what = format!("{variant} through {budget:?} bytes");
        assert_gpu_follows_cpu(settings, &split, (&x, &y, &weights), &what);
    }
    // The weighted optimum itself, by L-BFGS on the GPU.
    let row = logistic_expected().row(3).to_owned();
    assert_eq!((row[0], row[1]), (1.0, 1.0), "C = 1, weighted");
    let expected: Vec<f64> = row.iter().skip(3).map(|&v| f64::from(v)).collect();
    let fitted = GradientDescent::logistic()
        .penalty(Penalty::L2(row[2]))
        .solver(Solver::lbfgs())
        .gpu_context(context)
        .device(Device::Gpu)
        .fit_weighted(x.view(), y.view(), weights.view())
        .unwrap();
    assert_near(
        &parameters(&fitted),
        &expected,
        1e-5,
        "L-BFGS on the GPU, weighted",
    );
}

#[test]
fn a_table_read_block_by_block_gives_the_same_weights() {
    use downhill::data::table::{read_table, TableData, TableOptions};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/logistic.csv");
    let options = TableOptions {
        weight_column: Some("weight".into()),
        ..TableOptions::default()
    };
    let whole = read_table(&path, "y", None, &options).unwrap();
    assert_eq!(whole.feature_names, ["x0", "x1", "x2", "x3", "x4"]);
    let (_, _, weights) = common::logistic_table();
    assert_eq!(whole.weights.as_ref(), Some(&weights));
    let streamed = TableData::open(&path, "y", None, &options).unwrap();
    let read = streamed.weights(123, 200).unwrap().unwrap();
    assert_eq!(
        read.as_ref(),
        weights.slice(ndarray::s![123..323]).as_slice().unwrap()
    );
    // Fitted through a budget of a few blocks, the same fit as in memory.
    let settings = GradientDescent::logistic()
        .penalty(Penalty::L2(0.01))
        .optimizer(Optimizer::sgd(0.5))
        .max_epochs(20)
        .device(Device::Cpu);
    let in_memory = settings
        .fit_weighted(whole.x.view(), whole.y.view(), weights.view())
        .unwrap();
    let from_file = settings.memory_budget(4096).fit_source(&streamed).unwrap();
    assert_near(
        &parameters(&from_file),
        &parameters(&in_memory),
        1e-6,
        "streamed table",
    );
}
