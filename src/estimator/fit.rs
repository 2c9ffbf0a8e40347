//! The builder, its checked plan, and what a fit returns.

use std::sync::Arc;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use crate::data::scaling::{Standardizer, TargetScaling};
use crate::data::shuffle::Shuffle;
use crate::data::source::{
    check_weights, find_non_finite, one_pass, ClassWeighted, DataSource, InMemory, Pass, Standardized,
    Weighted,
};
use crate::data::table::Encoding;
use crate::data::{train_test_split, validate_features, validate_parameters, validate_targets_of};
use crate::distributed::Collective;
use crate::engine::choice;
use crate::engine::device::{Device, GPU_MAX_CLASSES};
use crate::engine::gpu::GpuContext;
use crate::engine::{gradient_on, Gradient, WorkCounts};
use crate::error::{Error, Result};
use crate::math::loss::Loss;
use crate::math::model::Model;
use crate::math::objective::{Objective, Penalty};
use crate::math::optim::Optimizer;
use crate::metrics;
use crate::reduce::{one_pass_of_ranks, Reducer};
use crate::train::curvature::{self, Curvature};
use crate::train::driver::{self, Outcome};
use crate::train::history::{EpochRecord, History, StopReason};
use crate::train::plan::{EarlyStopping, EpochObserver, RateCuts, TrainingPlan};
use crate::train::schedule::Schedule;
use crate::train::solver::Solver;
use crate::train::state::{Start, TrainingState};

/// The seed of the per-epoch permutations when none is set, in the library
/// and on the command line.
pub const DEFAULT_SEED: u64 = 0;

/// How many times a mini-batch run under early stopping cuts its learning
/// rate, when its loss stops improving, before it stops
/// ([`GradientDescent::rate_cuts`]).
pub const DEFAULT_RATE_CUTS: usize = 3;

/// What each of those cuts multiplies the learning rate by.
pub const DEFAULT_RATE_CUT_FACTOR: f64 = 0.5;

// Saved settings of files older than the rate cuts read with the defaults.
#[cfg(feature = "serde")]
fn default_rate_cuts() -> usize {
    DEFAULT_RATE_CUTS
}

#[cfg(feature = "serde")]
fn default_rate_cut_factor() -> f64 {
    DEFAULT_RATE_CUT_FACTOR
}

/// Which rows each step uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Variant {
    /// Every row, every step: one step per epoch.
    #[default]
    Full,
    /// One row per step: `MiniBatch(1)`.
    Stochastic,
    /// Consecutive slices of each epoch's row order ([`Shuffle`]); the
    /// last, shorter slice is used too.
    MiniBatch(usize),
}

impl Variant {
    /// Rows per step, or `None` for the full batch.
    pub fn batch_size(self) -> Option<usize> {
        match self {
            Variant::Full => None,
            Variant::Stochastic => Some(1),
            Variant::MiniBatch(size) => Some(size),
        }
    }
}

impl std::fmt::Display for Variant {
    /// As the command line spells it: `full`, `sgd` or `minibatch:N`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Variant::Full => write!(f, "full"),
            Variant::Stochastic => write!(f, "sgd"),
            Variant::MiniBatch(size) => write!(f, "minibatch:{size}"),
        }
    }
}

impl std::str::FromStr for Variant {
    type Err = Error;

    /// `full`, `sgd` (or `stochastic`), `minibatch:N`, or a bare batch size
    /// `N` (`MiniBatch(N)`).
    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim();
        let size = match text {
            "full" => return Ok(Variant::Full),
            "sgd" | "stochastic" => return Ok(Variant::Stochastic),
            _ => text.strip_prefix("minibatch:").unwrap_or(text),
        };
        match size.parse::<usize>() {
            Ok(0) => Err(Error::ZeroBatchSize),
            Ok(size) => Ok(Variant::MiniBatch(size)),
            Err(_) => Err(Error::UnknownName {
                what: "variant",
                name: text.to_string(),
                expected: "full, sgd, minibatch:N or a batch size N",
            }),
        }
    }
}

/// Weights of the classes of the logistic model's labels, which multiply
/// each row's sample weight ([`GradientDescent::class_weight`]): balanced
/// for any number of classes, or given for the two of a binary model.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind", rename_all = "snake_case"))]
pub enum ClassWeight {
    /// n / (K · countₖ) for the class of label k of K, counted over the rows
    /// fitted: scikit-learn's `class_weight="balanced"`, under which every
    /// class weighs the same in total. Rows are counted one each, also
    /// beside sample weights, as `SGDClassifier` counts them
    /// (`LogisticRegression` sums the sample weights instead).
    Balanced,
    /// The weights of labels 0 and 1.
    Given {
        /// The weight of label 0.
        negative: f32,
        /// The weight of label 1.
        positive: f32,
    },
}

/// Gradient-descent hyperparameters, set through a builder and checked once
/// by [`GradientDescent::fit`].
///
/// ```
/// use downhill::{GradientDescent, Optimizer, Schedule, Variant};
/// use ndarray::array;
///
/// let x = array![[1.0f32], [2.0], [3.0], [4.0], [5.0]];
/// let y = array![5.0f32, 7.0, 9.0, 11.0, 13.0];
/// let fitted = GradientDescent::linear()
///     .variant(Variant::Full)
///     .optimizer(Optimizer::sgd(0.05))
///     .schedule(Schedule::constant())
///     .max_epochs(5000)
///     .fit(x.view(), y.view())?;
/// assert!((fitted.weights()[0] - 2.0).abs() < 1e-3);
/// assert!((fitted.bias() - 3.0).abs() < 1e-3);
/// # Ok::<(), downhill::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GradientDescent {
    model: Model,
    variant: Variant,
    #[cfg_attr(feature = "serde", serde(default))]
    shuffle: Shuffle,
    optimizer: Optimizer,
    schedule: Schedule,
    l2: f32,
    #[cfg_attr(feature = "serde", serde(default))]
    l1: f32,
    #[cfg_attr(feature = "serde", serde(default))]
    loss: Option<Loss>,
    #[cfg_attr(feature = "serde", serde(default))]
    solver: Solver,
    #[cfg_attr(feature = "serde", serde(default))]
    class_weight: Option<ClassWeight>,
    #[cfg_attr(feature = "serde", serde(default))]
    average: Option<u64>,
    /// The elastic net's ratio as given, checked by `plan`.
    #[cfg_attr(feature = "serde", serde(skip))]
    l1_ratio: Option<f32>,
    standardize: bool,
    #[cfg_attr(feature = "serde", serde(default))]
    standardize_target: bool,
    #[cfg_attr(feature = "serde", serde(default))]
    auto_learning_rate: bool,
    #[cfg_attr(feature = "serde", serde(default))]
    auto_momentum: bool,
    #[cfg_attr(feature = "serde", serde(default))]
    validation_fraction: Option<f64>,
    max_epochs: usize,
    tolerance: Option<f64>,
    #[cfg_attr(feature = "serde", serde(default))]
    parameter_tolerance: Option<f64>,
    patience: usize,
    #[cfg_attr(feature = "serde", serde(default = "default_rate_cuts"))]
    rate_cuts: usize,
    #[cfg_attr(feature = "serde", serde(default = "default_rate_cut_factor"))]
    rate_cut_factor: f64,
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float64"))]
    divergence_factor: f64,
    seed: u64,
    device: Device,
    #[cfg_attr(feature = "serde", serde(default))]
    memory_budget: Option<u64>,
    #[cfg_attr(feature = "serde", serde(default))]
    gpu_memory_budget: Option<u64>,
    #[cfg_attr(feature = "serde", serde(skip))]
    track_parameters: bool,
    #[cfg_attr(feature = "serde", serde(skip))]
    on_epoch: Option<EpochObserver>,
    #[cfg_attr(feature = "serde", serde(skip))]
    start: Option<StartFrom>,
    /// Where and how often the fit writes checkpoints.
    #[cfg_attr(feature = "serde", serde(skip))]
    checkpoint: Option<Checkpoint>,
    #[cfg_attr(feature = "serde", serde(skip))]
    gpu_context: Option<ContextHandle>,
    /// The ranks of a data-parallel fit this process is one of.
    #[cfg_attr(feature = "serde", serde(skip))]
    ranks: Option<Reducer>,
}

/// Where and how often a fit writes its checkpoints.
#[derive(Debug, Clone, PartialEq)]
struct Checkpoint {
    path: std::path::PathBuf,
    every: usize,
    /// Saved with each checkpoint, so that it can be resumed on the table.
    encoding: Option<Encoding>,
}

/// Where a fit starts when not from zero.
#[derive(Debug, Clone, PartialEq)]
enum StartFrom {
    /// These weights and bias, in the original units.
    Parameters(Array1<f32>, f32),
    /// Exactly where an earlier fit stopped.
    Resume(Box<Fitted>),
}

/// A context given to the builder; two are equal when they are the same
/// context.
#[derive(Debug, Clone)]
struct ContextHandle(Arc<GpuContext>);

impl PartialEq for ContextHandle {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl GradientDescent {
    /// Linear regression with the mean squared error.
    pub fn linear() -> Self {
        Self::new(Model::Linear)
    }

    /// Logistic regression with the cross-entropy; labels must be 0 or 1.
    pub fn logistic() -> Self {
        Self::new(Model::Logistic)
    }

    /// Multinomial logistic regression over `classes` classes (labels 0,
    /// 1, …, `classes` − 1): the cross-entropy of the softmax of one margin
    /// per class ([`Loss::Multinomial`]), with a weight per feature and
    /// class and a bias per class.
    ///
    /// ```
    /// use downhill::{GradientDescent, Solver};
    /// use ndarray::array;
    ///
    /// let x = array![[0.0f32, 0.1], [0.2, 0.0], [3.0, 0.1], [3.1, 0.0], [0.1, 3.0], [0.0, 3.2]];
    /// let y = array![0.0f32, 0.0, 1.0, 1.0, 2.0, 2.0];
    /// let fitted = GradientDescent::multinomial(3).l2(0.01).solver(Solver::lbfgs()).fit(x.view(), y.view())?;
    /// assert_eq!(fitted.coefficients().dim(), (2, 3));
    /// assert_eq!(fitted.predict(x.view())?, y);
    /// let probabilities = fitted.class_probabilities(x.view())?;
    /// assert!((probabilities.row(0).sum() - 1.0).abs() < 1e-6);
    /// # Ok::<(), downhill::Error>(())
    /// ```
    pub fn multinomial(classes: u32) -> Self {
        Self::new(Model::Logistic).loss(Loss::Multinomial { classes })
    }

    /// Defaults: full batch, SGD with learning rate 0.01, constant schedule,
    /// no penalty, no standardization, 100 epochs, no early stopping
    /// (patience 5 once a tolerance is set), divergence factor 1e6, seed
    /// [`DEFAULT_SEED`], `Device::Auto`.
    pub fn new(model: Model) -> Self {
        GradientDescent {
            model,
            variant: Variant::Full,
            shuffle: Shuffle::Rows,
            optimizer: Optimizer::default(),
            schedule: Schedule::Constant,
            l2: 0.0,
            l1: 0.0,
            loss: None,
            solver: Solver::GradientDescent,
            class_weight: None,
            average: None,
            l1_ratio: None,
            standardize: false,
            standardize_target: false,
            auto_learning_rate: false,
            auto_momentum: false,
            validation_fraction: None,
            max_epochs: 100,
            tolerance: None,
            parameter_tolerance: None,
            memory_budget: None,
            gpu_memory_budget: None,
            patience: 5,
            rate_cuts: DEFAULT_RATE_CUTS,
            rate_cut_factor: DEFAULT_RATE_CUT_FACTOR,
            divergence_factor: 1e6,
            seed: DEFAULT_SEED,
            device: Device::Auto,
            track_parameters: false,
            on_epoch: None,
            start: None,
            checkpoint: None,
            gpu_context: None,
            ranks: None,
        }
    }

    /// The method that minimizes the objective: gradient descent (the
    /// default) or [`Solver::Lbfgs`] on the full batch.
    ///
    /// ```
    /// use downhill::{GradientDescent, Solver};
    /// use ndarray::array;
    ///
    /// let x = array![[1.0f32], [2.0], [3.0], [4.0], [5.0]];
    /// let y = array![5.0f32, 7.0, 9.0, 11.0, 13.0];
    /// let fitted = GradientDescent::linear().solver(Solver::lbfgs()).fit(x.view(), y.view())?;
    /// assert!((fitted.weights()[0] - 2.0).abs() < 1e-4);
    /// assert!((fitted.bias() - 3.0).abs() < 1e-4);
    /// # Ok::<(), downhill::Error>(())
    /// ```
    pub fn solver(mut self, solver: Solver) -> Self {
        self.solver = solver;
        self
    }

    /// The solver set.
    pub fn solver_settings(&self) -> Solver {
        self.solver
    }

    /// Weights of the logistic model's classes, multiplying each row's
    /// sample weight: the loss and gradient are then weighted means
    /// Σ sᵢ ℓᵢ / Σ sᵢ. For an imbalanced table, [`ClassWeight::Balanced`]
    /// lets the rare class weigh as much as the common one.
    ///
    /// ```
    /// use downhill::{ClassWeight, GradientDescent};
    /// use ndarray::array;
    ///
    /// let x = array![[0.0f32], [1.0], [2.0], [3.0]];
    /// let y = array![0.0f32, 0.0, 0.0, 1.0];
    /// let fitted = GradientDescent::logistic()
    ///     .class_weight(ClassWeight::Balanced)
    ///     .fit(x.view(), y.view())?;
    /// assert_eq!(fitted.settings().class_weight_settings(), Some(ClassWeight::Balanced));
    /// # Ok::<(), downhill::Error>(())
    /// ```
    pub fn class_weight(mut self, class_weight: ClassWeight) -> Self {
        self.class_weight = Some(class_weight);
        self
    }

    /// The class weights set.
    pub fn class_weight_settings(&self) -> Option<ClassWeight> {
        self.class_weight
    }

    /// Averaged SGD (Polyak–Ruppert, scikit-learn's `average`): the fit
    /// returns the mean of the parameters after every step from step
    /// `first_step` (1 for every step) on, while the steps themselves go
    /// on from the last parameters. The average is returned even where
    /// early stopping would keep its best epoch's parameters (a diverged
    /// run keeps its last finite ones). The average smooths a mini-batch's or
    /// a constant rate's noise around the optimum. The history's losses
    /// are those of the steps; the optimizer state keeps the average, so a
    /// resumed fit continues it. Not with L-BFGS; steps beyond 2²⁴ count
    /// as 2²⁴ on the GPU.
    ///
    /// ```
    /// use downhill::{GradientDescent, Optimizer, Variant};
    /// use ndarray::array;
    ///
    /// let x = array![[0.0f32], [1.0], [2.0], [3.0]];
    /// let y = array![1.0f32, 3.0, 5.0, 7.0];
    /// let fitted = GradientDescent::linear()
    ///     .variant(Variant::Stochastic)
    ///     .optimizer(Optimizer::sgd(0.05))
    ///     .average(100)
    ///     .max_epochs(500)
    ///     .fit(x.view(), y.view())?;
    /// assert!((fitted.weights()[0] - 2.0).abs() < 1e-2);
    /// # Ok::<(), downhill::Error>(())
    /// ```
    pub fn average(mut self, first_step: u64) -> Self {
        self.average = Some(first_step);
        self
    }

    /// The first averaged step, where the fit averages.
    pub fn average_settings(&self) -> Option<u64> {
        self.average
    }

    /// Full batch, stochastic or mini-batch.
    pub fn variant(mut self, variant: Variant) -> Self {
        self.variant = variant;
        self
    }
    /// The row order of mini-batch epochs (default [`Shuffle::Rows`]); the
    /// full batch reads the rows in storage order whatever the shuffle.
    pub fn shuffle(mut self, shuffle: Shuffle) -> Self {
        self.shuffle = shuffle;
        self
    }
    /// The update rule and its base learning rate.
    pub fn optimizer(mut self, optimizer: impl Into<Optimizer>) -> Self {
        self.optimizer = optimizer.into();
        self
    }
    /// How the learning rate changes per epoch.
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }
    /// L2 penalty: adds (l2/2)‖w‖² to the loss; the bias is not penalized.
    /// Leaves an L1 part set by [`GradientDescent::penalty`] as it is.
    pub fn l2(mut self, l2: f32) -> Self {
        self.l2 = l2;
        self
    }
    /// The penalty on the weights (default none): [`Penalty::L2`],
    /// [`Penalty::L1`] (soft-thresholding after every update: exact zeros)
    /// or [`Penalty::ElasticNet`]; the bias is not penalized.
    ///
    /// ```
    /// use downhill::{GradientDescent, Penalty};
    /// let lasso = GradientDescent::linear().penalty(Penalty::L1(0.1));
    /// assert_eq!(lasso.penalty_settings(), Penalty::L1(0.1));
    /// ```
    pub fn penalty(mut self, penalty: Penalty) -> Self {
        self.l1_ratio = match penalty {
            Penalty::ElasticNet { l1_ratio, .. } => Some(l1_ratio),
            _ => None,
        };
        self.l2 = penalty.l2_strength();
        self.l1 = penalty.l1_strength();
        self
    }
    /// The penalty these settings fit with.
    pub fn penalty_settings(&self) -> Penalty {
        Penalty::of_strengths(self.l2, self.l1)
    }
    /// The loss of each row (default: [`Loss::Squared`] for the linear
    /// model, [`Loss::Log`] for the logistic one); it must fit the model:
    /// the regression losses the linear model, the classification losses
    /// the logistic one.
    ///
    /// ```
    /// use downhill::{GradientDescent, Loss};
    /// let robust = GradientDescent::linear().loss(Loss::Huber { epsilon: 1.35 });
    /// assert_eq!(robust.loss_settings(), Loss::Huber { epsilon: 1.35 });
    /// ```
    pub fn loss(mut self, loss: Loss) -> Self {
        self.loss = Some(loss);
        self
    }
    /// The loss these settings fit with.
    pub fn loss_settings(&self) -> Loss {
        self.loss.unwrap_or_else(|| Loss::default_for(self.model))
    }
    /// Fit on standardized features and report the parameters in the
    /// original units.
    pub fn standardize(mut self, standardize: bool) -> Self {
        self.standardize = standardize;
        self
    }
    /// Linear model: fit on the target centred and scaled to unit variance
    /// ([`TargetScaling`]) and report the parameters and predictions in the
    /// target's units, so that a learning rate suits any target scale (off
    /// by default, as the loss history is then on the scaled target; the
    /// command line turns it on with the features' standardization). An
    /// error for the logistic model, whose target is a label.
    pub fn standardize_target(mut self, standardize_target: bool) -> Self {
        self.standardize_target = standardize_target;
        self
    }
    /// Chooses the learning rate from the data, replacing the optimizer's:
    /// the largest curvature L of the loss, measured on the engine by
    /// Lanczos steps (one pass over the (scaled) rows each, at most 40),
    /// gives 1/L for plain
    /// full-batch descent, with the rules of [`Curvature`] for
    /// mini-batches, momentum and the adaptive rules.
    /// [`Fitted::curvature`] says what was measured and
    /// [`Fitted::settings`] holds the rate chosen.
    pub fn auto_learning_rate(mut self, auto: bool) -> Self {
        self.auto_learning_rate = auto;
        self
    }
    /// Chooses the momentum factor β of a momentum or Nesterov optimizer
    /// from the data, replacing the optimizer's, for full-batch descent
    /// (mini-batches keep the optimizer's β): (√κ − 1)/(√κ + 1), κ the ratio
    /// of the loss's largest and smallest curvatures, measured on the engine
    /// as for [`GradientDescent::auto_learning_rate`] (whose rate is then
    /// 1/L). An error with another optimizer
    /// ([`Error::MomentumOfRule`]).
    pub fn auto_momentum(mut self, auto: bool) -> Self {
        self.auto_momentum = auto;
        self
    }
    /// Holds out `fraction` of the rows (seeded by the fit's seed,
    /// stratified for the logistic model, as
    /// [`crate::data::train_test_split`]): the fit runs on the others, each
    /// epoch records the held-out loss ([`EpochRecord::validation_loss`]),
    /// and early stopping, where a tolerance is set, watches it instead of
    /// the training loss and keeps the parameters with the lowest one
    /// (scikit-learn's `early_stopping=True`).
    pub fn validation_fraction(mut self, fraction: f64) -> Self {
        self.validation_fraction = Some(fraction);
        self
    }
    /// The most epochs to run.
    pub fn max_epochs(mut self, max_epochs: usize) -> Self {
        self.max_epochs = max_epochs;
        self
    }
    /// Enables early stopping: stop when the epoch loss improves on the best
    /// so far by less than `tolerance` for `patience` epochs in a row (as
    /// scikit-learn's `tol` and `n_iter_no_change`). Under
    /// [`Solver::Lbfgs`] it is the gradient's tolerance instead: the run
    /// stops once the gradient's Euclidean norm is below it.
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = Some(tolerance);
        self
    }
    /// Stops (converged) once, for `patience` epochs in a row, no parameter
    /// on the scale the engine sees moved over an epoch by more than
    /// `tolerance` times the largest parameter's magnitude (scikit-learn's
    /// SAG criterion). Suited to the full batch, where the loss, taken row
    /// by row in float32, stops showing progress long before the parameters
    /// in ill-conditioned directions settle; a mini-batch's parameters keep
    /// moving with its noise. Parameters that come back exactly to where
    /// they were two epochs before have settled too: near the optimum the
    /// float32 update can alternate between neighbouring floats for ever,
    /// which a tolerance finer than float32's resolution would not see.
    pub fn parameter_tolerance(mut self, tolerance: f64) -> Self {
        self.parameter_tolerance = Some(tolerance);
        self
    }
    /// Epochs without enough improvement before early stopping (default 5).
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }
    /// What early stopping does with a mini-batch (or stochastic) run whose
    /// loss stopped improving (default [`DEFAULT_RATE_CUTS`] times
    /// [`DEFAULT_RATE_CUT_FACTOR`]): multiply the learning rate by
    /// `factor` and wait the patience again, `times` times, before it stops
    /// as [`StopReason::StoppedImproving`] (scikit-learn's
    /// `learning_rate='adaptive'`). A mini-batch's epoch loss at a constant
    /// rate stops improving once the run reaches the noise of that rate,
    /// which can lie far from the optimum; each cut brings the noise down.
    /// `times` 0 stops at the first stall. The full batch, whose loss has
    /// no noise, stops at once ([`StopReason::Converged`]). The cuts
    /// multiply the schedule's rate; the history records the rate used.
    /// `factor` must lie in (0, 1) ([`Error::InvalidRateCut`]).
    pub fn rate_cuts(mut self, times: usize, factor: f64) -> Self {
        self.rate_cuts = times;
        self.rate_cut_factor = factor;
        self
    }
    /// A loss larger than this factor times the first epoch's counts as
    /// divergence (default 1e6; `f64::INFINITY` leaves only NaN and ∞).
    pub fn divergence_factor(mut self, factor: f64) -> Self {
        self.divergence_factor = factor;
        self
    }
    /// Bytes of rows an engine may hold in host memory (default:
    /// [`crate::memory::default_budget`], half of physical memory). Rows the
    /// CPU engine cannot borrow (scaled as they are read, or from a file)
    /// and that exceed the budget are streamed block by block, three blocks
    /// held at a time; mini-batches over them need [`Shuffle::Blocks`] or
    /// [`Shuffle::None`]. The GPU engine's streamed blocks fit it too.
    pub fn memory_budget(mut self, bytes: u64) -> Self {
        self.memory_budget = Some(bytes);
        self
    }
    /// Bytes of rows the GPU engine keeps on the device (default:
    /// [`GpuContext::memory_budget`], four fifths of the device's memory).
    /// Rows beyond it (X and y; the budget also counts the epoch's
    /// permutation of mini-batches, which stays on the device) are streamed
    /// through the device every epoch, block by block, reading the next
    /// block while the device computes on this one; mini-batches over them
    /// need [`Shuffle::Blocks`] (blocks within the budget) or
    /// [`Shuffle::None`], with batches no longer than a block.
    pub fn gpu_memory_budget(mut self, bytes: u64) -> Self {
        self.gpu_memory_budget = Some(bytes);
        self
    }
    /// Seed of the per-epoch permutations.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Start from these parameters (in the original units) instead of zero;
    /// for a model of one margin (a multinomial fit refuses it with
    /// [`Error::PerClass`]: resume it instead).
    pub fn warm_start(mut self, weights: impl Into<Array1<f32>>, bias: f32) -> Self {
        self.start = Some(StartFrom::Parameters(weights.into(), bias));
        self
    }
    /// Continues exactly where `fitted` stopped: its parameters, optimizer
    /// state, schedule position, shuffling position and stop-rule memory,
    /// and its standardization. `max_epochs` counts the epochs of this fit;
    /// the history continues `fitted`'s. With the same settings and data,
    /// a fit of 10 epochs resumed for 10 more equals one fit of 20 (bit for
    /// bit on the CPU).
    pub fn resume(mut self, fitted: &Fitted) -> Self {
        self.start = Some(StartFrom::Resume(Box::new(fitted.clone())));
        self
    }
    /// Writes the fit so far to `path` every `every` epochs (counted over
    /// the whole history, a resumed fit's earlier epochs included), as
    /// [`Fitted::save`] writes a model: the parameters, the optimizer
    /// state, the schedule's and the shuffling's positions and the stop
    /// rules' memory (under L-BFGS, its curvature pairs; an epoch is then
    /// an iteration), with [`StopReason::Checkpoint`]. Each write goes to a
    /// file beside `path` first and is then renamed over it, so an
    /// interrupted fit leaves its last whole checkpoint. Resuming the
    /// checkpoint ([`GradientDescent::resume`] with the same settings and
    /// data, for the epochs left) equals the uninterrupted fit (bit for bit
    /// on the CPU). `every` = 0 is [`Error::ZeroCheckpointInterval`].
    ///
    /// ```
    /// use downhill::{Fitted, GradientDescent, StopReason};
    /// use ndarray::array;
    /// let x = array![[1.0f32], [2.0], [3.0]];
    /// let y = array![3.0f32, 5.0, 7.0];
    /// let path = std::env::temp_dir().join("downhill_checkpoint_doc.json");
    /// let settings = GradientDescent::linear().max_epochs(10);
    /// let whole = settings.clone().checkpoint(&path, 4).fit(x.view(), y.view())?;
    /// let at_eight = Fitted::load(&path)?;
    /// assert_eq!(at_eight.stop_reason(), StopReason::Checkpoint { epoch: 8 });
    /// let resumed = settings.max_epochs(2).resume(&at_eight).fit(x.view(), y.view())?;
    /// assert_eq!(resumed.weights(), whole.weights());
    /// # Ok::<(), downhill::Error>(())
    /// ```
    #[cfg(feature = "serde")]
    pub fn checkpoint(mut self, path: impl Into<std::path::PathBuf>, every: usize) -> Self {
        self.checkpoint = Some(Checkpoint {
            path: path.into(),
            every,
            encoding: None,
        });
        self
    }
    /// Saves `encoding` (how a table's columns became the features, from
    /// [`crate::data::table::read_table`]) with each checkpoint, as
    /// [`Fitted::with_encoding`] would, so that the checkpoint resumes on
    /// the table; set after [`GradientDescent::checkpoint`].
    #[cfg(feature = "serde")]
    pub fn checkpoint_encoding(mut self, encoding: Encoding) -> Self {
        if let Some(checkpoint) = &mut self.checkpoint {
            checkpoint.encoding = Some(encoding);
        }
        self
    }
    /// Records the parameters at the end of every epoch in
    /// [`History::parameters`] (off by default); one margin's, so a
    /// multinomial fit refuses it ([`Error::PerClass`]).
    pub fn track_parameters(mut self, track: bool) -> Self {
        self.track_parameters = track;
        self
    }
    /// Calls `observer` at the end of every epoch with its record and the
    /// most epochs this fit may run (for a progress bar); it runs on the
    /// fitting thread, between epochs.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use downhill::GradientDescent;
    /// use ndarray::array;
    /// let seen = Arc::new(AtomicUsize::new(0));
    /// let counter = Arc::clone(&seen);
    /// let x = array![[1.0f32], [2.0]];
    /// let y = array![1.0f32, 2.0];
    /// GradientDescent::linear()
    ///     .max_epochs(7)
    ///     .on_epoch(move |_record, _max| {
    ///         counter.fetch_add(1, Ordering::Relaxed);
    ///     })
    ///     .fit(x.view(), y.view())?;
    /// assert_eq!(seen.load(Ordering::Relaxed), 7);
    /// # Ok::<(), downhill::Error>(())
    /// ```
    pub fn on_epoch(mut self, observer: impl Fn(&EpochRecord, usize) + Send + Sync + 'static) -> Self {
        self.on_epoch = Some(EpochObserver(Arc::new(observer)));
        self
    }
    /// Where to run.
    pub fn device(mut self, device: Device) -> Self {
        self.device = device;
        self
    }
    /// Runs `Device::Gpu` and `Device::Auto` fits on `context` instead of
    /// the shared one (and `Auto` then always on the GPU, software adapter
    /// or not).
    pub fn gpu_context(mut self, context: Arc<GpuContext>) -> Self {
        self.gpu_context = Some(ContextHandle(context));
        self
    }

    /// Makes this process one rank of a data-parallel fit over
    /// `collective` ([`crate::distributed`]): every rank calls
    /// [`GradientDescent::fit_source`] (or [`GradientDescent::fit`]) with
    /// the same settings on its own shard of the rows, in rank order, and
    /// every rank returns the same fit, that of all the rows. Saves and
    /// checkpoints are written by rank 0 alone.
    ///
    /// Each rank runs on its own engine: the CPU, or a GPU for the full
    /// batch and L-BFGS (the device sums the rank's rows each step, the
    /// host adds every rank's sums and steps); mini-batches run on the CPU
    /// ([`Device::Auto`] chooses it). A validation fraction, mini-batches
    /// on a GPU, and mini-batches streamed from a file larger than the
    /// memory budget are refused ([`Error::Distributed`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use downhill::distributed::Collective;
    /// use downhill::GradientDescent;
    /// use ndarray::array;
    ///
    /// /// A job of one rank: the sum over every rank is this rank's values.
    /// struct Alone;
    /// impl Collective for Alone {
    ///     fn rank(&self) -> usize { 0 }
    ///     fn size(&self) -> usize { 1 }
    ///     fn all_reduce_sum(&self, _values: &mut [f64]) -> downhill::Result<()> { Ok(()) }
    /// }
    ///
    /// let x = array![[1.0f32], [2.0], [3.0], [4.0]];
    /// let y = array![3.0f32, 5.0, 7.0, 9.0];
    /// let settings = GradientDescent::linear().max_epochs(50);
    /// let alone = settings.clone().distributed(Arc::new(Alone)).fit(x.view(), y.view())?;
    /// assert_eq!(alone.weights(), settings.fit(x.view(), y.view())?.weights());
    /// # Ok::<(), downhill::Error>(())
    /// ```
    pub fn distributed(mut self, collective: Arc<dyn Collective>) -> Self {
        self.ranks = Some(Reducer(collective));
        self
    }

    /// The model fitted.
    pub fn model(&self) -> Model {
        self.model
    }
    /// The most epochs a fit runs.
    pub fn max_epochs_settings(&self) -> usize {
        self.max_epochs
    }
    /// The update rule and its learning rate (in a [`Fitted::settings`],
    /// the rate the fit ran with).
    pub fn optimizer_settings(&self) -> Optimizer {
        self.optimizer
    }

    /// Whether the fit chooses its learning rate from the data
    /// ([`GradientDescent::auto_learning_rate`]).
    pub fn learning_rate_from_data(&self) -> bool {
        self.auto_learning_rate
    }

    /// Whether the fit chooses its momentum factor from the data: asked for
    /// with [`GradientDescent::auto_momentum`], on the full batch. With a
    /// rate given by hand, β is the best for that rate
    /// (max((1 − √(ημ))², (1 − √(ηL))²), bounded for Nesterov's form where it
    /// would be unstable), else (√κ − 1)/(√κ + 1) for the rate 1/L.
    pub fn momentum_from_data(&self) -> bool {
        self.auto_momentum && self.variant == Variant::Full
    }

    /// Checks every hyperparameter, without data.
    pub fn validate(&self) -> Result<()> {
        self.plan().map(|_| ())
    }

    pub(crate) fn plan(&self) -> Result<TrainingPlan> {
        if self.variant == Variant::MiniBatch(0) {
            return Err(Error::ZeroBatchSize);
        }
        self.shuffle.validate()?;
        // An automatic rate replaces the optimizer's, which is not checked.
        match self.auto_learning_rate {
            true => self.optimizer.with_learning_rate(1.0).validate()?,
            false => self.optimizer.validate()?,
        }
        self.schedule.validate()?;
        if self.auto_momentum && !matches!(self.optimizer, Optimizer::Momentum(_)) {
            return Err(Error::MomentumOfRule {
                rule: self.optimizer.name().to_string(),
            });
        }
        if let Some(fraction) = self.validation_fraction {
            if !(fraction > 0.0 && fraction < 1.0) {
                return Err(Error::InvalidValidationFraction { value: fraction });
            }
        }
        if self.standardize_target && self.model != Model::Linear {
            return Err(Error::TargetScalingOfLabels);
        }
        let loss = self.loss_settings();
        if loss.model() != self.model {
            return Err(Error::LossOfModel {
                loss: loss.name(),
                fits: loss.model().name(),
                model: self.model.name(),
            });
        }
        if let Some(epsilon) = loss.epsilon() {
            // Huber's quadratic part needs room: at ε = 0 the loss is 0.
            let least_ok = matches!(loss, Loss::Huber { .. }) && epsilon > 0.0
                || !matches!(loss, Loss::Huber { .. }) && epsilon >= 0.0;
            if !(epsilon.is_finite() && least_ok) {
                return Err(Error::InvalidEpsilon { value: epsilon });
            }
        }
        if let Loss::Multinomial { classes } = loss {
            let limit = crate::data::table::MAX_CLASSES;
            if classes < 2 || classes as usize > limit {
                return Err(Error::InvalidClassCount { classes, limit });
            }
            if self.track_parameters {
                return Err(Error::PerClass {
                    method: "track_parameters",
                    classes: classes as usize,
                    instead: "on_epoch",
                });
            }
        }
        if self.standardize_target && loss == Loss::Poisson {
            return Err(Error::TargetScalingOfLoss { loss: loss.name() });
        }
        self.solver.validate()?;
        if self.average == Some(0) {
            return Err(Error::ZeroAverageStart);
        }
        if let Some(class_weight) = self.class_weight {
            if self.model != Model::Logistic {
                return Err(Error::ClassWeightOfModel {
                    model: self.model.name(),
                });
            }
            if let (ClassWeight::Given { .. }, Some(classes @ 3..)) = (class_weight, loss.classes()) {
                return Err(Error::PerClass {
                    method: "ClassWeight::Given",
                    classes,
                    instead: "ClassWeight::Balanced",
                });
            }
            if let ClassWeight::Given { negative, positive } = class_weight {
                for (label, weight) in [(0.0, negative), (1.0, positive)] {
                    if !(weight.is_finite() && weight >= 0.0) {
                        return Err(Error::InvalidClassWeight { label, weight });
                    }
                }
                if negative == 0.0 && positive == 0.0 {
                    return Err(Error::ZeroWeights);
                }
            }
        }
        if let Solver::Lbfgs { .. } = self.solver {
            let solver = "lbfgs";
            if self.variant != Variant::Full {
                return Err(Error::SolverOfVariant {
                    solver,
                    variant: self.variant.to_string(),
                });
            }
            if !loss.is_smooth() {
                return Err(Error::SolverOfLoss {
                    solver,
                    loss: loss.name(),
                });
            }
            if self.l1 != 0.0 {
                return Err(Error::SolverOfPenalty { solver, l1: self.l1 });
            }
            if self.average.is_some() {
                return Err(Error::AverageOfSolver { solver });
            }
        }
        if let Some(checkpoint) = &self.checkpoint {
            if checkpoint.every == 0 {
                return Err(Error::ZeroCheckpointInterval);
            }
        }
        if let Some(ratio) = self.l1_ratio.filter(|r| !(0.0..=1.0).contains(r)) {
            return Err(Error::InvalidL1Ratio { value: ratio });
        }
        for (part, value) in [("L2", self.l2), ("L1", self.l1)] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(Error::InvalidPenalty { part, value });
            }
        }
        if self.max_epochs == 0 {
            return Err(Error::ZeroEpochs);
        }
        // A tolerance, where given, with the patience it waits.
        let rule = |tolerance: Option<f64>| match tolerance {
            Some(tolerance) if !(tolerance.is_finite() && tolerance >= 0.0) => {
                Err(Error::InvalidTolerance { value: tolerance })
            }
            Some(_) if self.patience == 0 => Err(Error::ZeroPatience),
            Some(tolerance) => Ok(Some(EarlyStopping {
                tolerance,
                patience: self.patience,
            })),
            None => Ok(None),
        };
        let early_stopping = rule(self.tolerance)?;
        if !(self.rate_cut_factor > 0.0 && self.rate_cut_factor < 1.0) {
            return Err(Error::InvalidRateCut {
                value: self.rate_cut_factor,
            });
        }
        let parameter_tolerance = rule(self.parameter_tolerance)?;
        if self.divergence_factor.is_nan() || self.divergence_factor <= 1.0 {
            return Err(Error::InvalidDivergenceFactor {
                value: self.divergence_factor,
            });
        }
        Ok(TrainingPlan {
            solver: self.solver,
            batch_size: self.variant.batch_size(),
            shuffle: self.shuffle,
            optimizer: self.optimizer,
            schedule: self.schedule,
            max_epochs: self.max_epochs,
            early_stopping,
            rate_cuts: RateCuts {
                times: self.rate_cuts,
                factor: self.rate_cut_factor,
            },
            parameter_tolerance,
            divergence_factor: self.divergence_factor,
            seed: self.seed,
            track_parameters: self.track_parameters,
            on_epoch: self.on_epoch.clone(),
            average_from: self.average,
            checkpoint_every: self.checkpoint.as_ref().map(|c| c.every),
            reducer: None,
            shard: None,
        })
    }

    /// Fits the model to rows `x` and targets `y`.
    pub fn fit(&self, x: ArrayView2<f32>, y: ArrayView1<f32>) -> Result<Fitted> {
        self.fit_with_weights(x, y, None)
    }

    /// Fits the model to rows `x` and targets `y`, each row weighing
    /// `weights` (scikit-learn's `sample_weight`): the loss and gradient are
    /// weighted means Σ sᵢ ℓᵢ / Σ sᵢ. Weights must be finite and at least 0
    /// ([`Error::InvalidWeight`]), not all 0 ([`Error::ZeroWeights`]), one
    /// per row.
    pub fn fit_weighted(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView1<f32>,
        weights: ArrayView1<f32>,
    ) -> Result<Fitted> {
        self.fit_with_weights(x, y, Some(weights))
    }

    fn fit_with_weights(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView1<f32>,
        weights: Option<ArrayView1<f32>>,
    ) -> Result<Fitted> {
        if let Some(ranks) = &self.ranks {
            return self.fit_shard(ranks, x, y, weights);
        }
        let plan = self.plan()?;
        if let Some(weights) = weights {
            if weights.len() != y.len() {
                return Err(Error::WeightCountMismatch {
                    rows: y.len(),
                    weights: weights.len(),
                });
            }
            // Every weight, held-out rows' too, named by its row here.
            let weights = weights.to_vec();
            check_weights(&weights, 0)?;
        }
        validate_targets_of(self.loss_settings(), x, y)?;
        // Held-out rows, where asked for: the fit sees the others only.
        let split = self
            .validation_fraction
            .map(|fraction| train_test_split(x, y, fraction, self.seed, self.model == Model::Logistic))
            .transpose()?;
        let (x, y) = match &split {
            Some(split) => (split.x_train.view(), split.y_train.view()),
            None => (x, y),
        };
        // The weights of the training and the held-out rows.
        let (train_weights, test_weights) = match (weights, &split) {
            (None, _) => (None, None),
            (Some(weights), None) => (Some(weights.to_vec()), None),
            (Some(weights), Some(split)) => {
                let mut held = vec![false; weights.len()];
                split.test_rows.iter().for_each(|&i| held[i] = true);
                let (test, train): (Vec<_>, Vec<_>) = weights.iter().zip(&held).partition(|(_, &h)| h);
                (
                    Some(train.into_iter().map(|(&w, _)| w).collect::<Vec<f32>>()),
                    Some(test.into_iter().map(|(&w, _)| w).collect::<Vec<f32>>()),
                )
            }
        };
        let resuming = matches!(self.start, Some(StartFrom::Resume(_)));
        let fresh = Pass {
            features: (self.standardize && !resuming)
                .then(|| Standardizer::fit(x))
                .transpose()?,
            target: (self.standardize_target && !resuming)
                .then(|| TargetScaling::fit(y))
                .transpose()?,
            target_mean: y.iter().map(|&v| f64::from(v)).sum::<f64>() / y.len().max(1) as f64,
        };
        let data = InMemory::unchecked(x, y);
        let held_out = split
            .as_ref()
            .map(|s| InMemory::unchecked(s.x_test.view(), s.y_test.view()));
        let weighted = train_weights.map(|w| Weighted::new(&data, w)).transpose()?;
        let held_out_weighted = match (&held_out, test_weights) {
            (Some(rows), Some(weights)) => Some(Weighted::held_out(rows, weights)),
            _ => None,
        };
        let data: &dyn DataSource = match &weighted {
            Some(weighted) => weighted,
            None => &data,
        };
        let held_out: Option<&dyn DataSource> = match (&held_out_weighted, &held_out) {
            (Some(weighted), _) => Some(weighted),
            (None, Some(rows)) => Some(rows),
            (None, None) => None,
        };
        self.fit_prepared(plan, data, held_out, fresh)
    }

    /// A data-parallel fit of this rank's rows `x`, `y` (weighted by
    /// `weights`): the source path's, which the ranks all take.
    fn fit_shard(
        &self,
        ranks: &Reducer,
        x: ArrayView2<f32>,
        y: ArrayView1<f32>,
        weights: Option<ArrayView1<f32>>,
    ) -> Result<Fitted> {
        // Every rank checks its rows and weights, and all learn of any
        // rank's bad ones.
        let rows = ranks.agree(InMemory::new(x, y))?;
        let weighted = ranks.agree(weights.map(|w| Weighted::new(&rows, w.to_vec())).transpose())?;
        match &weighted {
            None => self.fit_source(&rows),
            Some(weighted) => self.fit_source(weighted),
        }
    }

    /// A hash of the settings every rank of a data-parallel fit must share
    /// (not the observer, the context, the checkpoint's path, the device
    /// or the memory budgets, which are each rank's own).
    fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut shared = self.clone();
        shared.on_epoch = None;
        shared.gpu_context = None;
        shared.ranks = None;
        shared.checkpoint = None;
        shared.device = Device::Auto;
        shared.memory_budget = None;
        shared.gpu_memory_budget = None;
        let mut hasher = std::hash::DefaultHasher::new();
        format!("{shared:?}").hash(&mut hasher);
        hasher.finish()
    }

    /// Fits the model to the rows of `source` (a file, or rows of the
    /// caller's own making), read block by block: one pass checks the
    /// targets and, where asked, measures the standardization in float64;
    /// the engines then read the rows whole where they fit the memory
    /// budget, else block by block ([`GradientDescent::memory_budget`]).
    /// A validation fraction needs the rows in memory ([`GradientDescent::fit`]).
    pub fn fit_source(&self, source: &dyn DataSource) -> Result<Fitted> {
        // A rank's first collective: all ranks fit the same settings on
        // rows of as many features.
        if let Some(ranks) = &self.ranks {
            ranks.enter(self.fingerprint(), source.features())?;
            if self.validation_fraction.is_some() {
                return Err(Error::Distributed {
                    reason: "a validation fraction holds out rows of one process; hold out rows of each shard instead"
                        .into(),
                });
            }
        }
        let plan = self.plan()?;
        if self.validation_fraction.is_some() {
            return Err(Error::NotWithSource {
                setting: "validation_fraction",
            });
        }
        let resuming = matches!(self.start, Some(StartFrom::Resume(_)));
        let (features, target) = (
            self.standardize && !resuming,
            self.standardize_target && !resuming,
        );
        let fresh = match &self.ranks {
            None => one_pass(source, self.loss_settings(), features, target)?,
            Some(ranks) => one_pass_of_ranks(ranks, source, self.loss_settings(), features, target)?,
        };
        self.fit_prepared(plan, source, None, fresh)
    }

    /// The engine of the fit: more classes than the GPU kernels hold run on
    /// the CPU, unless the GPU is asked for by name, and so do the
    /// mini-batches of a data-parallel fit (a GPU rank sums the full batch,
    /// or L-BFGS's points, for the ranks to add). Every rank agrees on it.
    fn choose_engine(&self, margins: usize) -> Result<Box<dyn crate::engine::Engine>> {
        let device = match self.device {
            Device::Auto if margins > GPU_MAX_CLASSES => Device::Cpu,
            Device::Auto if self.ranks.is_some() && self.variant != Variant::Full => Device::Cpu,
            device => device,
        };
        let engine = choice::choose(
            device,
            self.gpu_context.as_ref().map(|handle| &handle.0),
            self.memory_budget,
            self.gpu_memory_budget,
        );
        match &self.ranks {
            Some(ranks) => ranks.agree(engine),
            None => engine,
        }
    }

    /// The features' standardization and the target's scaling the fit
    /// runs on: those of the fit it resumes (which must have asked for the
    /// same), else those measured on the data (`fresh`).
    fn scalings(
        &self,
        resumed: Option<&Fitted>,
        fresh: &Pass,
    ) -> Result<(Option<Standardizer>, Option<TargetScaling>)> {
        let target_scaling = match (self.standardize_target, &self.start) {
            (false, _) => None,
            (true, Some(StartFrom::Resume(fitted))) => {
                Some(fitted.target_scaling.ok_or_else(|| Error::ResumeMismatch {
                    reason: "the fit resumed from did not standardize its target; this one does".into(),
                })?)
            }
            (true, _) => fresh.target,
        };
        let standardizer = match resumed {
            Some(fitted) if self.standardize => {
                Some(fitted.standardizer.clone().ok_or_else(|| Error::ResumeMismatch {
                    reason: "the fit resumed from did not standardize; this one does".into(),
                })?)
            }
            Some(fitted) if fitted.standardizer.is_some() => {
                return Err(Error::ResumeMismatch {
                    reason: "the fit resumed from standardized; this one does not".into(),
                })
            }
            _ => fresh.features.clone(),
        };
        Ok((standardizer, target_scaling))
    }

    /// Where the fit starts, on the scale the engine sees: zeros, the
    /// parameters of a warm start (checked, then scaled), or the state of
    /// the fit it resumes, which must be of the same model, loss,
    /// averaging, update rule and scaling.
    fn starting_point(
        &self,
        features: usize,
        margins: usize,
        standardizer: Option<&Standardizer>,
        target_scaling: Option<&TargetScaling>,
    ) -> Result<Start> {
        Ok(match &self.start {
            None => Start::Fresh(vec![0.0; (features + 1) * margins]),
            Some(StartFrom::Parameters(..)) if margins > 1 => {
                return Err(Error::PerClass {
                    method: "warm_start",
                    classes: margins,
                    instead: "resume",
                })
            }
            Some(StartFrom::Parameters(weights, bias)) => {
                validate_parameters(weights.view(), *bias, features)?;
                let (weights, bias) = match standardizer {
                    Some(s) => s.to_standardized(weights.view(), *bias)?,
                    None => (weights.clone(), *bias),
                };
                let (weights, bias) = match target_scaling {
                    Some(t) => t.to_scaled(weights.view(), bias),
                    None => (weights, bias),
                };
                Start::Fresh(weights.iter().copied().chain([bias]).collect())
            }
            Some(StartFrom::Resume(fitted)) => {
                if fitted.model != self.model {
                    return Err(Error::ResumeMismatch {
                        reason: format!(
                            "the fit resumed from is {}, this one {}",
                            fitted.model, self.model
                        ),
                    });
                }
                let (before, now) = (fitted.settings.loss_settings(), self.loss_settings());
                if before != now {
                    return Err(Error::ResumeMismatch {
                        reason: format!(
                            "the fit resumed from minimized the {before} loss, this one the {now}"
                        ),
                    });
                }
                if fitted.target_scaling.is_some() && target_scaling.is_none() {
                    return Err(Error::ResumeMismatch {
                        reason: "the fit resumed from standardized its target; this one does not".into(),
                    });
                }
                if fitted.settings.average.is_some() && fitted.settings.average != self.average {
                    return Err(Error::ResumeMismatch {
                        reason: format!(
                            "the fit resumed from averaged from step {:?}, this one {:?}",
                            fitted.settings.average, self.average
                        ),
                    });
                }
                let (before, now) = (fitted.settings.optimizer.name(), self.optimizer.name());
                if before != now {
                    return Err(Error::ResumeMismatch {
                        reason: format!("the fit resumed from ran {before}, this one {now}"),
                    });
                }
                Start::Resume(Box::new(fitted.state.clone()))
            }
        })
    }

    /// The learning rate and momentum the fit takes from the data, where
    /// asked for (gradient descent only: L-BFGS has no learning rate to
    /// choose), set in `plan`; the loss's curvature they come from. `data`
    /// is the rows before scaling (to name a non-finite value), `source`
    /// what the engine reads, `global_rows` every rank's rows.
    fn automatic_settings(
        &self,
        plan: &mut TrainingPlan,
        engine: &dyn crate::engine::Engine,
        source: &dyn DataSource,
        data: &dyn DataSource,
        fresh: &Pass,
        global_rows: usize,
    ) -> Result<Option<Curvature>> {
        let features = source.features();
        let descent = self.solver == Solver::GradientDescent;
        let momentum_from_data = descent && self.momentum_from_data();
        let curvature = match descent && self.auto_learning_rate || momentum_from_data {
            true => Some(
                curvature::measure(engine, source, plan.reducer.as_ref()).map_err(|e| match e {
                    // Non-finite X makes the curvature non-finite: name the value.
                    Error::NoCurvature { .. } => self.non_finite(data).err().unwrap_or(e),
                    other => other,
                })?,
            ),
            false => None,
        };
        if let (true, Some(curvature)) = (momentum_from_data, &curvature) {
            let beta = match (self.auto_learning_rate, plan.optimizer) {
                // A rate given by hand: β for that rate.
                (false, Optimizer::Momentum(momentum)) => curvature::momentum_for_rate(
                    curvature,
                    self.loss_settings(),
                    fresh.target_mean,
                    momentum.learning_rate,
                    momentum.nesterov,
                ),
                _ => curvature::automatic_momentum(curvature),
            };
            plan.optimizer = plan.optimizer.with_momentum(beta);
        }
        if let (true, Some(curvature)) = (descent && self.auto_learning_rate, &curvature) {
            let rate = curvature::automatic_rate(
                &plan.optimizer,
                self.loss_settings(),
                fresh.target_mean,
                curvature,
                plan.batch_size.map(|b| b.min(global_rows)),
                features,
                momentum_from_data,
            );
            plan.optimizer = plan.optimizer.with_learning_rate(rate);
        }
        Ok(curvature)
    }

    /// The fit on `data`, with `held_out` rows where asked for and the
    /// statistics `fresh` measured on `data` (unused when resuming).
    fn fit_prepared(
        &self,
        mut plan: TrainingPlan,
        data: &dyn DataSource,
        held_out_data: Option<&dyn DataSource>,
        fresh: Pass,
    ) -> Result<Fitted> {
        // Class weights multiply the rows' own weights, on the held-out
        // rows too.
        let factors = self.class_factors(data)?;
        let class_weighted = factors.clone().map(|f| ClassWeighted::new(data, f));
        let held_out_class_weighted = factors
            .zip(held_out_data)
            .map(|(f, rows)| ClassWeighted::new(rows, f));
        let data: &dyn DataSource = match &class_weighted {
            Some(weighted) => weighted,
            None => data,
        };
        let held_out_data: Option<&dyn DataSource> = match &held_out_class_weighted {
            Some(weighted) => Some(weighted),
            None => held_out_data,
        };
        let (rows, features) = (data.rows(), data.features());
        let margins = self.loss_settings().margins();
        // A rank of a data-parallel fit learns where its rows lie (that
        // every rank has as many features, `Reducer::enter` checked).
        if let Some(ranks) = &self.ranks {
            let shard = ranks.shard(rows)?;
            if shard.total > u32::MAX as usize {
                return Err(Error::TooManyRows { rows: shard.total });
            }
            plan.reducer = Some(ranks.clone());
            plan.shard = Some(shard);
        }
        let global_rows = plan.shard.map_or(rows, |s| s.total);
        let resumed = match &self.start {
            Some(StartFrom::Resume(fitted)) => Some(fitted.as_ref()),
            _ => None,
        };
        let (standardizer, target_scaling) = self.scalings(resumed, &fresh)?;
        let start = self.starting_point(features, margins, standardizer.as_ref(), target_scaling.as_ref())?;
        let engine = self.choose_engine(margins)?;
        let standardized = (standardizer.is_some() || target_scaling.is_some())
            .then(|| Standardized::new(data, standardizer.as_ref(), target_scaling));
        let source: &dyn DataSource = match &standardized {
            Some(standardized) => standardized,
            None => data,
        };
        let held_out_standardized = held_out_data.and_then(|rows| {
            (standardizer.is_some() || target_scaling.is_some())
                .then(|| Standardized::new(rows, standardizer.as_ref(), target_scaling))
        });
        let held_out: Option<&dyn DataSource> = match (&held_out_standardized, held_out_data) {
            (Some(standardized), _) => Some(standardized),
            (None, rows) => rows,
        };
        let curvature =
            self.automatic_settings(&mut plan, engine.as_ref(), source, data, &fresh, global_rows)?;
        let objective = Objective {
            loss: self.loss_settings(),
            penalty: self.penalty_settings(),
        };
        let assembly = Assembly {
            settings: self,
            resumed,
            standardizer: standardizer.as_ref(),
            target_scaling,
            curvature,
            device: engine.device(),
            optimizer: plan.optimizer,
            features,
            margins,
        };
        let to_fitted = |outcome: Outcome| assembly.fitted(outcome);
        // Each checkpoint is the fit so far, saved as a model is.
        #[cfg(feature = "serde")]
        let write_checkpoint = |snapshot: &Outcome| -> Result<()> {
            let Some(checkpoint) = &self.checkpoint else {
                return Ok(());
            };
            let write = || -> Result<()> {
                let fitted = to_fitted(snapshot.clone())?;
                match &checkpoint.encoding {
                    Some(encoding) => fitted.with_encoding(encoding.clone())?.save(&checkpoint.path),
                    None => fitted.save(&checkpoint.path),
                }
            };
            // Every rank holds the same fit: rank 0 writes it, and all
            // learn whether it could.
            match &self.ranks {
                None => write(),
                Some(ranks) if ranks.0.rank() == 0 => ranks.agree(write()),
                Some(ranks) => ranks.agree(Ok(())),
            }
        };
        #[cfg(feature = "serde")]
        let checkpoint: Option<driver::WriteCheckpoint> = self
            .checkpoint
            .as_ref()
            .map(|_| &write_checkpoint as driver::WriteCheckpoint);
        #[cfg(not(feature = "serde"))]
        let checkpoint = None;
        let outcome = driver::train(
            engine.as_ref(),
            source,
            held_out,
            objective,
            &plan,
            start,
            checkpoint,
        )?;
        if outcome.records.first().is_some_and(|r| !r.loss.is_finite()) {
            self.non_finite(data)?;
        }

        to_fitted(outcome)
    }
}

/// What turns the driver's outcome into a [`Fitted`]: the fit's settings
/// and what it learned besides its parameters.
struct Assembly<'a> {
    settings: &'a GradientDescent,
    /// The fit this one resumes, whose history it continues.
    resumed: Option<&'a Fitted>,
    standardizer: Option<&'a Standardizer>,
    target_scaling: Option<TargetScaling>,
    curvature: Option<Curvature>,
    device: Device,
    /// The update rule as the fit ran it (its rate and momentum chosen).
    optimizer: Optimizer,
    features: usize,
    margins: usize,
}

impl Assembly<'_> {
    /// One margin's weights and bias in the original units.
    fn margin_in_original_units(&self, weights: Array1<f32>, bias: f32) -> Result<(Array1<f32>, f32)> {
        let (weights, bias) = match &self.target_scaling {
            Some(t) => t.to_original(weights.view(), bias),
            None => (weights, bias),
        };
        match self.standardizer {
            Some(s) => s.to_original(weights.view(), bias),
            None => Ok((weights, bias)),
        }
    }

    /// The weights (features × margins) and the biases in the original
    /// units.
    fn original_units(&self, parameters: &[f32]) -> Result<(Array2<f32>, Array1<f32>)> {
        let (features, margins) = (self.features, self.margins);
        if parameters.len() != (features + 1) * margins {
            return Err(Error::FeatureCountMismatch {
                expected: (features + 1) * margins,
                found: parameters.len(),
            });
        }
        let (weights, biases) = parameters.split_at(features * margins);
        let weights = ArrayView2::from_shape((features, margins), weights).expect("features × margins");
        let mut original = Array2::zeros((features, margins));
        let mut original_biases = Array1::zeros(margins);
        for k in 0..margins {
            let (w, b) = self.margin_in_original_units(weights.column(k).to_owned(), biases[k])?;
            original.column_mut(k).assign(&w);
            original_biases[k] = b;
        }
        Ok((original, original_biases))
    }

    /// The fit, from the driver's outcome: the final one, or a
    /// checkpoint's snapshot.
    fn fitted(&self, outcome: Outcome) -> Result<Fitted> {
        let (weights, biases) = self.original_units(&outcome.parameters)?;
        // Finite parameters that overflow in the data's units would
        // print as ±inf, score NaN and save as nulls: an error, not a
        // model. (A diverged fit is reported as such.)
        if !matches!(outcome.stop_reason, StopReason::Diverged { .. }) {
            check_finite_coefficients(&weights, &biases, self.standardizer.is_some())?;
        }
        let resumed = self.resumed;
        // A resumed fit's history continues the earlier one's: its records,
        // its clock and its tracked parameters.
        let (mut records, mut parameters) = resumed.map_or_else(Default::default, |f| {
            (f.history.records.clone(), f.history.parameters.clone())
        });
        let seconds_before = records.last().map_or(0.0, |r| r.seconds);
        records.extend(outcome.records.into_iter().map(|r| EpochRecord {
            seconds: seconds_before + r.seconds,
            ..r
        }));
        // Tracked only with one margin (refused by `plan` otherwise).
        for path in &outcome.parameter_path {
            let (weights, biases) = self.original_units(path)?;
            parameters.push((weights.column(0).to_owned(), biases[0]));
        }
        let history = History { records, parameters };
        let mut settings = self.settings.clone();
        settings.start = None;
        settings.gpu_context = None;
        settings.ranks = None;
        settings.on_epoch = None;
        settings.checkpoint = None;
        settings.optimizer = self.optimizer;
        // Checked, and not saved: a loaded model's settings equal these.
        settings.l1_ratio = None;
        Ok(Fitted {
            weights,
            biases,
            history,
            stop_reason: outcome.stop_reason,
            best_epoch: outcome.best_epoch,
            gradient_evaluations: outcome.gradient_evaluations
                + resumed.map_or(0, |f| f.gradient_evaluations),
            work: outcome.work,
            device: self.device,
            standardizer: self.standardizer.cloned(),
            target_scaling: self.target_scaling,
            curvature: self.curvature,
            encoding: resumed.and_then(|f| f.encoding.clone()),
            feature_names: resumed.and_then(|f| f.feature_names.clone()),
            state: outcome.state,
            model: self.settings.model,
            settings,
        })
    }
}

impl GradientDescent {
    /// The first non-finite feature of `data` as the error naming it: on
    /// a rank of a data-parallel fit, every rank learns of it.
    fn non_finite(&self, data: &dyn DataSource) -> Result<()> {
        match &self.ranks {
            Some(ranks) => ranks.agree(find_non_finite(data)),
            None => find_non_finite(data),
        }
    }

    /// The factor of each class's label (0, 1, …) that the class weights
    /// ask for, where they ask: `Balanced` counts the labels of `data` (one
    /// pass over its targets).
    fn class_factors(&self, data: &dyn DataSource) -> Result<Option<Vec<f32>>> {
        let classes = self.loss_settings().classes().unwrap_or(2);
        match self.class_weight {
            None => Ok(None),
            Some(ClassWeight::Given { negative, positive }) => Ok(Some(vec![negative, positive])),
            Some(ClassWeight::Balanced) => {
                let mut rows = data.rows();
                let count = || -> Result<Vec<usize>> {
                    let mut counts = vec![0usize; classes];
                    let block = 1 << 16;
                    for start in (0..rows).step_by(block) {
                        let targets = data.targets(start, block.min(rows - start))?;
                        for &y in targets.iter() {
                            if let Some(count) = counts.get_mut(y as usize) {
                                *count += 1;
                            }
                        }
                    }
                    Ok(counts)
                };
                let mut counts = match &self.ranks {
                    Some(ranks) => ranks.agree(count())?,
                    None => count()?,
                };
                // A data-parallel fit weighs the classes of every rank's rows.
                if let Some(ranks) = &self.ranks {
                    let mut totals: Vec<f64> =
                        counts.iter().map(|&c| c as f64).chain([rows as f64]).collect();
                    ranks.0.all_reduce_sum(&mut totals)?;
                    rows = totals.pop().unwrap_or_default() as usize;
                    counts = totals.into_iter().map(|c| c as usize).collect();
                }
                let balanced = |count: usize| match count {
                    0 => 0.0,
                    _ => (rows as f64 / (classes as f64 * count as f64)) as f32,
                };
                Ok(Some(counts.into_iter().map(balanced).collect()))
            }
        }
    }
}

/// A fitted model: its parameters in the units of the data it was given,
/// how the fit went, and what a resumed fit continues from.
#[derive(Debug, Clone)]
pub struct Fitted {
    pub(crate) model: Model,
    /// features × margins (one column but for the multinomial loss).
    pub(crate) weights: Array2<f32>,
    /// One per margin.
    pub(crate) biases: Array1<f32>,
    pub(crate) history: History,
    pub(crate) stop_reason: StopReason,
    pub(crate) best_epoch: Option<usize>,
    pub(crate) gradient_evaluations: u64,
    pub(crate) work: WorkCounts,
    pub(crate) device: Device,
    pub(crate) standardizer: Option<Standardizer>,
    pub(crate) target_scaling: Option<TargetScaling>,
    pub(crate) curvature: Option<Curvature>,
    pub(crate) encoding: Option<Encoding>,
    pub(crate) feature_names: Option<Vec<String>>,
    pub(crate) settings: GradientDescent,
    pub(crate) state: TrainingState,
}

/// Two fits are equal when their models, histories and states are: what
/// the engine did to run them ([`Fitted::work`]) belongs to the run, is not
/// saved, and is not compared (a saved model reads back equal).
impl PartialEq for Fitted {
    fn eq(&self, other: &Self) -> bool {
        // Every field named, so that a new one is not left out unseen.
        let Fitted {
            model,
            weights,
            biases,
            history,
            stop_reason,
            best_epoch,
            gradient_evaluations,
            work: _,
            device,
            standardizer,
            target_scaling,
            curvature,
            encoding,
            feature_names,
            settings,
            state,
        } = self;
        *model == other.model
            && *weights == other.weights
            && *biases == other.biases
            && *history == other.history
            && *stop_reason == other.stop_reason
            && *best_epoch == other.best_epoch
            && *gradient_evaluations == other.gradient_evaluations
            && *device == other.device
            && *standardizer == other.standardizer
            && *target_scaling == other.target_scaling
            && *curvature == other.curvature
            && *encoding == other.encoding
            && *feature_names == other.feature_names
            && *settings == other.settings
            && *state == other.state
    }
}

impl Fitted {
    /// Linear or logistic.
    pub fn model(&self) -> Model {
        self.model
    }
    /// One weight per feature, in the original units: the weights of the
    /// model's one margin (of class 0's for a multinomial model, whose
    /// weights are [`Fitted::coefficients`]).
    pub fn weights(&self) -> ArrayView1<'_, f32> {
        self.weights.column(0)
    }
    /// The intercept, in the original units (class 0's for a multinomial
    /// model, whose intercepts are [`Fitted::intercepts`]).
    pub fn bias(&self) -> f32 {
        self.biases[0]
    }
    /// The weights as features × margins, in the original units: one
    /// column, or one per class for a multinomial model (scikit-learn's
    /// `coef_`, transposed).
    pub fn coefficients(&self) -> ArrayView2<'_, f32> {
        self.weights.view()
    }
    /// The intercepts, one per margin: one, or one per class for a
    /// multinomial model (scikit-learn's `intercept_`).
    pub fn intercepts(&self) -> ArrayView1<'_, f32> {
        self.biases.view()
    }
    /// The classes of a classification model (2 for a binary one), `None`
    /// for a regression.
    pub fn classes(&self) -> Option<usize> {
        self.settings.loss_settings().classes()
    }
    /// The loss per epoch.
    pub fn history(&self) -> &History {
        &self.history
    }
    /// Why the fit stopped.
    pub fn stop_reason(&self) -> StopReason {
        self.stop_reason
    }
    /// The epoch whose parameters the fit returned, when early stopping
    /// chose them (the one with the lowest loss); `None` when they are
    /// those of the last epoch, or the last finite ones of a diverged run.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }
    /// Batch gradients evaluated (one per step).
    pub fn gradient_evaluations(&self) -> u64 {
        self.gradient_evaluations
    }
    /// What the engine did to run this fit's epochs (not those of the fit
    /// it resumed): dispatches, submissions and readbacks on the GPU, bytes
    /// of X read, seconds spent shuffling.
    pub fn work(&self) -> WorkCounts {
        self.work
    }
    /// The device that ran the fit: `Cpu` or `Gpu`.
    pub fn device(&self) -> Device {
        self.device
    }
    /// The standardization the fit ran on, if it standardized.
    pub fn standardizer(&self) -> Option<&Standardizer> {
        self.standardizer.as_ref()
    }
    /// The scaling of the target the fit ran on, if it scaled it.
    pub fn target_scaling(&self) -> Option<TargetScaling> {
        self.target_scaling
    }
    /// The extreme curvatures of the loss measured for the automatic
    /// learning rate or momentum, where the fit chose either.
    pub fn curvature(&self) -> Option<Curvature> {
        self.curvature
    }
    /// The settings that produced this fit, with the learning rate it ran
    /// with (the one chosen, where it was chosen).
    pub fn settings(&self) -> &GradientDescent {
        &self.settings
    }
    /// scikit-learn's `partial_fit`: `epochs` more epochs over new rows
    /// `x` and `y` (one pass each), continuing exactly where this fit
    /// stood: its parameters, optimizer state (Adam's step count, the
    /// velocities), schedule position and shuffling position. The new rows
    /// are standardized as this fit's rows were (the statistics are not
    /// measured again), the rate and momentum are the ones this fit ran
    /// with, and no tolerance ends the epochs early (a divergence still
    /// does). The history continues this fit's.
    ///
    /// ```
    /// use downhill::{GradientDescent, Optimizer, Synthetic, Variant, Model};
    /// let data = Synthetic::generate(Model::Linear, 2000, 3, 0.1, 1)?;
    /// let (first, second) = (0..1000, 1000..2000);
    /// let slice = |rows: std::ops::Range<usize>| {
    ///     (data.x.slice(ndarray::s![rows.clone(), ..]).to_owned(), data.y.slice(ndarray::s![rows]).to_owned())
    /// };
    /// let (x1, y1) = slice(first);
    /// let fitted = GradientDescent::linear()
    ///     .variant(Variant::MiniBatch(32))
    ///     .optimizer(Optimizer::adam(0.01))
    ///     .max_epochs(1)
    ///     .fit(x1.view(), y1.view())?;
    /// let (x2, y2) = slice(second);
    /// let online = fitted.partial_fit(x2.view(), y2.view(), 1)?;
    /// assert_eq!(online.history().len(), 2);
    /// # Ok::<(), downhill::Error>(())
    /// ```
    pub fn partial_fit(&self, x: ArrayView2<f32>, y: ArrayView1<f32>, epochs: usize) -> Result<Fitted> {
        self.continuation(epochs).fit(x, y)
    }

    /// [`Fitted::partial_fit`] over the rows of `source`.
    pub fn partial_fit_source(&self, source: &dyn DataSource, epochs: usize) -> Result<Fitted> {
        self.continuation(epochs).fit_source(source)
    }

    /// The settings that continue this fit for `epochs` epochs over new
    /// rows: resumed, with the rate and momentum it ran with, no
    /// tolerance and no held-out rows: what [`Fitted::partial_fit`] runs,
    /// for settings to add to (a data-parallel continuation,
    /// [`GradientDescent::distributed`]).
    pub fn continuation(&self, epochs: usize) -> GradientDescent {
        let mut settings = self
            .settings
            .clone()
            .resume(self)
            .max_epochs(epochs)
            .auto_learning_rate(false)
            .auto_momentum(false);
        settings.tolerance = None;
        settings.parameter_tolerance = None;
        settings.validation_fraction = None;
        settings
    }

    /// What [`GradientDescent::resume`] continues from.
    pub fn training_state(&self) -> &TrainingState {
        &self.state
    }
    /// How a table's columns became this model's features, where the
    /// model was fitted to a table read by [`crate::data::table::read_table`].
    pub fn encoding(&self) -> Option<&Encoding> {
        self.encoding.as_ref()
    }
    /// Keeps `encoding` with the model (saved with it), and names the
    /// features by it; an error unless it yields one feature per weight.
    pub fn with_encoding(mut self, encoding: Encoding) -> Result<Self> {
        self = self.with_feature_names(encoding.feature_names())?;
        self.encoding = Some(encoding);
        Ok(self)
    }
    /// The names of the features, where they were given.
    pub fn feature_names(&self) -> Option<&[String]> {
        self.feature_names.as_deref()
    }
    /// Names the features (saved with the model; `predict` on a table
    /// matches columns by them); an error unless there is one per weight.
    pub fn with_feature_names(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Result<Self> {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        if names.len() != self.weights.nrows() {
            return Err(Error::FeatureCountMismatch {
                expected: self.weights.nrows(),
                found: names.len(),
            });
        }
        self.feature_names = Some(names);
        Ok(self)
    }

    /// The margins x·w + b (scikit-learn's `decision_function`), after
    /// checking the shape and the values; a multinomial model has one per
    /// class ([`Fitted::class_margins`]).
    pub fn margins(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        self.one_margin("margins", "class_margins")?;
        Ok(self.class_margins(x)?.column(0).to_owned())
    }

    /// The margins of every row, one column per margin: x·Wₖ + bₖ for each
    /// class k of a multinomial model, the one margin otherwise.
    pub fn class_margins(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        if x.ncols() != self.weights.nrows() {
            return Err(Error::FeatureCountMismatch {
                expected: self.weights.nrows(),
                found: x.ncols(),
            });
        }
        validate_features(x)?;
        if self.weights.ncols() == 1 {
            // One margin: a dot product per row, rows in parallel (a matrix
            // product of one column would first copy x into packed panels).
            // Rows made contiguous first, so that every layout of the same
            // values sums in the same order.
            let (w, b) = (self.weights.column(0), self.biases[0]);
            let x = x.as_standard_layout();
            let z = ndarray::Zip::from(x.rows()).par_map_collect(|row| row.dot(&w) + b);
            return Ok(z.insert_axis(ndarray::Axis(1)));
        }
        Ok(x.dot(&self.weights) + &self.biases)
    }

    /// An error unless the model has one margin per row (`method` asked;
    /// `instead` answers per class).
    fn one_margin(&self, method: &'static str, instead: &'static str) -> Result<()> {
        match self.weights.ncols() {
            1 => Ok(()),
            classes => Err(Error::PerClass {
                method,
                classes,
                instead,
            }),
        }
    }

    /// Predictions: x·w + b for the linear model (e^(x·w + b) under the
    /// Poisson loss), the class for the logistic model: 1 where the margin
    /// is positive (the probability exceeds 0.5), else 0 (as scikit-learn);
    /// for a multinomial model the class of the largest margin (the first
    /// of equal ones).
    pub fn predict(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        let z = self.class_margins(x)?;
        let loss = self.settings.loss_settings();
        Ok(match (self.model, z.ncols()) {
            (Model::Linear, _) => z.column(0).mapv(|z| loss.prediction(z).unwrap_or(z)),
            (Model::Logistic, 1) => z.column(0).mapv(|z| if z > 0.0 { 1.0 } else { 0.0 }),
            (Model::Logistic, _) => z
                .rows()
                .into_iter()
                .map(|margins| {
                    let best = margins
                        .iter()
                        .enumerate()
                        .fold(
                            (0, f32::NEG_INFINITY),
                            |(k, m), (j, &z)| if z > m { (j, z) } else { (k, m) },
                        );
                    best.0 as f32
                })
                .collect(),
        })
    }

    /// The probability of class 1: σ(z) under the log loss, and
    /// (clamp(z, −1, 1) + 1)/2 under the modified Huber loss (as
    /// scikit-learn); an error for the linear model and the hinge losses,
    /// and for a multinomial model ([`Fitted::class_probabilities`]).
    pub fn predict_proba(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        self.probability_check()?;
        self.one_margin("predict_proba", "class_probabilities")?;
        Ok(self.class_probabilities(x)?.column(1).to_owned())
    }

    /// The probability of every class, one column per class (scikit-learn's
    /// `predict_proba`): the softmax of the margins for a multinomial
    /// model, (1 − p, p) for a binary one with probabilities.
    pub fn class_probabilities(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        self.probabilities_of_margins(self.class_margins(x)?.view())
    }

    /// [`Fitted::class_probabilities`] of rows whose margins
    /// ([`Fitted::class_margins`]) are at hand.
    pub fn probabilities_of_margins(&self, margins: ArrayView2<f32>) -> Result<Array2<f32>> {
        self.probability_check()?;
        let loss = self.settings.loss_settings();
        if margins.ncols() != self.biases.len() {
            return Err(Error::FeatureCountMismatch {
                expected: self.biases.len(),
                found: margins.ncols(),
            });
        }
        let mut probabilities = Array2::zeros((margins.nrows(), loss.classes().unwrap_or(2)));
        for (z, mut row) in margins.rows().into_iter().zip(probabilities.rows_mut()) {
            let row = row.as_slice_mut().expect("a row of a new array is contiguous");
            match z.as_slice() {
                Some(z) => loss.class_probabilities(z, row),
                None => loss.class_probabilities(&z.to_vec(), row),
            };
        }
        Ok(probabilities)
    }

    /// An error unless the model gives probabilities.
    fn probability_check(&self) -> Result<()> {
        if self.model != Model::Logistic {
            return Err(Error::NotLogistic);
        }
        let loss = self.settings.loss_settings();
        if loss.margins() == 1 && loss.prediction(0.0f32).is_none() {
            return Err(Error::NoProbability { loss: loss.name() });
        }
        Ok(())
    }

    /// R² for the linear model, accuracy for the logistic model.
    pub fn score(&self, x: ArrayView2<f32>, y: ArrayView1<f32>) -> Result<f64> {
        validate_targets_of(self.settings.loss_settings(), x, y)?;
        let predicted = self.predict(x)?;
        match self.model {
            Model::Linear => metrics::r2(y, predicted.view()),
            Model::Logistic => metrics::accuracy(y, predicted.view()),
        }
    }
}

/// Evaluates the gradient and the loss of `model` over every row of `x` at
/// weights `w` and bias `b`, on `device`.
///
/// ```
/// use downhill::{gradient, Device, Model};
/// use ndarray::array;
/// let x = array![[1.0f32], [2.0]];
/// let y = array![1.0f32, 2.0];
/// // At w = 0, b = 0 the residuals are −y: ∂/∂w = (2/2)·(−1·1 − 2·2) = −5.
/// let g = gradient(&Device::Cpu, Model::Linear, x.view(), y.view(), array![0.0f32].view(), 0.0)?;
/// assert_eq!(g.weights[0], -5.0);
/// assert_eq!(g.bias, -3.0);
/// assert_eq!(g.loss, 2.5);
/// # Ok::<(), downhill::Error>(())
/// ```
pub fn gradient(
    device: &Device,
    model: Model,
    x: ArrayView2<f32>,
    y: ArrayView1<f32>,
    w: ArrayView1<f32>,
    b: f32,
) -> Result<Gradient> {
    gradient_on(
        choice::choose(*device, None, None, None)?.as_ref(),
        model,
        x,
        y,
        w,
        b,
    )
}

/// [`Error::CoefficientOverflow`] for the first weight (feature by
/// feature, margin by margin) or bias that is not finite in the data's
/// units; `standardized` says whether un-standardizing made it so.
fn check_finite_coefficients(weights: &Array2<f32>, biases: &Array1<f32>, standardized: bool) -> Result<()> {
    let margins = biases.len();
    let overflow = |feature, margin, value| Error::CoefficientOverflow {
        feature,
        margin,
        margins,
        value,
        standardized,
    };
    if let Some(((j, k), &value)) = weights.indexed_iter().find(|(_, w)| !w.is_finite()) {
        return Err(overflow(Some(j), k, value));
    }
    match biases.iter().position(|b| !b.is_finite()) {
        Some(k) => Err(overflow(None, k, biases[k])),
        None => Ok(()),
    }
}
