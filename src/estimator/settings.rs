//! The builder: `GradientDescent`, its settings, and their checks into
//! the plan a fit runs ([`TrainingPlan`]).

use crate::estimator::error::EstimatorError;
use std::sync::Arc;

use ndarray::Array1;

use crate::data::scaling::{Standardizer, TargetScaling};
use crate::data::shuffle::Shuffle;
use crate::data::table::Encoding;
use crate::distributed::Collective;
use crate::engine::device::Device;
use crate::engine::gpu::GpuContext;
use crate::error::{Error, Result};
use crate::math::loss::Loss;
use crate::math::model::Model;
use crate::math::objective::{Objective, Penalty};
use crate::math::optim::Optimizer;
use crate::reduce::Reducer;
use crate::train::history::{EpochRecord, History};
use crate::train::plan::{EarlyStopping, EpochObserver, RateCuts, StopFlag, TrainingPlan};
use crate::train::schedule::Schedule;
use crate::train::solver::{GradientTest, Solver};
use crate::train::state::TrainingState;

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
            Ok(0) => Err(Error::Estimator(EstimatorError::ZeroBatchSize)),
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
    pub(super) model: Model,
    pub(super) variant: Variant,
    #[cfg_attr(feature = "serde", serde(default))]
    pub(super) shuffle: Shuffle,
    pub(super) optimizer: Optimizer,
    pub(super) schedule: Schedule,
    pub(super) l2: f32,
    #[cfg_attr(feature = "serde", serde(default))]
    pub(super) l1: f32,
    #[cfg_attr(feature = "serde", serde(default))]
    pub(super) loss: Option<Loss>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub(super) solver: Solver,
    #[cfg_attr(feature = "serde", serde(default))]
    pub(super) class_weight: Option<ClassWeight>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub(super) average: Option<u64>,
    /// The elastic net's ratio as given, checked by `check`.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(super) l1_ratio: Option<f32>,
    pub(super) standardize: bool,
    #[cfg_attr(feature = "serde", serde(default))]
    pub(super) standardize_target: bool,
    #[cfg_attr(feature = "serde", serde(default))]
    pub(super) auto_learning_rate: bool,
    #[cfg_attr(feature = "serde", serde(default))]
    pub(super) auto_momentum: bool,
    #[cfg_attr(feature = "serde", serde(default))]
    pub(super) validation_fraction: Option<f64>,
    pub(super) max_epochs: usize,
    pub(super) tolerance: Option<f64>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub(super) gradient_test: GradientTest,
    #[cfg_attr(feature = "serde", serde(default))]
    pub(super) parameter_tolerance: Option<f64>,
    pub(super) patience: usize,
    #[cfg_attr(feature = "serde", serde(default = "default_rate_cuts"))]
    pub(super) rate_cuts: usize,
    #[cfg_attr(feature = "serde", serde(default = "default_rate_cut_factor"))]
    pub(super) rate_cut_factor: f64,
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float64"))]
    pub(super) divergence_factor: f64,
    pub(super) seed: u64,
    pub(super) device: Device,
    #[cfg_attr(feature = "serde", serde(default))]
    pub(super) memory_budget: Option<u64>,
    #[cfg_attr(feature = "serde", serde(default))]
    pub(super) gpu_memory_budget: Option<u64>,
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(super) track_parameters: bool,
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(super) on_epoch: Option<EpochObserver>,
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(super) stop_flag: Option<StopFlag>,
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(super) start: Option<StartFrom>,
    /// Where and how often the fit writes checkpoints.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(super) checkpoint: Option<Checkpoint>,
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(super) gpu_context: Option<ContextHandle>,
    /// The ranks of a data-parallel fit this process is one of.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(super) ranks: Option<Reducer>,
}

/// Where and how often a fit writes its checkpoints.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Checkpoint {
    pub(super) path: std::path::PathBuf,
    pub(super) every: usize,
    /// Saved with each checkpoint, so that it can be resumed on the table.
    pub(super) encoding: Option<Encoding>,
}

/// Where a fit starts when not from zero.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum StartFrom {
    /// These weights and bias, in the original units.
    Parameters(Array1<f32>, f32),
    /// Exactly where an earlier fit stopped.
    Resume(Box<Resumed>),
}

/// What a resumed fit takes from the fit it continues
/// ([`GradientDescent::resume`], beside [`crate::Fitted`] in fitted.rs).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Resumed {
    pub(super) model: Model,
    pub(super) settings: GradientDescent,
    pub(super) standardizer: Option<Standardizer>,
    pub(super) target_scaling: Option<TargetScaling>,
    pub(super) state: TrainingState,
    pub(super) history: History,
    pub(super) gradient_evaluations: u64,
    pub(super) encoding: Option<Encoding>,
    pub(super) feature_names: Option<Vec<String>>,
}

/// A context given to the builder; two are equal when they are the same
/// context.
#[derive(Debug, Clone)]
pub(super) struct ContextHandle(pub(super) Arc<GpuContext>);

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
            gradient_test: GradientTest::Norm,
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
            stop_flag: None,
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
        // The penalty as given is now the two strengths' (an L2 penalty
        // where there is no L1 part).
        self.l1_ratio = (self.l1 != 0.0).then(|| self.l1 / (self.l1 + l2));
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
        // The share of L1 as given, which keeps the penalty's kind at
        // strength 0 (a path's strengths replace it).
        self.l1_ratio = match penalty {
            Penalty::ElasticNet { l1_ratio, .. } => Some(l1_ratio),
            Penalty::L1(_) => Some(1.0),
            Penalty::L2(_) => None,
        };
        self.l2 = penalty.l2_strength();
        self.l1 = penalty.l1_strength();
        self
    }
    /// The penalty these settings fit with.
    pub fn penalty_settings(&self) -> Penalty {
        Penalty::of_strengths(self.l2, self.l1)
    }
    /// The penalty as given, of its kind even at strength 0: what a path
    /// or a cross-validation sets at each of its strengths.
    pub(crate) fn penalty_as_given(&self) -> Penalty {
        match self.l1_ratio {
            Some(1.0) => Penalty::L1(self.l1),
            Some(l1_ratio) => Penalty::ElasticNet {
                alpha: self.l1 + self.l2,
                l1_ratio,
            },
            None => self.penalty_settings(),
        }
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
    /// full-batch descent, with the rules of [`Curvature`](crate::Curvature) for
    /// mini-batches, momentum and the adaptive rules.
    /// [`Fitted::curvature`](crate::Fitted::curvature) says what was measured and
    /// [`Fitted::settings`](crate::Fitted::settings) holds the rate chosen.
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
    /// ([`crate::EstimatorError::MomentumOfRule`]).
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
    /// stops once the gradient's Euclidean norm (or its largest component:
    /// [`GradientDescent::gradient_test`]) is below it.
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = Some(tolerance);
        self
    }
    /// What L-BFGS compares its gradient tolerance
    /// ([`GradientDescent::tolerance`]) with: the gradient's norm (the
    /// default) or its largest component, as scikit-learn's `lbfgs` does.
    pub fn gradient_test(mut self, test: GradientTest) -> Self {
        self.gradient_test = test;
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
    /// Gradient descent only: [`Solver::Lbfgs`] stops by its gradient
    /// ([`GradientDescent::tolerance`]).
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
    /// as [`StopReason::StoppedImproving`](crate::StopReason::StoppedImproving) (scikit-learn's
    /// `learning_rate='adaptive'`). A mini-batch's epoch loss at a constant
    /// rate stops improving once the run reaches the noise of that rate,
    /// which can lie far from the optimum; each cut brings the noise down.
    /// `times` 0 stops at the first stall. The full batch, whose loss has
    /// no noise, stops at once ([`StopReason::Converged`](crate::StopReason::Converged)). The cuts
    /// multiply the schedule's rate; the history records the rate used.
    /// `factor` must lie in (0, 1) ([`crate::EstimatorError::InvalidRateCut`]).
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
    /// [`crate::EstimatorError::PerClass`]: resume it instead).
    pub fn warm_start(mut self, weights: impl Into<Array1<f32>>, bias: f32) -> Self {
        self.start = Some(StartFrom::Parameters(weights.into(), bias));
        self
    }
    /// Writes the fit so far to `path` every `every` epochs (counted over
    /// the whole history, a resumed fit's earlier epochs included), as
    /// [`Fitted::save`](crate::Fitted::save) writes a model: the parameters, the optimizer
    /// state, the schedule's and the shuffling's positions and the stop
    /// rules' memory (under L-BFGS, its curvature pairs; an epoch is then
    /// an iteration), with [`StopReason::Checkpoint`](crate::StopReason::Checkpoint). Each write goes to a
    /// file beside `path` first and is then renamed over it, so an
    /// interrupted fit leaves its last whole checkpoint. Resuming the
    /// checkpoint ([`GradientDescent::resume`] with the same settings and
    /// data, for the epochs left) equals the uninterrupted fit (bit for bit
    /// on the CPU). `every` = 0 is [`crate::EstimatorError::ZeroCheckpointInterval`].
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
    /// [`Fitted::with_encoding`](crate::Fitted::with_encoding) would, so that the checkpoint resumes on
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
    /// multinomial fit refuses it ([`crate::EstimatorError::PerClass`]).
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
    /// Stops the fit at the end of the epoch (or L-BFGS iteration) during
    /// which `flag` turns true, with [`StopReason::Interrupted`](crate::StopReason::Interrupted): the
    /// parameters are that epoch's end, and [`GradientDescent::resume`]
    /// continues from them. Another thread raises it (the Python package
    /// does on a Ctrl-C).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use downhill::{GradientDescent, StopReason};
    /// use ndarray::array;
    /// let flag = Arc::new(AtomicBool::new(false));
    /// let raise = Arc::clone(&flag);
    /// let x = array![[1.0f32], [2.0]];
    /// let y = array![1.0f32, 2.0];
    /// let fitted = GradientDescent::linear()
    ///     .max_epochs(100)
    ///     .stop_when(Arc::clone(&flag))
    ///     .on_epoch(move |record, _max| {
    ///         if record.epoch == 3 {
    ///             raise.store(true, Ordering::Relaxed);
    ///         }
    ///     })
    ///     .fit(x.view(), y.view())?;
    /// assert_eq!(fitted.stop_reason(), StopReason::Interrupted { epoch: 3 });
    /// # Ok::<(), downhill::Error>(())
    /// ```
    pub fn stop_when(mut self, flag: Arc<std::sync::atomic::AtomicBool>) -> Self {
        self.stop_flag = Some(StopFlag(flag));
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
    /// The update rule and its learning rate (in a [`Fitted::settings`](crate::Fitted::settings),
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
        self.check().map(|_| ())
    }

    /// The settings checked, once, into what fitting reads
    /// ([`Checked`]); the first setting that cannot be run is the error.
    pub(crate) fn check(&self) -> Result<Checked<'_>> {
        if self.variant == Variant::MiniBatch(0) {
            return Err(Error::Estimator(EstimatorError::ZeroBatchSize));
        }
        self.shuffle.validate()?;
        // An automatic rate replaces the optimizer's, which is not checked.
        match self.auto_learning_rate {
            true => self.optimizer.with_learning_rate(1.0).validate()?,
            false => self.optimizer.validate()?,
        }
        self.schedule.validate()?;
        if self.auto_momentum && !matches!(self.optimizer, Optimizer::Momentum(_)) {
            return Err(Error::Estimator(EstimatorError::MomentumOfRule {
                rule: self.optimizer.name().to_string(),
            }));
        }
        if let Some(fraction) = self.validation_fraction {
            if !(fraction > 0.0 && fraction < 1.0) {
                return Err(Error::Estimator(EstimatorError::InvalidValidationFraction {
                    value: fraction,
                }));
            }
        }
        if self.standardize_target && self.model != Model::Linear {
            return Err(Error::Estimator(EstimatorError::TargetScalingOfLabels));
        }
        let loss = self.loss_settings();
        if loss.model() != self.model {
            return Err(Error::Estimator(EstimatorError::LossOfModel {
                loss: loss.name(),
                fits: loss.model().name(),
                model: self.model.name(),
            }));
        }
        if let Some(epsilon) = loss.epsilon() {
            // Huber's quadratic part needs room: at ε = 0 the loss is 0.
            let least_ok = matches!(loss, Loss::Huber { .. }) && epsilon > 0.0
                || !matches!(loss, Loss::Huber { .. }) && epsilon >= 0.0;
            if !(epsilon.is_finite() && least_ok) {
                return Err(Error::Estimator(EstimatorError::InvalidEpsilon {
                    value: epsilon,
                }));
            }
        }
        if let Loss::Multinomial { classes } = loss {
            let limit = crate::data::table::MAX_CLASSES;
            if classes < 2 || classes as usize > limit {
                return Err(Error::Estimator(EstimatorError::InvalidClassCount {
                    classes,
                    limit,
                }));
            }
            if self.track_parameters {
                return Err(Error::Estimator(EstimatorError::PerClass {
                    method: "track_parameters",
                    classes: classes as usize,
                    instead: "on_epoch",
                }));
            }
        }
        if self.standardize_target && loss == Loss::Poisson {
            return Err(Error::Estimator(EstimatorError::TargetScalingOfLoss {
                loss: loss.name(),
            }));
        }
        self.solver.validate()?;
        if self.average == Some(0) {
            return Err(Error::Estimator(EstimatorError::ZeroAverageStart));
        }
        if let Some(class_weight) = self.class_weight {
            if self.model != Model::Logistic {
                return Err(Error::Estimator(EstimatorError::ClassWeightOfModel {
                    model: self.model.name(),
                }));
            }
            if let (ClassWeight::Given { .. }, Some(classes @ 3..)) = (class_weight, loss.classes()) {
                return Err(Error::Estimator(EstimatorError::PerClass {
                    method: "ClassWeight::Given",
                    classes,
                    instead: "ClassWeight::Balanced",
                }));
            }
            if let ClassWeight::Given { negative, positive } = class_weight {
                for (label, weight) in [(0.0, negative), (1.0, positive)] {
                    if !(weight.is_finite() && weight >= 0.0) {
                        return Err(Error::Estimator(EstimatorError::InvalidClassWeight {
                            label,
                            weight,
                        }));
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
                return Err(Error::Estimator(EstimatorError::SolverOfVariant {
                    solver,
                    variant: self.variant.to_string(),
                }));
            }
            if !loss.is_smooth() {
                return Err(Error::Estimator(EstimatorError::SolverOfLoss {
                    solver,
                    loss: loss.name(),
                }));
            }
            if self.l1 != 0.0 {
                return Err(Error::Estimator(EstimatorError::SolverOfPenalty {
                    solver,
                    l1: self.l1,
                }));
            }
            if self.average.is_some() {
                return Err(Error::Estimator(EstimatorError::AverageOfSolver { solver }));
            }
        }
        if let Some(checkpoint) = &self.checkpoint {
            if checkpoint.every == 0 {
                return Err(Error::Estimator(EstimatorError::ZeroCheckpointInterval));
            }
        }
        if let Some(ratio) = self.l1_ratio.filter(|r| !(0.0..=1.0).contains(r)) {
            return Err(Error::Estimator(EstimatorError::InvalidL1Ratio { value: ratio }));
        }
        for (part, value) in [("L2", self.l2), ("L1", self.l1)] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(Error::Estimator(EstimatorError::InvalidPenalty { part, value }));
            }
        }
        if self.max_epochs == 0 {
            return Err(Error::Estimator(EstimatorError::ZeroEpochs));
        }
        // A tolerance, where given, with the patience it waits.
        let rule = |tolerance: Option<f64>| match tolerance {
            Some(tolerance) if !(tolerance.is_finite() && tolerance >= 0.0) => {
                Err(Error::Estimator(EstimatorError::InvalidTolerance {
                    value: tolerance,
                }))
            }
            Some(_) if self.patience == 0 => Err(Error::Estimator(EstimatorError::ZeroPatience)),
            Some(tolerance) => Ok(Some(EarlyStopping {
                tolerance,
                patience: self.patience,
            })),
            None => Ok(None),
        };
        let early_stopping = rule(self.tolerance)?;
        if !(self.rate_cut_factor > 0.0 && self.rate_cut_factor < 1.0) {
            return Err(Error::Estimator(EstimatorError::InvalidRateCut {
                value: self.rate_cut_factor,
            }));
        }
        let parameter_tolerance = rule(self.parameter_tolerance)?;
        if self.divergence_factor.is_nan() || self.divergence_factor <= 1.0 {
            return Err(Error::Estimator(EstimatorError::InvalidDivergenceFactor {
                value: self.divergence_factor,
            }));
        }
        let training = TrainingPlan {
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
            gradient_test: self.gradient_test,
            divergence_factor: self.divergence_factor,
            seed: self.seed,
            track_parameters: self.track_parameters,
            on_epoch: self.on_epoch.clone(),
            stop_flag: self.stop_flag.clone(),
            average_from: self.average,
            checkpoint_every: self.checkpoint.as_ref().map(|c| c.every),
            reducer: None,
            shard: None,
            column_sums: None,
            last_evaluations: None,
        };
        let descent = self.solver == Solver::GradientDescent;
        Ok(Checked {
            settings: self,
            training,
            model: self.model,
            objective: Objective {
                loss,
                penalty: self.penalty_settings(),
            },
            standardize: self.standardize,
            standardize_target: self.standardize_target,
            validation_fraction: self.validation_fraction,
            seed: self.seed,
            descent_rate_from_data: descent && self.auto_learning_rate,
            descent_momentum_from_data: descent && self.momentum_from_data(),
            class_weight: self.class_weight,
            start: self.start.as_ref(),
            device: self.device,
            gpu_context: self.gpu_context.as_ref().map(|handle| &handle.0),
            memory_budget: self.memory_budget,
            gpu_memory_budget: self.gpu_memory_budget,
            checkpoint: self.checkpoint.as_ref(),
            ranks: self.ranks.as_ref(),
            engine: None,
        })
    }
}

/// The settings of a fit, checked once ([`GradientDescent::check`]):
/// everything fitting reads, none of it to be checked again (linfa's
/// `ParamGuard` is the model). Fitting (fit.rs) is a short sequence of
/// named steps over it.
pub(crate) struct Checked<'g> {
    /// The settings as given, which the fitted model keeps.
    pub(super) settings: &'g GradientDescent,
    /// What the driver runs; the learning rate and momentum are set from
    /// the data where asked, the shard where the fit is one rank's.
    pub(crate) training: TrainingPlan,
    pub(super) model: Model,
    pub(super) objective: Objective,
    /// Whether the features are standardized, and the target scaled.
    pub(super) standardize: bool,
    pub(super) standardize_target: bool,
    /// The fraction of rows held out, drawn with `seed`.
    pub(super) validation_fraction: Option<f64>,
    pub(super) seed: u64,
    /// Whether the learning rate, and the momentum, come from the loss's
    /// curvature (gradient descent only: L-BFGS has neither).
    pub(super) descent_rate_from_data: bool,
    pub(super) descent_momentum_from_data: bool,
    pub(super) class_weight: Option<ClassWeight>,
    pub(super) start: Option<&'g StartFrom>,
    /// Where to run, and the memory the engines may take.
    pub(super) device: Device,
    pub(super) gpu_context: Option<&'g Arc<GpuContext>>,
    pub(super) memory_budget: Option<u64>,
    pub(super) gpu_memory_budget: Option<u64>,
    /// Where and how often checkpoints are written (with the `serde`
    /// feature, which writes them).
    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    pub(super) checkpoint: Option<&'g Checkpoint>,
    /// The ranks of a data-parallel fit this process is one of.
    pub(super) ranks: Option<&'g Reducer>,
    /// The engine a lane of a lockstep of folds gives the fit (each fold's
    /// models fitted on it), in place of the one the settings choose.
    pub(super) engine: Option<&'g dyn crate::engine::Engine>,
}
