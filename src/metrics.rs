//! Scores of predictions against targets, computed in float64.
//!
//! The functions score rows held by this process. [`Scoring::over_ranks`]
//! scores rows held in parts by the ranks of a data-parallel fit: each
//! rank passes its own rows and every rank gets the scores of all of
//! them, from the same sums added over the ranks. Each score is defined
//! once, as sums over rows, for both.

use ndarray::ArrayView1;
use rayon::prelude::*;

use crate::distributed::{agree, Collective};
use crate::error::{Error, Result};

/// Where the rows being scored are: all in this process
/// ([`Scoring::local`], what the free functions of this module use), or
/// in parts over the ranks of a data-parallel fit
/// ([`Scoring::over_ranks`]). Over ranks, every rank must call the same
/// methods in the same order, each with its own rows (a rank may hold
/// none); a rank whose rows are invalid fails every rank with
/// [`Error::RankFailed`] naming it, rather than leave them waiting.
///
/// The area under the ROC curve ranks all rows against each other and is
/// not a sum over rows, so it has no method here: [`roc_auc`] scores one
/// process's rows.
///
/// ```
/// use downhill::metrics::Scoring;
/// use ndarray::array;
///
/// let (y, predicted) = (array![1.0f32, 2.0, 3.0], array![1.0f32, 3.0, 5.0]);
/// let mse = Scoring::local().mse(y.view(), predicted.view())?;
/// assert_eq!(mse, downhill::metrics::mse(y.view(), predicted.view())?);
/// # Ok::<(), downhill::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct Scoring<'a> {
    ranks: Option<&'a dyn Collective>,
}

impl std::fmt::Debug for Scoring<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ranks {
            None => f.write_str("Scoring::local"),
            Some(ranks) => write!(
                f,
                "Scoring::over_ranks(rank {} of {})",
                ranks.rank(),
                ranks.size()
            ),
        }
    }
}

impl Scoring<'static> {
    /// Rows all held by this process.
    pub fn local() -> Self {
        Scoring { ranks: None }
    }
}

impl<'a> Scoring<'a> {
    /// Rows held in parts by the ranks of `collective`, each rank passing
    /// its own.
    pub fn over_ranks(collective: &'a dyn Collective) -> Self {
        Scoring {
            ranks: Some(collective),
        }
    }

    /// This rank, over ranks; `None` for rows held here.
    pub fn rank(&self) -> Option<usize> {
        self.ranks.map(|ranks| ranks.rank())
    }

    /// `local` where every rank's succeeded, else every rank's first
    /// failure on every rank (see [`agree`]); `local` itself for rows held
    /// here. For work a rank does before scoring (reading its rows), so
    /// that one rank's failure does not leave the others waiting.
    pub fn agree<T, E: std::fmt::Display + Into<Error>>(
        &self,
        local: std::result::Result<T, E>,
    ) -> Result<T> {
        match self.ranks {
            None => local.map_err(Into::into),
            Some(ranks) => agree(ranks, local),
        }
    }

    /// The sums `local` (whose first is the count of rows) computes over
    /// this process's rows, added over the ranks; an error where the rows
    /// of all ranks together are none.
    fn summed<S: AsMut<[f64]>>(&self, local: Result<S>) -> Result<S> {
        let mut sums = self.agree(local)?;
        if let Some(ranks) = self.ranks {
            ranks.all_reduce_sum(sums.as_mut())?;
        }
        if sums.as_mut()[0] == 0.0 {
            return Err(Error::EmptyData { rows: 0, features: 1 });
        }
        Ok(sums)
    }

    /// Mean squared error.
    pub fn mse(&self, y_true: ArrayView1<f32>, y_pred: ArrayView1<f32>) -> Result<f64> {
        let [rows, squares] = self.summed(same_length(y_true, y_pred).map(|()| {
            [
                y_true.len() as f64,
                pairs(y_true, y_pred).map(|(t, p)| (p - t).powi(2)).sum(),
            ]
        }))?;
        Ok(squares / rows)
    }

    /// Coefficient of determination, 1 − SS_res / SS_tot (scikit-learn's
    /// `r2_score`: 1 for a perfect fit of constant targets, else 0 for
    /// them), SS_tot about the mean of all rows.
    pub fn r2(&self, y_true: ArrayView1<f32>, y_pred: ArrayView1<f32>) -> Result<f64> {
        let [rows, sum] = self.summed(
            same_length(y_true, y_pred)
                .map(|()| [y_true.len() as f64, y_true.iter().map(|&t| f64::from(t)).sum()]),
        )?;
        let mean = sum / rows;
        let [_, total, residual] = self.summed(Ok([
            rows,
            y_true.iter().map(|&t| (f64::from(t) - mean).powi(2)).sum(),
            pairs(y_true, y_pred).map(|(t, p)| (p - t).powi(2)).sum(),
        ]))?;
        Ok(match (total == 0.0, residual == 0.0) {
            (false, _) => 1.0 - residual / total,
            (true, true) => 1.0,
            (true, false) => 0.0,
        })
    }

    /// Root of the mean squared error.
    pub fn rmse(&self, y_true: ArrayView1<f32>, y_pred: ArrayView1<f32>) -> Result<f64> {
        self.mse(y_true, y_pred).map(f64::sqrt)
    }

    /// Mean absolute error.
    pub fn mae(&self, y_true: ArrayView1<f32>, y_pred: ArrayView1<f32>) -> Result<f64> {
        let [rows, absolute] = self.summed(same_length(y_true, y_pred).map(|()| {
            [
                y_true.len() as f64,
                pairs(y_true, y_pred).map(|(t, p)| (p - t).abs()).sum(),
            ]
        }))?;
        Ok(absolute / rows)
    }

    /// Fraction of predicted labels equal to the true ones.
    pub fn accuracy(&self, y_true: ArrayView1<f32>, y_pred: ArrayView1<f32>) -> Result<f64> {
        let [rows, hits] = self.summed(same_length(y_true, y_pred).map(|()| {
            [
                y_true.len() as f64,
                y_true.iter().zip(y_pred).filter(|(t, p)| t == p).count() as f64,
            ]
        }))?;
        Ok(hits / rows)
    }

    /// Mean cross-entropy of labels in {0, 1} against probabilities,
    /// which are clipped to [1e-15, 1 − 1e-15] as scikit-learn does.
    pub fn log_loss(&self, y_true: ArrayView1<f32>, probability: ArrayView1<f32>) -> Result<f64> {
        let local = same_length(y_true, probability)
            .and_then(|()| check_labels("y_true", y_true))
            .map(|()| {
                let eps = 1e-15;
                let sum = pairs(y_true, probability)
                    .map(|(t, p)| {
                        let p = p.clamp(eps, 1.0 - eps);
                        -(t * p.ln() + (1.0 - t) * (1.0 - p).ln())
                    })
                    .sum();
                [y_true.len() as f64, sum]
            });
        let [rows, sum] = self.summed(local)?;
        Ok(sum / rows)
    }

    /// The confusion matrix of predicted labels against true labels, both
    /// in {0, 1}.
    pub fn confusion_matrix(
        &self,
        y_true: ArrayView1<f32>,
        y_pred: ArrayView1<f32>,
    ) -> Result<ConfusionMatrix> {
        let local = same_length(y_true, y_pred)
            .and_then(|()| check_labels("y_true", y_true))
            .and_then(|()| check_labels("y_pred", y_pred))
            .map(|()| {
                // [rows, TP, FP, TN, FN]
                let mut counts = [y_true.len() as f64, 0.0, 0.0, 0.0, 0.0];
                for (&t, &p) in y_true.iter().zip(y_pred) {
                    let cell = match (t == 1.0, p == 1.0) {
                        (true, true) => 1,
                        (false, true) => 2,
                        (false, false) => 3,
                        (true, false) => 4,
                    };
                    counts[cell] += 1.0;
                }
                counts
            });
        let [_, tp, fp, tn, false_negatives] = self.summed(local)?;
        Ok(ConfusionMatrix {
            true_positives: tp as usize,
            false_positives: fp as usize,
            true_negatives: tn as usize,
            false_negatives: false_negatives as usize,
        })
    }

    /// The scores of each of `classes` classes (labels 0 … `classes` −
    /// 1), each against the rest, with scikit-learn's `zero_division=0`.
    pub fn per_class(
        &self,
        y_true: ArrayView1<f32>,
        y_pred: ArrayView1<f32>,
        classes: usize,
    ) -> Result<Vec<ClassScores>> {
        let local = same_length(y_true, y_pred)
            .and_then(|()| check_classes("y_true", y_true, classes))
            .and_then(|()| check_classes("y_pred", y_pred, classes))
            .map(|()| {
                // The rows, then per class: true positives, predicted k,
                // truly k.
                let mut counts = vec![0.0; 1 + 3 * classes];
                counts[0] = y_true.len() as f64;
                for (&t, &p) in y_true.iter().zip(y_pred) {
                    let (t, p) = (t as usize, p as usize);
                    counts[1 + 3 * p + 1] += 1.0;
                    counts[1 + 3 * t + 2] += 1.0;
                    if t == p {
                        counts[1 + 3 * t] += 1.0;
                    }
                }
                counts
            });
        let counts = self.summed(local)?;
        Ok(counts[1..]
            .chunks_exact(3)
            .map(|class| {
                let [hits, predicted, support] = [class[0], class[1], class[2]].map(|c| c as usize);
                ClassScores {
                    precision: ratio(hits, predicted),
                    recall: ratio(hits, support),
                    f1: ratio(2 * hits, predicted + support),
                    support,
                    predicted,
                }
            })
            .collect())
    }

    /// The mean cross-entropy −log p(yᵢ) of labels 0 … K − 1 against rows
    /// of class probabilities (one column per class), each clipped to
    /// [1e-15, 1 − 1e-15] as scikit-learn's `log_loss` does.
    pub fn cross_entropy(
        &self,
        y_true: ArrayView1<f32>,
        probabilities: ndarray::ArrayView2<f32>,
    ) -> Result<f64> {
        let local = match y_true.len() == probabilities.nrows() {
            true => check_classes("y_true", y_true, probabilities.ncols()),
            false => Err(Error::LengthMismatch {
                y_true: y_true.len(),
                y_pred: probabilities.nrows(),
            }),
        }
        .map(|()| {
            let eps = 1e-15;
            let sum = y_true
                .iter()
                .zip(probabilities.rows())
                .map(|(&t, p)| -f64::from(p[t as usize]).clamp(eps, 1.0 - eps).ln())
                .sum();
            [y_true.len() as f64, sum]
        });
        let [rows, sum] = self.summed(local)?;
        Ok(sum / rows)
    }
}

/// Targets and predictions of equal length, else [`Error::LengthMismatch`].
fn same_length(y_true: ArrayView1<f32>, y_pred: ArrayView1<f32>) -> Result<()> {
    match y_true.len() == y_pred.len() {
        true => Ok(()),
        false => Err(Error::LengthMismatch {
            y_true: y_true.len(),
            y_pred: y_pred.len(),
        }),
    }
}

/// The (target, prediction) pairs in float64.
fn pairs<'v>(
    y_true: ArrayView1<'v, f32>,
    y_pred: ArrayView1<'v, f32>,
) -> impl Iterator<Item = (f64, f64)> + 'v {
    y_true
        .into_iter()
        .zip(y_pred)
        .map(|(&t, &p)| (f64::from(t), f64::from(p)))
}

fn check(y_true: ArrayView1<f32>, y_pred: ArrayView1<f32>) -> Result<()> {
    same_length(y_true, y_pred)?;
    if y_true.is_empty() {
        return Err(Error::EmptyData { rows: 0, features: 1 });
    }
    Ok(())
}

/// Mean squared error (see [`Scoring::mse`]).
pub fn mse(y_true: ArrayView1<f32>, y_pred: ArrayView1<f32>) -> Result<f64> {
    Scoring::local().mse(y_true, y_pred)
}

/// Coefficient of determination, 1 − SS_res / SS_tot (scikit-learn's
/// `r2_score`: 1 for a perfect fit of constant targets, else 0 for them).
pub fn r2(y_true: ArrayView1<f32>, y_pred: ArrayView1<f32>) -> Result<f64> {
    Scoring::local().r2(y_true, y_pred)
}

/// Fraction of predicted labels equal to the true ones.
pub fn accuracy(y_true: ArrayView1<f32>, y_pred: ArrayView1<f32>) -> Result<f64> {
    Scoring::local().accuracy(y_true, y_pred)
}

/// Mean cross-entropy of labels in {0, 1} against probabilities, which are
/// clipped to [1e-15, 1 − 1e-15] as scikit-learn does.
pub fn log_loss(y_true: ArrayView1<f32>, probability: ArrayView1<f32>) -> Result<f64> {
    Scoring::local().log_loss(y_true, probability)
}

/// Root of the mean squared error.
pub fn rmse(y_true: ArrayView1<f32>, y_pred: ArrayView1<f32>) -> Result<f64> {
    Scoring::local().rmse(y_true, y_pred)
}

/// Mean absolute error.
pub fn mae(y_true: ArrayView1<f32>, y_pred: ArrayView1<f32>) -> Result<f64> {
    Scoring::local().mae(y_true, y_pred)
}

/// Labels must be 0 or 1; the error names the first that is not.
fn check_labels(name: &str, values: ArrayView1<f32>) -> Result<()> {
    match values.iter().enumerate().find(|(_, &v)| v != 0.0 && v != 1.0) {
        Some((row, &value)) if name == "y_true" => Err(Error::InvalidLabel { row, value }),
        Some((row, &value)) => Err(Error::InvalidPrediction { row, value }),
        None => Ok(()),
    }
}

/// The counts of a binary classification, class 1 being the positive one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConfusionMatrix {
    /// Predicted 1, truly 1.
    pub true_positives: usize,
    /// Predicted 1, truly 0.
    pub false_positives: usize,
    /// Predicted 0, truly 0.
    pub true_negatives: usize,
    /// Predicted 0, truly 1.
    pub false_negatives: usize,
}

impl ConfusionMatrix {
    /// TP / (TP + FP); 0 when nothing was predicted positive (scikit-learn's
    /// `zero_division=0`).
    pub fn precision(&self) -> f64 {
        ratio(self.true_positives, self.true_positives + self.false_positives)
    }
    /// TP / (TP + FN); 0 when there is no positive.
    pub fn recall(&self) -> f64 {
        ratio(self.true_positives, self.true_positives + self.false_negatives)
    }
    /// The harmonic mean of precision and recall, 2TP / (2TP + FP + FN); 0
    /// when both are 0.
    pub fn f1(&self) -> f64 {
        ratio(
            2 * self.true_positives,
            2 * self.true_positives + self.false_positives + self.false_negatives,
        )
    }
    /// (TP + TN) / all.
    pub fn accuracy(&self) -> f64 {
        ratio(
            self.true_positives + self.true_negatives,
            self.true_positives + self.true_negatives + self.false_positives + self.false_negatives,
        )
    }
}

fn ratio(numerator: usize, denominator: usize) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

/// The confusion matrix of predicted labels against true labels, both in
/// {0, 1}.
pub fn confusion_matrix(y_true: ArrayView1<f32>, y_pred: ArrayView1<f32>) -> Result<ConfusionMatrix> {
    Scoring::local().confusion_matrix(y_true, y_pred)
}

/// Precision of predicted labels, class 1 positive (see
/// [`ConfusionMatrix::precision`]).
pub fn precision(y_true: ArrayView1<f32>, y_pred: ArrayView1<f32>) -> Result<f64> {
    confusion_matrix(y_true, y_pred).map(|c| c.precision())
}

/// Recall of predicted labels, class 1 positive.
pub fn recall(y_true: ArrayView1<f32>, y_pred: ArrayView1<f32>) -> Result<f64> {
    confusion_matrix(y_true, y_pred).map(|c| c.recall())
}

/// F1 score of predicted labels, class 1 positive.
pub fn f1(y_true: ArrayView1<f32>, y_pred: ArrayView1<f32>) -> Result<f64> {
    confusion_matrix(y_true, y_pred).map(|c| c.f1())
}

/// Area under the ROC curve of scores (probabilities or margins) against
/// labels in {0, 1}: the probability that a random positive scores above a
/// random negative, ties counting one half (the Mann–Whitney statistic,
/// which equals scikit-learn's `roc_auc_score`). Labels of one class only
/// are [`Error::SingleClass`], as the area is undefined.
pub fn roc_auc(y_true: ArrayView1<f32>, score: ArrayView1<f32>) -> Result<f64> {
    check(y_true, score)?;
    check_labels("y_true", y_true)?;
    if let Some((row, &value)) = score.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::InvalidPrediction { row, value });
    }
    let positives = y_true.iter().filter(|&&t| t == 1.0).count();
    let negatives = y_true.len() - positives;
    if positives == 0 || negatives == 0 {
        return Err(Error::SingleClass { label: y_true[0] });
    }
    // The scores with their labels, sorted by value (in parallel, and by
    // the values themselves rather than through an index: millions of rows
    // are scored after a large fit). Ties are grouped below, so the order
    // within them does not matter.
    let mut scored: Vec<(f32, bool)> = score.iter().zip(y_true).map(|(&s, &t)| (s, t == 1.0)).collect();
    scored.par_sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    // Sum of the positives' ranks, ties sharing their mean rank.
    let mut rank_sum = 0.0f64;
    let mut start = 0;
    while start < scored.len() {
        let mut end = start + 1;
        while end < scored.len() && scored[end].0 == scored[start].0 {
            end += 1;
        }
        let mean_rank = (start + 1 + end) as f64 / 2.0;
        let tied_positives = scored[start..end]
            .iter()
            .filter(|&&(_, positive)| positive)
            .count();
        rank_sum += mean_rank * tied_positives as f64;
        start = end;
    }
    let (p, n) = (positives as f64, negatives as f64);
    Ok((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// Precision, recall and F1 of one class of many, the other classes
/// negative (one row of scikit-learn's `classification_report`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassScores {
    /// Of the rows predicted to be the class, the share that are.
    pub precision: f64,
    /// Of the rows of the class, the share predicted to be.
    pub recall: f64,
    /// The harmonic mean of precision and recall.
    pub f1: f64,
    /// The rows of the class.
    pub support: usize,
    /// The rows predicted to be the class.
    pub predicted: usize,
}

/// The labels of `values` (named `name` in errors) as classes 0 …
/// `classes` − 1.
fn check_classes(name: &str, values: ArrayView1<f32>, classes: usize) -> Result<()> {
    let is_class = |v: f32| v >= 0.0 && v < classes as f32 && v.fract() == 0.0;
    match values.iter().enumerate().find(|(_, &v)| !is_class(v)) {
        Some((row, &value)) if name == "y_true" => Err(Error::InvalidClass { row, value, classes }),
        Some((row, &value)) => Err(Error::InvalidPrediction { row, value }),
        None => Ok(()),
    }
}

/// The scores of each of `classes` classes (labels 0 … `classes` − 1),
/// each against the rest, with scikit-learn's `zero_division=0`.
pub fn per_class(
    y_true: ArrayView1<f32>,
    y_pred: ArrayView1<f32>,
    classes: usize,
) -> Result<Vec<ClassScores>> {
    Scoring::local().per_class(y_true, y_pred, classes)
}

/// The mean of the F1 scores of the classes that are among the rows or
/// the predictions, each counting the same (scikit-learn's
/// `f1_score(average="macro")`, whose labels are those of both).
pub fn macro_f1(scores: &[ClassScores]) -> f64 {
    let seen: Vec<f64> = scores
        .iter()
        .filter(|s| s.support > 0 || s.predicted > 0)
        .map(|s| s.f1)
        .collect();
    seen.iter().sum::<f64>() / seen.len().max(1) as f64
}

/// The mean cross-entropy −log p(yᵢ) of labels 0 … K − 1 against rows of
/// class probabilities (one column per class), each clipped to
/// [1e-15, 1 − 1e-15] as scikit-learn's `log_loss` does.
pub fn cross_entropy(y_true: ArrayView1<f32>, probabilities: ndarray::ArrayView2<f32>) -> Result<f64> {
    Scoring::local().cross_entropy(y_true, probabilities)
}
