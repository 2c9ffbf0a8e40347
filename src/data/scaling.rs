//! Standardization: features centred and scaled to unit variance
//! ([`Standardizer`]), the target's scaling ([`TargetScaling`]), and fitted
//! parameters mapped between the scaled and the original units.

use crate::data::error::DataError;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;

use crate::data::{validate_features, SCAN_ROWS};
use crate::error::{Error, Result};

/// Centers each feature on its mean and scales it to unit variance, as
/// scikit-learn's `StandardScaler` does (population variance; a constant
/// feature keeps the scale 1), and maps fitted parameters between the
/// standardized and the original units.
///
/// ```
/// use downhill::Standardizer;
/// use ndarray::array;
/// let x = array![[1.0f32, 10.0], [3.0, 10.0]];
/// let standardizer = Standardizer::fit(x.view())?;
/// assert_eq!(standardizer.transform(x.view())?, array![[-1.0f32, 0.0], [1.0, 0.0]]);
/// # Ok::<(), downhill::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    mean: Array1<f32>,
    scale: Array1<f32>,
}

impl Standardizer {
    /// Learns the mean and standard deviation of each column, in float64.
    pub fn fit(x: ArrayView2<f32>) -> Result<Self> {
        validate_features(x)?;
        let n = x.nrows() as f64;
        let column_sums = |f: &(dyn Fn(usize, f32) -> f64 + Sync)| -> Vec<f64> {
            x.axis_chunks_iter(Axis(0), SCAN_ROWS)
                .into_par_iter()
                .map(|rows| {
                    let mut sums = vec![0.0f64; x.ncols()];
                    for row in rows.rows() {
                        for (j, (&v, sum)) in row.iter().zip(&mut sums).enumerate() {
                            *sum += f(j, v);
                        }
                    }
                    sums
                })
                .collect::<Vec<_>>()
                .into_iter()
                .fold(vec![0.0; x.ncols()], |mut total, part| {
                    total.iter_mut().zip(part).for_each(|(t, p)| *t += p);
                    total
                })
        };
        let mean: Vec<f64> = column_sums(&|_, v| f64::from(v))
            .into_iter()
            .map(|s| s / n)
            .collect();
        let variance = column_sums(&|j, v| (f64::from(v) - mean[j]).powi(2));
        let scale = variance
            .into_iter()
            .map(|v| {
                let sd = (v / n).sqrt();
                if sd > 0.0 && sd.is_finite() {
                    sd as f32
                } else {
                    1.0
                }
            })
            .collect();
        Ok(Standardizer {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            scale,
        })
    }

    /// A standardizer with these means and scales, as saved by an earlier
    /// fit; every scale must be finite and positive.
    pub fn from_parts(mean: Array1<f32>, scale: Array1<f32>) -> Result<Self> {
        if mean.len() != scale.len() {
            return Err(Error::FeatureCountMismatch {
                expected: mean.len(),
                found: scale.len(),
            });
        }
        if let Some((i, &value)) = mean.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::Data(DataError::NonFiniteParameter {
                name: format!("mean[{i}]"),
                value,
            }));
        }
        if let Some((i, &value)) = scale
            .iter()
            .enumerate()
            .find(|(_, &v)| !(v.is_finite() && v > 0.0))
        {
            return Err(Error::Data(DataError::NonFiniteParameter {
                name: format!("scale[{i}]"),
                value,
            }));
        }
        Ok(Standardizer { mean, scale })
    }

    /// The mean of each feature.
    pub fn mean(&self) -> ArrayView1<'_, f32> {
        self.mean.view()
    }

    /// The standard deviation of each feature (1 for a constant one).
    pub fn scale(&self) -> ArrayView1<'_, f32> {
        self.scale.view()
    }

    /// (X − mean) / scale, column by column.
    pub fn transform(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        self.check_features(x.ncols())?;
        let mut out = x.to_owned();
        out.axis_chunks_iter_mut(Axis(0), SCAN_ROWS)
            .into_par_iter()
            .for_each(|mut rows| {
                for mut row in rows.rows_mut() {
                    for ((v, &m), &s) in row.iter_mut().zip(&self.mean).zip(&self.scale) {
                        *v = (*v - m) / s;
                    }
                }
            });
        Ok(out)
    }

    /// Parameters fitted on standardized X, expressed for the original X:
    /// wⱼ = w'ⱼ / sⱼ and b = b' − Σ w'ⱼ mⱼ / sⱼ.
    pub fn to_original(&self, weights: ArrayView1<f32>, bias: f32) -> Result<(Array1<f32>, f32)> {
        self.check_features(weights.len())?;
        let original = &weights / &self.scale;
        let shift: f64 = original
            .iter()
            .zip(&self.mean)
            .map(|(&w, &m)| f64::from(w) * f64::from(m))
            .sum();
        Ok((original, (f64::from(bias) - shift) as f32))
    }

    /// Parameters for the original X, expressed for standardized X:
    /// w'ⱼ = wⱼ sⱼ and b' = b + Σ wⱼ mⱼ.
    pub fn to_standardized(&self, weights: ArrayView1<f32>, bias: f32) -> Result<(Array1<f32>, f32)> {
        self.check_features(weights.len())?;
        let shift: f64 = weights
            .iter()
            .zip(&self.mean)
            .map(|(&w, &m)| f64::from(w) * f64::from(m))
            .sum();
        Ok((&weights * &self.scale, (f64::from(bias) + shift) as f32))
    }

    fn check_features(&self, found: usize) -> Result<()> {
        if found == self.mean.len() {
            Ok(())
        } else {
            Err(Error::FeatureCountMismatch {
                expected: self.mean.len(),
                found,
            })
        }
    }
}

/// The target of a linear model centred on its mean and scaled to unit
/// variance (population variance, in float64; a constant target keeps the
/// scale 1): y' = (y − mean) / scale. A fit on y' has parameters σ times
/// smaller, so learning rates behave the same whatever the target's units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetScaling {
    /// The mean of the target.
    pub mean: f32,
    /// The standard deviation of the target (1 for a constant one).
    pub scale: f32,
}

impl TargetScaling {
    /// Learns the mean and standard deviation of `y`, in float64.
    pub fn fit(y: ArrayView1<f32>) -> Result<Self> {
        if y.is_empty() {
            return Err(Error::EmptyData { rows: 0, features: 1 });
        }
        if let Some((row, &value)) = y.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::Data(DataError::NonFiniteTarget { row, value }));
        }
        let n = y.len() as f64;
        let mean = y.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let variance = y.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
        let sd = variance.sqrt();
        Ok(TargetScaling {
            mean: mean as f32,
            scale: if sd > 0.0 && sd.is_finite() {
                sd as f32
            } else {
                1.0
            },
        })
    }

    /// (y − mean) / scale.
    #[inline]
    pub fn transform(&self, y: f32) -> f32 {
        (y - self.mean) / self.scale
    }

    /// Parameters fitted to the scaled target, for the target itself:
    /// w = σ w′, b = σ b′ + mean.
    pub fn to_original(&self, weights: ArrayView1<f32>, bias: f32) -> (Array1<f32>, f32) {
        let scale = f64::from(self.scale);
        (
            weights.mapv(|w| (f64::from(w) * scale) as f32),
            (f64::from(bias) * scale + f64::from(self.mean)) as f32,
        )
    }

    /// Parameters for the target, for the scaled target: w′ = w / σ,
    /// b′ = (b − mean) / σ.
    pub fn to_scaled(&self, weights: ArrayView1<f32>, bias: f32) -> (Array1<f32>, f32) {
        let scale = f64::from(self.scale);
        (
            weights.mapv(|w| (f64::from(w) / scale) as f32),
            ((f64::from(bias) - f64::from(self.mean)) / scale) as f32,
        )
    }
}
