//! A learning rate from the data: the largest curvature of the loss,
//! measured on the engine itself by power iteration, and the rate each
//! optimizer takes from it.
//!
//! The squared error's Hessian over the features and the bias column is
//! H = (2/n) X₁ᵀX₁ (X₁ = [X 1]); the log-loss's is at most X₁ᵀX₁/(4n) = H/8,
//! reached at margins 0 (where a fit starts) and lower everywhere else. With
//! L the largest eigenvalue of H (squared error) or of that bound
//! (log-loss), full-batch descent on the squared error lowers the loss every
//! epoch for rates below 2/L; on the log-loss it does so up to about 4/L
//! (measured at condition numbers 1 and 100: 3.97/L and 2.76/L), its
//! gradient growing only linearly away from the optimum. The rates chosen
//! ([`automatic_rate`]), about half the largest stable one in each case
//! (tests/auto_rate.rs):
//!
//! | optimizer | rate |
//! |---|---|
//! | SGD, full batch | 1/L for the squared error, 2/L for the log-loss |
//! | SGD, batches of b rows | (1/L) · b / (b + d + 1), d features: a single row's curvature can reach (d + 1) times the mean's on standardized data |
//! | momentum and Nesterov (β) | the SGD rate times (1 − β), as the velocity sums 1/(1 − β) steps |
//! | AdaGrad | 0.1 |
//! | RMSProp, Adam | 0.01 (their steps are about the rate in the parameters' units, which standardized data keep near 1) |

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::objective::Objective;
use crate::optim::Optimizer;
use crate::source::{DataSource, ZeroTargets};

/// Power-iteration passes at most; each reads every row once.
const MAX_ITERATIONS: usize = 30;
/// Relative change of the estimate below which the iteration stops.
const SETTLED: f64 = 1e-3;

/// The largest eigenvalue of the squared error's Hessian (2/n) X₁ᵀX₁ on
/// `source`, by power iteration on `engine` (each step one pass over the
/// rows, with the targets set to 0 so that the gradient is the product).
pub(crate) fn largest_curvature(engine: &dyn Engine, source: &dyn DataSource) -> Result<f64> {
    let zero_targets = ZeroTargets::new(source);
    let mut sums = engine.open_sums(&zero_targets, Objective::unpenalized(Model::Linear))?;
    let count = source.features() + 1;
    // A fixed start with no symmetry that an eigenvector could be
    // orthogonal to in practice.
    let mut v: Vec<f64> = (0..count)
        .map(|j| 1.0 + 0.5 * (((j * 7919) % 13) as f64 / 13.0))
        .collect();
    normalize(&mut v);
    let mut estimate = 0.0f64;
    for _ in 0..MAX_ITERATIONS {
        let parameters: Vec<f32> = v.iter().map(|&x| x as f32).collect();
        let raw = sums.raw_sums(&parameters)?;
        let n = raw.rows as f64;
        let mut hv: Vec<f64> = raw.derivative.iter().map(|s| s / n).collect();
        let rayleigh: f64 = hv.iter().zip(&v).map(|(a, b)| a * b).sum();
        let norm = normalize(&mut hv);
        if !(norm.is_finite() && rayleigh.is_finite()) {
            return Err(Error::NoCurvature { value: rayleigh });
        }
        let settled = (rayleigh - estimate).abs() <= SETTLED * rayleigh.abs();
        estimate = rayleigh;
        v = hv;
        if settled {
            break;
        }
    }
    if estimate > 0.0 {
        Ok(estimate)
    } else {
        Err(Error::NoCurvature { value: estimate })
    }
}

fn normalize(v: &mut [f64]) -> f64 {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    norm
}

/// The rate `optimizer` takes for a `model` whose squared-error curvature
/// is `curvature`, with `batch_rows` rows per step (all rows for the full
/// batch) and `features` features (the table above).
pub(crate) fn automatic_rate(
    optimizer: &Optimizer,
    model: Model,
    curvature: f64,
    batch_rows: Option<usize>,
    features: usize,
) -> f32 {
    let plain_full_batch = match model {
        Model::Linear => 1.0 / curvature,
        Model::Logistic => 2.0 / (curvature / 8.0),
    };
    let batch_factor = batch_rows.map_or(1.0, |b| b as f64 / (b + features + 1) as f64);
    let plain = batch_factor * plain_full_batch;
    let rate = match optimizer {
        Optimizer::Sgd(_) => plain,
        Optimizer::Momentum(o) => plain * (1.0 - f64::from(o.beta)),
        Optimizer::AdaGrad(_) => 0.1,
        Optimizer::RmsProp(_) | Optimizer::Adam(_) => 0.01,
    };
    rate as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::CpuEngine;
    use crate::data::Synthetic;
    use crate::optim::Rule;
    use crate::source::InMemory;
    use nalgebra::DMatrix;

    #[test]
    fn power_iteration_finds_the_largest_eigenvalue_of_the_hessian() {
        let data = Synthetic::generate(Model::Linear, 500, 4, 0.1, 3).unwrap();
        let mut x = data.x.clone();
        x.column_mut(2).mapv_inplace(|v| 5.0 * v + 2.0);
        let source = InMemory::new(x.view(), data.y.view());
        let found = largest_curvature(&CpuEngine, &source).unwrap();
        // (2/n) X₁ᵀX₁ in float64, its eigenvalues by nalgebra.
        let n = x.nrows();
        let design = DMatrix::from_fn(n, 5, |i, j| if j < 4 { f64::from(x[[i, j]]) } else { 1.0 });
        let hessian = design.transpose() * &design * (2.0 / n as f64);
        let largest = hessian.symmetric_eigen().eigenvalues.max();
        assert!((found - largest).abs() <= 1e-3 * largest, "{found} vs {largest}");
    }

    #[test]
    fn the_rates_follow_the_table() {
        let (curvature, features) = (4.0, 3);
        let rate = |rule: Rule, model, batch| {
            automatic_rate(&rule.with(1.0, 0.9), model, curvature, batch, features)
        };
        assert_eq!(rate(Rule::Sgd, Model::Linear, None), 0.25);
        assert_eq!(rate(Rule::Sgd, Model::Logistic, None), 4.0);
        assert_eq!(
            rate(Rule::Sgd, Model::Linear, Some(32)),
            (0.25 * 32.0 / 36.0) as f32
        );
        assert_eq!(
            rate(Rule::Nesterov, Model::Linear, None),
            (0.25 * (1.0 - f64::from(0.9f32))) as f32
        );
        assert_eq!(rate(Rule::AdaGrad, Model::Linear, Some(8)), 0.1);
        assert_eq!(rate(Rule::Adam, Model::Logistic, None), 0.01);
        assert_eq!(rate(Rule::RmsProp, Model::Linear, None), 0.01);
    }
}
