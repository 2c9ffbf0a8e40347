//! The extreme curvatures of the loss, measured on the engine by the
//! Lanczos method, and the learning rate and momentum each optimizer takes
//! from them: documented at [`Curvature`].

use crate::data::source::{DataSource, ZeroTargets};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::math::loss::Loss;
use crate::math::objective::Objective;
use crate::math::optim::Optimizer;
use crate::reduce::Reducer;
use crate::train::error::TrainError;
use nalgebra::DMatrix;

/// Lanczos steps at most; each reads every row once.
const MAX_STEPS: usize = 40;
/// Relative change of both extremes below which the iteration stops.
const SETTLED: f64 = 1e-3;
/// The extreme curvatures of the squared error on the (scaled) rows: the
/// largest and the smallest non-zero eigenvalue of (2/n) X₁ᵀX₁, X₁ the rows
/// with a column of ones for the bias.
///
/// A learning rate and a momentum from the data: the extreme curvatures of
/// the loss, measured on the engine itself by the Lanczos method, and the
/// settings each optimizer takes from them.
///
/// The squared error's Hessian over the features and the bias column is
/// H = (2/n) X₁ᵀX₁ (X₁ = [X 1]); the log-loss's is at most X₁ᵀX₁/(4n) = H/8,
/// reached at margins 0 (where a fit starts) and lower everywhere else. With
/// L the largest eigenvalue of H (squared error) or of that bound
/// (log-loss), full-batch descent on the squared error lowers the loss every
/// epoch for rates below 2/L; on the log-loss it does so up to about 4/L
/// (measured at condition numbers 1 and 100: 3.97/L and 2.76/L), its
/// gradient growing only linearly away from the optimum. The rates chosen
/// (`automatic_rate`), about half the largest stable one in each case
/// (tests/auto_rate.rs):
///
/// | optimizer | rate |
/// |---|---|
/// | SGD, full batch | 1/L for the squared error, 2/L for the log-loss |
/// | SGD, batches of b rows | (1/L) · b / (b + d + 1), d features: a single row's curvature can reach (d + 1) times the mean's on standardized data |
/// | momentum and Nesterov, full batch, β from the data | 1/L for either loss |
/// | momentum and Nesterov, β given | the SGD rate times (1 − β), as the velocity sums 1/(1 − β) steps |
/// | AdaGrad | 0.1 |
/// | RMSProp, Adam | 0.01 (their steps are about the rate in the parameters' units, which standardized data keep near 1) |
///
/// The momentum from the data (`automatic_momentum`) is Nesterov's for a
/// quadratic whose curvature spans [μ, L]: β = (√κ − 1)/(√κ + 1) with
/// κ = L/μ, which brings the error down by about 1 − 1/√κ an epoch at the
/// rate 1/L where plain descent manages 1 − 1/κ. Heavy-ball momentum takes
/// the same β: at the rate 1/L every eigenvalue of H then lies where its
/// error turns at the radius √β. μ is the smallest curvature that is not
/// (numerically) zero: columns that add up to another, as a one-hot
/// encoding's do, leave directions of zero curvature along which the
/// gradient never moves, and κ is held at most [`Curvature::MAX_CONDITION`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Curvature {
    /// The largest eigenvalue, L.
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float64"))]
    pub largest: f64,
    /// The smallest eigenvalue above L / [`Curvature::MAX_CONDITION`], μ.
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float64"))]
    pub smallest: f64,
}

impl Curvature {
    /// The largest condition number the momentum is set for: curvatures
    /// below L / MAX_CONDITION are taken for the zero curvature of
    /// collinear columns (the engines' float32 products leave them at
    /// about 1e-6 L).
    pub const MAX_CONDITION: f64 = 1e4;

    /// κ = L / μ, at most [`Curvature::MAX_CONDITION`].
    pub fn condition_number(&self) -> f64 {
        (self.largest / self.smallest).min(Self::MAX_CONDITION)
    }
}

/// The extreme curvatures of the squared error on `source`, by the Lanczos
/// method on `engine` (over every rank's rows where `reducer` joins ranks):
/// each step one pass over the rows, with the targets set
/// to 0 so that the gradient at v is H v. Directions of zero curvature
/// (collinear columns) show as Ritz values near 0, which [`extremes`] leaves
/// out; the iteration ends when both extremes have settled over two steps,
/// when the Krylov space is exhausted, or after [`MAX_STEPS`].
pub(crate) fn measure(
    engine: &dyn Engine,
    source: &dyn DataSource,
    reducer: Option<&Reducer>,
) -> Result<Curvature> {
    let zero_targets = ZeroTargets::new(source);
    let mut sums = crate::engine::open_sums(
        engine,
        &zero_targets,
        Objective::unpenalized(crate::math::loss::Loss::Squared),
        reducer,
    )?;
    let count = source.features() + 1;
    let mut product = |v: &[f64]| -> Result<Vec<f64>> {
        let parameters: Vec<f32> = v.iter().map(|&x| x as f32).collect();
        let raw = sums.raw_sums(&parameters)?;
        let n = raw.weight;
        let hv: Vec<f64> = raw.derivative.iter().map(|s| s / n).collect();
        match hv.iter().all(|x| x.is_finite()) {
            true => Ok(hv),
            false => Err(Error::Train(TrainError::NoCurvature { value: f64::NAN })),
        }
    };
    // A fixed start with no symmetry that an eigenvector could be
    // orthogonal to in practice. (Not H times a vector: that would weigh
    // each direction by its curvature and hide the smallest for many steps.)
    let mut start: Vec<f64> = (0..count)
        .map(|j| 1.0 + 0.5 * (((j * 7919) % 13) as f64 / 13.0))
        .collect();
    normalize(&mut start);
    let mut basis = vec![start];
    let (mut diagonal, mut off_diagonal) = (Vec::new(), Vec::new());
    let mut previous: Option<Curvature> = None;
    let mut settled_before = false;
    loop {
        let q = basis.last().expect("the basis holds the start");
        let mut w = product(q)?;
        diagonal.push(dot(&w, q));
        // Full reorthogonalization, twice: a few dozen vectors of d + 1
        // numbers cost nothing beside a pass over the rows.
        for _ in 0..2 {
            for b in &basis {
                let along = dot(&w, b);
                w.iter_mut().zip(b).for_each(|(x, y)| *x -= along * y);
            }
        }
        let estimate = extremes(&diagonal, &off_diagonal)?;
        let settled_now = previous.is_some_and(|p| {
            (estimate.largest - p.largest).abs() <= SETTLED * estimate.largest
                && (estimate.smallest - p.smallest).abs() <= SETTLED * estimate.smallest
        });
        let settled = settled_now && settled_before;
        settled_before = settled_now;
        previous = Some(estimate);
        let norm = normalize(&mut w);
        // The Krylov space is exhausted when what is left is rounding.
        let exhausted = norm <= 1e-5 * estimate.largest || basis.len() == count;
        if settled || exhausted || basis.len() == MAX_STEPS {
            return Ok(estimate);
        }
        off_diagonal.push(norm);
        basis.push(w);
    }
}

/// The extreme Ritz values of the tridiagonal matrix with this diagonal and
/// off-diagonal: the largest, and the smallest above L / MAX_CONDITION.
fn extremes(diagonal: &[f64], off_diagonal: &[f64]) -> Result<Curvature> {
    let k = diagonal.len();
    let tridiagonal = DMatrix::from_fn(k, k, |i, j| match i.abs_diff(j) {
        0 => diagonal[i],
        1 => off_diagonal[i.min(j)],
        _ => 0.0,
    });
    let values = tridiagonal.symmetric_eigenvalues();
    let largest = values.max();
    if !(largest.is_finite() && largest > 0.0) {
        return Err(Error::Train(TrainError::NoCurvature { value: largest }));
    }
    let floor = largest / Curvature::MAX_CONDITION;
    let above = values.iter().copied().filter(|&v| v >= floor);
    let smallest = match (above.clone().count(), k) {
        // L alone above the floor of two or more: every other direction
        // cannot be the zero curvature of collinear columns (a design of
        // rank one is a constant column, which tables leave out), so the
        // curvatures span more than MAX_CONDITION, as raw scales far
        // apart make them.
        (1, 2..) => floor,
        _ => above.fold(largest, f64::min),
    };
    Ok(Curvature { largest, smallest })
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn normalize(v: &mut [f64]) -> f64 {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    norm
}

/// The rate `optimizer` takes for `loss` on data whose squared-error curvature
/// is `curvature`, with `batch_rows` rows per step (all rows for the full
/// batch) and `features` features; `momentum_from_data` when the momentum
/// rules' β came from [`automatic_momentum`] (the table above).
pub(crate) fn automatic_rate(
    optimizer: &Optimizer,
    loss: Loss,
    target_mean: f64,
    curvature: &Curvature,
    batch_rows: Option<usize>,
    features: usize,
    momentum_from_data: bool,
) -> f32 {
    let smoothness = curvature.largest * loss_scale(loss, target_mean);
    // The log loss's bound (1/4) holds only where σ = 1/2: twice the
    // classic 1/L step is stable where the fit is (the table above).
    let plain_full_batch = match loss {
        Loss::Log => 2.0 / smoothness,
        _ => 1.0 / smoothness,
    };
    let batch_factor = batch_rows.map_or(1.0, |b| b as f64 / (b + features + 1) as f64);
    let plain = batch_factor * plain_full_batch;
    let rate = match optimizer {
        Optimizer::Sgd(_) => plain,
        Optimizer::Momentum(_) if momentum_from_data => 1.0 / smoothness,
        Optimizer::Momentum(o) => plain * (1.0 - f64::from(o.beta)),
        Optimizer::AdaGrad(_) => 0.1,
        Optimizer::RmsProp(_) | Optimizer::Adam(_) => 0.01,
    };
    rate as f32
}

/// The curvature of the penalized objective, from the loss's `curvature`
/// (in the squared error's units) and the L2 strength `l2`: the penalty
/// adds l2 in every weight's direction, l2 / s in those units (s the
/// loss's scale), so the largest curvature grows by at most that (the
/// rate must step over it: a strong L2 penalty on weak curvature made
/// the automatic rate oscillate for ever). The smallest is kept: the bias
/// is not penalized, so the smallest may stay the loss's, and momentum for
/// the larger condition number this gives is the cautious side (Nesterov's
/// β for a κ above the true one converges, more slowly; taking μ + l2/s
/// instead ran tests/penalties.rs's elastic net out of epochs).
pub(crate) fn penalized(curvature: &Curvature, l2: f32, loss: Loss, target_mean: f64) -> Curvature {
    Curvature {
        largest: curvature.largest + f64::from(l2) / loss_scale(loss, target_mean),
        smallest: curvature.smallest,
    }
}

/// The loss's curvature per unit of the squared error's: its second
/// derivative's bound over the squared error's (2). Poisson's, e^z, is
/// the predicted mean: near the optimum about the targets' mean (at least
/// 1, its value at the start z = 0), doubled for the rows predicted above
/// it. The kinked losses (hinge, ε-insensitive) take the squared error's
/// scale.
fn loss_scale(loss: Loss, target_mean: f64) -> f64 {
    let bound = match loss {
        Loss::Poisson => 2.0 * target_mean.max(1.0),
        _ => loss.curvature_bound().unwrap_or(2.0),
    };
    bound / 2.0
}

/// The momentum factor for a learning rate η given by hand (the rate is
/// not chosen for the β of [`automatic_momentum`], which may then
/// diverge): the heavy ball's best for that rate on a quadratic whose
/// curvature spans [μ, L], max((1 − √(ημ))², (1 − √(ηL))²) (Polyak), and
/// for Nesterov's form, which is stable only while ηL < 2(1 + β)/(1 + 2β),
/// at most nine tenths of the β that bound allows.
pub(crate) fn momentum_for_rate(
    curvature: &Curvature,
    loss: Loss,
    target_mean: f64,
    rate: f32,
    nesterov: bool,
) -> f32 {
    let scale = f64::from(rate) * loss_scale(loss, target_mean);
    let (low, high) = (
        curvature.largest / curvature.condition_number() * scale,
        curvature.largest * scale,
    );
    let polyak = (1.0 - low.sqrt()).powi(2).max((1.0 - high.sqrt()).powi(2));
    let beta = match nesterov && high > 1.0 {
        true => polyak.min(0.9 * (2.0 - high).max(0.0) / (2.0 * (high - 1.0))),
        false => polyak,
    };
    beta.clamp(0.0, 0.99) as f32
}

/// Nesterov's momentum for a quadratic whose curvature spans the measured
/// range: (√κ − 1)/(√κ + 1).
pub(crate) fn automatic_momentum(curvature: &Curvature) -> f32 {
    let root = curvature.condition_number().sqrt();
    ((root - 1.0) / (root + 1.0)) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::source::InMemory;
    use crate::data::synthetic::Synthetic;
    use crate::engine::cpu::CpuEngine;
    use crate::math::model::Model;
    use crate::math::optim::Rule;
    use ndarray::Array2;

    /// The eigenvalues of (2/n) X₁ᵀX₁ in float64, by nalgebra, ascending.
    fn eigenvalues(x: &Array2<f32>) -> Vec<f64> {
        let (n, d) = x.dim();
        let design = DMatrix::from_fn(n, d + 1, |i, j| if j < d { f64::from(x[[i, j]]) } else { 1.0 });
        let hessian = design.transpose() * &design * (2.0 / n as f64);
        let mut values: Vec<f64> = hessian.symmetric_eigenvalues().iter().copied().collect();
        values.sort_by(f64::total_cmp);
        values
    }

    /// The curvatures that [`measure`] finds on the CPU engine.
    fn measured(x: &Array2<f32>, y: &ndarray::Array1<f32>) -> Curvature {
        measure(
            &CpuEngine::default(),
            &InMemory::unchecked(x.view(), y.view()),
            None,
        )
        .unwrap()
    }

    #[test]
    fn lanczos_finds_the_extreme_eigenvalues_of_the_hessian() {
        let data = Synthetic::generate(Model::Linear, 500, 4, 0.1, 3).unwrap();
        let mut x = data.x.clone();
        x.column_mut(2).mapv_inplace(|v| 5.0 * v + 2.0);
        let found = measured(&x, &data.y);
        let values = eigenvalues(&x);
        let (smallest, largest) = (values[0], values[values.len() - 1]);
        assert!(largest / smallest > 20.0, "{values:?}");
        assert!(
            (found.largest - largest).abs() <= 1e-3 * largest,
            "{found:?} vs {values:?}"
        );
        assert!(
            (found.smallest - smallest).abs() <= 1e-3 * smallest,
            "{found:?} vs {values:?}"
        );
    }

    #[test]
    fn columns_that_add_up_to_the_bias_leave_out_their_zero_curvature() {
        // Three indicator columns, one per row's category, sum to the bias
        // column: H has a zero eigenvalue, which the momentum must not see.
        let rows = 300;
        let data = Synthetic::generate(Model::Linear, rows, 2, 0.1, 9).unwrap();
        let x = Array2::from_shape_fn((rows, 5), |(i, j)| match j {
            0 | 1 => data.x[[i, j]],
            category => f32::from(u8::from((i * 7 + i / 5) % 3 == category - 2)),
        });
        let values = eigenvalues(&x);
        assert!(values[0].abs() < 1e-9 * values[5], "{values:?}");
        let found = measured(&x, &data.y);
        assert!(
            (found.largest - values[5]).abs() <= 1e-3 * values[5],
            "{found:?} vs {values:?}"
        );
        assert!(
            (found.smallest - values[1]).abs() <= 1e-3 * values[1],
            "{found:?} vs {values:?}"
        );
    }

    #[test]
    fn curvatures_far_apart_are_not_taken_for_a_condition_number_of_one() {
        // Columns on scales 1000 and 0.001: κ about 1e12, far past the
        // most the momentum is set for, which is what the fit must see.
        let data = Synthetic::generate(Model::Linear, 400, 2, 0.1, 4).unwrap();
        let mut x = data.x.clone();
        x.column_mut(0).mapv_inplace(|v| 1000.0 * v);
        x.column_mut(1).mapv_inplace(|v| 0.001 * v);
        let values = eigenvalues(&x);
        assert!(values[2] / values[0] > 1e10, "{values:?}");
        let found = measured(&x, &data.y);
        assert!(
            (found.largest - values[2]).abs() <= 1e-3 * values[2],
            "{found:?} vs {values:?}"
        );
        assert_eq!(
            found.condition_number(),
            Curvature::MAX_CONDITION,
            "{found:?} vs {values:?}"
        );
    }

    #[test]
    fn the_rates_follow_the_table() {
        let curvature = Curvature {
            largest: 4.0,
            smallest: 0.04,
        };
        let features = 3;
        let rate = |rule: Rule, model, batch| {
            automatic_rate(
                &rule.with(1.0, 0.9),
                model,
                0.0,
                &curvature,
                batch,
                features,
                false,
            )
        };
        assert_eq!(rate(Rule::Sgd, Loss::Squared, None), 0.25);
        assert_eq!(rate(Rule::Sgd, Loss::Log, None), 4.0);
        // Huber's second derivative is at most 1: half the squared error's.
        assert_eq!(rate(Rule::Sgd, Loss::Huber { epsilon: 1.0 }, None), 0.5);
        assert_eq!(rate(Rule::Sgd, Loss::Hinge, None), 0.25);
        assert_eq!(
            rate(Rule::Sgd, Loss::Squared, Some(32)),
            (0.25 * 32.0 / 36.0) as f32
        );
        assert_eq!(
            rate(Rule::Nesterov, Loss::Squared, None),
            (0.25 * (1.0 - f64::from(0.9f32))) as f32
        );
        assert_eq!(rate(Rule::AdaGrad, Loss::Squared, Some(8)), 0.1);
        assert_eq!(rate(Rule::Adam, Loss::Log, None), 0.01);
        assert_eq!(rate(Rule::RmsProp, Loss::Squared, None), 0.01);
        let from_data = |rule: Rule, model| {
            automatic_rate(&rule.with(1.0, 0.5), model, 0.0, &curvature, None, features, true)
        };
        assert_eq!(from_data(Rule::Nesterov, Loss::Squared), 0.25);
        assert_eq!(from_data(Rule::Momentum, Loss::Log), 2.0);
        // κ = 100: (10 − 1)/(10 + 1).
        assert_eq!(automatic_momentum(&curvature), (9.0f64 / 11.0) as f32);
        let flat = Curvature {
            largest: 1.0,
            smallest: 1e-9,
        };
        assert_eq!(flat.condition_number(), Curvature::MAX_CONDITION);
    }
}
