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
