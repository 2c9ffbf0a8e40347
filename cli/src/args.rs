//! The options `fit` and `sweep` share, parsed once into the library's
//! types, and what both do with them: load the CSV, build the descent, fit
//! with a spinner, explain errors by line and column.

use downhill::{DataError, MathError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use downhill::data::npy::NpyData;
use downhill::data::table::{
    number_written_as_text, read_table, ApplyCounts, Categorical, Dropped, EncodedColumn, Encoding, Format,
    Hashing, Labels, Missing, Table, TableOptions,
};
use downhill::{
    ClassWeight, Device, Error, Fitted, GradientDescent, Loss, Model, Penalty, Rule, Schedule, Shuffle,
    Solver, StopReason, Variant,
};
use indicatif::{ProgressBar, ProgressStyle};

/// The CSV file and its columns.
#[derive(clap::Args, Debug, Clone)]
pub struct DataArgs {
    /// CSV or Parquet file with a header row, an .npy matrix, an
    /// svmlight/LIBSVM file of sparse rows (.svm, .svmlight, .libsvm), or a
    /// SciPy CSR matrix (.npz, scipy.sparse.save_npz; --target its .npy
    /// file of targets, or an array of the archive such as the y that
    /// downhill convert writes).
    /// Under mpirun (the distributed build), each rank trains on its share
    /// of the rows, or on its own file where the path holds {rank}.
    #[arg(long, value_name = "FILE.csv")]
    pub data: PathBuf,
    /// The column to predict (for .npy data, the .npy file of targets;
    /// for an svmlight file, a name for the label each line starts with;
    /// {rank} as in --data).
    #[arg(long, value_name = "COLUMN")]
    pub target: String,
    /// svmlight files: the indices count from 0 [default: from 0 where any
    /// index is 0, else from 1, as scikit-learn's load_svmlight_file].
    #[arg(long)]
    pub zero_based: bool,
    /// Comma-separated feature columns [default: every other column].
    #[arg(long, value_delimiter = ',', value_name = "a,b,c")]
    pub features: Option<Vec<String>>,
    /// Text columns: onehot (one feature per value, named column=value) or drop.
    #[arg(long, default_value = "onehot")]
    pub categorical: Categorical,
    /// Text columns with more distinct values than this are left out.
    #[arg(long, default_value_t = 50)]
    pub max_categories: usize,
    /// Missing cells (empty, NA, NaN, null, ?): error, drop (the rows) or
    /// mean (fill numbers with the column's mean; a text cell encodes as
    /// none of its column's values).
    #[arg(long, default_value = "error")]
    pub missing: Missing,
    /// Logistic model: the target value read as 1 [default: the second of
    /// the two in sorted order]; a target of more classes takes none.
    #[arg(long, value_name = "VALUE")]
    pub positive_class: Option<String>,
    /// A column of sample weights (numbers at least 0), left out of the
    /// features: the loss is the weighted mean Σ wᵢ ℓᵢ / Σ wᵢ. The table is
    /// then read into memory.
    #[arg(long, value_name = "COLUMN")]
    pub weight_column: Option<String>,
    /// Hash text columns into 2^N features rather than one-hot encoding
    /// them (scikit-learn's FeatureHasher: MurmurHash3 of column=value,
    /// signed): any number of values; saved with the model for predict.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=24))]
    pub hash_bits: Option<u32>,
    /// Comma-separated text columns to hash [default: every text column].
    #[arg(long, value_delimiter = ',', value_name = "a,b", requires = "hash_bits")]
    pub hash_columns: Option<Vec<String>>,
    /// Pairs of columns whose products are hashed too (Vowpal Wabbit's
    /// -q), comma-separated a:b pairs: a text cell counts 1, a number its
    /// value.
    #[arg(long, value_delimiter = ',', value_name = "a:b", value_parser = column_pair, requires = "hash_bits")]
    pub interactions: Vec<(String, String)>,
}

/// `a:b`, two column names.
pub fn column_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => {
            Ok((a.trim().to_string(), b.trim().to_string()))
        }
        _ => Err(format!("{text:?} is not a pair of columns a:b")),
    }
}

/// The losses `--loss` names (scikit-learn's names).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossKind {
    /// (z − y)².
    Squared,
    /// Quadratic within ε, linear beyond.
    Huber,
    /// Zero within ε, linear beyond.
    #[value(name = "epsilon_insensitive")]
    EpsilonInsensitive,
    /// Zero within ε, quadratic beyond.
    #[value(name = "squared_epsilon_insensitive")]
    SquaredEpsilonInsensitive,
    /// Poisson deviance, log link.
    Poisson,
    /// Cross-entropy.
    Log,
    /// The SVM's hinge.
    Hinge,
    /// The hinge squared.
    #[value(name = "squared_hinge")]
    SquaredHinge,
    /// The smoothed hinge, with probabilities.
    #[value(name = "modified_huber")]
    ModifiedHuber,
}

/// The scores `downhill cv --scoring` names (higher is better).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoringArg {
    /// The fraction of labels predicted.
    Accuracy,
    /// Minus the mean log-loss.
    #[value(name = "log-loss")]
    LogLoss,
    /// The area under the ROC curve (two classes).
    #[value(name = "roc-auc")]
    RocAuc,
    /// R² of the targets.
    R2,
    /// Minus the mean squared error.
    Mse,
}

impl ScoringArg {
    /// The library's scoring.
    pub fn scoring(self) -> downhill::CvScoring {
        match self {
            ScoringArg::Accuracy => downhill::CvScoring::Accuracy,
            ScoringArg::LogLoss => downhill::CvScoring::NegLogLoss,
            ScoringArg::RocAuc => downhill::CvScoring::RocAuc,
            ScoringArg::R2 => downhill::CvScoring::R2,
            ScoringArg::Mse => downhill::CvScoring::NegMeanSquaredError,
        }
    }
}

/// The penalties `--penalty` names.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PenaltyKind {
    /// (α/2)|w|².
    L2,
    /// α|w|₁.
    L1,
    /// α ρ|w|₁ + α(1−ρ)/2 |w|².
    Elasticnet,
}

/// How to descend, shared by `fit` and `sweep`.
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// linear (numbers; mean squared error) or logistic (labels;
    /// cross-entropy: two classes, or the multinomial model where the target
    /// holds more) [default: the model --loss fits, else linear].
    #[arg(long = "model", value_name = "MODEL")]
    pub model_arg: Option<Model>,
    /// full (every row per step), sgd (one row per step) or minibatch:N.
    #[arg(long, default_value = "full")]
    pub variant: Variant,
    /// gd (gradient descent: --variant, --optimizer, --lr, --schedule) or
    /// lbfgs (L-BFGS on the full batch, memory 10; lbfgs:M for M steps),
    /// which needs a smooth objective (no hinge, epsilon_insensitive or L1)
    /// and stops once the gradient's norm is below --tol.
    #[arg(long, default_value = "gd")]
    pub solver: Solver,
    /// Logistic model: weights of the classes, multiplying the rows'
    /// weights: balanced (n / (K · count) for K classes, so every class
    /// weighs the same in total) or, for two classes, 0=W,1=W for the
    /// labels read as 0 and 1.
    #[arg(long, value_name = "balanced|0=W,1=W", value_parser = parse_class_weight)]
    pub class_weight: Option<ClassWeight>,
    /// Averaged SGD: return the mean of the parameters after every step
    /// from step N on (1: every step), as scikit-learn's average.
    #[arg(long, value_name = "N")]
    pub average: Option<u64>,
    /// The row order of mini-batch epochs: rows (a permutation of all rows),
    /// blocks:N (a permutation of blocks of N rows, then of the rows inside
    /// each) or none (storage order).
    #[arg(long, default_value = "rows")]
    pub shuffle: Shuffle,
    /// The update rule: sgd, momentum, nesterov, adagrad, rmsprop or adam.
    #[arg(long, default_value = "nesterov")]
    pub optimizer: Rule,
    /// The momentum factor of momentum and nesterov: a number, or auto —
    /// for the full batch (√κ − 1)/(√κ + 1), κ the ratio of the loss's
    /// largest and smallest curvatures measured on the engine; 0.9 for
    /// mini-batches.
    #[arg(long, default_value = "auto")]
    pub beta: BetaArg,
    /// Learning-rate schedule, stepped once per epoch: constant, step:EVERY:FACTOR,
    /// exp:GAMMA, invscaling:POWER, cosine (to 0 over --epochs), plateau:FACTOR:PATIENCE.
    #[arg(long, default_value = "constant", value_parser = parse_schedule)]
    pub schedule: ScheduleArg,
    /// L2 penalty: adds (l2/2)·|w|² to the loss; the bias is not penalized.
    #[arg(long, default_value_t = 0.0, conflicts_with = "penalty")]
    pub l2: f32,
    /// The loss of each row: squared (default of linear), huber,
    /// epsilon_insensitive, squared_epsilon_insensitive, poisson (log link,
    /// targets ≥ 0) for --model linear; log (default of logistic), hinge,
    /// squared_hinge, modified_huber for --model logistic.
    #[arg(long, value_enum)]
    pub loss: Option<LossKind>,
    /// The ε of the huber and epsilon_insensitive losses (in the units of
    /// the standardized target unless --no-standardize).
    #[arg(long, default_value_t = 0.1)]
    pub epsilon: f32,
    /// The penalty on the weights, of strength --alpha: l2 ((α/2)|w|²), l1
    /// (α|w|₁, soft-thresholded after every update: exact zeros) or
    /// elasticnet (α ρ|w|₁ + α(1−ρ)/2 |w|², ρ = --l1-ratio).
    #[arg(long, value_enum)]
    pub penalty: Option<PenaltyKind>,
    /// The strength of --penalty (of the standardized features' weights
    /// unless --no-standardize).
    #[arg(long, default_value_t = 1e-4, requires = "penalty")]
    pub alpha: f32,
    /// The elastic net's L1 share ρ, in [0, 1].
    #[arg(long, default_value_t = 0.15, requires = "penalty")]
    pub l1_ratio: f32,
    /// The most epochs to run [default: 1000, stopping earlier once the
    /// parameters settle (--parameter-tol) or the loss stops improving
    /// (--tol); a given --epochs runs that many unless a tolerance is given
    /// too]. Under --solver lbfgs, the most iterations [default: 10000; it
    /// stops by itself at the optimum].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Early stopping: stop once the epoch loss has improved by less than this
    /// for --patience epochs in a row [default: 1e-7 for mini-batches and
    /// the adaptive rules when neither --epochs nor --parameter-tol is
    /// given, else off].
    #[arg(long)]
    pub tol: Option<f64>,
    /// Stop once no parameter moved over an epoch by more than this times
    /// the largest one, for --patience epochs in a row [default: 1e-7 for
    /// the full batch with sgd, momentum or nesterov when neither --epochs
    /// nor --tol is given, else off].
    #[arg(long, value_name = "TOL")]
    pub parameter_tol: Option<f64>,
    /// Epochs without enough improvement before early stopping [default: 5
    /// for the full batch, 30 for mini-batches, whose epoch loss is noisy].
    #[arg(long)]
    pub patience: Option<usize>,
    /// Mini-batches under early stopping: when the loss stops improving,
    /// multiply the learning rate by FACTOR and wait --patience epochs
    /// again, N times, before stopping ("the loss stopped improving");
    /// 0 stops at the first stall [default: 3:0.5].
    #[arg(long, value_name = "N[:FACTOR]", value_parser = parse_rate_cuts)]
    pub rate_cuts: Option<(usize, f64)>,
    /// Fit on standardized features and, for the linear model, a
    /// standardized target: the default (the flag is accepted and changes
    /// nothing). Coefficients, predictions and saved models are always in
    /// the units of the CSV.
    #[arg(long, overrides_with = "no_standardize")]
    pub standardize: bool,
    /// Fit on the columns as they are (no scaling of features or target).
    #[arg(long)]
    pub no_standardize: bool,
    /// Bytes of rows an engine may hold in memory, such as 512MB or 2GB
    /// [default: half of physical memory]; rows beyond it (an .npy file,
    /// or scaled rows) are read block by block.
    #[arg(long, value_name = "SIZE", value_parser = parse_budget)]
    pub memory_budget: Option<u64>,
    /// Bytes of rows the GPU engine keeps on the device, such as 40GB
    /// [default: four fifths of the device's memory]; rows beyond it are
    /// streamed through the device every epoch.
    #[arg(long, value_name = "SIZE", value_parser = parse_budget)]
    pub gpu_memory_budget: Option<u64>,
    /// Seed of the per-epoch shuffles.
    #[arg(long, default_value_t = downhill::DEFAULT_SEED)]
    pub seed: u64,
    /// cpu, gpu or auto (the GPU where a hardware one exists).
    #[arg(long, default_value = "auto")]
    pub device: Device,
    /// Draw loss plots with a logarithmic loss axis.
    #[arg(long)]
    pub log_scale: bool,
}

/// A schedule as given on the command line; `cosine` takes its length from
/// --epochs.
#[derive(Debug, Clone, Copy)]
pub enum ScheduleArg {
    Ready(Schedule),
    CosineOverEpochs,
}

/// Arguments of `downhill fit`.
#[derive(clap::Args, Debug)]
// Negative values reach downhill's own checks (`--lr -1`) rather than
// reading as unknown options.
#[command(allow_negative_numbers = true)]
pub struct FitArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub train: TrainArgs,
    /// Learning rate: a number, or auto to choose it from the data (the
    /// largest curvature of the loss, measured on the engine).
    #[arg(long, default_value = "auto")]
    pub lr: LearningRateArg,
    /// Write the loss curve to this file (SVG, or PNG if it ends in .png).
    #[arg(long, value_name = "loss.svg")]
    pub plot: Option<PathBuf>,
    /// Linear model with one feature: write the loss surface over (w, b) with
    /// the path of this run and of full-batch and stochastic runs beside it.
    #[arg(long, value_name = "contour.svg")]
    pub plot_path: Option<PathBuf>,
    /// Hold out this fraction of the training rows for early stopping: each
    /// epoch's held-out loss is watched instead of the training loss
    /// (scikit-learn's early_stopping=True).
    #[arg(long, value_name = "FRACTION")]
    pub validation_fraction: Option<f64>,
    /// Hold out this fraction of the rows (seeded by --seed; stratified for
    /// the logistic model) and report the scores on both parts.
    #[arg(long, value_name = "FRACTION")]
    pub test_size: Option<f64>,
    /// Save the fitted model as JSON (weights in the units of the CSV).
    #[arg(long, value_name = "model.json")]
    pub save: Option<PathBuf>,
    /// Write the fit so far to this file every --checkpoint-every epochs
    /// (as --save writes a model; to a file beside it first, then renamed
    /// over it, so an interrupted fit leaves its last whole checkpoint).
    /// Continue it with `fit --resume FILE --data (the same) --epochs N`.
    #[arg(long, value_name = "checkpoint.json")]
    pub checkpoint: Option<PathBuf>,
    /// Epochs between checkpoints.
    #[arg(long, default_value_t = 10, requires = "checkpoint", value_name = "K")]
    pub checkpoint_every: usize,
    /// The options given on the command line (their ids), as against
    /// their defaults: filled by `main` from clap's matches.
    #[arg(skip)]
    pub given: Vec<String>,
    /// Continue the fit saved in model.json over the rows of --data
    /// (scikit-learn's partial_fit): --epochs more epochs [default: 1] with
    /// the saved settings, state and standardization; the file's columns
    /// are matched and encoded as the saved model's. Save the result with
    /// --save.
    #[arg(long, value_name = "model.json")]
    pub resume: Option<PathBuf>,
}

/// Arguments of `downhill predict`.
#[derive(clap::Args, Debug)]
// Negative values reach downhill's own checks (`--lr -1`) rather than
// reading as unknown options.
#[command(allow_negative_numbers = true)]
pub struct PredictArgs {
    /// A model saved by `downhill fit --save`.
    #[arg(long, value_name = "model.json")]
    pub model: PathBuf,
    /// CSV file with a header row holding the model's feature columns.
    #[arg(long, value_name = "FILE.csv")]
    pub data: PathBuf,
    /// Columns of the CSV to copy into the output before the predictions
    /// (IDs), comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "id,name")]
    pub keep: Option<Vec<String>>,
    /// Logistic model: also write the probability of the positive class
    /// (of each class, a column each, for a multinomial model).
    #[arg(long)]
    pub proba: bool,
    /// Write the predictions here as CSV [default: standard output].
    #[arg(long, value_name = "predictions.csv")]
    pub output: Option<PathBuf>,
    /// Rows with missing cells: mean (fill numbers with the means saved
    /// with the model, text as none of its values), drop (leave the rows
    /// out of the predictions) or error.
    #[arg(long, default_value = "mean")]
    pub missing: Missing,
}

/// Arguments of `downhill cv`.
#[derive(clap::Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct CvArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub train: TrainArgs,
    /// Learning rate of gradient descent: a number, or auto (L-BFGS, with
    /// --solver lbfgs, sets its own steps).
    #[arg(long, default_value = "auto")]
    pub lr: LearningRateArg,
    /// The penalty strengths (--penalty's α; L2 without --penalty): a
    /// comma-separated list, or auto:N for N from the data's largest
    /// useful one down to a thousandth of it.
    // A list that starts with a minus sign reaches the strengths' own
    // check, which names it, rather than reading as an unknown option.
    #[arg(long, default_value = "auto:20", allow_hyphen_values = true)]
    pub alphas: String,
    /// Folds: each held out once (stratified by class for classifiers,
    /// shuffled by --seed).
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Choose the strongest penalty whose mean score is within one standard
    /// error of the best, rather than the best.
    #[arg(long)]
    pub one_standard_error: bool,
    /// How each held-out fold scores a model (default: accuracy for
    /// classifiers, minus the mean squared error for regressors).
    #[arg(long, value_enum)]
    pub scoring: Option<ScoringArg>,
    /// Save the model refitted at the chosen strength on every row.
    #[arg(long, value_name = "model.json")]
    pub save: Option<PathBuf>,
}

/// Arguments of `downhill sweep`.
#[derive(clap::Args, Debug)]
// Negative values reach downhill's own checks (`--lr -1`) rather than
// reading as unknown options.
#[command(allow_negative_numbers = true)]
pub struct SweepArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub train: TrainArgs,
    /// Comma-separated learning rates, one run each.
    #[arg(long, value_delimiter = ',', default_value = "0.001,0.01,0.1,1")]
    pub lrs: Vec<f32>,
    /// Write every run's loss curve, overlaid, to this file (SVG or PNG).
    #[arg(long, value_name = "sweep.svg")]
    pub plot: Option<PathBuf>,
}

fn parse_budget(text: &str) -> Result<u64, String> {
    parse_bytes(text).ok_or_else(|| {
        format!("the memory budget {text:?} is not a size of at least one byte, such as 512MB or 2GB")
    })
}

/// Bytes written as a number with a unit: `512MB`, `1.5GB`, `64KB`, or a
/// bare number of bytes (units of 1000; `MiB` and `GiB` of 1024); `None`
/// for anything else or under one byte.
fn parse_bytes(text: &str) -> Option<u64> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => f64::NAN,
    };
    let bytes = number.parse::<f64>().map(|n| n * factor).unwrap_or(f64::NAN);
    (bytes.is_finite() && bytes >= 1.0).then_some(bytes as u64)
}

fn parse_schedule(text: &str) -> Result<ScheduleArg, String> {
    if text.trim() == "cosine" {
        return Ok(ScheduleArg::CosineOverEpochs);
    }
    text.parse::<Schedule>()
        .map(ScheduleArg::Ready)
        .map_err(|e| e.to_string())
}

/// `balanced`, or `0=W,1=W` (either may be left out: weight 1).
fn parse_class_weight(text: &str) -> Result<ClassWeight, String> {
    if text.trim() == "balanced" {
        return Ok(ClassWeight::Balanced);
    }
    let mut weights = [1.0f32; 2];
    for part in text.split(',') {
        let (label, weight) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?}: expected balanced or LABEL=WEIGHT pairs such as 0=1,1=5"))?;
        let index = match label.trim() {
            "0" => 0,
            "1" => 1,
            other => return Err(format!("label {other:?}: class weights name the labels 0 and 1")),
        };
        weights[index] = weight
            .trim()
            .parse()
            .map_err(|_| format!("{weight:?} is not a number"))?;
    }
    Ok(ClassWeight::Given {
        negative: weights[0],
        positive: weights[1],
    })
}

/// `N` or `N:FACTOR` of --rate-cuts.
fn parse_rate_cuts(text: &str) -> Result<(usize, f64), String> {
    let (times, factor) = match text.split_once(':') {
        Some((times, factor)) => (times, Some(factor)),
        None => (text, None),
    };
    let times = times
        .trim()
        .parse()
        .map_err(|_| format!("{times:?} is not a whole number of cuts"))?;
    let factor = match factor {
        None => downhill::DEFAULT_RATE_CUT_FACTOR,
        Some(factor) => match factor.trim().parse::<f64>() {
            Ok(f) if f > 0.0 && f < 1.0 => f,
            _ => return Err(format!("the factor {factor:?} is not a number between 0 and 1")),
        },
    };
    Ok((times, factor))
}

/// The most epochs when --epochs is not given.
const DEFAULT_EPOCHS: usize = 1000;
/// The most L-BFGS iterations when --epochs is not given: it stops by
/// itself once the gradient reaches its rounding, and ill-conditioned raw
/// features (digits' pixels) take thousands.
const DEFAULT_LBFGS_ITERATIONS: usize = 10_000;
/// Early stopping's tolerance when --epochs is not given: on a standardized
/// target the loss is about 1 − R², so this stops within about 1e-6 of the
/// best R² the rate reaches.
const DEFAULT_TOLERANCE: f64 = 1e-7;

/// Early stopping's patience for mini-batches when --patience is not
/// given: on three public tables (BENCHMARKS.md, issue 23) 5 epochs of a
/// noisy epoch loss stopped far from the optimum; 30, with the rate's cuts,
/// came within 0.016 of the best R².
const MINI_BATCH_PATIENCE: usize = 30;

/// Early stopping's patience for the full batch when --patience is not
/// given.
const FULL_BATCH_PATIENCE: usize = 5;

/// The full batch's parameter tolerance when no stop rule is given: about
/// float32's resolution of the parameters, which the full batch reaches
/// (the loss, taken in float32, stops showing the last digits' progress).
const DEFAULT_PARAMETER_TOLERANCE: f64 = 1e-7;

/// A learning rate on the command line: `auto` or a number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LearningRateArg {
    /// Chosen from the data (`GradientDescent::auto_learning_rate`).
    Auto,
    /// As given.
    Fixed(f32),
}

impl std::str::FromStr for LearningRateArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "auto" => Ok(LearningRateArg::Auto),
            number => number
                .parse()
                .map(LearningRateArg::Fixed)
                .map_err(|_| format!("{text:?} is neither a number nor auto")),
        }
    }
}

impl std::fmt::Display for LearningRateArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LearningRateArg::Auto => write!(f, "auto"),
            LearningRateArg::Fixed(rate) => write!(f, "{rate}"),
        }
    }
}

/// A momentum factor on the command line: `auto` or a number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BetaArg {
    /// From the data for the full batch (`GradientDescent::auto_momentum`),
    /// else [`MINI_BATCH_BETA`].
    Auto,
    /// As given.
    Fixed(f32),
}

/// The momentum factor of `--beta auto` with mini-batches, whose gradients'
/// noise a momentum near 1 would carry along for many steps.
const MINI_BATCH_BETA: f32 = 0.9;

impl std::str::FromStr for BetaArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "auto" => Ok(BetaArg::Auto),
            number => number
                .parse()
                .map(BetaArg::Fixed)
                .map_err(|_| format!("{text:?} is neither a number nor auto")),
        }
    }
}

impl TrainArgs {
    /// --epochs, or the default.
    pub fn max_epochs(&self) -> usize {
        self.epochs.unwrap_or(match self.solver {
            Solver::Lbfgs { .. } => DEFAULT_LBFGS_ITERATIONS,
            Solver::GradientDescent => DEFAULT_EPOCHS,
        })
    }

    /// --patience, or the default for the variant.
    pub fn patience(&self) -> usize {
        self.patience.unwrap_or(match self.variant {
            Variant::Full => FULL_BATCH_PATIENCE,
            _ => MINI_BATCH_PATIENCE,
        })
    }

    /// Whether the stop rules are the defaults: no --epochs, --tol or
    /// --parameter-tol given.
    fn default_stopping(&self) -> bool {
        self.epochs.is_none() && self.tol.is_none() && self.parameter_tol.is_none()
    }

    /// Whether the parameters settle by default: on the full batch with a
    /// rule whose steps shrink with the gradient (the adaptive rules' steps
    /// stay near their rate around the optimum, and a mini-batch's follow
    /// its noise).
    fn parameters_settle(&self) -> bool {
        self.variant == Variant::Full && matches!(self.optimizer, Rule::Sgd | Rule::Momentum | Rule::Nesterov)
    }

    /// --tol, or by default early stopping on the loss where the parameters
    /// do not settle (L-BFGS: the gradient's tolerance, its own by default).
    pub fn tolerance(&self) -> Option<f64> {
        if self.solver != Solver::GradientDescent {
            return self.tol;
        }
        self.tol
            .or_else(|| (self.default_stopping() && !self.parameters_settle()).then_some(DEFAULT_TOLERANCE))
    }

    /// The tolerance of early stopping on held-out rows
    /// (--validation-fraction): --tol, else the default tolerance where no
    /// stop rule is given, whatever the variant, since the held-out loss is
    /// what the user asked to watch.
    pub fn held_out_tolerance(&self) -> Option<f64> {
        self.tol.or_else(|| {
            (self.solver == Solver::GradientDescent && self.default_stopping()).then_some(DEFAULT_TOLERANCE)
        })
    }

    /// --parameter-tol, or by default convergence of the parameters where
    /// they settle.
    pub fn parameter_tolerance(&self) -> Option<f64> {
        if self.solver != Solver::GradientDescent {
            return self.parameter_tol;
        }
        self.parameter_tol.or_else(|| {
            (self.default_stopping() && self.parameters_settle()).then_some(DEFAULT_PARAMETER_TOLERANCE)
        })
    }

    /// Whether the fit runs on standardized columns (unless --no-standardize).
    pub fn scaled(&self) -> bool {
        !self.no_standardize
    }

    pub fn schedule(&self) -> Schedule {
        match self.schedule {
            ScheduleArg::Ready(schedule) => schedule,
            ScheduleArg::CosineOverEpochs => Schedule::cosine(0.0, self.max_epochs().max(1)),
        }
    }

    /// The penalty the options ask for: --penalty with --alpha (and
    /// --l1-ratio), else --l2.
    pub fn penalty(&self) -> Penalty {
        match self.penalty {
            None => Penalty::L2(self.l2),
            Some(PenaltyKind::L2) => Penalty::L2(self.alpha),
            Some(PenaltyKind::L1) => Penalty::L1(self.alpha),
            Some(PenaltyKind::Elasticnet) => Penalty::ElasticNet {
                alpha: self.alpha,
                l1_ratio: self.l1_ratio,
            },
        }
    }

    /// The model: --model, else the one --loss fits, else linear.
    pub fn model(&self) -> Model {
        match (self.model_arg, self.loss) {
            (Some(model), _) => model,
            (None, Some(_)) => self.loss().model(),
            (None, None) => Model::Linear,
        }
    }

    /// The loss --loss names (with --epsilon), else the model's default.
    pub fn loss(&self) -> Loss {
        let epsilon = self.epsilon;
        match self.loss {
            None => Loss::default_for(self.model_arg.unwrap_or(Model::Linear)),
            Some(LossKind::Squared) => Loss::Squared,
            Some(LossKind::Huber) => Loss::Huber { epsilon },
            Some(LossKind::EpsilonInsensitive) => Loss::EpsilonInsensitive { epsilon },
            Some(LossKind::SquaredEpsilonInsensitive) => Loss::SquaredEpsilonInsensitive { epsilon },
            Some(LossKind::Poisson) => Loss::Poisson,
            Some(LossKind::Log) => Loss::Log,
            Some(LossKind::Hinge) => Loss::Hinge,
            Some(LossKind::SquaredHinge) => Loss::SquaredHinge,
            Some(LossKind::ModifiedHuber) => Loss::ModifiedHuber,
        }
    }

    pub fn descent(&self, lr: LearningRateArg) -> GradientDescent {
        let (rate, auto) = match lr {
            LearningRateArg::Auto => (1.0, true),
            LearningRateArg::Fixed(rate) => (rate, false),
        };
        let momentum_rule = matches!(self.optimizer, Rule::Momentum | Rule::Nesterov);
        let (beta, auto_momentum) = match self.beta {
            BetaArg::Fixed(beta) => (beta, false),
            BetaArg::Auto => (MINI_BATCH_BETA, momentum_rule && self.variant == Variant::Full),
        };
        let mut descent = GradientDescent::new(self.model())
            .solver(self.solver)
            .variant(self.variant)
            .shuffle(self.shuffle)
            .optimizer(self.optimizer.with(rate, beta))
            .auto_learning_rate(auto)
            .auto_momentum(auto_momentum)
            .schedule(self.schedule())
            .penalty(self.penalty())
            .loss(self.loss())
            .standardize(self.scaled())
            .standardize_target(
                self.scaled() && self.model() == Model::Linear && self.loss() != Loss::Poisson,
            )
            .max_epochs(self.max_epochs())
            .patience(self.patience())
            .seed(self.seed)
            .device(self.device);
        if let Some(tol) = self.tolerance() {
            descent = descent.tolerance(tol);
        }
        if let Some(tol) = self.parameter_tolerance() {
            descent = descent.parameter_tolerance(tol);
        }
        if let Some((times, factor)) = self.rate_cuts {
            descent = descent.rate_cuts(times, factor);
        }
        if let Some(bytes) = self.memory_budget {
            descent = descent.memory_budget(bytes);
        }
        if let Some(class_weight) = self.class_weight {
            descent = descent.class_weight(class_weight);
        }
        if let Some(first_step) = self.average {
            descent = descent.average(first_step);
        }
        if let Some(bytes) = self.gpu_memory_budget {
            descent = descent.gpu_memory_budget(bytes);
        }
        descent
    }
}

/// Borrowed names, as `read_csv` takes them.
pub fn names(names: &Option<Vec<String>>) -> Option<Vec<&str>> {
    names
        .as_ref()
        .map(|names| names.iter().map(String::as_str).collect())
}

/// How `args` asks a table to be read for `model` (whose target holds
/// labels when it is logistic).
pub fn table_options(args: &DataArgs, model: Model) -> TableOptions {
    TableOptions {
        categorical: args.categorical,
        max_categories: args.max_categories,
        missing: args.missing,
        labels: model == Model::Logistic,
        positive_class: args.positive_class.clone(),
        weight_column: args.weight_column.clone(),
        hashing: args.hash_bits.map(|bits| Hashing {
            bits,
            columns: args.hash_columns.clone(),
            interactions: args.interactions.clone(),
        }),
        text_columns: Vec::new(),
    }
}

/// The error `e` of reading `args`'s file, naming the file where it does
/// not already.
pub fn located(args: &DataArgs, e: Error) -> String {
    match e.file() {
        Some(_) => e.to_string(),
        None => format!("{}: {e}", args.data.display()),
    }
}

/// Says what the table reader made of the columns: those left out, the
/// labels, the rows and cells touched by missing values.
pub fn describe_table(
    dropped: &[Dropped],
    encoding: &Encoding,
    rows_dropped: usize,
    [cells_filled, text_cells_blank]: [usize; 2],
) {
    for dropped in dropped {
        say!("left out:     column {:?}: {}", dropped.column, dropped.reason);
    }
    // A text column whose values are numbers written otherwise is one-hot
    // encoded as asked, but rarely what was meant.
    for column in &encoding.columns {
        if let EncodedColumn::OneHot { name, values } = column {
            let written = values
                .iter()
                .map(|v| number_written_as_text(v))
                .collect::<Vec<_>>();
            if let (Some(Some(how)), true) = (written.first(), written.iter().all(Option::is_some)) {
                eprintln!(
                    "warning: column {name:?} holds {how} ({:?}, …), read as text and one-hot encoded ({} features); write them as plain numbers to read them as one",
                    values[0],
                    values.len()
                );
            }
        }
    }
    if let Some(labels) = encoding.labels.as_ref() {
        say!("target:       {}", describe_labels(labels));
    }
    if rows_dropped > 0 {
        say!("missing:      {rows_dropped} rows with missing cells left out");
    }
    if cells_filled > 0 {
        say!(
            "missing:      {} filled with their column's mean",
            cells(cells_filled)
        );
    }
    if text_cells_blank > 0 {
        say!(
            "missing:      {} of text columns encoded as none of their values (zeros)",
            cells(text_cells_blank)
        );
    }
}

/// Warns of the cells of `file` that a saved encoding met unseen, missing
/// or blank (`Encoding::apply`'s counts), one line each.
pub fn warn_of_cells(file: &str, counts: &ApplyCounts) {
    // A fit under --missing drop never saw such rows: the choice is the
    // user's, and named.
    let choice = "(predict --missing drop leaves such rows out, --missing error refuses them)";
    let filled = format!("missing, filled with the means saved with the model {choice}");
    let blank = format!("of text columns missing, encoded as none of their values (zeros) {choice}");
    let unseen = match &counts.first_unseen {
        Some((line, column, value)) => format!(
            "with values the model had not seen (the first {column}={value:?}, line {line}), encoded as all zeros"
        ),
        None => String::new(),
    };
    for (count, what) in [
        (counts.unseen, unseen.as_str()),
        (counts.filled, filled.as_str()),
        (counts.blank, blank.as_str()),
    ] {
        if count > 0 {
            eprintln!("warning: {file}: {} {what}", cells(count));
        }
    }
}

/// `count` cells, in words: "1 cell", "2 cells".
pub fn cells(count: usize) -> String {
    match count {
        1 => "1 cell".into(),
        _ => format!("{count} cells"),
    }
}

/// Labels and their class codes, `"No" → 0, "Yes" → 1`: every one of up to
/// ten classes, else the first eight, how many more, and the last.
pub fn describe_labels(labels: &Labels) -> String {
    const SHOWN: usize = 10;
    let each = |(k, label): (usize, &String)| format!("{label:?} → {k}");
    let count = labels.count();
    let mut parts: Vec<String> = labels.classes.iter().enumerate().take(SHOWN).map(each).collect();
    if count > SHOWN {
        parts.truncate(SHOWN - 2);
        parts.push(format!("… {} more …", count - (SHOWN - 1)));
        parts.push(each((count - 1, &labels.classes[count - 1])));
    }
    parts.join(", ")
}

/// The settings for a table whose target `encoding` read: where its labels
/// are more than two classes, the log loss becomes its K-class form, the
/// multinomial (scikit-learn's `LogisticRegression` does the same); a loss
/// of two classes named by --loss, and --plot-path (one margin's path),
/// are refused for them.
/// `descent` set for the target of a table read by [`load`]: its classes
/// where it holds labels ([`for_classes`]), else its numbers as class codes
/// where the model takes them ([`for_class_codes`]).
pub fn for_table(
    train: &TrainArgs,
    descent: GradientDescent,
    data: &Table,
) -> Result<GradientDescent, String> {
    match &data.encoding.labels {
        Some(_) => for_classes(train, descent, &data.encoding, data.y.len(), false),
        None => for_class_codes(train, descent, || Ok(data.y.to_vec()), false, true),
    }
}

pub fn for_classes(
    train: &TrainArgs,
    descent: GradientDescent,
    encoding: &Encoding,
    rows: usize,
    plotting: bool,
) -> Result<GradientDescent, String> {
    let target = encoding.target.as_deref().unwrap_or("the target");
    let Some(labels) = encoding.labels.as_ref().filter(|labels| labels.count() > 2) else {
        return Ok(descent);
    };
    // Numbers that are not whole are a measurement, not classes (as
    // scikit-learn's "continuous" labels).
    let fractional = labels.classes.iter().find(|label| {
        label
            .parse::<f64>()
            .is_ok_and(|v| v.is_finite() && v.fract() != 0.0)
    });
    if let Some(value) = fractional {
        return Err(format!(
            "{target:?} holds {} distinct values, numbers such as {value} that are not whole: a logistic model needs class labels; for a number to predict, use --model linear",
            labels.count()
        ));
    }
    many_per_class(target, labels.count(), rows)?;
    if let Some(ClassWeight::Given { .. }) = train.class_weight {
        return Err(format!(
            "--class-weight 0=W,1=W weighs the two classes of a binary target; {target:?} holds {} classes ({}): use --class-weight balanced",
            labels.count(),
            describe_labels(labels)
        ));
    }
    let described = format!(
        "{target:?} holds {} classes ({})",
        labels.count(),
        describe_labels(labels)
    );
    multinomial(train, descent, labels.count(), &described, plotting)
}

/// Classes a target may have however few rows each holds: a small table
/// may well hold one row of each.
const FEW_CLASSES: usize = 50;

/// A target of `classes` classes over `rows` rows: refused where there are
/// more than [`FEW_CLASSES`] and most would have a single row (an
/// identifier or a measurement taken for labels).
fn many_per_class(target: &str, classes: usize, rows: usize) -> Result<(), String> {
    match classes > FEW_CLASSES && 2 * classes > rows {
        true => Err(format!(
            "{target:?} holds {classes} distinct values among {rows} rows: most would be a class of one row; a logistic model needs class labels (for a number to predict, use --model linear)"
        )),
        false => Ok(()),
    }
}

/// [`for_classes`] for a logistic model's targets given as class codes
/// (an .npy file's, read by `targets` only for a logistic model): codes
/// 0, 1, …, K − 1 with K > 2 are K classes. `all_rows`: whether the
/// targets are all the fit's (else one rank's file, whose missing codes
/// another rank's may hold).
pub fn for_class_codes(
    train: &TrainArgs,
    descent: GradientDescent,
    targets: impl FnOnce() -> Result<Vec<f32>, String>,
    plotting: bool,
    all_rows: bool,
) -> Result<GradientDescent, String> {
    if train.model() != Model::Logistic {
        return Ok(descent);
    }
    let y = targets()?;
    let is_code = |v: f32| v >= 0.0 && v.fract() == 0.0;
    let largest = y.iter().fold(0.0f32, |m, &v| m.max(v));
    match y.iter().all(|&v| is_code(v)) && largest >= 2.0 {
        true => {
            let classes = largest as usize + 1;
            many_per_class("the target", classes, y.len())?;
            // A code without rows is a class the model cannot learn, and
            // would count in the macro F1: codes must run 0 … K − 1.
            let mut present = vec![false; classes];
            for &v in &y {
                present[v as usize] = true;
            }
            let absent: Vec<String> = (0..classes)
                .filter(|&k| !present[k])
                .map(|k| k.to_string())
                .collect();
            if all_rows && !absent.is_empty() {
                return Err(format!(
                    "the target's class codes run from 0 to {}, but no row holds {}: number the classes 0 … K − 1 without gaps, or give the labels in a CSV or Parquet column, which are mapped to codes",
                    classes - 1,
                    absent.join(", ")
                ));
            }
            let said = format!("the target holds class codes 0 … {}", classes - 1);
            multinomial(train, descent, classes, &said, plotting)
        }
        false => Ok(descent),
    }
}

/// The multinomial model of `classes` classes (`described` says which) in
/// place of the log loss; an error for a two-class loss and --plot-path.
fn multinomial(
    train: &TrainArgs,
    descent: GradientDescent,
    classes: usize,
    described: &str,
    plotting: bool,
) -> Result<GradientDescent, String> {
    let loss = train.loss();
    if loss != Loss::Log {
        return Err(format!(
            "{described}; --loss {} tells two apart: leave --loss out (or give log) to fit the multinomial model",
            loss.name()
        ));
    }
    if plotting {
        return Err(format!(
            "--plot-path draws the path of one margin's weights; a model of {classes} classes has {classes} margins"
        ));
    }
    let classes = u32::try_from(classes).map_err(|_| format!("{classes} classes are too many"))?;
    Ok(descent.loss(Loss::Multinomial { classes }))
}

/// Reads the CSV named by `args` for `model` (whose target holds labels
/// when it is logistic), and says what it made of the columns.
pub fn load(args: &DataArgs, model: Model) -> Result<Table, String> {
    if Format::of(&args.data) == Format::Npy {
        return load_npy(args).map_err(|e| located(args, e));
    }
    let table = read_table(
        &args.data,
        &args.target,
        names(&args.features).as_deref(),
        &table_options(args, model),
    )
    .map_err(|e| located(args, e))?;
    Ok(described(table))
}

/// `table`, having said what reading it made of the columns.
pub fn described(table: Table) -> Table {
    describe_table(
        &table.dropped,
        &table.encoding,
        table.rows_dropped,
        [table.cells_filled, table.text_cells_blank],
    );
    table
}

/// An `.npy` matrix as a table: `--target` names the targets' file
/// (`y.npy`) or the target's column by its index (from 0); the features are
/// named x0, x1, … by their column.
fn load_npy(args: &DataArgs) -> Result<Table, Error> {
    let data = open_npy(args)?;
    let (x, y) = (data.x()?.into_owned(), data.y()?.into_owned());
    let feature_names = data.feature_names()?;
    let columns = feature_names
        .iter()
        .zip(x.columns())
        .map(|(name, column)| EncodedColumn::Numeric {
            name: name.clone(),
            mean: column.mean().unwrap_or(0.0),
        })
        .collect();
    let lines = (1..=x.nrows()).collect();
    Ok(Table {
        feature_names,
        x,
        y,
        weights: None,
        encoding: Encoding {
            columns,
            labels: None,
            target: Some(data.target_name()),
            hashing: None,
            text_columns: Vec::new(),
        },
        dropped: Vec::new(),
        rows_dropped: 0,
        cells_filled: 0,
        text_cells_blank: 0,
        lines,
    })
}

/// The `.npy` data `--data` and `--target` name: `--target` is the
/// targets' file (`y.npy`) or the target's column by its index (from 0).
pub fn open_npy(args: &DataArgs) -> Result<NpyData, Error> {
    if args.features.is_some() || args.weight_column.is_some() {
        return Err(Error::Data(DataError::MalformedFile {
            path: args.data.display().to_string(),
            reason: "--features and --weight-column name CSV or Parquet columns; an .npy file's columns are all features".into(),
        }));
    }
    let data = match Format::of(&args.target) {
        Format::Npy => NpyData::open(&args.data, &args.target)?,
        _ => {
            let index = args.target.trim().parse().map_err(|_| {
                Error::Data(DataError::MalformedFile {
                    path: args.data.display().to_string(),
                    reason: format!(
                        "--target {:?} is neither a column index (from 0) nor a .npy file of targets",
                        args.target
                    ),
                })
            })?;
            NpyData::open_matrix(&args.data, index)?
        }
    };
    Ok(data)
}

/// Says where in the CSV a row or column error of the library lies.
/// `names` names the features, `lines` gives each row's file line, and
/// `target` is the target column's name, where the CSV has one.
pub fn explain(error: Error, names: &[String], lines: &[usize], path: &Path, target: Option<&str>) -> String {
    let line = |row: usize| lines.get(row).copied().unwrap_or(row + 2);
    let file = path.display();
    // The weight by its column's name.
    if let Error::CoefficientOverflow { feature: Some(j), .. } = &error {
        if let Some(name) = names.get(*j) {
            return format!("column {name:?}: {error}");
        }
    }
    match error {
        Error::InvalidLabel { row, value } if target.is_some() => format!(
            "line {} of {file}: target {:?} is {value}; logistic regression needs 0 or 1",
            line(row),
            target.unwrap_or_default()
        ),
        Error::Data(DataError::NonFiniteTarget { row, value }) if target.is_some() => {
            format!(
                "line {} of {file}: target {:?} is {value}, not a finite number",
                line(row),
                target.unwrap_or_default()
            )
        }
        Error::Math(MathError::NegativePoissonTarget { row, value }) if target.is_some() => format!(
            "line {} of {file}: target {:?} is {value}; the Poisson loss fits counts or rates of at least 0",
            line(row),
            target.unwrap_or_default()
        ),
        Error::Data(DataError::NonFiniteFeature { row, column, value }) => format!(
            "line {} of {file}: column {:?} is {value}, not a finite number",
            line(row),
            names[column]
        ),
        Error::InvalidWeight { row, value } => format!(
            "line {} of {file}: the sample weight is {value}; weights must be finite and at least 0",
            line(row)
        ),
        other => other.to_string(),
    }
}

/// Fits with a progress bar on a terminal (hidden otherwise): epoch of
/// the most, the last epoch's loss, and the time left. `run` fits
/// `descent` with the bar's observer, or settings cloned from it (many
/// models in lockstep: the bar shows the furthest epoch any has reached).
pub fn fit_with_progress<T>(
    descent: &GradientDescent,
    message: String,
    run: impl FnOnce(&GradientDescent) -> Result<T, Error>,
) -> Result<(T, Duration), Error> {
    // Hidden until its first epoch, so that it never shows an empty loss.
    let bar = ProgressBar::with_draw_target(
        Some(descent.max_epochs_settings() as u64),
        indicatif::ProgressDrawTarget::hidden(),
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} {bar:30} epoch {pos}/{len}, loss {msg}, {elapsed} (ETA {eta})",
        )
        .expect("a valid template"),
    );
    bar.set_prefix(message);
    let shown = bar.clone();
    let descent = descent.clone().on_epoch(move |record, max_epochs| {
        shown.set_length(max_epochs as u64);
        shown.set_position(shown.position().max(record.epoch as u64));
        shown.set_message(crate::report::number(record.loss));
        if record.epoch == 1 {
            shown.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    });
    let started = Instant::now();
    let fitted = run(&descent);
    bar.finish_and_clear();
    fitted.map(|f| (f, started.elapsed()))
}

/// Whether the fit watched the loss of held-out rows (a validation
/// fraction), as its history records.
pub fn watched_held_out(fitted: &Fitted) -> bool {
    fitted
        .history()
        .records()
        .iter()
        .any(|r| r.validation_loss.is_some())
}

/// The stop reason, and whose parameters the fit kept.
pub fn describe_stop(fitted: &Fitted) -> String {
    let stop = fitted.stop_reason();
    let held_out = watched_held_out(fitted);
    let cuts = match fitted.training_state().rate_cuts() {
        0 => String::new(),
        1 => ", after 1 cut of the learning rate".to_string(),
        n => format!(", after {n} cuts of the learning rate"),
    };
    match (stop, fitted.best_epoch()) {
        (StopReason::Converged { epoch } | StopReason::StoppedImproving { epoch }, Some(best))
            if held_out =>
        {
            format!(
            "early at epoch {epoch}: the held-out loss stopped improving{cuts} (parameters of epoch {best}, its lowest)"
        )
        }
        (StopReason::StoppedImproving { .. }, Some(best)) => {
            format!("{stop}{cuts} (parameters of epoch {best}, the lowest loss)")
        }
        (_, Some(best)) if held_out => {
            format!("{stop} (parameters of epoch {best}, the lowest held-out loss)")
        }
        (_, Some(best)) => format!("{stop} (parameters of epoch {best}, the lowest loss)"),
        // L-BFGS counts iterations, as its other stop reasons say.
        (StopReason::Converged { epoch }, None)
            if matches!(fitted.settings().solver_settings(), Solver::Lbfgs { .. }) =>
        {
            format!("converged at iteration {epoch}")
        }
        (StopReason::Diverged { .. }, None) => format!("{stop} (parameters are the last finite ones)"),
        _ => stop.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_with_their_units() {
        assert_eq!(parse_bytes("1GB"), Some(1_000_000_000));
        assert_eq!(parse_bytes("512 MB"), Some(512_000_000));
        assert_eq!(parse_bytes("1.5gb"), Some(1_500_000_000));
        assert_eq!(parse_bytes("2GiB"), Some(2 << 30));
        assert_eq!(parse_bytes("4096"), Some(4096));
        for bad in ["", "GB", "1 parsec", "-1GB", "0"] {
            assert_eq!(parse_bytes(bad), None, "{bad}");
            assert_eq!(
                parse_budget(bad),
                Err(format!(
                    "the memory budget {bad:?} is not a size of at least one byte, such as 512MB or 2GB"
                ))
            );
        }
    }
}
