//! The data layer: where rows come from (sources; CSV, `.npy` and Parquet
//! files; tables of typed columns), what is done to them before an engine
//! sees them (validation, standardization, the train/test split, the row
//! order of an epoch), and synthetic data. This file holds the validation,
//! the split and numeric CSV.

pub(crate) mod csv_records;
pub(crate) mod error;
pub(crate) mod input_file;
#[cfg(feature = "npy")]
pub mod npy;
#[cfg(feature = "npy")]
pub mod npz;
#[cfg(feature = "parquet")]
pub mod parquet_source;
#[cfg(feature = "parquet")]
pub(crate) mod parquet_table;
pub(crate) mod read_ahead;
pub(crate) mod scaling;
pub(crate) mod shuffle;
pub mod source;
pub mod sparse;
pub mod svmlight;
pub(crate) mod synthetic;
pub mod table;

use crate::data::error::DataError;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::math::loss::Loss;
use crate::math::model::Model;

/// Rows per parallel task in the scans over X. Fixed, so that every result
/// is the same whatever the number of threads.
pub(crate) const SCAN_ROWS: usize = 4096;

/// Checks X and y for a fit, except the finiteness of X: matching shapes,
/// at least one row and one feature, finite targets, and labels in {0, 1}
/// for the logistic model.
///
/// A non-finite value in X makes the loss of any pass over its row
/// non-finite, so the engines find it for free; [`validate_features`] then
/// names it. This spares large data a pass over X.
pub(crate) fn validate_targets(model: Model, x: ArrayView2<f32>, y: ArrayView1<f32>) -> Result<()> {
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
        return Err(Error::Data(DataError::NonFiniteTarget { row, value }));
    }
    Ok(())
}

/// Every check of [`validate_targets`] and the finiteness of X.
pub(crate) fn validate_training_data(model: Model, x: ArrayView2<f32>, y: ArrayView1<f32>) -> Result<()> {
    validate_targets(model, x, y)?;
    validate_features(x)
}

/// Checks that X is not empty and holds only finite values; the error names
/// the first offending entry in row-major order.
pub(crate) fn validate_features(x: ArrayView2<f32>) -> Result<()> {
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
            // A fold without early exit vectorizes; the position is looked
            // for only in a chunk with something to report.
            if rows.fold(true, |ok, v| ok & v.is_finite()) {
                return None;
            }
            rows.indexed_iter()
                .find(|(_, v)| !v.is_finite())
                .map(|((row, column), &value)| {
                    Error::Data(DataError::NonFiniteFeature {
                        row: chunk * SCAN_ROWS + row,
                        column,
                        value,
                    })
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
        return Err(Error::Data(DataError::NonFiniteParameter {
            name: format!("weights[{i}]"),
            value,
        }));
    }
    if !bias.is_finite() {
        return Err(Error::Data(DataError::NonFiniteParameter {
            name: "bias".into(),
            value: bias,
        }));
    }
    Ok(())
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
/// [`crate::DataError::ClassMissingFromSplit`].
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
        return Err(Error::Data(DataError::InvalidTestFraction {
            value: test_fraction,
        }));
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
            return Err(Error::Data(DataError::ClassMissingFromSplit {
                class,
                class_rows: rows_of_class,
                part,
                rows: y.len(),
                train_rows: train_rows.len(),
                test_rows: test_rows.len(),
            }));
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
    let (header, records) = crate::data::csv_records::read_csv_records(path.as_ref())?;
    let column = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            Error::Data(DataError::MissingColumn {
                name: name.to_string(),
                available: header.join(", "),
            })
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
        return Err(Error::Data(DataError::MissingColumn {
            name: "(any numeric feature column)".into(),
            available: header.join(", "),
        }));
    }
    let cell = |line: usize, record: &csv::StringRecord, c: usize| -> Result<f32> {
        let text = record[c].trim();
        text.parse::<f32>().map_err(|_| {
            Error::Data(DataError::NonNumericCell {
                line,
                column: header[c].clone(),
                value: record[c].to_string(),
            })
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
