//! L1 and elastic-net fits against scikit-learn's coordinate descent
//! (tests/data/make_penalties.py computed the optima): full-batch proximal
//! descent reaches each within 1e-4, with exact zeros where scikit-learn
//! has them, on the CPU and on the GPU.

mod common;

use downhill::EstimatorError;
use std::path::Path;

use downhill::data::read_csv;
use downhill::{Device, Error, Fitted, GradientDescent, Optimizer, Penalty, StopReason};

fn data(name: &str, target: Option<&str>) -> downhill::data::CsvData {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    read_csv(path, target, None).unwrap()
}

/// X and y of the table the optima were computed on.
fn table() -> (ndarray::Array2<f32>, ndarray::Array1<f32>) {
    let table = data("penalties.csv", Some("y"));
    (table.x, table.y.expect("the target column"))
}

/// The penalty of one expected row: scikit-learn's alpha doubled (its
/// squared error carries 1/2), its l1_ratio as given.
fn penalty(alpha_sklearn: f32, l1_ratio: f32) -> Penalty {
    match l1_ratio {
        1.0 => Penalty::L1(2.0 * alpha_sklearn),
        _ => Penalty::ElasticNet {
            alpha: 2.0 * alpha_sklearn,
            l1_ratio,
        },
    }
}

fn descent(penalty: Penalty) -> GradientDescent {
    GradientDescent::linear()
        .penalty(penalty)
        .optimizer(Optimizer::nesterov(1.0, 0.0))
        .auto_learning_rate(true)
        .auto_momentum(true)
        .parameter_tolerance(1e-9)
        .max_epochs(20_000)
}

/// `fitted` against expected row `expected` (intercept, then weights).
fn check(fitted: &Fitted, expected: &[f32], what: &str) {
    assert!(
        matches!(fitted.stop_reason(), StopReason::Converged { .. }),
        "{what}: {:?}",
        fitted.stop_reason()
    );
    let scale = expected.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let found: Vec<f32> = std::iter::once(fitted.bias())
        .chain(fitted.weights().iter().copied())
        .collect();
    for (j, (&a, &e)) in found.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= 1e-4 * scale,
            "{what}: parameter {j}: {a} vs {e}\n{found:?}\n{expected:?}"
        );
        if j > 0 && e == 0.0 {
            assert_eq!(a, 0.0, "{what}: weight {} should be exactly 0", j - 1);
        }
    }
}

#[test]
fn l1_and_elastic_net_reach_scikit_learns_optima_with_exact_zeros() {
    let (x, y) = table();
    let expected = data("penalties_expected.csv", None).x;
    for row in expected.rows() {
        let row = row.to_vec();
        let what = format!("alpha {} l1_ratio {}", row[0], row[1]);
        let fitted = descent(penalty(row[0], row[1]))
            .device(Device::Cpu)
            .fit(x.view(), y.view())
            .unwrap();
        check(&fitted, &row[2..], &what);
        assert!(
            fitted.weights().iter().any(|&w| w == 0.0),
            "{what}: no exact zero"
        );
    }
}

#[cfg(feature = "gpu")]
#[test]
fn the_gpu_reaches_the_lasso_optimum_too() {
    let Some(context) = common::gpu("the lasso on the GPU") else {
        return;
    };
    let (x, y) = table();
    let expected = data("penalties_expected.csv", None).x;
    let row = expected.row(1).to_vec();
    let fitted = descent(penalty(row[0], row[1]))
        .device(Device::Gpu)
        .gpu_context(context)
        .fit(x.view(), y.view())
        .unwrap();
    assert_eq!(fitted.device(), Device::Gpu);
    check(&fitted, &row[2..], "the lasso on the GPU");
}

#[test]
fn bad_penalties_are_named() {
    let x = ndarray::array![[1.0f32], [2.0], [3.0]];
    let y = ndarray::array![1.0f32, 2.0, 3.0];
    let fit = |penalty| {
        GradientDescent::linear()
            .penalty(penalty)
            .device(Device::Cpu)
            .fit(x.view(), y.view())
            .unwrap_err()
    };
    assert_eq!(
        fit(Penalty::L1(-0.5)),
        Error::Estimator(EstimatorError::InvalidPenalty {
            part: "L1",
            value: -0.5
        })
    );
    assert!(matches!(
        fit(Penalty::L1(f32::NAN)),
        Error::Estimator(EstimatorError::InvalidPenalty { .. })
    ));
    assert_eq!(
        fit(Penalty::ElasticNet {
            alpha: 0.1,
            l1_ratio: 1.5
        }),
        Error::Estimator(EstimatorError::InvalidL1Ratio { value: 1.5 })
    );
}
