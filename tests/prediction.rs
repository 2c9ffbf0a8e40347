//! What a fitted model predicts and scores, checked against the formulas
//! applied to its own parameters.

use downhill::{sigmoid, Fitted, GradientDescent, Model, Optimizer};
use ndarray::{array, Array1, Array2};

fn x() -> Array2<f32> {
    array![
        [1.0f32, -2.0],
        [0.5, 0.0],
        [-1.5, 3.0],
        [2.0, 1.0],
        [0.0, -0.5],
        [-2.0, -1.0]
    ]
}

fn fitted(model: Model, y: Array1<f32>) -> Fitted {
    GradientDescent::new(model)
        .optimizer(Optimizer::sgd(0.1))
        .max_epochs(50)
        .fit(x().view(), y.view())
        .expect("valid data and settings")
}

/// x·w + b in float64 from the fitted parameters.
fn margins(fitted: &Fitted, x: &Array2<f32>) -> Vec<f64> {
    let w = fitted.weights();
    x.rows()
        .into_iter()
        .map(|row| {
            row.iter()
                .zip(&w)
                .map(|(&a, &c)| f64::from(a) * f64::from(c))
                .sum::<f64>()
                + f64::from(fitted.bias())
        })
        .collect()
}

#[test]
fn linear_predict_is_x_dot_w_plus_b() {
    let f = fitted(Model::Linear, array![1.0f32, 2.0, -1.0, 3.5, 0.0, -2.0]);
    assert_eq!(f.model(), Model::Linear);
    let got = f.predict(x().view()).expect("valid input");
    for (g, e) in got.iter().zip(margins(&f, &x())) {
        assert!((f64::from(*g) - e).abs() < 1e-5, "{g} vs {e}");
    }
}

#[test]
fn linear_score_is_r2() {
    let y = array![1.0f32, 2.0, -1.0, 3.5, 0.0, -2.0];
    let f = fitted(Model::Linear, y.clone());
    let z = margins(&f, &x());
    let yf: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
    let mean = yf.iter().sum::<f64>() / yf.len() as f64;
    let ss_res: f64 = yf.iter().zip(&z).map(|(t, p)| (t - p).powi(2)).sum();
    let ss_tot: f64 = yf.iter().map(|t| (t - mean).powi(2)).sum();
    let score = f.score(x().view(), y.view()).expect("valid input");
    assert!((score - (1.0 - ss_res / ss_tot)).abs() < 1e-5, "{score}");
}

#[test]
fn logistic_predict_proba_is_the_sigmoid_of_the_margin() {
    let f = fitted(Model::Logistic, array![1.0f32, 1.0, 0.0, 1.0, 0.0, 0.0]);
    let got = f.predict_proba(x().view()).expect("valid input");
    for (p, z) in got.iter().zip(margins(&f, &x())) {
        let expected = 1.0 / (1.0 + (-z).exp());
        assert!((f64::from(*p) - expected).abs() < 1e-6, "{p} vs {expected}");
        assert!((0.0..=1.0).contains(p));
    }
}

#[test]
fn logistic_predict_is_the_class_at_probability_one_half() {
    let f = fitted(Model::Logistic, array![1.0f32, 1.0, 0.0, 1.0, 0.0, 0.0]);
    let classes = f.predict(x().view()).expect("valid input");
    let probabilities = f.predict_proba(x().view()).expect("valid input");
    for ((c, p), z) in classes.iter().zip(&probabilities).zip(margins(&f, &x())) {
        assert!(*c == 0.0 || *c == 1.0);
        if z.abs() > 1e-6 {
            assert_eq!(*c, if z > 0.0 { 1.0 } else { 0.0 }, "margin {z}, probability {p}");
        }
    }
    // Both classes occur on this data, so the test is not vacuous.
    assert!(classes.iter().any(|&c| c == 0.0) && classes.iter().any(|&c| c == 1.0));
}

#[test]
fn logistic_score_is_accuracy() {
    let y = array![1.0f32, 1.0, 0.0, 1.0, 0.0, 1.0];
    let f = fitted(Model::Logistic, y.clone());
    // Hits counted from the float64 margins, not from `predict`.
    let z = margins(&f, &x());
    assert!(
        z.iter().all(|m| m.abs() > 1e-6),
        "no margin on the boundary: {z:?}"
    );
    let hits = z
        .iter()
        .zip(&y)
        .filter(|(&m, &t)| (m > 0.0) == (t == 1.0))
        .count();
    let score = f.score(x().view(), y.view()).expect("valid input");
    assert_eq!(score, hits as f64 / 6.0);
    // Flipping every label turns each hit into a miss.
    let flipped = y.mapv(|t| 1.0 - t);
    assert_eq!(
        f.score(x().view(), flipped.view()).expect("valid input"),
        (6 - hits) as f64 / 6.0
    );
}

#[test]
fn sigmoid_is_stable_and_symmetric() {
    for z in [-30.0f64, -2.0, -0.1, 0.0, 0.7, 5.0, 40.0] {
        let expected = 1.0 / (1.0 + (-z).exp());
        assert!((sigmoid(z) - expected).abs() < 1e-15, "{z}");
        assert!((sigmoid(z) + sigmoid(-z) - 1.0).abs() < 1e-15);
    }
    assert_eq!(sigmoid(-1000.0f32), 0.0);
    assert_eq!(sigmoid(1000.0f32), 1.0);
    assert_eq!(sigmoid(0.0f32), 0.5);
}

#[test]
fn models_link_and_loss() {
    assert_eq!(Model::Linear.link(2.5f64), 2.5);
    assert_eq!(Model::Logistic.link(0.0f64), 0.5);
    assert_eq!(Model::Linear.sample_loss(3.0f64, 1.0), 4.0);
    // −ln σ(2) for y = 1; −ln(1 − σ(2)) for y = 0.
    let s = 1.0 / (1.0 + (-2.0f64).exp());
    assert!((Model::Logistic.sample_loss(2.0f64, 1.0) - -s.ln()).abs() < 1e-14);
    assert!((Model::Logistic.sample_loss(2.0f64, 0.0) - -(1.0 - s).ln()).abs() < 1e-14);
    assert_eq!(Model::Linear.name(), "linear");
    assert_eq!(Model::Logistic.name(), "logistic");
}

#[test]
fn predictions_of_new_rows_use_the_original_units_after_standardize() {
    // y = 3 x₀ − 0.01 x₁ + 7 exactly, with features of very different
    // scales; fitted with standardize(true), predictions on new raw rows
    // follow the same formula.
    let x = array![
        [1.0f32, 100.0],
        [2.0, 400.0],
        [3.0, 200.0],
        [4.0, 900.0],
        [5.0, 300.0]
    ];
    let truth = |a: f64, c: f64| 3.0 * a - 0.01 * c + 7.0;
    let y: Array1<f32> = x
        .rows()
        .into_iter()
        .map(|r| truth(r[0].into(), r[1].into()) as f32)
        .collect();
    let f = GradientDescent::linear()
        .optimizer(Optimizer::sgd(0.1))
        .standardize(true)
        .max_epochs(500)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    let new = array![[10.0f32, 50.0], [-1.0, 1000.0]];
    let got = f.predict(new.view()).expect("valid input");
    for (g, row) in got.iter().zip(new.rows()) {
        let e = truth(row[0].into(), row[1].into());
        assert!((f64::from(*g) - e).abs() < 1e-3, "{g} vs {e}");
    }
}
