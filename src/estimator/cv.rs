//! Cross-validation of a penalty's strength, as scikit-learn's `…CV`
//! estimators do it: the rows split into k folds ([`Folds`]: seeded, and
//! stratified by class for classifiers), every strength fitted on each
//! fold's training rows and scored on its held-out rows, the strength of
//! the best mean score chosen (or, by the one-standard-error rule, the
//! strongest within a standard error of it), and a final model fitted at
//! that strength on every row ([`GradientDescent::cross_validate`]).
//!
//! The strengths of a fold are fitted as a path ([`PathFitting`]): by
//! default from the strongest to the weakest, each from the one before's
//! solution, as scikit-learn's paths are; or in lockstep
//! ([`GradientDescent::fit_many`]: one read of the fold's rows a step for
//! all of them). The folds run one after another, each fold's rows
//! prepared (standardized) on their own, as a pipeline refitted per fold.
//! Rows in memory are copied fold by fold; the rows of any other source
//! (a file streamed, a rank's shard) are read through a view of the
//! fold's rows ([`GradientDescent::cross_validate_source`]).

use std::borrow::Cow;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::source::{DataSource, InMemory, RowSubset};
use crate::engine::lockstep::{Lane, LockstepCounts};
use crate::error::{Error, Result};
use crate::estimator::error::EstimatorError;
use crate::estimator::fit::{Together, LOCKSTEP_VALUES};
use crate::estimator::fitted::Fitted;
use crate::estimator::many::{in_order_given, strongest_first};
use crate::estimator::settings::GradientDescent;
use crate::math::model::Model;
use crate::metrics::{self, Scoring};
use crate::train::history::StopReason;

/// Which fold each row is held out in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folds {
    fold_of: Vec<usize>,
    count: usize,
}

impl Folds {
    /// `count` folds of `rows` rows, as even as can be, the rows shuffled
    /// by `seed` first (scikit-learn's `KFold(shuffle=True)`).
    pub fn new(rows: usize, count: usize, seed: u64) -> Result<Folds> {
        check_count(rows, count)?;
        let mut order: Vec<usize> = (0..rows).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let mut fold_of = vec![0; rows];
        for (position, &row) in order.iter().enumerate() {
            fold_of[row] = position * count / rows;
        }
        Folds::from_assignment(fold_of)
    }

    /// `count` folds in which each class of `labels` (class codes) is
    /// spread as evenly as can be (scikit-learn's `StratifiedKFold`): each
    /// class's rows, shuffled by `seed`, dealt to the folds in turn.
    pub fn stratified(labels: ArrayView1<f32>, count: usize, seed: u64) -> Result<Folds> {
        check_count(labels.len(), count)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut classes: Vec<f32> = labels.iter().copied().collect();
        classes.sort_by(f32::total_cmp);
        classes.dedup();
        let mut fold_of = vec![0; labels.len()];
        let mut next = 0;
        for class in classes {
            let mut rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
            rows.shuffle(&mut rng);
            for row in rows {
                fold_of[row] = next % count;
                next += 1;
            }
        }
        Folds::from_assignment(fold_of)
    }

    /// The folds that `fold_of` gives each row (numbered from 0, each
    /// holding a row); [`EstimatorError::EmptyFold`] names one that holds
    /// none.
    pub fn from_assignment(fold_of: Vec<usize>) -> Result<Folds> {
        let count = fold_of.iter().max().map_or(0, |&last| last + 1);
        check_count(fold_of.len(), count)?;
        if let Some(fold) = (0..count).find(|&fold| !fold_of.contains(&fold)) {
            return Err(Error::Estimator(EstimatorError::EmptyFold { fold }));
        }
        Ok(Folds { fold_of, count })
    }

    /// The folds of rows `range` alone, numbered as here (a fold may hold
    /// none of them): a rank's share of folds drawn over every rank's rows,
    /// for [`GradientDescent::cross_validate_source`] on its shard;
    /// [`crate::DataError::RowRange`] where the range goes beyond the rows.
    pub fn of_rows(&self, range: std::ops::Range<usize>) -> Result<Folds> {
        match self.fold_of.get(range.clone()) {
            Some(fold_of) => Ok(Folds {
                fold_of: fold_of.to_vec(),
                count: self.count,
            }),
            None => Err(Error::Data(crate::data::error::DataError::RowRange {
                start: range.start,
                end: range.end,
                rows: self.fold_of.len(),
            })),
        }
    }

    /// How many folds there are.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The rows held out in fold `fold`, then the rows it trains on.
    pub fn split(&self, fold: usize) -> (Vec<usize>, Vec<usize>) {
        (0..self.fold_of.len()).partition(|&i| self.fold_of[i] == fold)
    }
}

/// `count` folds of `rows` rows: at least 2, at most the rows.
fn check_count(rows: usize, count: usize) -> Result<()> {
    if count < 2 || count > rows {
        return Err(Error::Estimator(EstimatorError::InvalidFoldCount {
            folds: count,
            rows,
        }));
    }
    Ok(())
}

/// How a fold's held-out rows score a model: higher is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CvScoring {
    /// The fraction of labels predicted (classifiers' default).
    Accuracy,
    /// Minus the mean log-loss of the held-out labels (scikit-learn's
    /// `neg_log_loss`).
    NegLogLoss,
    /// The area under the ROC curve of the margins (two classes; rows held
    /// by one process).
    RocAuc,
    /// R² of the held-out targets.
    R2,
    /// Minus the mean squared error (regressors' default, as `LassoCV` and
    /// `ElasticNetCV` choose).
    NegMeanSquaredError,
}

/// What [`GradientDescent::cross_validate`] found.
#[derive(Debug, Clone)]
pub struct CrossValidation {
    /// The strengths tried, in the order given.
    pub strengths: Vec<f32>,
    /// The score of each fold (rows) at each strength (columns); NaN where
    /// the fit diverged.
    pub scores: Array2<f64>,
    /// Each strength's mean score over the folds (NaN where a fold's fit
    /// diverged: that strength is not chosen).
    pub mean_scores: Array1<f64>,
    /// The index of the strength chosen.
    pub chosen: usize,
    /// The model at the chosen strength, fitted on every row.
    pub fitted: Fitted,
}

impl CrossValidation {
    /// The strength chosen.
    pub fn strength(&self) -> f32 {
        self.strengths[self.chosen]
    }

    /// The standard error of each strength's mean score over the folds.
    pub fn standard_errors(&self) -> Array1<f64> {
        standard_errors(&self.scores)
    }
}

/// How [`GradientDescent::cross_validate`] chooses among the strengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Choice {
    /// The best mean score (the first of equal ones, in the order given).
    #[default]
    BestMean,
    /// The strongest penalty whose mean score is within one standard
    /// error of the best.
    OneStandardError,
}

/// How the strengths of one fold are fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PathFitting {
    /// From the strongest to the weakest, each from the solution of the
    /// one before ([`GradientDescent::path_warm_started`]): fits that stop
    /// at a tolerance take few iterations each.
    #[default]
    WarmStarted,
    /// In lockstep, each from the start the settings ask for
    /// ([`GradientDescent::path`]): each model as it would be fitted alone,
    /// bit for bit, one pass over the fold's rows a step for all of them.
    Lockstep,
    /// Each fold's strengths as `WarmStarted` fits them, the folds side by
    /// side: where the rows are in memory (each fold's rows prepared
    /// alike: no standardization or class weights), each pass over the
    /// rows serves the model of every fold that waits for one, each
    /// summing its fold's training rows (on the CPU while a chunk of them
    /// is in the cache; on the GPU with a word a row saying whose it is),
    /// so the rows are read from memory once a pass for all the folds
    /// instead of once for each. The fits and scores are `WarmStarted`'s,
    /// bit for bit on the CPU, to float32 rounding on the GPU. It holds a copy of
    /// every fold's training rows at once (the folds one after another
    /// hold one), within half the memory budget, else it fits the folds
    /// one after another. It pays where a pass is bound by reading the
    /// rows from memory (many cores sharing one memory bus); on a machine
    /// whose pass is bound by its arithmetic it takes the same time
    /// (BENCHMARKS.md).
    FoldsTogether,
}

/// What [`GradientDescent::cross_validate`] scores by, chooses by and how
/// it fits a fold's strengths; the defaults are accuracy (classifiers) or
/// minus the mean squared error (regressors), the best mean score, and
/// warm-started paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CvOptions {
    /// The held-out rows' score; `None` for the model's default.
    pub scoring: Option<CvScoring>,
    /// How the strength is chosen from the mean scores.
    pub choice: Choice,
    /// How each fold's strengths are fitted.
    pub fitting: PathFitting,
}

impl GradientDescent {
    /// Cross-validates the penalty's strength over `strengths` on `folds`
    /// of rows `x`, `y`: each strength replaces the penalty's α (its kind,
    /// and an elastic net's ratio, kept; L2 where there is none), is
    /// fitted on each fold's training rows and scored on its held-out rows
    /// (`options`: the scoring, the choice of strength, and how each
    /// fold's strengths are fitted); the final model is fitted at the
    /// chosen strength on every row. A fold whose training rows hold one
    /// class is [`EstimatorError::FoldWithOneClass`]; a strength that is
    /// not a finite number at least 0, [`EstimatorError::InvalidStrength`].
    ///
    /// ```
    /// use downhill::{Choice, CvOptions, CvScoring, Folds, GradientDescent, Solver};
    /// use ndarray::array;
    /// let x = array![[0.0f32], [1.0], [2.0], [3.0], [4.0], [5.0]];
    /// let y = array![0.0f32, 0.0, 1.0, 0.0, 1.0, 1.0];
    /// let folds = Folds::stratified(y.view(), 3, 0)?;
    /// let options = CvOptions { scoring: Some(CvScoring::NegLogLoss), ..CvOptions::default() };
    /// let cv = GradientDescent::logistic()
    ///     .solver(Solver::lbfgs())
    ///     .cross_validate(x.view(), y.view(), &[1.0, 0.1, 0.01], &folds, options)?;
    /// println!("chose {} (mean log-loss {:.3})", cv.strength(), -cv.mean_scores[cv.chosen]);
    /// assert_eq!(cv.scores.dim(), (3, 3));
    /// # Ok::<(), downhill::Error>(())
    /// ```
    pub fn cross_validate(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView1<f32>,
        strengths: &[f32],
        folds: &Folds,
        options: CvOptions,
    ) -> Result<CrossValidation> {
        self.cross_validate_source(&InMemory::new(x, y)?, strengths, folds, options)
    }

    /// [`GradientDescent::cross_validate`] on the rows of `source`, with
    /// their weights where it has them (the fits weigh the rows; the
    /// scores do not, as scikit-learn's do not). Rows the source holds in
    /// memory are copied fold by fold; any other source's are read through
    /// a view of the fold's rows, so a file larger than memory is
    /// cross-validated as it is fitted ([`GradientDescent::fit_source`]).
    /// On a rank of a data-parallel fit
    /// ([`GradientDescent::distributed`]), `source` is the rank's shard
    /// and `folds` place its rows: every fold's fits and scores are of
    /// every rank's rows (the area under the ROC curve is then
    /// [`EstimatorError::ScoringOverRanks`]).
    pub fn cross_validate_source(
        &self,
        source: &dyn DataSource,
        strengths: &[f32],
        folds: &Folds,
        options: CvOptions,
    ) -> Result<CrossValidation> {
        let models = self.at_strengths(strengths)?;
        let rows = source.rows();
        if folds.fold_of.len() != rows {
            return Err(Error::Estimator(EstimatorError::FoldsOfOtherRows {
                folds: folds.fold_of.len(),
                rows,
            }));
        }
        let scoring = self.cv_scoring(options.scoring)?;
        let (order, together) = match options.fitting {
            PathFitting::WarmStarted | PathFitting::FoldsTogether => {
                (strongest_first(strengths), Together::WarmStarted)
            }
            PathFitting::Lockstep => ((0..strengths.len()).collect(), Together::Lockstep),
        };
        let ordered: Vec<GradientDescent> = order.iter().map(|&k| models[k].clone()).collect();
        let resident = source.resident();
        // Rows in memory as arrays, with their weights: copied fold by
        // fold. Any other source's are read through views of the folds.
        let in_memory = match &resident {
            Some(block) => Some((
                ArrayView2::from_shape((rows, source.features()), &block.x[..]).map_err(|_| {
                    Error::ShapeMismatch {
                        x_rows: rows,
                        y_len: block.x.len() / source.features().max(1),
                    }
                })?,
                source.weights(0, rows)?,
            )),
            None => None,
        };
        let targets = match &resident {
            Some(block) => Cow::Borrowed(&block.y[..]),
            None => Cow::Owned(read_targets(source)?),
        };
        let y = ArrayView1::from(&targets[..]);
        let mut scores = Array2::zeros((folds.count, strengths.len()));
        // The folds' warm-started paths side by side where asked for and
        // their rows are in memory: each pass over the rows serves every
        // fold's model.
        let in_lockstep = match (&in_memory, options.fitting) {
            (Some((x, weights)), PathFitting::FoldsTogether) => {
                self.folds_in_lockstep(&ordered, source, (*x, &targets, weights.as_deref()), folds)?
            }
            _ => None,
        };
        match in_lockstep {
            Some((fits, _)) => {
                for (fold, fits) in fits.into_iter().enumerate() {
                    let fits = in_order_given(&order, fits);
                    let (held_out, _) = folds.split(fold);
                    let held_out_scores =
                        self.held_out_scores(&fits, &RowSubset::new(source, held_out), scoring)?;
                    scores.row_mut(fold).assign(&Array1::from(held_out_scores));
                }
            }
            None => {
                for fold in 0..folds.count {
                    let (held_out, training) = folds.split(fold);
                    self.check_classes_of_fold(fold, &training, &targets)?;
                    let fits = match &in_memory {
                        Some((x, weights)) => {
                            let (x, y, weights) = copy_of_rows(*x, y, weights.as_deref(), &training);
                            GradientDescent::fit_many_arrays(
                                &ordered,
                                x.view(),
                                y.view(),
                                weights.as_ref().map(|w| w.view()),
                                together,
                            )?
                        }
                        None => GradientDescent::fit_many_source_together(
                            &ordered,
                            &RowSubset::new(source, training),
                            together,
                        )?,
                    };
                    let fits = in_order_given(&order, fits);
                    let held_out_scores =
                        self.held_out_scores(&fits, &RowSubset::new(source, held_out), scoring)?;
                    scores.row_mut(fold).assign(&Array1::from(held_out_scores));
                }
            }
        }
        let mean_scores = scores.mean_axis(Axis(0)).expect("at least two folds");
        let best = (0..strengths.len())
            .filter(|&k| mean_scores[k].is_finite())
            .reduce(|best, k| match mean_scores[k] > mean_scores[best] {
                true => k,
                false => best,
            })
            .ok_or(Error::Estimator(EstimatorError::EveryStrengthDiverged))?;
        let chosen = match options.choice {
            Choice::BestMean => best,
            Choice::OneStandardError => {
                let errors = standard_errors(&scores);
                let bar = mean_scores[best] - errors[best];
                (0..strengths.len())
                    .filter(|&k| mean_scores[k].is_finite() && mean_scores[k] >= bar)
                    .fold(best, |strongest, k| match strengths[k] > strengths[strongest] {
                        true => k,
                        false => strongest,
                    })
            }
        };
        let fitted = match &in_memory {
            Some((x, weights)) => {
                models[chosen].fit_with_weights(*x, y, weights.as_deref().map(ArrayView1::from))?
            }
            None => models[chosen].fit_source(source)?,
        };
        Ok(CrossValidation {
            strengths: strengths.to_vec(),
            scores,
            mean_scores,
            chosen,
            fitted,
        })
    }

    /// Each fold's warm-started path of `ordered` fitted on its training
    /// rows of `x`, `targets` and `weights` (the rows of `source`, in
    /// memory), the folds side by side in a lockstep
    /// ([`crate::engine::lockstep::run_in_rows`]): each fold's models are
    /// given a copy of its training rows, and each pass over the rows of
    /// `source` sums the model of every fold waiting for one over its own
    /// rows, while a chunk of them is in the cache, as its pass over its
    /// copy would (so the fits are those of the folds one after another,
    /// bit for bit). `None` where the folds are fitted one after another
    /// instead: settings that prepare each fold's rows apart
    /// (standardization, class weights), ranks, an engine that sums no
    /// models over rows of their own, rows too few to repay the threads'
    /// hand-overs, or copies of every fold beyond half the memory budget.
    /// On the GPU each fold's sums are within float32 rounding of its
    /// sums over its copy, not bit for bit.
    fn folds_in_lockstep(
        &self,
        ordered: &[GradientDescent],
        source: &dyn DataSource,
        (x, targets, weights): (ArrayView2<f32>, &[f32], Option<&[f32]>),
        folds: &Folds,
    ) -> Result<Option<(Vec<Vec<Fitted>>, LockstepCounts)>> {
        let (rows, features) = x.dim();
        let copies_bytes = 4 * (features as u64 + 2) * rows as u64 * (folds.count as u64).saturating_sub(1);
        let budget = self.memory_budget.unwrap_or_else(crate::memory::default_budget);
        if self.ranks.is_some()
            || self.standardize
            || self.standardize_target
            || self.class_weight.is_some()
            || source.sparse().is_some()
            || rows > u32::MAX as usize
            || rows * features < LOCKSTEP_VALUES
            || copies_bytes.saturating_mul(2) > budget
        {
            return Ok(None);
        }
        let checked = self.check()?;
        let loss = checked.objective.loss;
        let engine = checked.choose_engine(loss.margins(), false)?;
        let y = ArrayView1::from(targets);
        // Each fold's training rows, and the copy of them its models fit.
        let mut copies = Vec::with_capacity(folds.count);
        for fold in 0..folds.count {
            let (_, training) = folds.split(fold);
            self.check_classes_of_fold(fold, &training, targets)?;
            let (x, y, weights) = copy_of_rows(x, y, weights, &training);
            copies.push((
                training.iter().map(|&i| i as u32).collect::<Vec<u32>>(),
                x,
                y,
                weights,
            ));
        }
        let lanes = copies
            .iter()
            .map(|(rows, x, _, _)| Lane {
                rows,
                copy: x.as_ptr() as usize,
            })
            .collect();
        let together =
            crate::engine::lockstep::run_in_rows(engine.as_ref(), source, loss, lanes, |fold, engine| {
                let (_, x, y, weights) = &copies[fold];
                GradientDescent::fit_many_arrays_on(
                    ordered,
                    (x.view(), y.view(), weights.as_ref().map(|w| w.view())),
                    Together::WarmStarted,
                    engine,
                )
            })?;
        let Some((fits, counts)) = together else {
            return Ok(None);
        };
        Ok(Some((fits.into_iter().collect::<Result<Vec<_>>>()?, counts)))
    }

    /// The scoring asked for, or the model's default, checked against the
    /// model (and, for the area under the ROC curve, against ranks).
    fn cv_scoring(&self, scoring: Option<CvScoring>) -> Result<CvScoring> {
        let classifier = self.model() == Model::Logistic;
        let scoring = scoring.unwrap_or(match classifier {
            true => CvScoring::Accuracy,
            false => CvScoring::NegMeanSquaredError,
        });
        let fits = match scoring {
            CvScoring::Accuracy | CvScoring::NegLogLoss => classifier,
            CvScoring::RocAuc => classifier && self.loss_settings().margins() == 1,
            CvScoring::R2 | CvScoring::NegMeanSquaredError => !classifier,
        };
        if !fits {
            return Err(Error::Estimator(EstimatorError::ScoringOfModel {
                scoring: format!("{scoring:?}"),
                model: match self.loss_settings().margins() {
                    1 => self.model().to_string(),
                    classes => format!("{classes}-class"),
                },
            }));
        }
        if scoring == CvScoring::RocAuc && self.ranks.is_some() {
            return Err(Error::Estimator(EstimatorError::ScoringOverRanks {
                scoring: format!("{scoring:?}"),
            }));
        }
        Ok(scoring)
    }

    /// [`EstimatorError::FoldWithOneClass`] where a classifier's training
    /// rows of `fold` (`training`, whose labels `targets` holds) hold one
    /// class, over every rank's rows in a data-parallel fit.
    fn check_classes_of_fold(&self, fold: usize, training: &[usize], targets: &[f32]) -> Result<()> {
        if self.model() != Model::Logistic {
            return Ok(());
        }
        let classes = self.loss_settings().classes().unwrap_or(2);
        let mut counts = vec![0.0f64; classes];
        for &row in training {
            if let Some(count) = counts.get_mut(targets[row] as usize) {
                *count += 1.0;
            }
        }
        if let Some(ranks) = &self.ranks {
            ranks.0.all_reduce_sum(&mut counts)?;
        }
        match counts.iter().filter(|&&c| c > 0.0).count() {
            0 | 1 => Err(Error::Estimator(EstimatorError::FoldWithOneClass {
                fold,
                label: counts.iter().position(|&c| c > 0.0).unwrap_or(0) as f32,
            })),
            _ => Ok(()),
        }
    }

    /// The score of each of `fits` on the held-out rows `rows` (read once
    /// for all of them), over every rank's rows in a data-parallel fit;
    /// NaN for a fit that diverged.
    fn held_out_scores(
        &self,
        fits: &[Fitted],
        rows: &dyn DataSource,
        scoring: CvScoring,
    ) -> Result<Vec<f64>> {
        let (n, d) = (rows.rows(), rows.features());
        // Sparse rows: each model's margins from the stored entries. Dense
        // rows: read once, a block at a time, for every model.
        let (margins, targets): (Vec<Array2<f32>>, Vec<f32>) = match rows.sparse() {
            Some(_) => (
                fits.iter()
                    .map(|fitted| fitted.class_margins_of_source(rows))
                    .collect::<Result<_>>()?,
                read_targets(rows)?,
            ),
            None => {
                let mut margins: Vec<Vec<f32>> = vec![Vec::with_capacity(n); fits.len()];
                let mut targets = Vec::with_capacity(n);
                let step = ((64 << 20) / (4 * d.max(1))).clamp(1, 1 << 16);
                for start in (0..n).step_by(step) {
                    let block = rows.block(start, step.min(n - start))?;
                    let x = ArrayView2::from_shape((block.rows(), d), &block.x[..]).map_err(|_| {
                        Error::ShapeMismatch {
                            x_rows: block.rows(),
                            y_len: block.x.len() / d.max(1),
                        }
                    })?;
                    match one_margin_each(fits, d) {
                        // Each row read once for every model.
                        Some(columns) => {
                            crate::data::validate_features(x)?;
                            let block_margins = margins_of_many(x, &columns);
                            for (k, margins) in margins.iter_mut().enumerate() {
                                margins.extend(block_margins.column(k).iter());
                            }
                        }
                        None => {
                            for (fitted, margins) in fits.iter().zip(&mut margins) {
                                margins.extend(fitted.class_margins(x)?.iter());
                            }
                        }
                    }
                    targets.extend_from_slice(&block.y);
                }
                let margins = fits
                    .iter()
                    .zip(margins)
                    .map(|(fitted, margins)| {
                        let columns = fitted.intercepts().len();
                        Array2::from_shape_vec((n, columns), margins)
                            .map_err(|_| Error::ShapeMismatch { x_rows: n, y_len: n })
                    })
                    .collect::<Result<_>>()?;
                (margins, targets)
            }
        };
        let scorer = match &self.ranks {
            Some(ranks) => Scoring::over_ranks(ranks.0.as_ref()),
            None => Scoring::local(),
        };
        let y = ArrayView1::from(&targets[..]);
        let mut scores = Vec::with_capacity(fits.len());
        for (fitted, margins) in fits.iter().zip(margins) {
            // A fit that diverged has no score (every rank's fit diverged
            // alike): its strength is not chosen.
            if matches!(fitted.stop_reason(), StopReason::Diverged { .. }) {
                scores.push(f64::NAN);
                continue;
            }
            scores.push(match scoring {
                CvScoring::Accuracy => scorer.accuracy(y, fitted.predictions(margins).view())?,
                CvScoring::R2 => scorer.r2(y, fitted.predictions(margins).view())?,
                CvScoring::NegMeanSquaredError => -scorer.mse(y, fitted.predictions(margins).view())?,
                CvScoring::NegLogLoss => {
                    -scorer.cross_entropy(y, fitted.probabilities_of_margins(margins.view())?.view())?
                }
                CvScoring::RocAuc => metrics::roc_auc(y, margins.column(0))?,
            });
        }
        Ok(scores)
    }
}

/// A copy of rows `rows` of `x`, `y` and `weights` (a fold's training
/// rows, in order).
fn copy_of_rows(
    x: ArrayView2<f32>,
    y: ArrayView1<f32>,
    weights: Option<&[f32]>,
    rows: &[usize],
) -> (Array2<f32>, Array1<f32>, Option<Array1<f32>>) {
    (
        x.select(Axis(0), rows),
        y.select(Axis(0), rows),
        weights.map(|w| rows.iter().map(|&i| w[i]).collect()),
    )
}

/// Each fit's weights and bias where every fit has one margin over `d`
/// features; `None` where one has several (or other features: its own
/// margins say so).
fn one_margin_each(fits: &[Fitted], d: usize) -> Option<Vec<(ArrayView1<'_, f32>, f32)>> {
    fits.iter()
        .map(|fitted| {
            let weights = fitted.coefficients();
            (weights.dim() == (d, 1)).then(|| (weights.index_axis_move(Axis(1), 0), fitted.intercepts()[0]))
        })
        .collect()
}

/// The margins of rows `x` under each model of `columns` (its weights and
/// bias), a column per model: each row read once for all of them, each
/// margin the dot product [`Fitted::class_margins`] takes (the same bits).
fn margins_of_many(x: ArrayView2<f32>, columns: &[(ArrayView1<f32>, f32)]) -> Array2<f32> {
    let x = x.as_standard_layout();
    let mut margins = Array2::zeros((x.nrows(), columns.len()));
    ndarray::Zip::from(x.rows())
        .and(margins.rows_mut())
        .par_for_each(|row, mut out| {
            for (margin, (weights, bias)) in out.iter_mut().zip(columns) {
                *margin = row.dot(weights) + bias;
            }
        });
    margins
}

/// Every target of `source`, read in blocks.
fn read_targets(source: &dyn DataSource) -> Result<Vec<f32>> {
    let rows = source.rows();
    let mut targets = Vec::with_capacity(rows);
    for start in (0..rows).step_by(1 << 16) {
        targets.extend_from_slice(&source.targets(start, (1 << 16).min(rows - start))?);
    }
    Ok(targets)
}

/// The standard error of each column's mean of `scores` (folds × strengths).
fn standard_errors(scores: &Array2<f64>) -> Array1<f64> {
    scores.std_axis(Axis(0), 1.0) / (scores.nrows() as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::source::Weighted;
    use crate::data::synthetic::Synthetic;
    use crate::math::optim::Optimizer;
    use crate::train::solver::Solver;

    /// Two fits are one: the same parameters and losses, bit for bit.
    fn assert_identical(what: &str, together: &Fitted, alone: &Fitted) {
        assert_eq!(together.coefficients(), alone.coefficients(), "{what}: weights");
        assert_eq!(together.intercepts(), alone.intercepts(), "{what}: biases");
        let losses = |f: &Fitted| {
            f.history()
                .records()
                .iter()
                .map(|r| r.loss.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(losses(together), losses(alone), "{what}: losses");
        assert_eq!(
            together.gradient_evaluations(),
            alone.gradient_evaluations(),
            "{what}: passes"
        );
    }

    /// The folds' warm-started paths in one lockstep over the rows equal
    /// the folds fitted one after another on copies of their rows, bit
    /// for bit: L-BFGS and full-batch gradient descent, logistic and
    /// linear, weighted rows and not.
    #[test]
    fn folds_in_lockstep_equal_the_folds_one_after_another() {
        let (rows, features) = (30_011, 6);
        let cases = [
            (
                "L-BFGS logistic",
                Model::Logistic,
                GradientDescent::logistic()
                    .solver(Solver::lbfgs())
                    .max_epochs(100),
            ),
            (
                "gradient descent linear",
                Model::Linear,
                GradientDescent::linear()
                    .optimizer(Optimizer::sgd(0.05))
                    .max_epochs(25),
            ),
        ];
        for (name, model, settings) in cases {
            let data = Synthetic::generate(model, rows, features, 0.5, 17).unwrap();
            let weights: Vec<f32> = (0..rows).map(|i| 0.5 + (i % 5) as f32 / 4.0).collect();
            let strengths = [0.1, 0.01, 1e-3, 1e-4];
            let ordered: Vec<GradientDescent> = strongest_first(&strengths)
                .into_iter()
                .map(|k| {
                    settings
                        .clone()
                        .penalty(crate::math::objective::Penalty::L2(strengths[k]))
                })
                .collect();
            let folds = Folds::new(rows, 4, 3).unwrap();
            let (x, y) = (data.x.view(), data.y.as_slice().unwrap());
            let plain = InMemory::new(x, data.y.view()).unwrap();
            let weighted = Weighted::new(&plain, weights.clone()).unwrap();
            for (rows_name, source, weights) in [
                ("plain", &plain as &dyn DataSource, None),
                ("weighted", &weighted, Some(&weights[..])),
            ] {
                let (together, counts) = settings
                    .folds_in_lockstep(&ordered, source, (x, y, weights), &folds)
                    .unwrap()
                    .expect("the folds run in lockstep");
                // The passes served the folds together: more sums than
                // passes, and every full-batch pass of every model.
                let passes: u64 = together.iter().flatten().map(Fitted::gradient_evaluations).sum();
                assert!(counts.sums > counts.passes, "{name}: {counts:?}");
                assert_eq!(counts.sums, passes, "{name}: {counts:?}");
                for (fold, fits) in together.iter().enumerate() {
                    let (_, training) = folds.split(fold);
                    let fold_weights: Option<Array1<f32>> =
                        weights.map(|w| training.iter().map(|&i| w[i]).collect());
                    let alone = GradientDescent::fit_many_arrays(
                        &ordered,
                        x.select(Axis(0), &training).view(),
                        data.y.select(Axis(0), &training).view(),
                        fold_weights.as_ref().map(|w| w.view()),
                        Together::WarmStarted,
                    )
                    .unwrap();
                    for (k, (a, b)) in fits.iter().zip(&alone).enumerate() {
                        assert_identical(&format!("{name}, {rows_name}, fold {fold}, model {k}"), a, b);
                    }
                }
            }
        }
    }
}
