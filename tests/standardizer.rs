//! Standardization: the moments it learns, the transform, and the mapping
//! of parameters between standardized and original units.

use downhill::DataError;
use downhill::{Error, Standardizer};
use ndarray::{array, Array1, Array2};

fn data() -> Array2<f32> {
    array![
        [1.0f32, 10.0, 7.0],
        [2.0, 30.0, 7.0],
        [4.0, 20.0, 7.0],
        [5.0, 60.0, 7.0]
    ]
}

#[test]
fn mean_and_population_standard_deviation_by_hand() {
    let s = Standardizer::fit(data().view()).expect("finite data");
    // Column 0: mean 3, deviations −2, −1, 1, 2, variance 10/4.
    // Column 1: mean 30, deviations −20, 0, −10, 30, variance 1400/4.
    // Column 2 is constant: its scale is 1.
    assert_eq!(s.mean(), array![3.0f32, 30.0, 7.0]);
    let expected = [2.5f64.sqrt(), 350f64.sqrt(), 1.0];
    for (got, want) in s.scale().iter().zip(expected) {
        assert!((f64::from(*got) - want).abs() < 1e-6 * want, "{got} vs {want}");
    }
}

#[test]
fn transform_gives_zero_mean_and_unit_variance() {
    let x = data();
    let s = Standardizer::fit(x.view()).expect("finite data");
    let z = s.transform(x.view()).expect("same features");
    for j in 0..2 {
        let column: Vec<f64> = z.column(j).iter().map(|&v| f64::from(v)).collect();
        let mean = column.iter().sum::<f64>() / 4.0;
        let variance = column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0;
        assert!(
            mean.abs() < 1e-6 && (variance - 1.0).abs() < 1e-6,
            "{mean} {variance}"
        );
    }
    // A constant column is only centered.
    assert_eq!(z.column(2), array![0.0f32, 0.0, 0.0, 0.0]);
    assert!((f64::from(z[[0, 0]]) - -2.0 / 2.5f64.sqrt()).abs() < 1e-6);
}

#[test]
fn parameters_round_trip_between_units() {
    let s = Standardizer::fit(data().view()).expect("finite data");
    let (w, b) = (array![0.5f32, -0.02, 3.0], 1.25f32);
    let (ws, bs) = s.to_standardized(w.view(), b).expect("same features");
    // By hand: w' = w · scale, b' = b + Σ w m.
    let scale = s.scale();
    for j in 0..3 {
        assert!((ws[j] - w[j] * scale[j]).abs() < 1e-6);
    }
    let shift = 0.5 * 3.0 - 0.02 * 30.0 + 3.0 * 7.0;
    assert!((f64::from(bs) - (1.25 + shift)).abs() < 1e-5, "{bs}");
    let (back, back_b) = s.to_original(ws.view(), bs).expect("same features");
    for (a, e) in back.iter().zip(&w) {
        assert!((a - e).abs() < 1e-6 * e.abs().max(1.0), "{back} vs {w}");
    }
    assert!((back_b - b).abs() < 1e-5, "{back_b} vs {b}");
}

#[test]
fn predictions_agree_in_both_units() {
    let x = data();
    let s = Standardizer::fit(x.view()).expect("finite data");
    let z = s.transform(x.view()).expect("same features");
    let (w, b) = (array![0.5f32, -0.02, 3.0], 1.25f32);
    let (ws, bs) = s.to_standardized(w.view(), b).expect("same features");
    let predict = |x: &Array2<f32>, w: &Array1<f32>, b: f32| -> Vec<f64> {
        x.rows()
            .into_iter()
            .map(|row| {
                row.iter()
                    .zip(w)
                    .map(|(&a, &c)| f64::from(a) * f64::from(c))
                    .sum::<f64>()
                    + f64::from(b)
            })
            .collect()
    };
    for (a, e) in predict(&z, &ws, bs).iter().zip(predict(&x, &w, b)) {
        assert!((a - e).abs() < 1e-5 * e.abs().max(1.0), "{a} vs {e}");
    }
    // And from standardized parameters back to the original units.
    let (wo, bo) = s.to_original(ws.view(), bs).expect("same features");
    for (a, e) in predict(&x, &wo, bo).iter().zip(predict(&z, &ws, bs)) {
        assert!((a - e).abs() < 1e-5 * e.abs().max(1.0), "{a} vs {e}");
    }
}

#[test]
fn wrong_feature_counts_and_bad_data_are_errors() {
    let s = Standardizer::fit(data().view()).expect("finite data");
    assert_eq!(
        s.transform(Array2::zeros((2, 2)).view()),
        Err(Error::FeatureCountMismatch {
            expected: 3,
            found: 2
        })
    );
    assert_eq!(
        s.to_original(array![1.0f32].view(), 0.0),
        Err(Error::FeatureCountMismatch {
            expected: 3,
            found: 1
        })
    );
    assert_eq!(
        s.to_standardized(array![1.0f32, 2.0, 3.0, 4.0].view(), 0.0),
        Err(Error::FeatureCountMismatch {
            expected: 3,
            found: 4
        })
    );
    assert_eq!(
        Standardizer::fit(Array2::zeros((0, 3)).view()),
        Err(Error::EmptyData { rows: 0, features: 3 })
    );
    let mut bad = data();
    bad[[3, 1]] = f32::NEG_INFINITY;
    assert_eq!(
        Standardizer::fit(bad.view()),
        Err(Error::Data(DataError::NonFiniteFeature {
            row: 3,
            column: 1,
            value: f32::NEG_INFINITY
        }))
    );
}
