//! The crate's error: each layer's own error type composed into one
//! ([`DataError`], [`EngineError`], [`TrainError`], [`MathError`],
//! [`EstimatorError`], each in its layer's error.rs), beside the errors of
//! what lies across the layers (files written, metrics, ranks of a
//! data-parallel fit, a resume that does not fit).

use thiserror::Error;

use crate::data::error::DataError;
use crate::engine::error::EngineError;
use crate::estimator::error::EstimatorError;
use crate::math::error::MathError;
use crate::train::error::TrainError;

/// Everything that can go wrong on user input or on a device.
///
/// Each kind of bad input has its own variant, and each variant carries the
/// offending value so that the message names it. A layer's errors are
/// one variant here (`Error::Data(DataError::EmptyFile { .. })`), with the
/// layer's message unchanged; `?` turns a layer's error into this one.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The data layer's errors: a file, a table, a column, a cell or a value that cannot be read or fitted.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The engines' errors: a GPU that cannot be had or cannot run the fit.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The training layer's errors: a solver or schedule setting that cannot run, a curvature that cannot be measured.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The math layer's errors: an optimizer setting out of range, a target the loss cannot take.
    #[error(transparent)]
    Math(#[from] MathError),
    /// The estimator's errors: settings that cannot run together, a model asked for what it does not have, a model file that is not one.
    #[error(transparent)]
    Estimator(#[from] EstimatorError),
    /// X and y disagree on the number of rows.
    #[error("X has {x_rows} rows but y has {y_len} values")]
    ShapeMismatch {
        /// Rows of X.
        x_rows: usize,
        /// Length of y.
        y_len: usize,
    },
    /// A predicted label that is neither 0 nor 1, or a score that is not a
    /// finite number.
    #[error("prediction[{row}] is {value}; expected a label 0 or 1 or a finite score")]
    InvalidPrediction {
        /// Position of the value.
        row: usize,
        /// The value itself.
        value: f32,
    },
    /// A score that needs both classes got labels of one class only.
    #[error("every label is {label}; the score needs both classes")]
    SingleClass {
        /// The one label present.
        label: f32,
    },
    /// A metric was given targets and predictions of different lengths.
    #[error("y_true has {y_true} values but the predictions have {y_pred}")]
    LengthMismatch {
        /// Length of the targets.
        y_true: usize,
        /// Length of the predictions.
        y_pred: usize,
    },
    /// A matrix or vector has a different number of features than expected.
    #[error("expected {expected} features, got {found}")]
    FeatureCountMismatch {
        /// Features the model or the other inputs have.
        expected: usize,
        /// Features that were given.
        found: usize,
    },
    /// X has no rows or no columns.
    #[error("the data is empty: {rows} rows and {features} features")]
    EmptyData {
        /// Rows of X.
        rows: usize,
        /// Columns of X.
        features: usize,
    },
    /// More rows than the row indices of the engines (u32) can address.
    #[error("{rows} rows is more than the {max} rows one fit can take", max = u32::MAX)]
    TooManyRows {
        /// Rows of X.
        rows: usize,
    },
    /// A label of the logistic model is neither 0 nor 1.
    #[error("y[{row}] is {value}; logistic regression needs labels 0 or 1")]
    InvalidLabel {
        /// Row of the label.
        row: usize,
        /// The label itself.
        value: f32,
    },
    /// A label of the multinomial model is not one of its classes.
    #[error("y[{row}] is {value}; a multinomial model of {classes} classes needs labels 0, 1, …, {}", classes - 1)]
    InvalidClass {
        /// Row of the label.
        row: usize,
        /// The label itself.
        value: f32,
        /// The model's classes.
        classes: usize,
    },
    /// A data-parallel fit asked of what does not yet combine its ranks'
    /// sums.
    #[error("data-parallel training: {reason}")]
    Distributed {
        /// What stands in the way.
        reason: String,
    },
    /// A rank of a data-parallel fit failed before the fit could go on:
    /// every rank returns this, naming the first rank that failed.
    /// Rows named in `cause` count from the start of that rank's shard.
    #[error("rank {rank} failed: {cause}")]
    RankFailed {
        /// The rank that failed.
        rank: usize,
        /// Its error.
        cause: String,
    },
    /// Every rank of a data-parallel fit failed alike (reading the one
    /// file they share, say): the cause, as one process would say it.
    #[error("{cause}")]
    EveryRankFailed {
        /// The error every rank met.
        cause: String,
    },
    /// A rank of a data-parallel fit holds no rows.
    #[error(
        "its shard holds no rows: run fewer ranks than there are rows, and give every rank's own file a row"
    )]
    EmptyShard,
    /// A sample weight that is negative, NaN or infinite.
    #[error("sample weight of row {row} is {value}; weights must be finite and at least 0")]
    InvalidWeight {
        /// The row (from 0).
        row: usize,
        /// The weight.
        value: f32,
    },
    /// Sample weights that are all 0: no row counts.
    #[error("every sample weight is 0; at least one row must weigh more")]
    ZeroWeights,
    /// Sample weights for another number of rows.
    #[error("{weights} sample weights for {rows} rows")]
    WeightCountMismatch {
        /// Rows in the data.
        rows: usize,
        /// Weights given.
        weights: usize,
    },
    /// A fitted coefficient that is infinite or NaN once expressed in the
    /// data's own units: the features' scales lie beyond what float32
    /// holds (un-standardizing divides by their spread).
    #[error(
        "the fitted {} is {value} in the data's units: it overflows float32 because {}",
        coefficient_name(*feature, *margin, *margins),
        overflow_hint(*standardized)
    )]
    CoefficientOverflow {
        /// The feature (column of X) of the weight; `None` for the bias.
        feature: Option<usize>,
        /// The margin (class of a multinomial model; 0 otherwise).
        margin: usize,
        /// The margins of the model.
        margins: usize,
        /// The value in the data's units.
        value: f32,
        /// Whether the fit standardized the features.
        standardized: bool,
    },
    /// A file could not be opened or read.
    #[error("cannot read {path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// What the system said.
        reason: String,
    },
    /// A file could not be written (it is left as it was, or absent:
    /// [`crate::atomic_file`]).
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The file.
        path: String,
        /// What the system said.
        reason: String,
    },
    /// An output file that is also one of the run's inputs: writing it
    /// would destroy the input.
    #[error("{path} is the {input} file; write to another file")]
    OutputIsInput {
        /// The file.
        path: String,
        /// Which input it is (the option that names it).
        input: String,
    },
    /// A plot could not be drawn or written.
    #[error("cannot draw {path}: {reason}")]
    Plot {
        /// The file asked for.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A name of a setting that means nothing here (a device, a variant,
    /// a model, an optimizer, a schedule).
    #[error("unknown {what} {name:?}; expected {expected}")]
    UnknownName {
        /// The kind of setting.
        what: &'static str,
        /// The name given.
        name: String,
        /// What is understood.
        expected: &'static str,
    },
    /// A fit cannot resume from the given one (another model, other
    /// features, another optimizer, standardization on one side only).
    #[error("cannot resume: {reason}")]
    ResumeMismatch {
        /// What differs.
        reason: String,
    },
}

/// The result type of the crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The file the error names in its message, where it names one.
    pub fn file(&self) -> Option<&str> {
        match self {
            Error::Data(error) => error.file(),
            Error::Estimator(error) => error.file(),
            Error::Io { path, .. }
            | Error::Write { path, .. }
            | Error::OutputIsInput { path, .. }
            | Error::Plot { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// A coefficient as the library names it: `bias`, `weights[j]`, or with
/// the margin of a multinomial model, `weights[j, k]` and `bias[k]`.
fn coefficient_name(feature: Option<usize>, margin: usize, margins: usize) -> String {
    match (feature, margins > 1) {
        (None, false) => "bias".into(),
        (None, true) => format!("bias[{margin}]"),
        (Some(j), false) => format!("weights[{j}]"),
        (Some(j), true) => format!("weights[{j}, {margin}]"),
    }
}

/// Why a coefficient overflows, and what to do about it.
fn overflow_hint(standardized: bool) -> &'static str {
    match standardized {
        true => "the features' scales are too small or too large for float32 (a weight in the data's units is the standardized one divided by its feature's spread); rescale those features towards units near 1",
        false => "the features' or the target's scales are too small or too large for float32; standardize the features (leave out --no-standardize; GradientDescent::standardize(true)) or rescale them towards units near 1",
    }
}
