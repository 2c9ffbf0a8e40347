//! Real data sets shipped with smartcore: diabetes (linear regression) and
//! breast cancer (logistic regression), checked against float64 references.

use downhill::{reference, GradientDescent, Model, Optimizer, Standardizer, StopReason};
use ndarray::{Array1, Array2};

fn to_arrays<T: Copy>(data: &[f32], target: &[T], rows: usize, features: usize) -> (Array2<f32>, Array1<f32>)
where
    f64: From<T>,
{
    let x = Array2::from_shape_vec((rows, features), data.to_vec()).expect("row-major data");
    let y = target.iter().map(|&t| f64::from(t) as f32).collect();
    (x, y)
}

fn diabetes() -> (Array2<f32>, Array1<f32>) {
    let d = smartcore::dataset::diabetes::load_dataset();
    to_arrays(&d.data, &d.target, d.num_samples, d.num_features)
}

fn breast_cancer() -> (Array2<f32>, Array1<f32>) {
    let d = smartcore::dataset::breast_cancer::load_dataset();
    to_arrays(&d.data, &d.target, d.num_samples, d.num_features)
}

fn norm(v: impl IntoIterator<Item = f64>) -> f64 {
    v.into_iter().map(|a| a * a).sum::<f64>().sqrt()
}

/// ‖w − w*‖ / ‖w*‖ and |b − b*| / |b*|.
fn relative_errors(fitted: &downhill::Fitted, w_star: &Array1<f64>, b_star: f64) -> (f64, f64) {
    let diff = fitted
        .weights()
        .into_iter()
        .zip(w_star)
        .map(|(&w, &s)| f64::from(w) - s);
    let weights = norm(diff) / norm(w_star.iter().copied());
    let bias = (f64::from(fitted.bias()) - b_star).abs() / b_star.abs();
    (weights, bias)
}

#[test]
fn diabetes_data_are_the_scaled_442_by_10_set() {
    let (x, y) = diabetes();
    assert_eq!(x.dim(), (442, 10));
    assert_eq!(y.len(), 442);
    // Each feature is centered and scaled to unit Euclidean norm.
    for column in x.columns() {
        let sum_sq: f64 = column.iter().map(|&v| f64::from(v).powi(2)).sum();
        assert!((sum_sq - 1.0).abs() < 1e-3, "{sum_sq}");
    }
}

#[test]
fn diabetes_linear_matches_least_squares_on_the_raw_features() {
    let (x, y) = diabetes();
    let (w_star, b_star) = reference::least_squares(x.view(), y.view(), 0.0).expect("valid data");
    // The features are centered with ‖xⱼ‖ = 1, so the Hessian 2/n·[XᵀX, 0; 0, n]
    // has eigenvalue 2 for the bias and 3.9e-5 … 0.018 for the weights: a
    // condition number of about 5e4. Plain gradient descent would need
    // millions of epochs; heavy-ball momentum with Polyak's constants for
    // L = 2, μ = 3.9e-5 (lr = 4/(√L + √μ)² ≈ 1.98, β = ((√κ − 1)/(√κ + 1))²
    // ≈ 0.983, rounded down for safety) contracts by about 1 − 2/√κ ≈ 0.991
    // per epoch, and 3,000 epochs take the error to ~1e-6 relative.
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::momentum(1.9, 0.983))
        .max_epochs(3000)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    assert_eq!(fitted.stop_reason(), StopReason::MaxEpochs);
    let (weights, bias) = relative_errors(&fitted, &w_star, b_star);
    assert!(
        weights < 1e-3,
        "weights off by {weights} relative: {}",
        fitted.weights()
    );
    assert!(bias < 1e-3, "bias off by {bias} relative");
}

#[test]
fn diabetes_linear_matches_least_squares_with_standardize() {
    let (x, y) = diabetes();
    let (w_star, b_star) = reference::least_squares(x.view(), y.view(), 0.0).expect("valid data");
    // Standardized, the Hessian's eigenvalues span 0.017 … 8.05 (κ ≈ 470):
    // Polyak's constants are lr ≈ 0.454 and β ≈ 0.83, a contraction of
    // about 0.91 per epoch.
    let fitted = GradientDescent::linear()
        .optimizer(Optimizer::momentum(0.45, 0.83))
        .standardize(true)
        .max_epochs(400)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    let (weights, bias) = relative_errors(&fitted, &w_star, b_star);
    assert!(
        weights < 1e-3,
        "weights off by {weights} relative: {}",
        fitted.weights()
    );
    assert!(bias < 1e-3, "bias off by {bias} relative");
}

#[test]
fn breast_cancer_logistic_reaches_a_zero_gradient_of_the_penalized_loss() {
    let (x, y) = breast_cancer();
    assert_eq!(x.dim(), (569, 30));
    let l2 = 0.01;
    // Nesterov momentum on standardized features; the penalty makes the loss
    // strongly convex (μ ≥ 0.01, L ≈ 3.3 at the start).
    let fitted = GradientDescent::logistic()
        .optimizer(Optimizer::nesterov(0.5, 0.9))
        .standardize(true)
        .l2(l2)
        .max_epochs(500)
        .fit(x.view(), y.view())
        .expect("valid data and settings");
    // The penalty applies to the weights in standardized units: evaluate the
    // float64 gradient there.
    let standardizer = Standardizer::fit(x.view()).expect("finite data");
    let xs = standardizer.transform(x.view()).expect("same features");
    let (ws, bs) = standardizer
        .to_standardized(fitted.weights(), fitted.bias())
        .expect("same features");
    let g = reference::gradient(Model::Logistic, xs.view(), y.view(), ws.view(), bs, f64::from(l2))
        .expect("valid data");
    let g_norm = norm(g.weights.iter().copied().chain([g.bias]));
    assert!(g_norm < 1e-3, "‖∇‖ = {g_norm}");
    let accuracy = fitted.score(x.view(), y.view()).expect("valid data");
    assert!(accuracy > 0.95, "accuracy {accuracy}");
}

#[test]
fn breast_cancer_logistic_on_data_standardized_in_the_test() {
    let (x, y) = breast_cancer();
    // Standardize in float64 here, independently of the crate's Standardizer.
    let (n, d) = x.dim();
    let mut xs = Array2::<f32>::zeros((n, d));
    for j in 0..d {
        let column: Vec<f64> = x.column(j).iter().map(|&v| f64::from(v)).collect();
        let mean = column.iter().sum::<f64>() / n as f64;
        let sd = (column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        for (i, v) in column.iter().enumerate() {
            xs[[i, j]] = ((v - mean) / sd) as f32;
        }
    }
    let fitted = GradientDescent::logistic()
        .optimizer(Optimizer::nesterov(0.5, 0.9))
        .l2(0.01)
        .max_epochs(500)
        .fit(xs.view(), y.view())
        .expect("valid data and settings");
    let g = reference::gradient(
        Model::Logistic,
        xs.view(),
        y.view(),
        fitted.weights(),
        fitted.bias(),
        0.01,
    )
    .expect("valid data");
    let g_norm = norm(g.weights.iter().copied().chain([g.bias]));
    assert!(g_norm < 1e-3, "‖∇‖ = {g_norm}");
    assert!(fitted.score(xs.view(), y.view()).expect("valid data") > 0.95);
}
