//! What an L-BFGS run remembers from one iteration to the next: the
//! change of variables it works in ([`Scaling`]), its curvature pairs
//! ([`Curvature`]), its test of progress ([`Stall`]) and the iterate with
//! the smallest gradient. Together they are [`LbfgsState`], saved with a
//! checkpoint so that a resumed run continues exactly.

use rayon::prelude::*;

use crate::data::source::DataSource;
use crate::error::{Error, Result};
use crate::math::objective::RawSums;

/// The run ends at the rounding limit after this many iterations in a row
/// that neither lowered the smallest gradient so far nor the summed value
/// below its lowest by more than the rounding seen ([`Stall`]).
const STALL_ITERATIONS: usize = 10;

/// Rows per task of the pass that measures the columns.
const MOMENT_ROWS: usize = 1 << 14;

/// The change of variables the solver works in: each feature centred and
/// scaled, u = w·s for the weights and c = b + Σⱼ μⱼ wⱼ for each bias, so
/// that the margin is Σⱼ (xⱼ − μⱼ)/sⱼ · uⱼ + c. It is linear and
/// invertible, so a minimum in (u, c) is the same model as a minimum in
/// (w, b): the objective (its penalty on w, its bias unpenalized) is
/// evaluated on (w, b) alone. sⱼ = √(varⱼ + λ₂), with λ₂ the L2 strength,
/// makes the diagonal of the objective's curvature about equal across
/// the columns (a Jacobi preconditioner) and keeps sⱼ > 0 for a constant
/// column under a penalty.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Scaling {
    pub(crate) features: usize,
    pub(crate) margins: usize,
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float64s"))]
    pub(crate) means: Vec<f64>,
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float64s"))]
    pub(crate) scales: Vec<f64>,
}

/// The columns' sums of one source, measured by the first model that
/// asks and handed to the others fitted on it.
pub(crate) type SharedColumnSums = std::sync::Arc<std::sync::OnceLock<Result<Vec<Vec<f64>>>>>;

/// The last points a model evaluated on a source and the rows' raw sums
/// there, for the next model of a warm-started path (fitted one after
/// another on the same rows), which starts where the one before ended:
/// at its last point, or, where its last line search tried points it did
/// not take, at one a few evaluations back. Its first evaluation is then
/// those sums, not a pass. Two are equal where they are the same slot.
#[derive(Debug, Clone, Default)]
pub(crate) struct LastEvaluations(std::sync::Arc<std::sync::Mutex<Vec<Evaluated>>>);

/// A point (the model's parameters as the engine evaluated them) and the
/// rows' raw sums there.
type Evaluated = (Vec<f32>, RawSums);

/// The evaluations [`LastEvaluations`] keeps: more than a line search
/// takes (its trials stop at 20).
const EVALUATIONS_KEPT: usize = 32;

impl PartialEq for LastEvaluations {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl LastEvaluations {
    /// The sums left at `point` (the same bits), where they were.
    pub(crate) fn at(&self, point: &[f32]) -> Option<RawSums> {
        let same = |at: &[f32]| {
            at.iter()
                .map(|v| v.to_bits())
                .eq(point.iter().map(|v| v.to_bits()))
        };
        let kept = self.0.lock().ok()?;
        kept.iter()
            .rev()
            .find(|(at, _)| same(at))
            .map(|(_, sums)| sums.clone())
    }

    /// Leaves `point` and its `sums` for the model after.
    pub(crate) fn leave(&self, point: &[f32], sums: &RawSums) {
        if let Ok(mut kept) = self.0.lock() {
            if kept.len() == EVALUATIONS_KEPT {
                kept.remove(0);
            }
            kept.push((point.to_vec(), sums.clone()));
        }
    }
}

impl Scaling {
    /// The columns' means and scales over `source`'s rows (every rank's),
    /// from one pass in float64 (fixed tasks added in their order, so the
    /// same whatever the number of threads), or from `shared`, sums of
    /// the same rows that another model measured.
    pub(crate) fn of_columns(
        source: &dyn DataSource,
        reducer: Option<&crate::reduce::Reducer>,
        shared: Option<&SharedColumnSums>,
        margins: usize,
        l2: f64,
    ) -> Result<Self> {
        let d = source.features();
        let local = match shared {
            Some(shared) => shared.get_or_init(|| column_sums(source)).clone(),
            None => column_sums(source),
        };
        let local = match reducer {
            Some(reducer) => reducer.agree(local)?,
            None => local?,
        };
        let mut total = RawSums {
            derivative: vec![0.0; 2 * d],
            loss: 0.0,
            rows: source.rows(),
            weight: 0.0,
        };
        for part in &local {
            for (t, &s) in total.derivative.iter_mut().zip(part) {
                *t += s;
            }
        }
        let total = match reducer {
            Some(reducer) => reducer.all_reduce(&total)?,
            None => total,
        };
        let n = total.rows as f64;
        if d == 0 || n == 0.0 {
            return Ok(Scaling::identity(d, margins));
        }
        let (first, second) = total.derivative.split_at(d);
        let means: Vec<f64> = first.iter().map(|s| s / n).collect();
        let scales = second
            .iter()
            .zip(&means)
            .map(|(q, m)| {
                let scale = ((q / n - m * m).max(0.0) + l2).sqrt();
                if scale > 0.0 && scale.is_finite() {
                    scale
                } else {
                    1.0
                }
            })
            .collect();
        let means = means
            .into_iter()
            .map(|m| if m.is_finite() { m } else { 0.0 })
            .collect();
        Ok(Scaling {
            features: d,
            margins,
            means,
            scales,
        })
    }

    fn identity(features: usize, margins: usize) -> Self {
        Scaling {
            features,
            margins,
            means: vec![0.0; features],
            scales: vec![1.0; features],
        }
    }

    /// The model's parameters (w, b) of the solver's (u, c).
    pub(crate) fn to_model(&self, solver: &[f64]) -> Vec<f64> {
        let (d, k) = (self.features, self.margins);
        let mut model = solver.to_vec();
        for j in 0..d {
            for c in 0..k {
                let w = solver[j * k + c] / self.scales[j];
                model[j * k + c] = w;
                model[d * k + c] -= self.means[j] * w;
            }
        }
        model
    }

    /// The solver's parameters (u, c) of the model's (w, b).
    pub(crate) fn to_solver(&self, model: &[f64]) -> Vec<f64> {
        let (d, k) = (self.features, self.margins);
        let mut solver = model.to_vec();
        for j in 0..d {
            for c in 0..k {
                let w = model[j * k + c];
                solver[j * k + c] = w * self.scales[j];
                solver[d * k + c] += self.means[j] * w;
            }
        }
        solver
    }

    /// The gradient with respect to (u, c) of the gradient with respect to
    /// (w, b): the transpose of [`Scaling::to_model`]'s map.
    pub(crate) fn gradient_to_solver(&self, model: &[f64]) -> Vec<f64> {
        let (d, k) = (self.features, self.margins);
        let mut solver = model.to_vec();
        for j in 0..d {
            for c in 0..k {
                solver[j * k + c] = (model[j * k + c] - self.means[j] * model[d * k + c]) / self.scales[j];
            }
        }
        solver
    }
}

/// Σ xⱼ and then Σ xⱼ² of `source`'s columns, in float64, per task of
/// [`MOMENT_ROWS`] rows (in parallel where the rows are resident).
fn column_sums(source: &dyn DataSource) -> Result<Vec<Vec<f64>>> {
    let d = source.features();
    let sums = |x: &[f32]| {
        let mut sums = vec![0.0f64; 2 * d];
        let (first, second) = sums.split_at_mut(d);
        for row in x.chunks_exact(d) {
            for ((s, q), &v) in first.iter_mut().zip(second.iter_mut()).zip(row) {
                let v = f64::from(v);
                *s += v;
                *q += v * v;
            }
        }
        sums
    };
    if d == 0 {
        return Ok(Vec::new());
    }
    let n = source.rows();
    if let Some(sparse) = source.sparse() {
        // Sparse rows: one pass over the stored entries (the zeros add
        // nothing) into one pair of sums, mapped through the
        // standardization where the rows have one.
        let csr = sparse.csr;
        let mut sums = vec![0.0f64; 2 * d];
        for (&j, &v) in csr.indices.iter().zip(csr.values) {
            let v = f64::from(v);
            sums[j as usize] += v;
            sums[d + j as usize] += v * v;
        }
        if let Some((means, scales)) = sparse.standardization {
            let count = n as f64;
            let (first, second) = sums.split_at_mut(d);
            for j in 0..d {
                let (mean, scale) = (f64::from(means[j]), f64::from(scales[j]));
                let (s, q) = (first[j], second[j]);
                first[j] = (s - count * mean) / scale;
                second[j] = (q - 2.0 * mean * s + count * mean * mean) / (scale * scale);
            }
        }
        return Ok(vec![sums]);
    }
    Ok(match source.resident() {
        Some(block) => block.x.par_chunks(MOMENT_ROWS * d).map(sums).collect(),
        None => (0..n.div_ceil(MOMENT_ROWS))
            .map(|b| {
                let start = b * MOMENT_ROWS;
                let block = source.block(start, MOMENT_ROWS.min(n - start))?;
                Ok(sums(&block.x))
            })
            .collect::<Result<_>>()?,
    })
}

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub(crate) fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// The last `memory` steps s and changes of gradient y, with 1/(sᵀy).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Curvature {
    pub(crate) memory: usize,
    pub(crate) pairs: std::collections::VecDeque<Pair>,
}

/// One step s of the solver's parameters, the change y of the gradient
/// over it, and 1/(sᵀy).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Pair {
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float64s"))]
    pub(crate) step: Vec<f64>,
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float64s"))]
    pub(crate) change: Vec<f64>,
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float64"))]
    pub(crate) inverse_curvature: f64,
}

impl Curvature {
    /// No pairs yet: steepest descent.
    pub(crate) fn new(memory: usize) -> Self {
        Curvature {
            memory,
            pairs: Default::default(),
        }
    }

    /// Keeps the pair from the solver's parameters and gradient `from` to
    /// those `to` where its curvature sᵀy is positive (the objective is
    /// convex: a pair without it is rounding).
    pub(crate) fn push(&mut self, from: (&[f64], &[f64]), to: (&[f64], &[f64])) {
        let s: Vec<f64> = to.0.iter().zip(from.0).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = to.1.iter().zip(from.1).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > f64::EPSILON * dot(&y, &y) && sy.is_finite() {
            if self.pairs.len() == self.memory {
                self.pairs.pop_front();
            }
            self.pairs.push_back(Pair {
                step: s,
                change: y,
                inverse_curvature: 1.0 / sy,
            });
        }
    }

    /// −H g by the two-loop recursion, H₀ = (sᵀy / yᵀy) I of the newest
    /// pair.
    pub(crate) fn direction(&self, gradient: &[f64]) -> Vec<f64> {
        let mut q = gradient.to_vec();
        let mut alphas = Vec::with_capacity(self.pairs.len());
        for pair in self.pairs.iter().rev() {
            let a = pair.inverse_curvature * dot(&pair.step, &q);
            q.iter_mut().zip(&pair.change).for_each(|(q, y)| *q -= a * y);
            alphas.push(a);
        }
        if let Some(newest) = self.pairs.back() {
            let gamma = 1.0 / (newest.inverse_curvature * dot(&newest.change, &newest.change));
            q.iter_mut().for_each(|q| *q *= gamma);
        }
        for (pair, a) in self.pairs.iter().zip(alphas.iter().rev()) {
            let b = pair.inverse_curvature * dot(&pair.change, &q);
            q.iter_mut().zip(&pair.step).for_each(|(q, s)| *q += (a - b) * s);
        }
        q.iter_mut().for_each(|q| *q = -*q);
        q
    }
}

/// Whether the iterations still make progress that the float32 sums can
/// see. The summed value of the iterates rises only by rounding (each
/// step decreased the objective), so its largest rise measures the
/// rounding; once the gradient stops reaching new lows and the value stops
/// falling by more than that rounding, the gradient has reached the
/// rounding of the float32 parameters and further iterations move in it.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Stall {
    /// The smallest gradient norm so far.
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float64"))]
    slope: f64,
    /// The lowest summed value so far.
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float64"))]
    loss: f64,
    /// The last iterate's summed value.
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float64"))]
    last_loss: f64,
    /// The largest rise of the summed value from one iterate to the next.
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float64"))]
    rounding: f64,
    /// Iterations in a row without progress.
    idle: usize,
}

impl Stall {
    /// From the starting point's summed value `loss` and gradient norm
    /// `slope`.
    pub(crate) fn new(loss: f64, slope: f64) -> Self {
        Stall {
            slope,
            loss,
            last_loss: loss,
            rounding: 0.0,
            idle: 0,
        }
    }

    /// The summed value of the last iterate taken in.
    pub(crate) fn last_loss(&self) -> f64 {
        self.last_loss
    }

    /// Takes in the next iterate's summed value and gradient norm; true
    /// once [`STALL_ITERATIONS`] in a row made no progress.
    pub(crate) fn stalled(&mut self, loss: f64, slope: f64) -> bool {
        self.rounding = self.rounding.max(loss - self.last_loss);
        self.last_loss = loss;
        if slope < self.slope || loss < self.loss - self.rounding {
            self.idle = 0;
        } else {
            self.idle += 1;
        }
        self.slope = self.slope.min(slope);
        self.loss = self.loss.min(loss);
        self.idle >= STALL_ITERATIONS
    }
}

/// Everything an L-BFGS run carries from one iteration to the next besides
/// its parameters, which the iterate's gradient is evaluated again from.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct LbfgsState {
    pub(crate) scaling: Scaling,
    pub(crate) curvature: Curvature,
    pub(crate) stall: Stall,
    /// The iterate with the smallest gradient so far (the first of equals),
    /// which a run ending at the rounding limit keeps.
    pub(crate) smallest: Option<Smallest>,
}

impl LbfgsState {
    /// The state, where it fits a model of `features` features and
    /// `margins` margins per row with `parameters` parameters.
    pub(crate) fn checked(self, features: usize, margins: usize, parameters: usize) -> Result<Self> {
        let mismatch = |what: &str| {
            Err(Error::ResumeMismatch {
                reason: format!("the saved L-BFGS {what} does not fit the model's {parameters} parameters"),
            })
        };
        let scaling = &self.scaling;
        if scaling.features != features
            || scaling.margins != margins
            || scaling.means.len() != features
            || scaling.scales.len() != features
        {
            return mismatch("change of variables");
        }
        let pairs_fit = self
            .curvature
            .pairs
            .iter()
            .all(|pair| pair.step.len() == parameters && pair.change.len() == parameters);
        if !pairs_fit {
            return mismatch("curvature pairs");
        }
        if self
            .smallest
            .as_ref()
            .is_some_and(|smallest| smallest.parameters.len() != parameters)
        {
            return mismatch("iterate with the smallest gradient");
        }
        Ok(self)
    }
}

/// An iterate and its gradient's Euclidean norm.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Smallest {
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float64"))]
    pub(crate) slope: f64,
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float32s"))]
    pub(crate) parameters: Vec<f32>,
}

#[cfg(test)]
mod tests {
    use crate::train::lbfgs::memory::{dot, Scaling};

    fn scaling(margins: usize) -> Scaling {
        Scaling {
            features: 3,
            margins,
            means: vec![5.0, 0.0, -2.0],
            scales: vec![10.0, 0.1, 3.0],
        }
    }

    /// A made-up vector of `len` values.
    fn vector(len: usize, seed: f64) -> Vec<f64> {
        (0..len)
            .map(|i| ((i as f64 + seed) * 1.7).sin() * (1.0 + i as f64))
            .collect()
    }

    #[test]
    fn the_change_of_variables_is_invertible_and_keeps_the_margins() {
        for margins in [1, 3] {
            let scaling = scaling(margins);
            let len = (3 + 1) * margins;
            let model = vector(len, 0.3);
            let solver = scaling.to_solver(&model);
            for (a, b) in scaling.to_model(&solver).iter().zip(&model) {
                assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{a} against {b}");
            }
            // Every class's margin of a row: x·w + b = Σ (xⱼ − μⱼ)/sⱼ uⱼ + c.
            let x = [7.0, -0.05, 1.0];
            for k in 0..margins {
                let raw: f64 =
                    (0..3).map(|j| x[j] * model[j * margins + k]).sum::<f64>() + model[3 * margins + k];
                let scaled: f64 = (0..3)
                    .map(|j| (x[j] - scaling.means[j]) / scaling.scales[j] * solver[j * margins + k])
                    .sum::<f64>()
                    + solver[3 * margins + k];
                assert!(
                    (raw - scaled).abs() <= 1e-12 * (1.0 + raw.abs()),
                    "{raw} against {scaled}"
                );
            }
        }
    }

    #[test]
    fn the_solvers_gradient_is_the_chain_rule_of_the_models() {
        for margins in [1, 3] {
            let scaling = scaling(margins);
            let len = (3 + 1) * margins;
            // f(w) = g·w is linear: its change over a step of the solver's
            // parameters is the solver's gradient times the step.
            let gradient = vector(len, 1.1);
            let (from, step) = (vector(len, 2.0), vector(len, 3.5));
            let to: Vec<f64> = from.iter().zip(&step).map(|(a, b)| a + b).collect();
            let change = dot(&gradient, &scaling.to_model(&to)) - dot(&gradient, &scaling.to_model(&from));
            let predicted = dot(&scaling.gradient_to_solver(&gradient), &step);
            assert!(
                (change - predicted).abs() <= 1e-10 * (1.0 + change.abs()),
                "{change} against {predicted}"
            );
        }
    }
}
