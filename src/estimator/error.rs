//! The estimator's errors: settings that cannot run together, a model asked for what it does not have, a model file that is not one. Composed into the crate's [`crate::Error`] as
//! `Error::Estimator`; each variant carries the value it names.

/// The estimator's errors: settings that cannot run together, a model asked for what it does not have, a model file that is not one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EstimatorError {
    /// Cross-validation over fewer than two folds, or more folds than rows.
    #[error("cross-validation takes 2 folds to as many as the rows ({rows}), got {folds}")]
    InvalidFoldCount {
        /// The folds asked for.
        folds: usize,
        /// The rows.
        rows: usize,
    },
    /// Folds numbered past one that holds no row.
    #[error("fold {fold} holds no row: folds are numbered from 0, each holding a row")]
    EmptyFold {
        /// The empty fold.
        fold: usize,
    },
    /// Folds of another number of rows than the data's.
    #[error("the folds place {folds} rows, but the data has {rows}")]
    FoldsOfOtherRows {
        /// Rows the folds place.
        folds: usize,
        /// Rows of the data.
        rows: usize,
    },
    /// A fold whose training rows (every other fold's) hold one class.
    #[error("the training rows of fold {fold} hold one class ({label}): a classifier needs two; use fewer folds or stratified ones")]
    FoldWithOneClass {
        /// The fold.
        fold: usize,
        /// The one class its training rows hold.
        label: f32,
    },
    /// A scoring for classes asked of a regressor, or one for values of a
    /// classifier.
    #[error("cross-validation cannot score a {model} model by {scoring}: accuracy, log-loss and (for two classes) the area under the ROC curve score classifiers, R² and the squared error regressors")]
    ScoringOfModel {
        /// The scoring asked for.
        scoring: String,
        /// The model.
        model: String,
    },
    /// Cross-validation by a score that is not a sum over rows (the area
    /// under the ROC curve) of rows held by the ranks of a data-parallel
    /// fit.
    #[error("cross-validation over the ranks of a data-parallel fit cannot score by {scoring}, which ranks all rows against each other: score by accuracy or log-loss")]
    ScoringOverRanks {
        /// The scoring asked for.
        scoring: String,
    },
    /// Cross-validation whose fits all diverged.
    #[error("every strength's fits diverged on some fold: lower the learning rate, or fit by L-BFGS")]
    EveryStrengthDiverged,
    /// Cross-validation or a path over no strength.
    #[error("a path or a cross-validation needs at least one penalty strength")]
    NoStrengths,
    /// Models fitted together whose own memory (each one's sums of a pass,
    /// parameters, optimizer state and thread) exceeds the memory budget.
    #[error("fitting {models} models together takes {bytes} bytes besides the rows, beyond the memory budget of {budget} bytes: fit fewer at once, or raise the budget")]
    TooManyModels {
        /// The models.
        models: usize,
        /// The bytes they would take.
        bytes: u64,
        /// The memory budget.
        budget: u64,
    },
    /// Strengths from the data asked for a loss whose grid is not the
    /// squared error's or the logistic loss's.
    #[error("strengths from the data are the squared error's and the logistic losses', not the {loss} loss's: give the strengths")]
    StrengthGridOfLoss {
        /// The loss.
        loss: String,
    },
    /// Strengths from the data of rows whose target varies with no
    /// feature (α_max is 0).
    #[error("the targets do not vary with any feature (α_max is 0): give the strengths")]
    NoStrengthFromData,
    /// A grid of strengths of a count, or a smallest-to-largest ratio, out
    /// of range.
    #[error(
        "a grid of strengths takes 1 to {most} strengths and a ratio in (0, 1], got {count} and {ratio}"
    )]
    InvalidStrengthGrid {
        /// The strengths asked for.
        count: usize,
        /// The smallest over the largest.
        ratio: f64,
        /// The most strengths a grid takes.
        most: usize,
    },
    /// Models fitted together given as none.
    #[error("fitting models together needs at least one model")]
    NoModels,
    /// Models fitted together whose settings prepare the rows apart: each
    /// may have its own penalty, update rule, rate, schedule, solver,
    /// batch size and stopping, not its own rows.
    #[error("model {model} of those fitted together differs from the first in its {setting}: models fitted together share how the rows are prepared (model, loss, class weights, standardization, held-out rows, device, start, checkpoints)")]
    ModelsPrepareRowsApart {
        /// The model (from 0) that differs.
        model: usize,
        /// The setting it differs in.
        setting: &'static str,
    },
    /// A penalty strength that is not a finite number at least 0.
    #[error("a penalty strength must be a finite number at least 0, got {value}")]
    InvalidStrength {
        /// The strength.
        value: f32,
    },
    /// A multinomial loss over fewer than two classes, or more than a
    /// table can name (`table::MAX_CLASSES`).
    #[error("a multinomial model needs 2 to {limit} classes, got {classes}")]
    InvalidClassCount {
        /// The classes asked for.
        classes: u32,
        /// The most there may be.
        limit: usize,
    },
    /// A method that gives one value per row asked of a model with one
    /// margin per class.
    #[error("{method} works with one margin per row, but this model has {classes} classes (a margin each): use {instead}")]
    PerClass {
        /// The method asked for.
        method: &'static str,
        /// The model's classes.
        classes: usize,
        /// The method that answers per class.
        instead: &'static str,
    },
    /// `Variant::MiniBatch(0)`.
    #[error("the batch size must be at least 1, got 0")]
    ZeroBatchSize,
    /// A full-batch solver asked for with mini-batches.
    #[error("the {solver} solver runs on the full batch; the variant is {variant}")]
    SolverOfVariant {
        /// The solver.
        solver: &'static str,
        /// The variant asked for, as the command line spells it.
        variant: String,
    },
    /// A quasi-Newton solver asked for with a loss whose slope jumps.
    #[error("the {solver} solver needs a smooth loss; the {loss} loss has a kink (use gradient descent)")]
    SolverOfLoss {
        /// The solver.
        solver: &'static str,
        /// The loss's name.
        loss: &'static str,
    },
    /// A quasi-Newton solver asked for with an L1 penalty, which has no
    /// gradient at 0.
    #[error("the {solver} solver needs a smooth penalty; the L1 strength is {l1} (use gradient descent, or an L2 penalty)")]
    SolverOfPenalty {
        /// The solver.
        solver: &'static str,
        /// The L1 strength asked for.
        l1: f32,
    },
    /// Averaging from step 0: steps count from 1.
    #[error("averaging starts at a step from 1 (1: every step), got 0")]
    ZeroAverageStart,
    /// A checkpoint every 0 epochs.
    #[error("a checkpoint is written every N epochs, N at least 1; got 0")]
    ZeroCheckpointInterval,
    /// Averaged parameters asked of a solver that takes no SGD steps.
    #[error("the {solver} solver does not average its iterates; averaging is for gradient descent")]
    AverageOfSolver {
        /// The solver.
        solver: &'static str,
    },
    /// A setting that needs the rows in memory, asked of a fit on a source.
    #[error("{setting} needs the rows in memory: use GradientDescent::fit, or leave it out")]
    NotWithSource {
        /// The setting.
        setting: &'static str,
    },
    /// A negative or non-finite penalty strength.
    #[error("the {part} penalty must be finite and at least 0, got {value}")]
    InvalidPenalty {
        /// Which part: "L2" or "L1".
        part: &'static str,
        /// The strength given.
        value: f32,
    },
    /// An elastic net's L1 ratio outside [0, 1].
    #[error("the elastic net's l1_ratio must lie in [0, 1], got {value}")]
    InvalidL1Ratio {
        /// The ratio given.
        value: f32,
    },
    /// `standardize_target(true)` for a model whose target is a label.
    #[error(
        "standardize_target scales a linear model's target; a logistic model's target is a label 0 or 1"
    )]
    TargetScalingOfLabels,
    /// `auto_momentum(true)` with an optimizer that has no momentum.
    #[error("a momentum from the data needs the momentum or nesterov optimizer, not {rule}")]
    MomentumOfRule {
        /// The optimizer's name.
        rule: String,
    },
    /// A class weight that is negative or not finite, or both class weights
    /// 0.
    #[error("class weight {weight} for label {label}: labels are 0 and 1, weights finite and at least 0")]
    InvalidClassWeight {
        /// The label given.
        label: f32,
        /// Its weight.
        weight: f32,
    },
    /// Class weights asked of a model without classes.
    #[error("class weights weigh the logistic model's labels; this model is {model}")]
    ClassWeightOfModel {
        /// The model asked for.
        model: &'static str,
    },
    /// A validation fraction (held out for early stopping) outside (0, 1).
    #[error("the validation fraction must lie strictly between 0 and 1, got {value}")]
    InvalidValidationFraction {
        /// The fraction given.
        value: f64,
    },
    /// `max_epochs(0)`.
    #[error("max_epochs must be at least 1, got 0")]
    ZeroEpochs,
    /// A negative or non-finite early-stopping tolerance.
    #[error("the tolerance must be finite and at least 0, got {value}")]
    InvalidTolerance {
        /// The tolerance given.
        value: f64,
    },
    /// A divergence factor that is not above 1 (or is NaN).
    #[error("the divergence factor must be greater than 1, got {value}")]
    InvalidDivergenceFactor {
        /// The factor given.
        value: f64,
    },
    /// A factor of the learning rate's cuts outside (0, 1)
    /// ([`crate::GradientDescent::rate_cuts`]).
    #[error("the factor of the learning rate's cuts must lie between 0 and 1 (exclusive), got {value}")]
    InvalidRateCut {
        /// The factor given.
        value: f64,
    },
    /// `patience(0)`.
    #[error("patience must be at least 1 epoch, got 0")]
    ZeroPatience,
    /// A loss of the other model (a classification loss for the linear
    /// model, a regression loss for the logistic one).
    #[error("the {loss} loss fits a {fits} model; this one is {model}")]
    LossOfModel {
        /// The loss's name.
        loss: &'static str,
        /// The model it fits.
        fits: &'static str,
        /// The model asked for.
        model: &'static str,
    },
    /// A Huber loss's ε that is not positive, or an ε-insensitive loss's
    /// that is negative, or either not finite.
    #[error("the loss's epsilon must be finite, above 0 for huber and at least 0 for the epsilon-insensitive losses, got {value}")]
    InvalidEpsilon {
        /// The ε given.
        value: f32,
    },
    /// A standardized target under a loss that reads the target's own
    /// scale (Poisson's counts).
    #[error("standardize_target cannot apply to the {loss} loss, which reads targets of at least 0 in their own units")]
    TargetScalingOfLoss {
        /// The loss's name.
        loss: &'static str,
    },
    /// Probabilities asked of a loss that gives none (the hinges).
    #[error(
        "the {loss} loss gives classes, not probabilities; fit with log or modified_huber for predict_proba"
    )]
    NoProbability {
        /// The loss's name.
        loss: &'static str,
    },
    /// Class probabilities were asked of a linear model.
    #[error("predict_proba needs a logistic model; this one is linear")]
    NotLogistic,
    /// A saved model larger than any model this crate writes: it would be
    /// read whole into memory.
    #[error("{path} holds {bytes} bytes, more than the {limit} bytes a saved model may take; is it a model saved by downhill?")]
    ModelFileTooLarge {
        /// The file.
        path: String,
        /// Its size.
        bytes: u64,
        /// The most a model file may hold.
        limit: u64,
    },
    /// A saved model of a schema version this build does not read.
    #[error("{path} is a downhill model of schema version {found}; this build reads version {supported}")]
    UnknownSchemaVersion {
        /// The file.
        path: String,
        /// The version in the file.
        found: String,
        /// The version this build reads.
        supported: u32,
    },
    /// A saved model that cannot be read: not JSON, cut short, or missing
    /// or inconsistent fields.
    #[error("{path} is not a model saved by downhill: {reason}")]
    MalformedModel {
        /// The file.
        path: String,
        /// What is wrong, as the JSON reader or the check said.
        reason: String,
    },
}

impl EstimatorError {
    /// The file the error names in its message, where it names one.
    pub fn file(&self) -> Option<&str> {
        match self {
            EstimatorError::ModelFileTooLarge { path, .. }
            | EstimatorError::UnknownSchemaVersion { path, .. }
            | EstimatorError::MalformedModel { path, .. } => Some(path),
            _ => None,
        }
    }
}
