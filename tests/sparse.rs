//! Sparse rows (issue 25, its first part): `CsrData` and the svmlight
//! reader, read as scikit-learn's `load_svmlight_file` reads (indices
//! zero- or one-based, `qid`, comments), each malformed input its own
//! error naming the line; sparse rows fit exactly as the same rows dense,
//! on the CPU and the GPU; and L-BFGS on an svmlight table reaches
//! scikit-learn's `LogisticRegression` optimum (tests/data/make_sparse.py).

mod common;

use std::path::PathBuf;

use common::{assert_near, parameters};
use downhill::data::source::{DataSource, InMemory};
use downhill::data::sparse::CsrData;
use downhill::data::svmlight::{read_svmlight, Indexing, SvmlightOptions};
use downhill::{
    ClassWeight, DataError, Device, Error, GradientDescent, Model, Optimizer, Penalty, Solver, Variant,
};
use ndarray::Array2;

fn file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("downhill-sparse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn dense(rows: &CsrData) -> Vec<f32> {
    rows.block(0, rows.rows()).unwrap().x.into_owned()
}

fn data_error(error: Error) -> DataError {
    match error {
        Error::Data(error) => error,
        other => panic!("not a data error: {other:?}"),
    }
}

#[test]
fn csr_arrays_are_checked_and_written_out_dense() {
    // [[0, 2, 0], [0, 0, 0], [1, 0, 3]]
    let rows = CsrData::new(
        3,
        vec![0, 1, 1, 3],
        vec![1, 0, 2],
        vec![2.0, 1.0, 3.0],
        vec![1.0, 0.0, 1.0],
    )
    .unwrap();
    assert_eq!((rows.rows(), rows.features(), rows.entries()), (3, 3, 3));
    assert_eq!(dense(&rows), [0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 3.0]);
    assert_eq!(rows.block(2, 1).unwrap().x.as_ref(), [1.0, 0.0, 3.0]);
    let bad = |indptr: Vec<usize>, indices: Vec<u32>, values: Vec<f32>| {
        data_error(CsrData::new(3, indptr, indices, values, vec![0.0, 1.0]).unwrap_err())
    };
    assert!(matches!(
        bad(vec![0, 1], vec![0], vec![1.0]),
        DataError::SparseShape {
            expected: 3,
            found: 2,
            ..
        }
    ));
    assert!(matches!(
        bad(vec![0, 1, 2], vec![0, 1], vec![1.0]),
        DataError::SparseShape {
            expected: 2,
            found: 1,
            ..
        }
    ));
    assert!(matches!(
        bad(vec![0, 2, 1], vec![0, 1], vec![1.0, 1.0]),
        DataError::SparseShape { .. }
    ));
    assert!(matches!(
        bad(vec![0, 1, 2], vec![0, 3], vec![1.0, 1.0]),
        DataError::SparseIndex {
            row: 1,
            index: 3,
            features: 3
        }
    ));
    assert!(matches!(
        bad(vec![0, 2, 2], vec![2, 1], vec![1.0, 1.0]),
        DataError::UnsortedIndices {
            row: 0,
            index: 1,
            previous: 2
        }
    ));
    assert!(matches!(
        bad(vec![0, 2, 2], vec![1, 1], vec![1.0, 1.0]),
        DataError::UnsortedIndices {
            row: 0,
            index: 1,
            previous: 1
        }
    ));
    assert!(matches!(
        bad(vec![0, 0, 1], vec![2], vec![f32::NAN]),
        DataError::NonFiniteSparseValue { row: 1, index: 2, .. }
    ));
}

#[test]
fn svmlight_reads_as_scikit_learn_reads() {
    let text = "# a header comment\n\n1 1:0.5 3:2 # trailing\n-1 qid:3 2:1.5\n0\n2.5 4:-1e-3\n";
    let path = file("one.svm", text);
    // Auto: no index 0, so one-based: features 0..4.
    let read = read_svmlight(&path, SvmlightOptions::default()).unwrap();
    assert_eq!(read.indexing, Indexing::OneBased);
    let rows = read.rows;
    assert_eq!((rows.rows(), rows.features()), (4, 4));
    assert_eq!(
        dense(&rows),
        [0.5, 0.0, 2.0, 0.0, 0.0, 1.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1e-3]
    );
    assert_eq!(rows.targets(0, 4).unwrap().as_ref(), [1.0, -1.0, 0.0, 2.5]);
    // Read as zero-based, index 1 is the second feature: 0..5.
    let zero = read_svmlight(
        &path,
        SvmlightOptions {
            indexing: Indexing::ZeroBased,
            features: None,
        },
    )
    .unwrap()
    .rows;
    assert_eq!(zero.features(), 5);
    assert_eq!(&dense(&zero)[..5], [0.0, 0.5, 0.0, 2.0, 0.0]);
    // A file with an index 0 is zero-based under Auto.
    let with_zero =
        read_svmlight(file("zero.svm", "1 0:1 2:3\n0 1:4\n"), SvmlightOptions::default()).unwrap();
    assert_eq!(with_zero.indexing, Indexing::ZeroBased);
    assert_eq!(dense(&with_zero.rows), [1.0, 0.0, 3.0, 0.0, 4.0, 0.0]);
    // As scikit-learn: a signed qid, a "+" before an index; a file without
    // features is zero-based.
    let signs = read_svmlight(file("signs.svm", "1 qid:-4 +2:1.5\n"), SvmlightOptions::default()).unwrap();
    assert_eq!(dense(&signs.rows), [0.0, 1.5]);
    let bare = read_svmlight(file("bare.svm", "1\n0\n"), SvmlightOptions::default()).unwrap();
    assert_eq!((bare.rows.features(), bare.indexing), (0, Indexing::ZeroBased));
    // A width given: wider than the file's indices.
    let wide = read_svmlight(
        &path,
        SvmlightOptions {
            features: Some(6),
            ..Default::default()
        },
    )
    .unwrap()
    .rows;
    assert_eq!(wide.features(), 6);
}

#[test]
fn each_malformed_svmlight_line_is_its_own_error_naming_the_line() {
    let read = |name: &str, text: &str, options: SvmlightOptions| {
        data_error(read_svmlight(file(name, text), options).unwrap_err())
    };
    let auto = SvmlightOptions::default();
    let malformed = |name: &str, text: &str| match read(name, text, auto) {
        DataError::MalformedSvmlight { line, token, .. } => (line, token),
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(malformed("label.svm", "1 1:2\nyes 1:2\n"), (2, "yes".into()));
    assert_eq!(malformed("multilabel.svm", "1,2 1:2\n"), (1, "1,2".into()));
    assert_eq!(malformed("colon.svm", "1 1:2\n\n0 3\n"), (3, "3".into()));
    assert_eq!(malformed("negative.svm", "1 -1:2\n"), (1, "-1:2".into()));
    assert_eq!(malformed("index.svm", "1 a:2\n"), (1, "a:2".into()));
    assert_eq!(malformed("value.svm", "1 1:x\n"), (1, "1:x".into()));
    assert_eq!(malformed("nan.svm", "1 1:2\n0 2:nan\n"), (2, "2:nan".into()));
    assert_eq!(malformed("inf.svm", "1 1:inf\n"), (1, "1:inf".into()));
    assert_eq!(malformed("qid.svm", "1 1:2 qid:3\n"), (1, "qid:3".into()));
    assert_eq!(
        malformed("two-qids.svm", "1 qid:1 qid:2 1:2\n"),
        (1, "qid:2".into())
    );
    // Bytes that are not text before a comment name their line; within a
    // comment they are a comment's.
    let bytes = file("bytes.svm", "");
    std::fs::write(&bytes, b"1 1:2\n0 2:\xff\xfe\n").unwrap();
    assert!(matches!(
        data_error(read_svmlight(&bytes, auto).unwrap_err()),
        DataError::MalformedSvmlight { line: 2, .. }
    ));
    std::fs::write(&bytes, b"1 1:2 # caf\xe9\n0 2:1\n").unwrap();
    assert_eq!(read_svmlight(&bytes, auto).unwrap().rows.rows(), 2);
    assert!(matches!(
        read("unsorted.svm", "1 1:1 3:1\n0 4:1 2:1\n", auto),
        DataError::UnsortedSvmlightIndices {
            line: 2,
            index: 2,
            previous: 4,
            ..
        }
    ));
    assert!(matches!(
        read("repeated.svm", "1 1:1 1:2\n", auto),
        DataError::UnsortedSvmlightIndices {
            line: 1,
            index: 1,
            previous: 1,
            ..
        }
    ));
    let one_based = SvmlightOptions {
        indexing: Indexing::OneBased,
        features: None,
    };
    assert!(matches!(
        read("zero-in-one.svm", "1 1:1\n\n0 0:1\n", one_based),
        DataError::ZeroIndexInOneBased { line: 3, .. }
    ));
    let narrow = SvmlightOptions {
        features: Some(2),
        ..Default::default()
    };
    assert!(matches!(
        read("beyond.svm", "1 1:1\n0 3:1\n", narrow),
        DataError::SvmlightIndexBeyondFeatures {
            line: 2,
            index: 3,
            features: 2,
            ..
        }
    ));
    assert!(matches!(
        read("empty.svm", "# only a comment\n\n", auto),
        DataError::EmptyFile { .. }
    ));
    // Every such error names the file.
    let error = read_svmlight(file("named.svm", "1 1:x\n"), auto).unwrap_err();
    assert!(
        error.to_string().contains("named.svm") && error.file().is_some(),
        "{error}"
    );
}

/// The rows of tests/data/sparse.svm, sparse and dense.
fn sparse_table() -> (CsrData, Array2<f32>) {
    let rows = read_svmlight(
        common::repository().join("tests/data/sparse.svm"),
        SvmlightOptions::default(),
    )
    .unwrap()
    .rows;
    let x = Array2::from_shape_vec((rows.rows(), rows.features()), dense(&rows)).unwrap();
    (rows, x)
}

/// Sparse rows are the same rows to every engine. The GPU sums full
/// batches from the CSR arrays on the device (with a copy by column for
/// Xᵀr), the multinomial's margins too, and steps mini-batches from their
/// stored entries (each batch's copy by column listed by the host), every
/// rule, penalty and weight, and fits them as the same rows dense to
/// float32 rounding; standardized mini-batches it reads written out dense,
/// the same rows dense but for the standardization, measured from the
/// stored entries (to rounding). The CPU engine reads the CSR arrays themselves (margins in
/// float64 from the stored entries), and fits them as the same rows dense
/// to the dense pass's float32 rounding: the losses to 1e-6 of them (for
/// L-BFGS, which stops at the rounding of its own sums, the last loss),
/// the parameters to 1e-5 of the largest, over the full batch,
/// mini-batches, L-BFGS, balanced class weights and a three-class model,
/// standardized too (the CSR pass folds the centring into the bias and
/// maps its sums back: the rows stay sparse). Mini-batch steps on sparse
/// rows touch only the batch's features under SGD (the L2 shrink kept as a
/// scale), AdaGrad and RMSProp (its decay caught up): the same steps as
/// dense ones; momentum and Nesterov too (the steps an untouched weight and
/// its velocity missed caught up by a matrix power); centred rows take
/// dense steps.
#[test]
fn sparse_rows_fit_as_the_same_rows_dense() {
    let (rows, x) = sparse_table();
    let y = rows.targets(0, rows.rows()).unwrap().into_owned();
    let y = ndarray::Array1::from(y);
    let dense_rows = InMemory::new(x.view(), y.view()).unwrap();
    // Three classes: the label and the sign of the first stored value.
    let three_y: Vec<f32> = (0..rows.rows())
        .map(|i| {
            let first = rows.csr().values[rows.csr().indptr[i]..rows.csr().indptr[i + 1]]
                .first()
                .copied()
                .unwrap_or(0.0);
            y[i] + f32::from(first > 0.5)
        })
        .collect();
    let csr = rows.csr();
    let three = CsrData::new(
        csr.features,
        csr.indptr.to_vec(),
        csr.indices.to_vec(),
        csr.values.to_vec(),
        three_y.clone(),
    )
    .unwrap();
    let three_y = ndarray::Array1::from(three_y);
    let three_dense = InMemory::new(x.view(), three_y.view()).unwrap();
    let mut devices = vec![(Device::Cpu, None)];
    if let Some(context) = common::gpu("sparse rows on the GPU") {
        devices.push((Device::Gpu, Some(context)));
    }
    for (device, context) in devices {
        let on = |settings: GradientDescent| match &context {
            Some(context) => settings.device(device).gpu_context(context.clone()),
            None => settings.device(device),
        };
        let cases = [
            (
                "full batch",
                GradientDescent::logistic().l2(1e-3).max_epochs(30),
                false,
            ),
            (
                "mini-batch RMSProp",
                GradientDescent::logistic()
                    .variant(Variant::MiniBatch(32))
                    .optimizer(Optimizer::rmsprop(0.01))
                    .max_epochs(5)
                    .seed(3),
                false,
            ),
            (
                "single-row SGD with L2",
                GradientDescent::logistic()
                    .variant(Variant::Stochastic)
                    .optimizer(Optimizer::sgd(0.002))
                    .l2(0.05)
                    .max_epochs(4)
                    .seed(5),
                false,
            ),
            (
                "mini-batch momentum",
                GradientDescent::logistic()
                    .variant(Variant::MiniBatch(16))
                    .optimizer(Optimizer::momentum(0.01, 0.9))
                    .max_epochs(3)
                    .seed(13),
                false,
            ),
            (
                "single-row momentum with L2, the rate halved every epoch",
                GradientDescent::logistic()
                    .variant(Variant::Stochastic)
                    .optimizer(Optimizer::momentum(0.002, 0.9))
                    .schedule(downhill::Schedule::step_decay(1, 0.5))
                    .l2(0.05)
                    .max_epochs(3)
                    .seed(27),
                false,
            ),
            (
                "single-row Nesterov with L2",
                GradientDescent::logistic()
                    .variant(Variant::Stochastic)
                    .optimizer(Optimizer::nesterov(0.001, 0.9))
                    .l2(0.05)
                    .max_epochs(3)
                    .seed(17),
                false,
            ),
            (
                "three classes, mini-batch momentum with L2",
                GradientDescent::multinomial(3)
                    .variant(Variant::MiniBatch(4))
                    .optimizer(Optimizer::momentum(0.002, 0.8))
                    .l2(0.02)
                    .max_epochs(3)
                    .seed(19),
                true,
            ),
            (
                "standardized mini-batch SGD",
                GradientDescent::logistic()
                    .standardize(true)
                    .variant(Variant::MiniBatch(8))
                    .optimizer(Optimizer::sgd(0.01))
                    .l2(1e-3)
                    .max_epochs(3)
                    .seed(15),
                false,
            ),
            (
                // A batch whose entries outnumber the features: still
                // stepped row by row (SGD is linear in the gradient).
                "mini-batch 64 SGD with L2",
                GradientDescent::logistic()
                    .variant(Variant::MiniBatch(64))
                    .optimizer(Optimizer::sgd(0.02))
                    .l2(0.01)
                    .max_epochs(5)
                    .seed(33),
                false,
            ),
            (
                "weighted single-row SGD",
                GradientDescent::logistic()
                    .variant(Variant::Stochastic)
                    .class_weight(ClassWeight::Balanced)
                    .optimizer(Optimizer::sgd(0.002))
                    .l2(1e-3)
                    .max_epochs(2)
                    .seed(21),
                false,
            ),
            (
                // ηλ₂ = 1: each step's shrink leaves nothing of the weights.
                "single-row SGD shrinking by 1 - 0.5 * 2",
                GradientDescent::logistic()
                    .variant(Variant::Stochastic)
                    .optimizer(Optimizer::sgd(0.5))
                    .l2(2.0)
                    .max_epochs(1)
                    .seed(23),
                false,
            ),
            (
                // Shrinking by half a step: the scale factor falls below
                // 1e-9 and is folded into the weights every 30 steps.
                "single-row SGD shrinking by 1 - 0.25 * 2",
                GradientDescent::logistic()
                    .variant(Variant::Stochastic)
                    .optimizer(Optimizer::sgd(0.25))
                    .l2(2.0)
                    .max_epochs(1)
                    .seed(25),
                false,
            ),
            (
                "mini-batch SGD with the elastic net",
                GradientDescent::logistic()
                    .variant(Variant::MiniBatch(8))
                    .optimizer(Optimizer::sgd(0.01))
                    .penalty(downhill::Penalty::ElasticNet {
                        alpha: 0.02,
                        l1_ratio: 0.5,
                    })
                    .max_epochs(3)
                    .seed(29),
                false,
            ),
            (
                "averaged single-row SGD",
                GradientDescent::logistic()
                    .variant(Variant::Stochastic)
                    .optimizer(Optimizer::sgd(0.005))
                    .average(100)
                    .l2(1e-3)
                    .max_epochs(2)
                    .seed(31),
                false,
            ),
            (
                "mini-batch RMSProp with L2",
                GradientDescent::logistic()
                    .variant(Variant::MiniBatch(16))
                    .optimizer(Optimizer::rmsprop(0.005))
                    .l2(1e-2)
                    .max_epochs(3)
                    .seed(35),
                false,
            ),
            (
                "mini-batch AdaGrad",
                GradientDescent::logistic()
                    .variant(Variant::MiniBatch(8))
                    .optimizer(Optimizer::adagrad(0.05))
                    .max_epochs(4)
                    .seed(7),
                false,
            ),
            (
                "weighted mini-batch SGD",
                GradientDescent::logistic()
                    .variant(Variant::MiniBatch(4))
                    .class_weight(ClassWeight::Balanced)
                    .optimizer(Optimizer::sgd(0.01))
                    .l2(1e-3)
                    .max_epochs(4)
                    .seed(9),
                false,
            ),
            (
                "three classes, single-row SGD",
                GradientDescent::multinomial(3)
                    .variant(Variant::Stochastic)
                    .optimizer(Optimizer::sgd(0.002))
                    .l2(1e-2)
                    .max_epochs(3)
                    .seed(11),
                true,
            ),
            (
                "L-BFGS",
                GradientDescent::logistic()
                    .solver(Solver::lbfgs())
                    .l2(1e-3)
                    .max_epochs(50),
                false,
            ),
            (
                "least squares, L-BFGS",
                GradientDescent::linear()
                    .solver(Solver::lbfgs())
                    .l2(1e-3)
                    .max_epochs(50),
                false,
            ),
            (
                "balanced class weights",
                GradientDescent::logistic()
                    .class_weight(ClassWeight::Balanced)
                    .l2(1e-3)
                    .max_epochs(30),
                false,
            ),
            (
                "three classes",
                GradientDescent::multinomial(3).l2(1e-3).max_epochs(30),
                true,
            ),
            (
                "standardized",
                GradientDescent::logistic()
                    .standardize(true)
                    .l2(1e-3)
                    .max_epochs(30),
                false,
            ),
            (
                "standardized L-BFGS",
                GradientDescent::logistic()
                    .standardize(true)
                    .solver(Solver::lbfgs())
                    .l2(1e-3)
                    .max_epochs(50),
                false,
            ),
            (
                "standardized, three classes",
                GradientDescent::multinomial(3)
                    .standardize(true)
                    .l2(1e-3)
                    .max_epochs(30),
                true,
            ),
        ];
        for (what, settings, multinomial) in cases {
            let settings = on(settings);
            let (sparse, dense) = match multinomial {
                false => (settings.fit_source(&rows), settings.fit_source(&dense_rows)),
                true => (settings.fit_source(&three), settings.fit_source(&three_dense)),
            };
            let (sparse, dense) = (sparse.unwrap(), dense.unwrap());
            let (mut found, mut expected) = (sparse.history().losses(), dense.history().losses());
            if what.contains("L-BFGS") {
                // Each stops at the rounding of its own sums: the last
                // losses are compared, not the count of iterations.
                found.drain(..found.len() - 1);
                expected.drain(..expected.len() - 1);
            }
            let all = |f: &downhill::Fitted| -> Vec<f64> {
                f.intercepts()
                    .iter()
                    .chain(f.coefficients().iter())
                    .map(|&v| f64::from(v))
                    .collect()
            };
            assert_near(&all(&sparse), &all(&dense), 1e-5, what);
            assert_eq!(found.len(), expected.len(), "{what}");
            for (epoch, (a, b)) in found.iter().zip(&expected).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-6 * b.abs(),
                    "{what}: epoch {epoch}: {a} against {b}"
                );
            }
            if let (Some(a), Some(b)) = (sparse.standardizer(), dense.standardizer()) {
                let (a_mean, b_mean, a_scale, b_scale) = (a.mean(), b.mean(), a.scale(), b.scale());
                let pairs = a_mean
                    .iter()
                    .zip(b_mean.iter())
                    .chain(a_scale.iter().zip(b_scale.iter()));
                for (x, y) in pairs {
                    assert!((x - y).abs() <= 1e-6 * (1.0 + y.abs()), "{what}: {x} against {y}");
                }
            }
        }
    }
}

/// The L2 log-loss objective in float64 at a bias and weights, over the
/// rows of `x` (float32 values, widened) and labels `y`.
fn objective(x: &Array2<f32>, y: &[f32], alpha: f64, parameters: &[f64]) -> f64 {
    let (bias, weights) = (parameters[0], &parameters[1..]);
    let loss: f64 = x
        .rows()
        .into_iter()
        .zip(y)
        .map(|(row, &label)| {
            let margin = bias
                + row
                    .iter()
                    .zip(weights)
                    .map(|(&v, w)| f64::from(v) * w)
                    .sum::<f64>();
            // log(1 + e^m) − y m, computed stably.
            margin.max(0.0) + (-margin.abs()).exp().ln_1p() - f64::from(label) * margin
        })
        .sum();
    loss / y.len() as f64 + 0.5 * alpha * weights.iter().map(|w| w * w).sum::<f64>()
}

/// L2 logistic regression by L-BFGS on the svmlight table reaches
/// scikit-learn's `LogisticRegression` optimum on the same file: its
/// objective, in float64, is no higher than scikit-learn's but by 1e-12
/// of it, and its parameters agree to 1e-5 of the largest. (The engine
/// evaluates in float32: each gradient component is rounded by about 1e-7
/// of its terms, which fixes the parameters only to about that over the
/// objective's curvature along them: 1.1e-6 of the largest at α = 0.05
/// and 2.2e-6 at α = 0.0025 here, so 1e-6 is beyond float32's reach on
/// this table. The objective, flat at its minimum, tells two optima apart
/// far more finely, and is the test of the same optimum.)
#[test]
fn lbfgs_on_svmlight_rows_reaches_scikit_learns_optimum() {
    let (rows, x) = sparse_table();
    let y = rows.targets(0, rows.rows()).unwrap().into_owned();
    let expected = downhill::data::read_csv(
        common::repository().join("tests/data/sparse_expected.csv"),
        None,
        None,
    )
    .unwrap()
    .x;
    for row in expected.rows() {
        let alpha = f64::from(row[1]);
        let optimum: Vec<f64> = row.iter().skip(2).map(|&v| f64::from(v)).collect();
        let fitted = GradientDescent::new(Model::Logistic)
            .solver(Solver::lbfgs())
            .penalty(Penalty::L2(alpha as f32))
            .max_epochs(1000)
            .device(Device::Cpu)
            .fit_source(&rows)
            .unwrap();
        let ours = parameters(&fitted);
        let (found, best) = (
            objective(&x, &y, alpha, &ours),
            objective(&x, &y, alpha, &optimum),
        );
        assert!(
            found <= best + 1e-12 * best,
            "alpha {alpha}: objective {found} against scikit-learn's {best}"
        );
        assert_near(
            &ours,
            &optimum,
            1e-5,
            &format!("alpha {alpha}, {}", fitted.stop_reason()),
        );
    }
}

/// The CSR pass sums fixed chunks of rows in their order: a fit of
/// sparse rows (more rows than one chunk holds) is the same bit for bit
/// on 1, 2 or 3 threads.
#[test]
fn the_sparse_pass_does_not_depend_on_the_number_of_threads() {
    // 40,000 rows of 300 features, ~10 entries a row: ten chunks, summed
    // in two waves.
    let (n, d) = (40_000usize, 300usize);
    let mut indptr = vec![0usize];
    let (mut indices, mut values, mut y) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let mut margin = 0.0f32;
        for k in 0..10u32 {
            let j = (i as u32 * 7919 + k * 31) % d as u32;
            if indices[indptr[i]..].contains(&j) {
                continue;
            }
            let v = ((i * 13 + k as usize) % 17) as f32 / 17.0 - 0.4;
            indices.push(j);
            values.push(v);
            margin += v * if j.is_multiple_of(2) { 1.0 } else { -0.5 };
        }
        let start = indptr[i];
        let mut row: Vec<(u32, f32)> = indices[start..]
            .iter()
            .copied()
            .zip(values[start..].iter().copied())
            .collect();
        row.sort_by_key(|&(j, _)| j);
        for (slot, (j, v)) in row.into_iter().enumerate() {
            indices[start + slot] = j;
            values[start + slot] = v;
        }
        indptr.push(indices.len());
        y.push(f32::from(margin > 0.0));
    }
    let rows = CsrData::new(d, indptr, indices, values, y).unwrap();
    let settings = GradientDescent::logistic()
        .l2(1e-3)
        .max_epochs(5)
        .device(Device::Cpu);
    let in_pool = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let fitted = settings.fit_source(&rows).unwrap();
                (
                    fitted.coefficients().to_owned(),
                    fitted.intercepts().to_owned(),
                    fitted.history().losses(),
                )
            })
    };
    let one = in_pool(1);
    assert_eq!(one, in_pool(2));
    assert_eq!(one, in_pool(3));
}

/// A model's margins and predictions of a sparse source are those of the
/// same rows dense (to float32 rounding: the sums add the same non-zero
/// terms in another order), for one margin and for three.
#[test]
fn margins_and_predictions_of_sparse_rows_are_those_of_the_rows_dense() {
    let (rows, x) = sparse_table();
    for classes in [None, Some(3u32)] {
        let (settings, source) = match classes {
            None => (GradientDescent::logistic(), rows.clone()),
            Some(k) => {
                let y: Vec<f32> = (0..rows.rows()).map(|i| (i % k as usize) as f32).collect();
                (
                    GradientDescent::multinomial(k),
                    rows.clone().with_targets(y).unwrap(),
                )
            }
        };
        let fitted = settings
            .l2(1e-2)
            .max_epochs(20)
            .device(Device::Cpu)
            .fit_source(&source)
            .unwrap();
        let sparse = fitted.class_margins_of_source(&source).unwrap();
        let dense = fitted.class_margins(x.view()).unwrap();
        assert_eq!(sparse.dim(), dense.dim());
        let scale = dense.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (a, b) in sparse.iter().zip(dense.iter()) {
            assert!((a - b).abs() <= 1e-5 * scale, "{classes:?}: {a} against {b}");
        }
        let (found, expected) = (
            fitted.predict_source(&source).unwrap(),
            fitted.predict(x.view()).unwrap(),
        );
        let differing = found.iter().zip(expected.iter()).filter(|(a, b)| a != b).count();
        // A prediction may flip only where a margin is within rounding of a tie.
        assert!(differing <= 1, "{classes:?}: {differing} predictions differ");
    }
    let narrow = GradientDescent::linear().max_epochs(1).fit_source(&rows).unwrap();
    let wider = rows.clone().with_features(rows.features() + 1).unwrap();
    assert!(matches!(
        narrow.class_margins_of_source(&wider),
        Err(Error::FeatureCountMismatch { .. })
    ));
}

/// Rows written as svmlight read back the same: sparse rows, and dense
/// rows (their zeros left out of the file), with labels and values to the
/// last bit of float32.
#[test]
fn rows_written_as_svmlight_read_back_the_same() {
    use downhill::data::svmlight::write_svmlight;
    let (rows, x) = sparse_table();
    let dir = std::env::temp_dir().join(format!("downhill-sparse-write-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let y = ndarray::Array1::from(rows.targets(0, rows.rows()).unwrap().into_owned());
    let dense_rows = InMemory::new(x.view(), y.view()).unwrap();
    for (what, source) in [("sparse", &rows as &dyn DataSource), ("dense", &dense_rows)] {
        let path = dir.join(format!("{what}.svm"));
        // Blocks of 7 rows: the blocks' edges are not the file's.
        write_svmlight(source, &path, 7).unwrap();
        let back = read_svmlight(
            &path,
            SvmlightOptions {
                indexing: Indexing::OneBased,
                features: Some(rows.features()),
            },
        )
        .unwrap()
        .rows;
        assert_eq!(dense(&back), dense(&rows), "{what}");
        assert_eq!(
            back.targets(0, back.rows()).unwrap(),
            rows.targets(0, rows.rows()).unwrap(),
            "{what}"
        );
    }
}

/// SciPy's sparse matrices (`scipy.sparse.save_npz`, tests/data/
/// make_sparse_npz.py): a CSR matrix reads as the svmlight file it came
/// from, compressed or not, with 32- or 64-bit indices and float64 or
/// float32 values; a CSC matrix is refused by name.
#[cfg(feature = "npy")]
#[test]
fn scipy_csr_matrices_read_as_the_svmlight_rows() {
    use downhill::data::npy::read_targets;
    use downhill::data::npz::read_npz;
    let (rows, _) = sparse_table();
    let data = common::repository().join("tests/data");
    let y = read_targets(data.join("sparse_y.npy")).unwrap().to_vec();
    for file in ["sparse_csr.npz", "sparse_csr64.npz"] {
        let read = read_npz(data.join(file), Some(y.clone())).unwrap();
        assert_eq!(
            (read.rows(), read.features()),
            (rows.rows(), rows.features()),
            "{file}"
        );
        assert_eq!(dense(&read), dense(&rows), "{file}");
        assert_eq!(
            read.targets(0, read.rows()).unwrap(),
            rows.targets(0, rows.rows()).unwrap()
        );
    }
    let csc = read_npz(data.join("sparse_csc.npz"), Some(y.clone())).unwrap_err();
    assert!(
        matches!(&csc, Error::Data(DataError::NotCsr { reason, .. }) if reason.contains("csc")),
        "{csc}"
    );
    // SciPy's non-canonical form: a row's indices out of order and
    // repeated, summed as SciPy sums them.
    let unsorted = read_npz(data.join("sparse_unsorted.npz"), None).unwrap();
    let expected = downhill::data::npy::read_features(data.join("sparse_unsorted_dense.npy")).unwrap();
    assert_eq!(dense(&unsorted), expected.iter().copied().collect::<Vec<f32>>());
    // A file that is no zip, and targets of another length.
    assert!(matches!(
        read_npz(data.join("sparse.svm"), Some(y.clone())),
        Err(Error::Data(DataError::NotCsr { .. }))
    ));
    assert!(matches!(
        read_npz(data.join("sparse_csr.npz"), Some(y[1..].to_vec())),
        Err(Error::Data(DataError::SparseShape { .. }))
    ));
}

/// Adam's steps on sparse mini-batches update only the coordinates the
/// batch stores entries for, and the biases (PyTorch's `SparseAdam`): the
/// fit equals that rule written out here in float64 over the same batches
/// (storage order, 4 rows each) to float32 rounding, and differs from
/// dense Adam, whose untouched weights keep moving. The GPU engine and a
/// data-parallel fit, which have no such step, refuse it by name.
#[test]
fn adam_on_sparse_mini_batches_steps_only_the_touched_coordinates() {
    let (rows, x) = sparse_table();
    let y = rows.targets(0, rows.rows()).unwrap().into_owned();
    let (n, d) = x.dim();
    let (lr, beta1, beta2, eps, l2, batch, epochs) = (0.01, 0.9, 0.999, 1e-8, 1e-3, 4, 3);
    let settings = GradientDescent::logistic()
        .variant(Variant::MiniBatch(batch))
        .shuffle(downhill::Shuffle::None)
        .optimizer(Optimizer::adam(lr as f32))
        .l2(l2 as f32)
        .max_epochs(epochs)
        .device(Device::Cpu);
    let fitted = settings.clone().fit_source(&rows).unwrap();

    // SparseAdam over the same batches, in float64.
    let mut theta = vec![0.0f64; d + 1];
    let (mut m, mut v) = (vec![0.0f64; d + 1], vec![0.0f64; d + 1]);
    let mut t = 0;
    for _ in 0..epochs {
        for start in (0..n).step_by(batch) {
            let batch_rows = start..(start + batch).min(n);
            let mut gradient = vec![0.0f64; d + 1];
            let mut touched = vec![false; d];
            for i in batch_rows.clone() {
                let z = theta[d] + (0..d).map(|j| f64::from(x[[i, j]]) * theta[j]).sum::<f64>();
                let slope = 1.0 / (1.0 + (-z).exp()) - f64::from(y[i]);
                for j in 0..d {
                    if x[[i, j]] != 0.0 {
                        touched[j] = true;
                        gradient[j] += slope * f64::from(x[[i, j]]);
                    }
                }
                gradient[d] += slope;
            }
            t += 1;
            let (first, second) = (1.0 - f64::powi(beta1, t), (1.0 - f64::powi(beta2, t)).sqrt());
            for j in (0..=d).filter(|&j| j == d || touched[j]) {
                let mut g = gradient[j] / batch_rows.len() as f64;
                if j < d {
                    g += l2 * theta[j];
                }
                m[j] = beta1 * m[j] + (1.0 - beta1) * g;
                v[j] = beta2 * v[j] + (1.0 - beta2) * g * g;
                theta[j] -= lr / first * m[j] / (v[j].sqrt() / second + eps);
            }
        }
    }
    let found: Vec<f64> = fitted
        .coefficients()
        .iter()
        .chain(fitted.intercepts().iter())
        .map(|&w| f64::from(w))
        .collect();
    assert_near(&found, &theta, 1e-4, "SparseAdam");

    // Dense Adam on the same rows written out dense moves every weight
    // every step once it has moved: another result.
    let y = ndarray::Array1::from(y);
    let dense = settings
        .clone()
        .fit_source(&InMemory::new(x.view(), y.view()).unwrap())
        .unwrap();
    let largest = dense.coefficients().iter().fold(0.0f32, |a, w| a.max(w.abs()));
    let apart = dense
        .coefficients()
        .iter()
        .zip(fitted.coefficients().iter())
        .fold(0.0f32, |a, (p, q)| a.max((p - q).abs()));
    assert!(
        apart > 1e-2 * largest,
        "dense Adam gave the same weights: {apart} of {largest}"
    );

    match settings
        .clone()
        .device(Device::Gpu)
        .fit_source(&rows)
        .unwrap_err()
    {
        Error::Engine(downhill::EngineError::SparseAdamOnCpuOnly { engine }) => {
            assert_eq!(engine, "the GPU engine")
        }
        other => panic!("{other:?}"),
    }
    // Settings whose lazy form does not exist are refused, not run as
    // dense Adam.
    for (settings, named) in [
        (settings.clone().penalty(Penalty::L1(1e-3)), "an L1 penalty"),
        (settings.clone().standardize(true), "standardized rows"),
    ] {
        match settings.fit_source(&rows).unwrap_err() {
            Error::Engine(downhill::EngineError::SparseAdamWith { setting }) => {
                assert!(setting.starts_with(named), "{setting}")
            }
            other => panic!("{other:?}"),
        }
    }
}

/// A fit on sparse rows in lazy steps, stopped and resumed, continues
/// exactly: the state each epoch ends with is what the run goes on from
/// (SGD's weights as float32, momentum's caught-up velocities); on the
/// GPU's sparse mini-batches too (the state read back, then uploaded).
#[test]
fn lazy_sparse_steps_resume_bit_for_bit() {
    let (rows, _) = sparse_table();
    for settings in [
        GradientDescent::logistic()
            .variant(Variant::Stochastic)
            .optimizer(Optimizer::sgd(0.002))
            .l2(0.05),
        GradientDescent::logistic()
            .variant(Variant::MiniBatch(3))
            .optimizer(Optimizer::nesterov(0.002, 0.9))
            .l2(0.05),
        GradientDescent::logistic()
            .variant(Variant::MiniBatch(5))
            .optimizer(Optimizer::rmsprop(0.01)),
    ] {
        let mut devices = vec![settings.clone().device(Device::Cpu)];
        // The GPU's sparse mini-batches: the optimizer state read back and
        // uploaded again.
        if let Some(context) = common::gpu("sparse mini-batches resumed on the GPU") {
            devices.push(settings.device(Device::Gpu).gpu_context(context));
        }
        for settings in devices {
            let settings = settings.seed(29);
            let whole = settings.clone().max_epochs(4).fit_source(&rows).unwrap();
            let half = settings.clone().max_epochs(2).fit_source(&rows).unwrap();
            let resumed = settings.max_epochs(2).resume(&half).fit_source(&rows).unwrap();
            assert_eq!(resumed.coefficients(), whole.coefficients());
            assert_eq!(resumed.intercepts(), whole.intercepts());
            assert_eq!(resumed.history().losses(), whole.history().losses());
        }
    }
}

/// Rows written as an `.npz` (`convert`'s output) read back as the same
/// CSR arrays and targets, from sparse rows and from the same rows dense
/// (their zeros left out); an archive read for an array it lacks names the
/// arrays it holds. (SciPy's `load_npz` reads the file too: tried by hand,
/// `scipy.sparse.load_npz(path)` equals `load_svmlight_file`'s matrix.)
#[cfg(feature = "npy")]
#[test]
fn rows_written_as_npz_read_back_the_same() {
    use downhill::data::npz::{read_npz, read_npz_array, write_npz};
    let (rows, x) = sparse_table();
    let y = rows.targets(0, rows.rows()).unwrap().into_owned();
    let y_array = ndarray::Array1::from(y.clone());
    let dense_rows = InMemory::new(x.view(), y_array.view()).unwrap();
    for (what, source, block_rows) in [
        ("sparse", &rows as &dyn DataSource, 7),
        ("dense", &dense_rows as &dyn DataSource, 400),
    ] {
        let path = file(&format!("written-{what}.npz"), "");
        write_npz(source, &path, block_rows).unwrap();
        let targets = read_npz_array(&path, "y").unwrap();
        assert_eq!(targets, y, "{what}");
        let back = read_npz(&path, Some(targets)).unwrap();
        assert_eq!(back.csr().indptr, rows.csr().indptr, "{what}");
        assert_eq!(back.csr().indices, rows.csr().indices, "{what}");
        assert_eq!(back.csr().values, rows.csr().values, "{what}");
        assert_eq!(back.features(), rows.features(), "{what}");
        match data_error(read_npz_array(&path, "label").unwrap_err()) {
            DataError::MalformedFile { reason, .. } => {
                assert!(
                    reason.contains("indices, indptr, format, shape, data, y"),
                    "{reason}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
}

/// A CSV table of `rows` rows: a text column `item` of `items` values
/// (row i holds item i mod items), two number columns and a linear target
/// with an effect per item, written to a temporary file.
fn wide_table(name: &str, rows: usize, items: usize) -> PathBuf {
    let mut text = String::from("item,x1,x2,weight,y\n");
    for i in 0..rows {
        let item = i % items;
        let (x1, x2) = ((i % 7) as f32 - 3.0, ((i * 13) % 11) as f32 / 5.0);
        let effect = ((item * 37) % 19) as f32 / 9.0 - 1.0;
        let y = 0.5 * x1 - 0.25 * x2 + effect + ((i * 7919) % 13) as f32 / 26.0;
        text.push_str(&format!("id{item},{x1},{x2},{},{y}\n", 1 + i % 3));
    }
    file(name, &text)
}

/// A table whose one-hot columns make it wide is read as sparse rows (the
/// features each row sets) and fits as the same table read dense: L-BFGS,
/// standardized or not, weighted, and single-row SGD, the parameters to
/// 1e-5 of the largest (the dense pass's float32 rounding), the rows
/// themselves equal. Its encoding applied to a file for predictions gives
/// the same rows too.
#[test]
fn wide_one_hot_tables_read_as_sparse_rows_fit_as_dense() {
    use downhill::data::table::{Opened, TableData, TableOptions};
    let path = wide_table("wide.csv", 3000, 1500);
    let options = TableOptions {
        max_categories: 5000,
        weight_column: Some("weight".into()),
        ..TableOptions::default()
    };
    let open = || TableData::open(&path, "y", Some(&["item", "x1", "x2"]), &options).unwrap();
    let table = open();
    assert!(table.reads_sparse());
    assert_eq!(table.features(), 1502);
    let sparse = match table.read_within(u64::MAX).unwrap() {
        Opened::Sparse(table) => table,
        other => panic!("not read sparse: {:?}", std::mem::discriminant(&other)),
    };
    let whole = open().read_whole().unwrap();
    let held = sparse.sparse().expect("sparse rows");
    // Each row sets its item and its non-zero numbers.
    let numbers_set = (0..3000).filter(|i| i % 7 != 3).count() + (0..3000).filter(|i| i % 11 != 0).count();
    assert_eq!(held.csr.indices.len(), 3000 + numbers_set);
    assert_eq!(
        sparse.block(0, 3000).unwrap().x.as_ref(),
        whole.x.as_slice().unwrap(),
        "the rows"
    );
    let weights = whole.weights.clone().unwrap().to_vec();
    let unweighted = InMemory::new(whole.x.view(), whole.y.view()).unwrap();
    let dense_rows = downhill::data::source::Weighted::new(&unweighted, weights).unwrap();
    for (what, settings) in [
        (
            "L-BFGS",
            GradientDescent::linear()
                .solver(Solver::lbfgs())
                .l2(1e-3)
                .max_epochs(200),
        ),
        (
            "standardized L-BFGS",
            GradientDescent::linear()
                .standardize(true)
                .solver(Solver::lbfgs())
                .l2(1e-3)
                .max_epochs(200),
        ),
        (
            "single-row SGD",
            GradientDescent::linear()
                .variant(Variant::Stochastic)
                .optimizer(Optimizer::sgd(0.002))
                .l2(1e-3)
                .max_epochs(2)
                .seed(31),
        ),
    ] {
        let settings = settings.device(Device::Cpu);
        let (a, b) = (
            settings.fit_source(&sparse).unwrap(),
            settings.fit_source(&dense_rows).unwrap(),
        );
        let all = |f: &downhill::Fitted| -> Vec<f64> {
            f.intercepts()
                .iter()
                .chain(f.coefficients().iter())
                .map(|&v| f64::from(v))
                .collect()
        };
        assert_near(&all(&a), &all(&b), 1e-5, what);
    }
    let (rows, counts, lines) = sparse.encoding().apply_sparse(&path, false).unwrap();
    let (x, dense_counts, dense_lines) = sparse.encoding().apply(&path).unwrap();
    assert_eq!(dense(&rows), x.as_slice().unwrap());
    assert_eq!((counts, lines), (dense_counts, dense_lines));
    // A saved encoding re-reads the sparse rows with it.
    let encoding = sparse.encoding().clone();
    let again = sparse.with_encoding(encoding).unwrap();
    assert_eq!(
        again.block(0, 3000).unwrap().x.as_ref(),
        whole.x.as_slice().unwrap()
    );
    // Sparse rows too are held within the memory budget.
    match open().read_within(100_000) {
        Err(Error::Data(DataError::SparseRowsBeyondBudget {
            rows: 3000,
            width: 1502,
            ..
        })) => {}
        other => panic!("{:?}", other.map(|_| ())),
    }
}

/// A text column whose values are nearly all distinct is an identifier:
/// left out by name and reason even under a raised category cap, unless
/// named among the features, where it is one-hot encoded as sparse rows.
#[test]
fn identifier_columns_are_left_out_unless_named() {
    use downhill::data::table::{DropReason, TableData, TableOptions};
    let path = wide_table("ids.csv", 1200, 1200);
    let options = TableOptions {
        max_categories: 5000,
        ..TableOptions::default()
    };
    let table = TableData::open(&path, "y", None, &options).unwrap();
    let dropped = table.dropped();
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert_eq!(dropped[0].column, "item");
    assert_eq!(
        dropped[0].reason,
        DropReason::IdLike {
            values: 1200,
            cells: 1200
        }
    );
    assert!(dropped[0].reason.to_string().contains("name it in --features"));
    let named = TableData::open(&path, "y", Some(&["item", "x1"]), &options).unwrap();
    assert!(named.dropped().is_empty());
    assert_eq!(named.features(), 1201);
    assert!(named.reads_sparse());
}

/// Feature hashing places a key where scikit-learn's `FeatureHasher`
/// does (MurmurHash3, signed; tests/data/make_hashing.py), and a table's
/// text columns and interactions hash into the rows `FeatureHasher` gives
/// for the same keys: read dense, and read as sparse rows (where hashed
/// values that collide are added).
#[test]
fn hashed_columns_and_interactions_are_scikit_learns_feature_hashing() {
    use downhill::data::table::{Hashing, TableData, TableOptions};
    let places = std::fs::read_to_string(common::repository().join("tests/data/hashing_places.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(places.as_bytes());
    let mut checked = 0;
    for record in reader.records() {
        let record = record.unwrap();
        let hashing = Hashing {
            bits: record[1].parse().unwrap(),
            ..Hashing::default()
        };
        let (place, sign): (usize, f32) = (record[2].parse().unwrap(), record[3].parse().unwrap());
        assert_eq!(hashing.place(&record[0]), (place, sign), "{:?}", &record[0]);
        checked += 1;
    }
    assert_eq!(checked, 32);

    let expected =
        std::fs::read_to_string(common::repository().join("tests/data/hashing_expected.csv")).unwrap();
    let expected: Vec<f32> = expected
        .lines()
        .skip(1)
        .flat_map(|line| {
            line.split(',')
                .map(|v| v.parse::<f32>().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    let options = TableOptions {
        hashing: Some(Hashing {
            bits: 4,
            columns: None,
            interactions: vec![("city".into(), "color".into()), ("city".into(), "x".into())],
        }),
        ..TableOptions::default()
    };
    let path = common::repository().join("tests/data/hashing.csv");
    let table = TableData::open(&path, "y", None, &options).unwrap();
    assert_eq!(table.features(), 17);
    assert_eq!(table.block(0, 8).unwrap().x.as_ref(), &expected[..]);
    let (rows, _, _) = table.encoding().apply_sparse(&path, false).unwrap();
    assert_eq!(dense(&rows), expected);
    // An interaction must name columns the features come from.
    let unknown = TableOptions {
        hashing: Some(Hashing {
            bits: 4,
            columns: None,
            interactions: vec![("city".into(), "nope".into())],
        }),
        ..TableOptions::default()
    };
    match data_error(TableData::open(&path, "y", None, &unknown).unwrap_err()) {
        DataError::MissingColumn { name, .. } => assert_eq!(name, "nope"),
        other => panic!("{other:?}"),
    }
    let unknown_hashed = TableOptions {
        hashing: Some(Hashing {
            bits: 4,
            columns: Some(vec!["city".into(), "colour".into()]),
            interactions: Vec::new(),
        }),
        ..TableOptions::default()
    };
    match data_error(TableData::open(&path, "y", None, &unknown_hashed).unwrap_err()) {
        DataError::MissingColumn { name, .. } => assert_eq!(name, "colour"),
        other => panic!("{other:?}"),
    }
}

/// The GPU's sums of sparse rows take no float atomics: a fit from them is
/// the same, bit for bit, at every run; its work is counted.
#[test]
fn the_gpu_fits_sparse_rows_the_same_at_every_run() {
    let Some(context) = common::gpu("sparse rows on the GPU, twice") else {
        return;
    };
    let (rows, _) = sparse_table();
    let settings = GradientDescent::logistic()
        .solver(Solver::lbfgs())
        .l2(1e-3)
        .max_epochs(50)
        .device(Device::Gpu)
        .gpu_context(context);
    let (first, second) = (
        settings.fit_source(&rows).unwrap(),
        settings.fit_source(&rows).unwrap(),
    );
    assert_eq!(first.coefficients(), second.coefficients());
    assert_eq!(first.history().losses(), second.history().losses());
    // A full-batch epoch: the two passes, one submission, one readback,
    // each stored entry read twice (by row, by column: 16 bytes).
    let descent = GradientDescent::logistic()
        .max_epochs(3)
        .device(Device::Gpu)
        .gpu_context(common::gpu("sparse rows on the GPU, counted").unwrap())
        .fit_source(&rows)
        .unwrap();
    let work = descent.work();
    assert_eq!((work.epochs, work.steps, work.dispatches), (3, 3, 6));
    assert_eq!((work.submissions, work.readbacks), (3, 3));
    assert_eq!(work.x_bytes_read, 3 * 16 * rows.entries() as u64);
    // Single-row steps: the same bits at every run. A step dispatches its
    // row, its sums and the update, and where the row stores entries, its
    // features' sums and their clear; 128 steps a submission, the last
    // with the epoch's one readback; each stored entry read twice.
    let single_rows = GradientDescent::logistic()
        .variant(Variant::Stochastic)
        .optimizer(Optimizer::momentum(0.002, 0.9))
        .l2(1e-3)
        .max_epochs(2)
        .seed(41)
        .device(Device::Gpu)
        .gpu_context(common::gpu("sparse single rows on the GPU").unwrap());
    let (first, second) = (
        single_rows.fit_source(&rows).unwrap(),
        single_rows.fit_source(&rows).unwrap(),
    );
    assert_eq!(first.coefficients(), second.coefficients());
    assert_eq!(first.history().losses(), second.history().losses());
    let n = rows.rows() as u64;
    let storing = (0..rows.rows())
        .filter(|&i| rows.csr().indptr[i + 1] > rows.csr().indptr[i])
        .count() as u64;
    let work = first.work();
    assert_eq!((work.epochs, work.steps), (2, 2 * n));
    assert_eq!(work.dispatches, 2 * (3 * n + 2 * storing));
    assert_eq!((work.submissions, work.readbacks), (2 * n.div_ceil(128), 2));
    assert_eq!(work.x_bytes_read, 2 * 16 * rows.entries() as u64);
}

/// A column stored in many rows (here every one of 70,000, more than the
/// 65,535 iterations lavapipe runs a loop) is summed on the GPU in
/// segments, added on the host in order: the fit is the CPU's to float32
/// rounding.
#[test]
fn the_gpu_sums_long_columns_in_segments() {
    let Some(context) = common::gpu("a long column on the GPU") else {
        return;
    };
    let n = 70_000;
    let (mut indptr, mut indices, mut values, mut y) = (vec![0], Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let x = ((i * 7919) % 1000) as f32 / 500.0 - 1.0;
        indices.extend([0, 1 + (i % 2) as u32]);
        values.extend([x, 1.0]);
        indptr.push(indices.len());
        y.push(f32::from(u8::from(x + if i % 2 == 0 { 0.3 } else { -0.3 } > 0.0)));
    }
    let rows = CsrData::new(3, indptr, indices, values, y).unwrap();
    let settings = GradientDescent::logistic()
        .solver(Solver::lbfgs())
        .l2(1e-3)
        .max_epochs(100);
    let cpu = settings.clone().device(Device::Cpu).fit_source(&rows).unwrap();
    let gpu = settings
        .device(Device::Gpu)
        .gpu_context(context)
        .fit_source(&rows)
        .unwrap();
    let all = |f: &downhill::Fitted| -> Vec<f64> {
        f.intercepts()
            .iter()
            .chain(f.coefficients().iter())
            .map(|&v| f64::from(v))
            .collect()
    };
    assert_near(&all(&gpu), &all(&cpu), 1e-4, "a long column");
    // Mini-batches of half the rows: the column's 35,000 entries in a
    // batch added by one invocation (each stored entry read twice).
    let settings = GradientDescent::logistic()
        .variant(Variant::MiniBatch(n / 2))
        .optimizer(Optimizer::momentum(0.5, 0.5))
        .l2(1e-3)
        .max_epochs(5);
    let cpu = settings.clone().device(Device::Cpu).fit_source(&rows).unwrap();
    let gpu = settings
        .device(Device::Gpu)
        .gpu_context(common::gpu("a long column in a batch on the GPU").unwrap())
        .fit_source(&rows)
        .unwrap();
    assert_near(&all(&gpu), &all(&cpu), 1e-4, "a long column in a batch");
    assert_eq!(gpu.work().x_bytes_read, 5 * 16 * rows.entries() as u64);
}
