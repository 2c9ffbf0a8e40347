//! Input validation, standardization, CSV loading and synthetic data.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal, Uniform};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::model::{sigmoid, Model};

/// Rows per parallel task in the scans over X. Fixed, so that every result
/// is the same whatever the number of threads.
const SCAN_ROWS: usize = 4096;

/// Checks X and y for a fit, except the finiteness of X: matching shapes,
/// at least one row and one feature, finite targets, and labels in {0, 1}
/// for the logistic model.
///
/// A non-finite value in X makes the loss of any pass over its row
/// non-finite, so the engines find it for free; [`validate_features`] then
/// names it. This spares large data a pass over X.
pub fn validate_targets(model: Model, x: ArrayView2<f32>, y: ArrayView1<f32>) -> Result<()> {
    validate_rows(x, y)?;
    let is_label = |v: f32| v == 0.0 || v == 1.0;
    if model == Model::Logistic && !y.fold(true, |ok, &v| ok & is_label(v)) {
        let (row, &value) = y
            .iter()
            .enumerate()
            .find(|(_, &v)| !is_label(v))
            .expect("fold saw one");
        return Err(Error::InvalidLabel { row, value });
    }
    Ok(())
}

/// [`validate_targets`] for a fit under `loss`: labels 0 or 1 for a binary
/// classification loss, classes 0 … K − 1 for the multinomial one, counts
/// at least 0 for Poisson.
pub(crate) fn validate_targets_of(loss: Loss, x: ArrayView2<f32>, y: ArrayView1<f32>) -> Result<()> {
    match loss.margins() {
        1 => validate_targets(loss.model(), x, y)?,
        _ => validate_rows(x, y)?,
    }
    loss.check_targets(y.iter().copied(), 0)
}

/// The checks of [`validate_targets`] but the labels'.
fn validate_rows(x: ArrayView2<f32>, y: ArrayView1<f32>) -> Result<()> {
    if x.nrows() != y.len() {
        return Err(Error::ShapeMismatch {
            x_rows: x.nrows(),
            y_len: y.len(),
        });
    }
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(Error::EmptyData {
            rows: x.nrows(),
            features: x.ncols(),
        });
    }
    if x.nrows() > u32::MAX as usize {
        return Err(Error::TooManyRows { rows: x.nrows() });
    }
    // A fold without early exit vectorizes; the position is looked for only
    // when there is something to report.
    if !y.fold(true, |ok, v| ok & v.is_finite()) {
        let (row, &value) = y
            .iter()
            .enumerate()
            .find(|(_, v)| !v.is_finite())
            .expect("fold saw one");
        return Err(Error::NonFiniteTarget { row, value });
    }
    Ok(())
}

/// Every check of [`validate_targets`] and the finiteness of X.
pub fn validate_training_data(model: Model, x: ArrayView2<f32>, y: ArrayView1<f32>) -> Result<()> {
    validate_targets(model, x, y)?;
    validate_features(x)
}

/// Checks that X is not empty and holds only finite values; the error names
/// the first offending entry in row-major order.
pub fn validate_features(x: ArrayView2<f32>) -> Result<()> {
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(Error::EmptyData {
            rows: x.nrows(),
            features: x.ncols(),
        });
    }
    let first_bad = x
        .axis_chunks_iter(Axis(0), SCAN_ROWS)
        .into_par_iter()
        .enumerate()
        .find_map_first(|(chunk, rows)| {
            rows.indexed_iter()
                .find(|(_, v)| !v.is_finite())
                .map(|((row, column), &value)| Error::NonFiniteFeature {
                    row: chunk * SCAN_ROWS + row,
                    column,
                    value,
                })
        });
    first_bad.map_or(Ok(()), Err)
}

/// Checks a parameter vector given by the user (a warm start).
pub(crate) fn validate_parameters(weights: ArrayView1<f32>, bias: f32, features: usize) -> Result<()> {
    if weights.len() != features {
        return Err(Error::FeatureCountMismatch {
            expected: features,
            found: weights.len(),
        });
    }
    if let Some((i, &value)) = weights.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFiniteParameter {
            name: format!("weights[{i}]"),
            value,
        });
    }
    if !bias.is_finite() {
        return Err(Error::NonFiniteParameter {
            name: "bias".into(),
            value: bias,
        });
    }
    Ok(())
}

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
            return Err(Error::NonFiniteParameter {
                name: format!("mean[{i}]"),
                value,
            });
        }
        if let Some((i, &value)) = scale
            .iter()
            .enumerate()
            .find(|(_, &v)| !(v.is_finite() && v > 0.0))
        {
            return Err(Error::NonFiniteParameter {
                name: format!("scale[{i}]"),
                value,
            });
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
            return Err(Error::NonFiniteTarget { row, value });
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

/// Rows split into a training part and a held-out test part by
/// [`train_test_split`].
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Training rows.
    pub x_train: Array2<f32>,
    /// Training targets.
    pub y_train: Array1<f32>,
    /// Held-out rows.
    pub x_test: Array2<f32>,
    /// Held-out targets.
    pub y_test: Array1<f32>,
    /// The original positions of the held-out rows, in order.
    pub test_rows: Vec<usize>,
}

/// Holds out `test_fraction` of the rows (rounded to the nearest row, at
/// least one, and at least one row left to train on), chosen by a seeded
/// shuffle; with
/// `stratify`, the fraction is taken from each distinct target value apart
/// (scikit-learn's `train_test_split(stratify=y)`), so that both parts keep
/// the classes' proportions; a class that rounding leaves out of either
/// part (a class of one row, or a fraction too small for a rare class) is
/// [`Error::ClassMissingFromSplit`].
///
/// ```
/// use downhill::data::train_test_split;
/// use ndarray::{array, Array2};
/// let x = Array2::from_shape_fn((10, 1), |(i, _)| i as f32);
/// let y = array![0.0f32, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0];
/// let split = train_test_split(x.view(), y.view(), 0.2, 7, true)?;
/// assert_eq!(split.y_test.iter().filter(|&&v| v == 1.0).count(), 1);
/// assert_eq!(split.x_train.nrows(), 8);
/// # Ok::<(), downhill::Error>(())
/// ```
pub fn train_test_split(
    x: ArrayView2<f32>,
    y: ArrayView1<f32>,
    test_fraction: f64,
    seed: u64,
    stratify: bool,
) -> Result<Split> {
    if x.nrows() != y.len() {
        return Err(Error::ShapeMismatch {
            x_rows: x.nrows(),
            y_len: y.len(),
        });
    }
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(Error::InvalidTestFraction { value: test_fraction });
    }
    if x.nrows() < 2 {
        return Err(Error::EmptyData {
            rows: x.nrows(),
            features: x.ncols(),
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let classes: Vec<f32> = match stratify {
        true => {
            let mut values: Vec<f32> = y.iter().copied().collect();
            values.sort_by(f32::total_cmp);
            values.dedup();
            values
        }
        false => Vec::new(),
    };
    let groups: Vec<Vec<usize>> = if stratify {
        classes
            .iter()
            .map(|v| (0..y.len()).filter(|&i| y[i] == *v).collect())
            .collect()
    } else {
        vec![(0..y.len()).collect()]
    };
    // A stratified split is a classifier's: each part keeps every class,
    // or the fit never sees a class it is scored on (or the other way).
    let class_rows: Vec<usize> = groups.iter().map(Vec::len).collect();
    let mut test_rows = Vec::new();
    for mut group in groups {
        rand::seq::SliceRandom::shuffle(group.as_mut_slice(), &mut rng);
        let take = ((group.len() as f64 * test_fraction).round() as usize).min(group.len());
        test_rows.extend_from_slice(&group[..take]);
    }
    if test_rows.is_empty() {
        let all: Vec<usize> = (0..y.len()).collect();
        test_rows.push(all[rand::RngExt::random_range(&mut rng, 0..all.len())]);
    }
    if test_rows.len() == y.len() {
        test_rows.pop();
    }
    test_rows.sort_unstable();
    let mut is_test = vec![false; y.len()];
    test_rows.iter().for_each(|&i| is_test[i] = true);
    let train_rows: Vec<usize> = (0..y.len()).filter(|&i| !is_test[i]).collect();
    if stratify {
        for (&class, &rows_of_class) in classes.iter().zip(&class_rows) {
            let held = test_rows.iter().filter(|&&i| y[i] == class).count();
            let part = match held {
                0 => "held-out",
                _ if held == rows_of_class => "training",
                _ => continue,
            };
            return Err(Error::ClassMissingFromSplit {
                class,
                class_rows: rows_of_class,
                part,
                rows: y.len(),
                train_rows: train_rows.len(),
                test_rows: test_rows.len(),
            });
        }
    }
    Ok(Split {
        x_train: x.select(Axis(0), &train_rows),
        y_train: y.select(Axis(0), &train_rows),
        x_test: x.select(Axis(0), &test_rows),
        y_test: y.select(Axis(0), &test_rows),
        test_rows,
    })
}

/// Seeded synthetic data with known parameters.
#[derive(Debug, Clone)]
pub struct Synthetic {
    /// Features, standard normal.
    pub x: Array2<f32>,
    /// Targets: x·w + b + noise (linear) or Bernoulli(σ(x·w + b)) (logistic).
    pub y: Array1<f32>,
    /// The weights that generated y.
    pub weights: Array1<f32>,
    /// The bias that generated y.
    pub bias: f32,
}

impl Synthetic {
    /// `rows` × `features` standard-normal features with weights drawn
    /// uniformly from [−2, 2] and bias 0.5. Linear targets get Gaussian
    /// noise of standard deviation `noise`; logistic ones are Bernoulli
    /// draws (the noise is then the draw itself and `noise` is unused).
    ///
    /// Rows are generated in parallel blocks, each from its own ChaCha
    /// stream, so the data depend on the seed alone.
    pub fn generate(model: Model, rows: usize, features: usize, noise: f32, seed: u64) -> Result<Self> {
        let values = Self::x_bytes(rows, features)? / 4;
        let mut x = Array2::from_shape_vec((rows, features), huge_page_zeros(values))
            .expect("the length is rows × features");
        let mut y = Array1::from(huge_page_zeros(rows));
        let (weights, bias) = Self::fill(model, noise, seed, x.view_mut(), y.view_mut());
        Ok(Synthetic { x, y, weights, bias })
    }

    /// The bytes of X (float32) for `rows` × `features`:
    /// [`Error::EmptyData`] for no rows or features, and
    /// [`Error::ShapeOverflow`] where the values or their bytes (with y's)
    /// do not fit in `usize` (ndarray would panic on the shape).
    pub fn x_bytes(rows: usize, features: usize) -> Result<usize> {
        if rows == 0 || features == 0 {
            return Err(Error::EmptyData { rows, features });
        }
        features
            .checked_add(1)
            .and_then(|columns| rows.checked_mul(columns))
            .and_then(|values| values.checked_mul(std::mem::size_of::<f32>()))
            .ok_or(Error::ShapeOverflow { rows, features })?;
        Ok(rows * features * std::mem::size_of::<f32>())
    }

    /// [`Synthetic::x_bytes`], refused with [`Error::BeyondMemoryBudget`]
    /// where X would take more than `budget` bytes: generating it would
    /// abort the process on a failed allocation, or swap for hours.
    pub fn check_within(rows: usize, features: usize, budget: u64) -> Result<usize> {
        let bytes = Self::x_bytes(rows, features)?;
        if bytes as u64 > budget {
            return Err(Error::BeyondMemoryBudget {
                rows,
                features,
                bytes: bytes as u64,
                budget,
            });
        }
        Ok(bytes)
    }

    /// Fills `x` and `y` (as many rows) with the data [`Synthetic::generate`]
    /// makes for their shape, in place (a memory-mapped file of any size);
    /// returns the weights and the bias.
    pub fn fill(
        model: Model,
        noise: f32,
        seed: u64,
        mut x: ndarray::ArrayViewMut2<f32>,
        mut y: ndarray::ArrayViewMut1<f32>,
    ) -> (Array1<f32>, f32) {
        let features = x.ncols();
        let mut parameter_rng = ChaCha8Rng::seed_from_u64(seed);
        let uniform = Uniform::new_inclusive(-2.0f32, 2.0).expect("constant bounds are ordered");
        let weights: Array1<f32> = (0..features)
            .map(|_| uniform.sample(&mut parameter_rng))
            .collect();
        let bias = 0.5f32;
        x.axis_chunks_iter_mut(Axis(0), SCAN_ROWS)
            .into_par_iter()
            .zip(y.axis_chunks_iter_mut(Axis(0), SCAN_ROWS))
            .enumerate()
            .for_each(|(block, (mut xb, mut yb))| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(block as u64 + 1);
                for (mut row, target) in xb.rows_mut().into_iter().zip(yb.iter_mut()) {
                    row.iter_mut().for_each(|v| *v = StandardNormal.sample(&mut rng));
                    let z = row.dot(&weights) + bias;
                    *target = match model {
                        Model::Linear => {
                            let e: f32 = StandardNormal.sample(&mut rng);
                            z + noise * e
                        }
                        Model::Logistic => {
                            let u: f32 = rand::RngExt::random(&mut rng);
                            if u < sigmoid(z) {
                                1.0
                            } else {
                                0.0
                            }
                        }
                    };
                }
            });
        (weights, bias)
    }
}

/// A zeroed vector whose memory Linux is asked to back with transparent huge
/// pages before it is first written (NumPy does the same for its arrays).
/// Steps that read rows in a random order then miss the TLB far less often.
pub(crate) fn huge_page_zeros(len: usize) -> Vec<f32> {
    // Large zeroed allocations come straight from mmap, untouched until the
    // generator writes them, so the advice applies to every page.
    let values = vec![0.0f32; len];
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = values.as_ptr() as usize;
        let aligned = start.next_multiple_of(PAGE);
        let end = start + std::mem::size_of_val(values.as_slice());
        if end > aligned + PAGE {
            // SAFETY: the range lies inside the allocation, which stays alive
            // and in place; the advice changes how pages are backed, never
            // their contents, and a refusal is harmless.
            unsafe {
                libc::madvise(
                    aligned as *mut libc::c_void,
                    (end - aligned) / PAGE * PAGE,
                    libc::MADV_HUGEPAGE,
                )
            };
        }
    }
    values
}

/// Numeric data read from a CSV file by [`read_csv`].
#[derive(Debug, Clone, PartialEq)]
pub struct CsvData {
    /// The names of the feature columns, in the order of the columns of `x`.
    pub feature_names: Vec<String>,
    /// One row per data row of the file.
    pub x: Array2<f32>,
    /// The target column, when one was asked for.
    pub y: Option<Array1<f32>>,
}

/// Reads a CSV file with a header row.
///
/// The target is the column named `target`, if given. The features are the
/// columns named in `features`, in that order, or else every other column
/// whose first data row holds a number (text columns such as names are left
/// out). Every cell of a chosen column must be a number; the error names
/// the line and the column of the first that is not. Rows with more or
/// fewer cells than the header, a missing file, a file without a header or
/// without data rows, and a column that does not exist each have their own
/// error.
///
/// ```
/// let path = std::env::temp_dir().join("downhill_read_csv_doc.csv");
/// std::fs::write(&path, "name,x,y\na,1,3\nb,2,5\n").unwrap();
/// let data = downhill::data::read_csv(&path, Some("y"), None)?;
/// assert_eq!(data.feature_names, ["x"]);
/// let chosen = downhill::data::read_csv(&path, Some("y"), Some(&["x"]))?;
/// assert_eq!(chosen.x, data.x);
/// assert_eq!(data.x.column(0).to_vec(), [1.0, 2.0]);
/// assert_eq!(data.y.unwrap().to_vec(), [3.0, 5.0]);
/// # Ok::<(), downhill::Error>(())
/// ```
pub fn read_csv(
    path: impl AsRef<std::path::Path>,
    target: Option<&str>,
    features: Option<&[&str]>,
) -> Result<CsvData> {
    let (header, records) = crate::csv_records::read_csv_records(path.as_ref())?;
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| Error::MissingColumn {
                name: name.to_string(),
                available: header.join(", "),
            })
    };
    let target_column = target.map(column).transpose()?;
    let feature_columns: Vec<usize> = match features {
        Some(names) => names
            .iter()
            .map(|name| column(name.trim()))
            .collect::<Result<_>>()?,
        None => (0..header.len())
            .filter(|&c| Some(c) != target_column)
            .filter(|&c| records[0].1[c].trim().parse::<f32>().is_ok())
            .collect(),
    };
    if feature_columns.is_empty() {
        return Err(Error::MissingColumn {
            name: "(any numeric feature column)".into(),
            available: header.join(", "),
        });
    }
    let cell = |line: usize, record: &csv::StringRecord, c: usize| -> Result<f32> {
        let text = record[c].trim();
        text.parse::<f32>().map_err(|_| Error::NonNumericCell {
            line,
            column: header[c].clone(),
            value: record[c].to_string(),
        })
    };
    let mut x = Array2::zeros((records.len(), feature_columns.len()));
    let mut y = target_column.map(|_| Array1::zeros(records.len()));
    for (i, (line, record)) in records.iter().enumerate() {
        for (j, &c) in feature_columns.iter().enumerate() {
            x[[i, j]] = cell(*line, record, c)?;
        }
        if let (Some(y), Some(c)) = (y.as_mut(), target_column) {
            y[i] = cell(*line, record, c)?;
        }
    }
    Ok(CsvData {
        feature_names: feature_columns.iter().map(|&c| header[c].clone()).collect(),
        x,
        y,
    })
}
