//! Scores of predictions against targets, computed in float64.

use ndarray::ArrayView1;

use crate::error::{Error, Result};

fn check(y_true: ArrayView1<f32>, y_pred: ArrayView1<f32>) -> Result<()> {
    if y_true.len() != y_pred.len() {
        return Err(Error::LengthMismatch {
            y_true: y_true.len(),
            y_pred: y_pred.len(),
        });
    }
    if y_true.is_empty() {
        return Err(Error::EmptyData { rows: 0, features: 1 });
    }
    Ok(())
}

/// Mean squared error.
pub fn mse(y_true: ArrayView1<f32>, y_pred: ArrayView1<f32>) -> Result<f64> {
    check(y_true, y_pred)?;
    let sum: f64 = y_true
        .iter()
        .zip(y_pred)
        .map(|(&t, &p)| (f64::from(p) - f64::from(t)).powi(2))
        .sum();
    Ok(sum / y_true.len() as f64)
}

/// Coefficient of determination, 1 − SS_res / SS_tot (scikit-learn's
/// `r2_score`: 1 for a perfect fit of constant targets, else 0 for them).
pub fn r2(y_true: ArrayView1<f32>, y_pred: ArrayView1<f32>) -> Result<f64> {
    check(y_true, y_pred)?;
    let n = y_true.len() as f64;
    let mean = y_true.iter().map(|&t| f64::from(t)).sum::<f64>() / n;
    let total: f64 = y_true.iter().map(|&t| (f64::from(t) - mean).powi(2)).sum();
    let residual = mse(y_true, y_pred)? * n;
    Ok(match (total == 0.0, residual == 0.0) {
        (false, _) => 1.0 - residual / total,
        (true, true) => 1.0,
        (true, false) => 0.0,
    })
}

/// Fraction of predicted labels equal to the true ones.
pub fn accuracy(y_true: ArrayView1<f32>, y_pred: ArrayView1<f32>) -> Result<f64> {
    check(y_true, y_pred)?;
    let hits = y_true.iter().zip(y_pred).filter(|(t, p)| t == p).count();
    Ok(hits as f64 / y_true.len() as f64)
}

/// Mean cross-entropy of labels in {0, 1} against probabilities, which are
/// clipped to [1e-15, 1 − 1e-15] as scikit-learn does.
pub fn log_loss(y_true: ArrayView1<f32>, probability: ArrayView1<f32>) -> Result<f64> {
    check(y_true, probability)?;
    if let Some((row, &value)) = y_true.iter().enumerate().find(|(_, &v)| v != 0.0 && v != 1.0) {
        return Err(Error::InvalidLabel { row, value });
    }
    let eps = 1e-15;
    let sum: f64 = y_true
        .iter()
        .zip(probability)
        .map(|(&t, &p)| {
            let (t, p) = (f64::from(t), f64::from(p).clamp(eps, 1.0 - eps));
            -(t * p.ln() + (1.0 - t) * (1.0 - p).ln())
        })
        .sum();
    Ok(sum / y_true.len() as f64)
}

/// Root of the mean squared error.
pub fn rmse(y_true: ArrayView1<f32>, y_pred: ArrayView1<f32>) -> Result<f64> {
    mse(y_true, y_pred).map(f64::sqrt)
}

/// Mean absolute error.
pub fn mae(y_true: ArrayView1<f32>, y_pred: ArrayView1<f32>) -> Result<f64> {
    check(y_true, y_pred)?;
    let sum: f64 = y_true
        .iter()
        .zip(y_pred)
        .map(|(&t, &p)| (f64::from(p) - f64::from(t)).abs())
        .sum();
    Ok(sum / y_true.len() as f64)
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
    check(y_true, y_pred)?;
    check_labels("y_true", y_true)?;
    check_labels("y_pred", y_pred)?;
    let mut counts = ConfusionMatrix::default();
    for (&t, &p) in y_true.iter().zip(y_pred) {
        match (t == 1.0, p == 1.0) {
            (true, true) => counts.true_positives += 1,
            (false, true) => counts.false_positives += 1,
            (false, false) => counts.true_negatives += 1,
            (true, false) => counts.false_negatives += 1,
        }
    }
    Ok(counts)
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
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    // Sum of the positives' ranks, ties sharing their mean rank.
    let mut rank_sum = 0.0f64;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && score[order[end]] == score[order[start]] {
            end += 1;
        }
        let mean_rank = (start + 1 + end) as f64 / 2.0;
        let tied_positives = order[start..end].iter().filter(|&&i| y_true[i] == 1.0).count();
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
    check(y_true, y_pred)?;
    check_classes("y_true", y_true, classes)?;
    check_classes("y_pred", y_pred, classes)?;
    // counts[k] = (true positives, predicted k, truly k).
    let mut counts = vec![(0usize, 0usize, 0usize); classes];
    for (&t, &p) in y_true.iter().zip(y_pred) {
        let (t, p) = (t as usize, p as usize);
        counts[p].1 += 1;
        counts[t].2 += 1;
        if t == p {
            counts[t].0 += 1;
        }
    }
    Ok(counts
        .into_iter()
        .map(|(hits, predicted, support)| ClassScores {
            precision: ratio(hits, predicted),
            recall: ratio(hits, support),
            f1: ratio(2 * hits, predicted + support),
            support,
            predicted,
        })
        .collect())
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
    if y_true.len() != probabilities.nrows() {
        return Err(Error::LengthMismatch {
            y_true: y_true.len(),
            y_pred: probabilities.nrows(),
        });
    }
    if y_true.is_empty() {
        return Err(Error::EmptyData { rows: 0, features: 1 });
    }
    check_classes("y_true", y_true, probabilities.ncols())?;
    let eps = 1e-15;
    let sum: f64 = y_true
        .iter()
        .zip(probabilities.rows())
        .map(|(&t, p)| -f64::from(p[t as usize]).clamp(eps, 1.0 - eps).ln())
        .sum();
    Ok(sum / y_true.len() as f64)
}
