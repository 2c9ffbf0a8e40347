//! Float64 references: the gradient and loss of DESIGN's table evaluated in
//! double precision, and the closed-form (ridge) least-squares solution.
//! Tests and the demo check the engines against these.

use nalgebra::{DMatrix, DVector};
use ndarray::{Array1, ArrayView1, ArrayView2};

use crate::data::{validate_parameters, validate_training_data};
use crate::error::Result;
use crate::math::model::Model;

/// A gradient and loss in float64.
#[derive(Debug, Clone, PartialEq)]
pub struct Gradient64 {
    /// ∂loss/∂w.
    pub weights: Array1<f64>,
    /// ∂loss/∂b.
    pub bias: f64,
    /// The loss, including the penalty.
    pub loss: f64,
}

/// The gradient and the loss of `model` with L2 penalty `l2` over all rows,
/// in float64, summed in plain row order.
pub fn gradient(
    model: Model,
    x: ArrayView2<f32>,
    y: ArrayView1<f32>,
    weights: ArrayView1<f32>,
    bias: f32,
    l2: f64,
) -> Result<Gradient64> {
    validate_training_data(model, x, y)?;
    validate_parameters(weights, bias, x.ncols())?;
    let w = weights.mapv(f64::from);
    let b = f64::from(bias);
    let mut grad_w = Array1::<f64>::zeros(x.ncols());
    let (mut grad_b, mut loss) = (0.0, 0.0);
    for (row, &target) in x.rows().into_iter().zip(y) {
        let row = row.mapv(f64::from);
        let z = row.dot(&w) + b;
        let target = f64::from(target);
        let derivative = model.loss_derivative(z, target);
        grad_w.scaled_add(derivative, &row);
        grad_b += derivative;
        loss += model.sample_loss(z, target);
    }
    let scale = 1.0 / x.nrows() as f64;
    Ok(Gradient64 {
        weights: grad_w * scale + &w * l2,
        bias: grad_b * scale,
        loss: loss / x.nrows() as f64 + 0.5 * l2 * w.dot(&w),
    })
}

/// The minimizer of (1/n) Σ (x·w + b − y)² + (l2/2)‖w‖², in float64.
///
/// Solved as an ordinary least-squares problem on X with a column of ones
/// (and, for l2 > 0, the rows √(n l2 / 2)·I below it), by nalgebra's SVD.
pub fn least_squares(x: ArrayView2<f32>, y: ArrayView1<f32>, l2: f64) -> Result<(Array1<f64>, f64)> {
    validate_training_data(Model::Linear, x, y)?;
    let (n, d) = x.dim();
    let penalty_rows = if l2 > 0.0 { d } else { 0 };
    let ridge = (n as f64 * l2 / 2.0).sqrt();
    let design = DMatrix::from_fn(n + penalty_rows, d + 1, |i, j| match (i < n, j < d) {
        (true, true) => f64::from(x[[i, j]]),
        (true, false) => 1.0,
        (false, true) if i - n == j => ridge,
        (false, _) => 0.0,
    });
    let target = DVector::from_fn(n + penalty_rows, |i, _| if i < n { f64::from(y[i]) } else { 0.0 });
    let solution = design
        .svd(true, true)
        .solve(&target, 1e-12)
        .expect("the SVD was asked for both U and V");
    Ok((solution.rows(0, d).iter().copied().collect(), solution[d]))
}
