//! Cross-validation of a penalty's strength, as scikit-learn's `…CV`
//! estimators do it: the rows split into k folds ([`Folds`]: seeded, and
//! stratified by class for classifiers), every strength fitted on each
//! fold's training rows and scored on its held-out rows, the strength of
//! the best mean score chosen (or, by the one-standard-error rule, the
//! strongest within a standard error of it), and a final model fitted at
//! that strength on every row ([`GradientDescent::cross_validate`]).
//!
//! The strengths of a fold are fitted in lockstep
//! ([`GradientDescent::fit_many`]: one read of the fold's rows a step for
//! all of them); the folds one after another, each fold's rows prepared
//! (standardized) on their own, as a pipeline refitted per fold.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::estimator::error::EstimatorError;
use crate::estimator::fitted::Fitted;
use crate::estimator::settings::GradientDescent;
use crate::math::model::Model;
use crate::metrics;
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

impl GradientDescent {
    /// Cross-validates the penalty's strength over `strengths` on `folds`
    /// of rows `x`, `y`: each strength replaces the penalty's α (its kind,
    /// and an elastic net's ratio, kept; L2 where there is none), is
    /// fitted on each fold's training rows and scored on its held-out rows
    /// by `scoring` (default: accuracy for classifiers, minus the mean
    /// squared error for regressors); `choice` picks the strength, and the
    /// final model is fitted at it on every row. A fold whose training rows
    /// hold one class is [`EstimatorError::FoldWithOneClass`]; a strength
    /// that is not a finite number at least 0,
    /// [`EstimatorError::InvalidStrength`].
    ///
    /// ```
    /// use downhill::{Choice, Folds, GradientDescent, Solver};
    /// use ndarray::array;
    /// let x = array![[0.0f32], [1.0], [2.0], [3.0], [4.0], [5.0]];
    /// let y = array![0.0f32, 0.0, 1.0, 0.0, 1.0, 1.0];
    /// let folds = Folds::stratified(y.view(), 3, 0)?;
    /// let cv = GradientDescent::logistic()
    ///     .solver(Solver::lbfgs())
    ///     .cross_validate(x.view(), y.view(), &[1.0, 0.1, 0.01], &folds, None, Choice::BestMean)?;
    /// println!("chose {} (mean accuracy {:.2})", cv.strength(), cv.mean_scores[cv.chosen]);
    /// assert_eq!(cv.scores.dim(), (3, 3));
    /// # Ok::<(), downhill::Error>(())
    /// ```
    pub fn cross_validate(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView1<f32>,
        strengths: &[f32],
        folds: &Folds,
        scoring: Option<CvScoring>,
        choice: Choice,
    ) -> Result<CrossValidation> {
        let models = self.at_strengths(strengths)?;
        if folds.fold_of.len() != x.nrows() {
            return Err(Error::Estimator(EstimatorError::FoldsOfOtherRows {
                folds: folds.fold_of.len(),
                rows: x.nrows(),
            }));
        }
        let classifier = self.model() == Model::Logistic;
        let scoring = scoring.unwrap_or(match classifier {
            true => CvScoring::Accuracy,
            false => CvScoring::NegMeanSquaredError,
        });
        let for_classes = matches!(scoring, CvScoring::Accuracy | CvScoring::NegLogLoss);
        if for_classes != classifier {
            return Err(Error::Estimator(EstimatorError::ScoringOfModel {
                scoring: format!("{scoring:?}"),
                model: self.model().to_string(),
            }));
        }
        let mut scores = Array2::zeros((folds.count, strengths.len()));
        for fold in 0..folds.count {
            let (held_out, training) = folds.split(fold);
            let (train_x, train_y) = (x.select(Axis(0), &training), y.select(Axis(0), &training));
            let (test_x, test_y) = (x.select(Axis(0), &held_out), y.select(Axis(0), &held_out));
            if classifier && train_y.iter().all(|&label| label == train_y[0]) {
                return Err(Error::Estimator(EstimatorError::FoldWithOneClass {
                    fold,
                    label: train_y[0],
                }));
            }
            let fits = GradientDescent::fit_many(&models, train_x.view(), train_y.view())?;
            for (k, fitted) in fits.iter().enumerate() {
                // A fit that diverged has no score: its strength is not chosen.
                scores[[fold, k]] = match fitted.stop_reason() {
                    StopReason::Diverged { .. } => f64::NAN,
                    _ => score(fitted, test_x.view(), test_y.view(), scoring)?,
                };
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
        let chosen = match choice {
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
        let fitted = models[chosen].fit(x, y)?;
        let result = CrossValidation {
            strengths: strengths.to_vec(),
            scores,
            mean_scores,
            chosen,
            fitted,
        };
        Ok(result)
    }
}

/// The standard error of each column's mean of `scores` (folds × strengths).
fn standard_errors(scores: &Array2<f64>) -> Array1<f64> {
    scores.std_axis(Axis(0), 1.0) / (scores.nrows() as f64).sqrt()
}

/// `fitted`'s score of rows `x`, `y` by `scoring`.
fn score(fitted: &Fitted, x: ArrayView2<f32>, y: ArrayView1<f32>, scoring: CvScoring) -> Result<f64> {
    Ok(match scoring {
        CvScoring::Accuracy => metrics::accuracy(y, fitted.predict(x)?.view())?,
        CvScoring::R2 => metrics::r2(y, fitted.predict(x)?.view())?,
        CvScoring::NegMeanSquaredError => -metrics::mse(y, fitted.predict(x)?.view())?,
        CvScoring::NegLogLoss => {
            let probabilities = fitted.class_probabilities(x)?;
            let mean: f64 = y
                .iter()
                .enumerate()
                .map(|(i, &label)| -f64::from(probabilities[[i, label as usize]]).max(1e-15).ln())
                .sum::<f64>()
                / y.len() as f64;
            -mean
        }
    })
}
