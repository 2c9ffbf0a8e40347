//! Many models fitted on the same rows at once: [`GradientDescent::fit_many`]
//! (any settings that prepare the rows alike) and
//! [`GradientDescent::path`] (one penalty at many strengths). The rows are
//! prepared once (checked, weighted, standardized, read into memory) and
//! the models trained in lockstep ([`crate::engine::lockstep`]): every
//! full-batch step and L-BFGS evaluation of all the models still fitting
//! comes from one pass over the rows, and each model's result equals its
//! fit alone bit for bit on the CPU engine.

use ndarray::{ArrayView1, ArrayView2};

use crate::data::source::{find_non_finite, pass_moments, DataSource, InMemory};
use crate::error::{Error, Result};
use crate::estimator::error::EstimatorError;
use crate::estimator::fit::{on_shard, Together};
use crate::estimator::fitted::Fitted;
use crate::estimator::settings::{Checked, GradientDescent};
use crate::math::loss::Loss;
use crate::math::objective::Penalty;

/// The most strengths [`GradientDescent::strengths_from_data`] makes.
pub const MOST_STRENGTHS: usize = 1000;

impl GradientDescent {
    /// Fits each of `models` to rows `x` and targets `y`, in lockstep:
    /// one pass over the rows serves the full-batch step (or the L-BFGS
    /// evaluation) of every model still fitting, and a model that stops
    /// (converged, diverged, out of epochs) leaves the others to go on.
    /// Each fit equals the same settings' [`GradientDescent::fit`] bit for
    /// bit on the CPU engine, and within float32 rounding on the GPU,
    /// where its steps are taken on the host. Mini-batch models run their
    /// epochs each on its own, on rows read once for all.
    ///
    /// The models may differ in their penalty, update rule, learning rate
    /// and momentum, schedule, solver, batch size, epochs and stopping;
    /// not in how the rows are prepared
    /// ([`EstimatorError::ModelsPrepareRowsApart`] names the setting).
    /// An observer ([`GradientDescent::on_epoch`]) is called by every
    /// model, from its own thread. Rows of fewer than 2^17 values (a pass
    /// shorter than the threads' hand-overs), and the ranks of a
    /// data-parallel fit, fit the models one after another on the calling
    /// thread, with the same results. A model's [`crate::WorkCounts`] in
    /// lockstep count no bytes of X read: the pass is shared.
    ///
    /// ```
    /// use downhill::{GradientDescent, Optimizer};
    /// use ndarray::array;
    /// let x = array![[1.0f32], [2.0], [3.0], [4.0]];
    /// let y = array![3.0f32, 5.0, 7.0, 9.0];
    /// let rates = [0.01, 0.03, 0.1];
    /// let models: Vec<_> = rates
    ///     .iter()
    ///     .map(|&rate| GradientDescent::linear().optimizer(Optimizer::sgd(rate)).max_epochs(50))
    ///     .collect();
    /// let fits = GradientDescent::fit_many(&models, x.view(), y.view())?;
    /// // Each is the fit its settings make alone.
    /// assert_eq!(fits[1].weights(), models[1].fit(x.view(), y.view())?.weights());
    /// # Ok::<(), downhill::Error>(())
    /// ```
    pub fn fit_many(
        models: &[GradientDescent],
        x: ArrayView2<f32>,
        y: ArrayView1<f32>,
    ) -> Result<Vec<Fitted>> {
        GradientDescent::fit_many_arrays(models, x, y, None, Together::Lockstep)
    }

    /// [`GradientDescent::fit_many`] with each row weighing `weights`
    /// ([`GradientDescent::fit_weighted`]).
    pub fn fit_many_weighted(
        models: &[GradientDescent],
        x: ArrayView2<f32>,
        y: ArrayView1<f32>,
        weights: ArrayView1<f32>,
    ) -> Result<Vec<Fitted>> {
        GradientDescent::fit_many_arrays(models, x, y, Some(weights), Together::Lockstep)
    }

    /// The fits of `models` to rows `x`, `y` in memory, weighted by
    /// `weights` where given, trained `together` (one after another on
    /// the ranks of a data-parallel fit, whose rows are this rank's shard).
    pub(super) fn fit_many_arrays(
        models: &[GradientDescent],
        x: ArrayView2<f32>,
        y: ArrayView1<f32>,
        weights: Option<ArrayView1<f32>>,
        together: Together,
    ) -> Result<Vec<Fitted>> {
        if let Some(ranks) = models.first().and_then(|first| first.ranks.as_ref()) {
            return on_shard(ranks, x, y, weights, |rows| {
                GradientDescent::fit_many_source_together(models, rows, together)
            });
        }
        let members = check_together(models)?;
        members[0].fit_arrays(&members, x, y, weights, together)
    }

    /// [`GradientDescent::fit_many_arrays`] with every model trained on
    /// `engine`: a lane of a lockstep of folds
    /// ([`crate::engine::lockstep::run_in_rows`]).
    pub(super) fn fit_many_arrays_on(
        models: &[GradientDescent],
        (x, y, weights): (ArrayView2<f32>, ArrayView1<f32>, Option<ArrayView1<f32>>),
        together: Together,
        engine: &dyn crate::engine::Engine,
    ) -> Result<Vec<Fitted>> {
        let mut members = check_together(models)?;
        members[0].engine = Some(engine);
        members[0].fit_arrays(&members, x, y, weights, together)
    }

    /// [`GradientDescent::fit_many`] on the rows of `source`
    /// ([`GradientDescent::fit_source`]): read into memory once where they
    /// fit the memory budget, else streamed once a pass for each model.
    pub fn fit_many_source(models: &[GradientDescent], source: &dyn DataSource) -> Result<Vec<Fitted>> {
        GradientDescent::fit_many_source_together(models, source, Together::Lockstep)
    }

    /// The fits of `models` to the rows of `source`, trained `together`.
    pub(super) fn fit_many_source_together(
        models: &[GradientDescent],
        source: &dyn DataSource,
        together: Together,
    ) -> Result<Vec<Fitted>> {
        let first = models.first().ok_or(Error::Estimator(EstimatorError::NoModels))?;
        if let Some(ranks) = &first.ranks {
            // Each model's first collective, as its fit alone makes it.
            for model in models {
                ranks.enter(model.fingerprint(), source.features())?;
            }
        }
        let members = check_together(models)?;
        if members[0].validation_fraction.is_some() {
            return Err(match first.ranks {
                Some(_) => Error::Distributed {
                    reason: "a validation fraction holds out rows of one process; hold out rows of each shard instead"
                        .into(),
                },
                None => Error::Estimator(EstimatorError::NotWithSource {
                    setting: "validation_fraction",
                }),
            });
        }
        members[0].fit_source(&members, source, together)
    }

    /// The regularization path: these settings fitted at each penalty
    /// strength of `strengths`, in lockstep ([`GradientDescent::fit_many`]),
    /// in the order given. Each strength replaces the penalty's α (its
    /// kind, and an elastic net's ratio, kept; an L2 penalty where there
    /// is none): [`EstimatorError::NoStrengths`] where there are none,
    /// [`EstimatorError::InvalidStrength`] for one that is not a finite
    /// number at least 0.
    ///
    /// ```
    /// use downhill::{GradientDescent, Optimizer, Penalty};
    /// use ndarray::array;
    /// let x = array![[0.0f32, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 3.0], [4.0, 2.0]];
    /// let y = array![1.0f32, 1.5, 3.2, 5.1, 5.8];
    /// let path = GradientDescent::linear()
    ///     .penalty(Penalty::L1(0.0))
    ///     .optimizer(Optimizer::sgd(0.02))
    ///     .max_epochs(3000)
    ///     .path(x.view(), y.view(), &[1.0, 0.1, 0.01])?;
    /// // The weights grow as the penalty weakens.
    /// let size = |k: usize| path[k].weights().iter().map(|w| w.abs()).sum::<f32>();
    /// assert!(size(0) < size(1) && size(1) < size(2));
    /// # Ok::<(), downhill::Error>(())
    /// ```
    pub fn path(&self, x: ArrayView2<f32>, y: ArrayView1<f32>, strengths: &[f32]) -> Result<Vec<Fitted>> {
        GradientDescent::fit_many(&self.at_strengths(strengths)?, x, y)
    }

    /// The regularization path fitted as scikit-learn's and glmnet's are:
    /// from the strongest penalty to the weakest, each model started from
    /// the parameters of the one before (with a fresh optimizer state), on
    /// rows prepared once; the fits are returned in the order of
    /// `strengths`. Near each other on the path the optima lie close, so a
    /// fit that stops at a tolerance ([`GradientDescent::tolerance`],
    /// [`GradientDescent::parameter_tolerance`]) takes a few iterations
    /// where [`GradientDescent::path`]'s lockstep fits start from zero;
    /// the models differ from their fits alone by how far each stopped
    /// from its optimum. Errors as [`GradientDescent::path`]'s.
    ///
    /// ```
    /// use downhill::{GradientDescent, Penalty, Solver};
    /// use ndarray::array;
    /// let x = array![[0.0f32, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 3.0], [4.0, 2.0]];
    /// let y = array![1.0f32, 1.5, 3.2, 5.1, 5.8];
    /// let ridge = GradientDescent::linear().penalty(Penalty::L2(0.0)).solver(Solver::lbfgs());
    /// let path = ridge.path_warm_started(x.view(), y.view(), &[0.01, 1.0, 0.1])?;
    /// // Each model reaches its own optimum, whatever it started from.
    /// let alone = ridge.clone().l2(0.1).fit(x.view(), y.view())?;
    /// assert!((path[2].weights()[0] - alone.weights()[0]).abs() < 1e-4);
    /// # Ok::<(), downhill::Error>(())
    /// ```
    pub fn path_warm_started(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView1<f32>,
        strengths: &[f32],
    ) -> Result<Vec<Fitted>> {
        let order = strongest_first(strengths);
        let models = self.at_strengths(&order.iter().map(|&k| strengths[k]).collect::<Vec<_>>())?;
        let fits = GradientDescent::fit_many_arrays(&models, x, y, None, Together::WarmStarted)?;
        Ok(in_order_given(&order, fits))
    }

    /// `count` strengths of this penalty from rows `x` and targets `y`, as
    /// scikit-learn's `LassoCV` takes its alphas: the largest, α_max, at
    /// which the L1 part leaves every weight at 0, then a geometric grid
    /// down to `ratio` times it (scikit-learn's `eps`, 1e-3 by default
    /// there). α_max is the largest |Σᵢ (xᵢⱼ − x̄ⱼ)(yᵢₖ − ȳₖ)| / n over the
    /// features (and, for the multinomial, the classes' indicators), with
    /// the columns, and a linear model's target, standardized where the fit
    /// standardizes them, times the loss's slope factor (2 for the squared
    /// error, 1 for the logistic losses), over the L1 share of the penalty
    /// as given. An L2 penalty, which leaves no weight at 0, takes the
    /// same grid. Rows weigh alike here.
    ///
    /// ```
    /// use downhill::{GradientDescent, Penalty};
    /// use ndarray::array;
    /// let x = array![[0.0f32], [1.0], [2.0], [3.0]];
    /// let y = array![1.0f32, 3.0, 5.0, 7.0];
    /// let lasso = GradientDescent::linear().penalty(Penalty::L1(0.0));
    /// let strengths = lasso.strengths_from_data(x.view(), y.view(), 4, 1e-3)?;
    /// // α_max = 2 · |Σ (x − 1.5)(y − 4)| / 4 = 2 · 10 / 4.
    /// assert!((strengths[0] - 5.0).abs() < 1e-5);
    /// assert!((strengths[3] - 5e-3).abs() < 1e-7);
    /// # Ok::<(), downhill::Error>(())
    /// ```
    pub fn strengths_from_data(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView1<f32>,
        count: usize,
        ratio: f64,
    ) -> Result<Vec<f32>> {
        crate::data::validate_targets_of(self.loss_settings(), x, y)?;
        crate::data::validate_features(x)?;
        self.strengths_from_source(&InMemory::new(x, y)?, count, ratio)
    }

    /// [`GradientDescent::strengths_from_data`] of the rows of `source`,
    /// read in two passes (the columns' and targets' means and spreads,
    /// then the covariances): the grid of a file too large for memory.
    pub fn strengths_from_source(
        &self,
        source: &dyn DataSource,
        count: usize,
        ratio: f64,
    ) -> Result<Vec<f32>> {
        if !((1..=MOST_STRENGTHS).contains(&count) && ratio > 0.0 && ratio <= 1.0) {
            return Err(Error::Estimator(EstimatorError::InvalidStrengthGrid {
                count,
                ratio,
                most: MOST_STRENGTHS,
            }));
        }
        let loss = self.loss_settings();
        let factor = match loss {
            Loss::Squared => 2.0,
            Loss::Log | Loss::Multinomial { .. } => 1.0,
            other => {
                return Err(Error::Estimator(EstimatorError::StrengthGridOfLoss {
                    loss: other.name().to_string(),
                }))
            }
        };
        // The first pass checks the targets too.
        let (columns, (target_mean, target_spread)) = pass_moments(source, loss, true)?.means_and_spreads();
        let spread_or_one = |spread: f64, scaled: bool| match scaled && spread > 0.0 {
            true => spread,
            false => 1.0,
        };
        let target_scale = spread_or_one(target_spread, self.standardize_target);
        // The targets as the fit sees them: one column, or each class's
        // indicator. Σᵢ (xᵢⱼ − x̄ⱼ)(1[yᵢ = k] − pₖ) is taken as
        // Σᵢ (xᵢⱼ − x̄ⱼ) 1[yᵢ = k] − pₖ Σᵢ (xᵢⱼ − x̄ⱼ), pₖ known at the end.
        let classes = loss.classes().filter(|&k| k > 2).unwrap_or(0);
        let (n, d) = (source.rows(), source.features());
        let mut covariances = vec![0.0f64; d * classes.max(1)];
        let (mut deviations, mut class_rows) = (vec![0.0f64; d], vec![0.0f64; classes]);
        for start in (0..n).step_by(1 << 14) {
            let block = source.block(start, (1 << 14).min(n - start))?;
            for (row, &target) in block.x.chunks_exact(d).zip(block.y.iter()) {
                let centred = row
                    .iter()
                    .zip(&columns)
                    .map(|(&v, &(mean, _))| f64::from(v) - mean);
                match classes {
                    0 => {
                        let t = (f64::from(target) - target_mean) / target_scale;
                        for (sum, v) in covariances.iter_mut().zip(centred) {
                            *sum += v * t;
                        }
                    }
                    _ => {
                        let k = target as usize;
                        class_rows[k] += 1.0;
                        for (j, v) in centred.enumerate() {
                            covariances[j * classes + k] += v;
                            deviations[j] += v;
                        }
                    }
                }
            }
        }
        let mut largest = 0.0f64;
        for (j, &(_, spread)) in columns.iter().enumerate() {
            let scale = spread_or_one(spread, self.standardize);
            for k in 0..classes.max(1) {
                let covariance = match classes {
                    0 => covariances[j],
                    _ => covariances[j * classes + k] - class_rows[k] / n as f64 * deviations[j],
                };
                largest = largest.max((covariance / scale).abs() / n as f64);
            }
        }
        let l1_share = match self.penalty_as_given() {
            Penalty::ElasticNet { l1_ratio, .. } if l1_ratio > 0.0 => f64::from(l1_ratio),
            _ => 1.0,
        };
        let top = factor * largest / l1_share;
        if !(top.is_finite() && top > 0.0) {
            // A value that is not finite is named; else nothing to shrink.
            find_non_finite(source)?;
            return Err(Error::Estimator(EstimatorError::NoStrengthFromData));
        }
        Ok((0..count)
            .map(|k| {
                let fraction = match count {
                    1 => 0.0,
                    _ => k as f64 / (count - 1) as f64,
                };
                (top * ratio.powf(fraction)) as f32
            })
            .collect())
    }

    /// These settings at each of `strengths` (checked) in turn.
    pub(super) fn at_strengths(&self, strengths: &[f32]) -> Result<Vec<GradientDescent>> {
        if strengths.is_empty() {
            return Err(Error::Estimator(EstimatorError::NoStrengths));
        }
        if let Some(&value) = strengths.iter().find(|s| !(s.is_finite() && **s >= 0.0)) {
            return Err(Error::Estimator(EstimatorError::InvalidStrength { value }));
        }
        let penalty = self.penalty_as_given();
        Ok(strengths
            .iter()
            .map(|&strength| self.clone().penalty(at_strength(penalty, strength)))
            .collect())
    }

    /// The first setting in which `other` prepares the rows otherwise than
    /// these settings do.
    fn prepares_rows_apart(&self, other: &GradientDescent) -> Option<&'static str> {
        let differs = [
            ("model", self.model != other.model),
            ("loss", self.loss_settings() != other.loss_settings()),
            ("class weights", self.class_weight != other.class_weight),
            ("standardization", self.standardize != other.standardize),
            (
                "target scaling",
                self.standardize_target != other.standardize_target,
            ),
            (
                "held-out rows",
                self.validation_fraction != other.validation_fraction
                    || self.validation_fraction.is_some() && self.seed != other.seed,
            ),
            ("device", self.device != other.device),
            (
                "memory budget",
                self.memory_budget != other.memory_budget
                    || self.gpu_memory_budget != other.gpu_memory_budget,
            ),
            ("GPU context", self.gpu_context != other.gpu_context),
            ("start", self.start != other.start),
            ("ranks", self.ranks.is_some() != other.ranks.is_some()),
        ];
        differs
            .into_iter()
            .find(|(_, differs)| *differs)
            .map(|(setting, _)| setting)
    }
}

/// `models` checked, each, and together: they prepare the rows alike, and
/// none of many writes checkpoints (they would share the file).
fn check_together(models: &[GradientDescent]) -> Result<Vec<Checked<'_>>> {
    let first = models.first().ok_or(Error::Estimator(EstimatorError::NoModels))?;
    for (model, other) in models.iter().enumerate() {
        let setting = first
            .prepares_rows_apart(other)
            .or((models.len() > 1 && other.checkpoint.is_some()).then_some("checkpoints"));
        if let Some(setting) = setting {
            return Err(Error::Estimator(EstimatorError::ModelsPrepareRowsApart {
                model,
                setting,
            }));
        }
    }
    models.iter().map(GradientDescent::check).collect()
}

/// The indices of `strengths` from the strongest to the weakest (equal
/// ones in the order given).
pub(super) fn strongest_first(strengths: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..strengths.len()).collect();
    order.sort_by(|&a, &b| strengths[b].total_cmp(&strengths[a]));
    order
}

/// `fits`, made in the order `order` gives, back in the order of the
/// indices.
pub(super) fn in_order_given<T>(order: &[usize], fits: Vec<T>) -> Vec<T> {
    let mut placed: Vec<(usize, T)> = order.iter().copied().zip(fits).collect();
    placed.sort_by_key(|(k, _)| *k);
    placed.into_iter().map(|(_, fit)| fit).collect()
}

/// `penalty` with its overall strength `strength` (an L2 penalty where it
/// is none).
pub(super) fn at_strength(penalty: Penalty, strength: f32) -> Penalty {
    match penalty {
        Penalty::L2(_) => Penalty::L2(strength),
        Penalty::L1(_) => Penalty::L1(strength),
        Penalty::ElasticNet { l1_ratio, .. } => Penalty::ElasticNet {
            alpha: strength,
            l1_ratio,
        },
    }
}
