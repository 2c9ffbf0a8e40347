//! The builder, its checked plan, and what a fit returns.

#[cfg(feature = "gpu")]
use std::sync::Arc;
use std::time::Instant;

use ndarray::{Array1, ArrayView1, ArrayView2};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::cpu;
use crate::data::{validate_features, validate_parameters, validate_targets, Standardizer};
#[cfg(feature = "gpu")]
use crate::device::ContextHandle;
use crate::device::{Device, Engine, GivenContext};
use crate::error::{Error, Result};
#[cfg(feature = "gpu")]
use crate::gpu::{self, GpuContext};
use crate::metrics;
use crate::model::Model;
use crate::optim::Optimizer;
use crate::schedule::{Schedule, Scheduler};

/// Which rows each step uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Variant {
    /// Every row, every step: one step per epoch.
    #[default]
    Full,
    /// One row per step: `MiniBatch(1)`.
    Stochastic,
    /// Consecutive slices of a fresh seeded permutation each epoch; the last,
    /// shorter slice is used too.
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

/// Why a fit stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StopReason {
    /// The epoch loss improved by less than the tolerance for `patience`
    /// epochs in a row; `epoch` is the last one run (1-based).
    Converged {
        /// The last epoch run.
        epoch: usize,
    },
    /// `max_epochs` epochs ran.
    MaxEpochs,
    /// The epoch loss became NaN or infinite, or grew beyond the divergence
    /// factor times the first epoch's; the parameters are the last finite
    /// ones: from the start of `epoch` (1-based), or of the epoch before
    /// when a step had already overflowed them.
    Diverged {
        /// The epoch whose loss diverged.
        epoch: usize,
    },
}

/// One epoch of the loss history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean of the batch losses seen during the epoch, each taken at the
    /// parameters its step started from (for `Full`, the loss at the start of
    /// the epoch). Includes the L2 term. On standardized data when
    /// `standardize(true)`.
    pub loss: f64,
    /// The learning rate used during the epoch.
    pub learning_rate: f64,
    /// Seconds from the start of the fit to the end of this epoch.
    pub seconds: f64,
}

/// The loss history of a fit, one record per epoch run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct History {
    records: Vec<EpochRecord>,
    parameters: Vec<(Array1<f32>, f32)>,
}

impl History {
    /// Every epoch's record, in order.
    pub fn records(&self) -> &[EpochRecord] {
        &self.records
    }
    /// The epoch losses, in order.
    pub fn losses(&self) -> Vec<f64> {
        self.records.iter().map(|r| r.loss).collect()
    }
    /// The loss of the last epoch run.
    pub fn final_loss(&self) -> Option<f64> {
        self.records.last().map(|r| r.loss)
    }
    /// Epochs run.
    pub fn len(&self) -> usize {
        self.records.len()
    }
    /// Whether no epoch ran.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
    /// The weights and bias at the end of each epoch, in the original
    /// units, when the fit was asked to
    /// [track them](GradientDescent::track_parameters); empty otherwise.
    pub fn parameters(&self) -> &[(Array1<f32>, f32)] {
        &self.parameters
    }
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
pub struct GradientDescent {
    model: Model,
    variant: Variant,
    optimizer: Optimizer,
    schedule: Schedule,
    l2: f32,
    standardize: bool,
    max_epochs: usize,
    tolerance: Option<f64>,
    patience: usize,
    divergence_factor: f64,
    seed: u64,
    warm_start: Option<(Array1<f32>, f32)>,
    device: Device,
    track_parameters: bool,
    #[cfg(feature = "gpu")]
    gpu_context: Option<ContextHandle>,
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

    /// Defaults: full batch, SGD with learning rate 0.01, constant schedule,
    /// no penalty, no standardization, 100 epochs, no early stopping
    /// (patience 5 once a tolerance is set), divergence factor 1e6, seed 0,
    /// `Device::Auto`.
    pub fn new(model: Model) -> Self {
        GradientDescent {
            model,
            variant: Variant::Full,
            optimizer: Optimizer::default(),
            schedule: Schedule::Constant,
            l2: 0.0,
            standardize: false,
            max_epochs: 100,
            tolerance: None,
            patience: 5,
            divergence_factor: 1e6,
            seed: 0,
            warm_start: None,
            device: Device::Auto,
            track_parameters: false,
            #[cfg(feature = "gpu")]
            gpu_context: None,
        }
    }

    /// Full batch, stochastic or mini-batch.
    pub fn variant(mut self, variant: Variant) -> Self {
        self.variant = variant;
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
    pub fn l2(mut self, l2: f32) -> Self {
        self.l2 = l2;
        self
    }
    /// Fit on standardized features and report the parameters in the
    /// original units.
    pub fn standardize(mut self, standardize: bool) -> Self {
        self.standardize = standardize;
        self
    }
    /// The most epochs to run.
    pub fn max_epochs(mut self, max_epochs: usize) -> Self {
        self.max_epochs = max_epochs;
        self
    }
    /// Enables early stopping: stop when the epoch loss improves on the best
    /// so far by less than `tolerance` for `patience` epochs in a row (as
    /// scikit-learn's `tol` and `n_iter_no_change`).
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = Some(tolerance);
        self
    }
    /// Epochs without enough improvement before early stopping (default 5).
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }
    /// A loss larger than this factor times the first epoch's counts as
    /// divergence (default 1e6; `f64::INFINITY` leaves only NaN and ∞).
    pub fn divergence_factor(mut self, factor: f64) -> Self {
        self.divergence_factor = factor;
        self
    }
    /// Seed of the per-epoch permutations.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Start from these parameters (in the original units) instead of zero.
    pub fn warm_start(mut self, weights: impl Into<Array1<f32>>, bias: f32) -> Self {
        self.warm_start = Some((weights.into(), bias));
        self
    }
    /// Records the parameters at the end of every epoch in
    /// [`History::parameters`] (off by default; on the GPU it costs one more
    /// small readback per epoch).
    pub fn track_parameters(mut self, track: bool) -> Self {
        self.track_parameters = track;
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
    #[cfg(feature = "gpu")]
    pub fn gpu_context(mut self, context: Arc<GpuContext>) -> Self {
        self.gpu_context = Some(ContextHandle(context));
        self
    }

    fn given_context(&self) -> GivenContext<'_> {
        #[cfg(feature = "gpu")]
        return self.gpu_context.as_ref().map(|handle| &handle.0);
        #[cfg(not(feature = "gpu"))]
        None
    }

    /// Checks every hyperparameter, without data.
    pub fn validate(&self) -> Result<()> {
        self.plan().map(|_| ())
    }

    fn plan(&self) -> Result<TrainingPlan> {
        if self.variant == Variant::MiniBatch(0) {
            return Err(Error::ZeroBatchSize);
        }
        self.optimizer.validate()?;
        self.schedule.validate()?;
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(Error::InvalidPenalty { value: self.l2 });
        }
        if self.max_epochs == 0 {
            return Err(Error::ZeroEpochs);
        }
        let early_stopping = match self.tolerance {
            Some(tolerance) if !(tolerance.is_finite() && tolerance >= 0.0) => {
                return Err(Error::InvalidTolerance { value: tolerance })
            }
            Some(_) if self.patience == 0 => return Err(Error::ZeroPatience),
            Some(tolerance) => Some(EarlyStopping {
                tolerance,
                patience: self.patience,
            }),
            None => None,
        };
        if self.divergence_factor.is_nan() || self.divergence_factor <= 1.0 {
            return Err(Error::InvalidDivergenceFactor {
                value: self.divergence_factor,
            });
        }
        Ok(TrainingPlan {
            batch_size: self.variant.batch_size(),
            optimizer: self.optimizer,
            schedule: self.schedule,
            max_epochs: self.max_epochs,
            early_stopping,
            divergence_factor: self.divergence_factor,
            seed: self.seed,
            track_parameters: self.track_parameters,
        })
    }

    /// Fits the model to rows `x` and targets `y`.
    pub fn fit(&self, x: ArrayView2<f32>, y: ArrayView1<f32>) -> Result<Fitted> {
        let plan = self.plan()?;
        validate_targets(self.model, x, y)?;
        let (start_weights, start_bias) = match &self.warm_start {
            Some((weights, bias)) => {
                validate_parameters(weights.view(), *bias, x.ncols())?;
                (weights.clone(), *bias)
            }
            None => (Array1::zeros(x.ncols()), 0.0),
        };
        let engine = Engine::choose(self.device, self.given_context())?;

        let standardizer = self.standardize.then(|| Standardizer::fit(x)).transpose()?;
        let original_x = x;
        let (x, start_weights, start_bias) = match &standardizer {
            Some(s) => {
                let (w, b) = s.to_standardized(start_weights.view(), start_bias)?;
                (s.transform(x)?.into(), w, b)
            }
            None => (x.as_standard_layout(), start_weights, start_bias),
        };
        let y = y.as_standard_layout();
        let problem = Problem::new(self.model, &x, &y, self.l2);
        let mut start = start_weights.to_vec();
        start.push(start_bias);

        let outcome = match &engine {
            Engine::Cpu => cpu::train(&problem, &plan, start),
            #[cfg(feature = "gpu")]
            Engine::Gpu(context) => gpu::train(context, &problem, &plan, start)?,
        };
        if outcome
            .history
            .records()
            .first()
            .is_some_and(|r| !r.loss.is_finite())
        {
            validate_features(original_x)?;
        }

        let original_units = |parameters: &[f32]| -> Result<(Array1<f32>, f32)> {
            let (weights, bias) = parameters.split_at(x.ncols());
            let weights = Array1::from(weights.to_vec());
            match &standardizer {
                Some(s) => s.to_original(weights.view(), bias[0]),
                None => Ok((weights, bias[0])),
            }
        };
        let (weights, bias) = original_units(&outcome.parameters)?;
        let mut history = outcome.history;
        history.parameters = outcome
            .parameter_path
            .iter()
            .map(|p| original_units(p))
            .collect::<Result<_>>()?;
        Ok(Fitted {
            model: self.model,
            weights,
            bias,
            history,
            stop_reason: outcome.stop_reason,
            gradient_evaluations: outcome.gradient_evaluations,
            device: engine.device(),
        })
    }
}

/// A fitted model: its parameters in the units of the data it was given,
/// and how the fit went.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    model: Model,
    weights: Array1<f32>,
    bias: f32,
    history: History,
    stop_reason: StopReason,
    gradient_evaluations: u64,
    device: Device,
}

impl Fitted {
    /// Linear or logistic.
    pub fn model(&self) -> Model {
        self.model
    }
    /// One weight per feature, in the original units.
    pub fn weights(&self) -> ArrayView1<'_, f32> {
        self.weights.view()
    }
    /// The intercept, in the original units.
    pub fn bias(&self) -> f32 {
        self.bias
    }
    /// The loss per epoch.
    pub fn history(&self) -> &History {
        &self.history
    }
    /// Why the fit stopped.
    pub fn stop_reason(&self) -> StopReason {
        self.stop_reason
    }
    /// Batch gradients evaluated (one per step).
    pub fn gradient_evaluations(&self) -> u64 {
        self.gradient_evaluations
    }
    /// The device that ran the fit: `Cpu` or `Gpu`.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The margins x·w + b, after checking the shape and the values.
    fn margins(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        if x.ncols() != self.weights.len() {
            return Err(Error::FeatureCountMismatch {
                expected: self.weights.len(),
                found: x.ncols(),
            });
        }
        validate_features(x)?;
        Ok(x.dot(&self.weights) + self.bias)
    }

    /// Predictions: x·w + b for the linear model, the class for the logistic
    /// model: 1 where the probability exceeds 0.5, else 0 (as scikit-learn).
    pub fn predict(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        let z = self.margins(x)?;
        Ok(match self.model {
            Model::Linear => z,
            Model::Logistic => z.mapv(|z| if z > 0.0 { 1.0 } else { 0.0 }),
        })
    }

    /// The probability of class 1; an error for the linear model.
    pub fn predict_proba(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        if self.model != Model::Logistic {
            return Err(Error::NotLogistic);
        }
        Ok(self.margins(x)?.mapv(|z| self.model.link(z)))
    }

    /// R² for the linear model, accuracy for the logistic model.
    pub fn score(&self, x: ArrayView2<f32>, y: ArrayView1<f32>) -> Result<f64> {
        validate_targets(self.model, x, y)?;
        let predicted = self.predict(x)?;
        match self.model {
            Model::Linear => metrics::r2(y, predicted.view()),
            Model::Logistic => metrics::accuracy(y, predicted.view()),
        }
    }
}

/// One gradient of the (unpenalized) mean loss over all rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Gradient {
    /// ∂loss/∂w.
    pub weights: Array1<f32>,
    /// ∂loss/∂b.
    pub bias: f32,
    /// The loss at the given parameters.
    pub loss: f64,
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
    validate_targets(model, x, y)?;
    validate_parameters(w, b, x.ncols())?;
    gradient_on(&Engine::choose(*device, None)?, model, x, y, w, b)
}

/// [`gradient`] on `engine`, the data already checked.
pub(crate) fn gradient_on(
    engine: &Engine,
    model: Model,
    x: ArrayView2<f32>,
    y: ArrayView1<f32>,
    w: ArrayView1<f32>,
    b: f32,
) -> Result<Gradient> {
    let (x_rows, y) = (x.as_standard_layout(), y.as_standard_layout());
    let problem = Problem::new(model, &x_rows, &y, 0.0);
    let mut parameters = w.to_vec();
    parameters.push(b);
    let gradient = match engine {
        Engine::Cpu => cpu::gradient(&problem, &parameters),
        #[cfg(feature = "gpu")]
        Engine::Gpu(context) => gpu::gradient(context, &problem, &parameters)?,
    };
    if !gradient.loss.is_finite() {
        validate_features(x)?;
    }
    Ok(gradient)
}

/// Early stopping as scikit-learn's `tol` and `n_iter_no_change`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct EarlyStopping {
    pub(crate) tolerance: f64,
    pub(crate) patience: usize,
}

/// Checked hyperparameters, what an engine needs besides the data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TrainingPlan {
    /// Rows per step; `None` for the full batch.
    pub(crate) batch_size: Option<usize>,
    pub(crate) optimizer: Optimizer,
    pub(crate) schedule: Schedule,
    pub(crate) max_epochs: usize,
    pub(crate) early_stopping: Option<EarlyStopping>,
    pub(crate) divergence_factor: f64,
    pub(crate) seed: u64,
    /// Whether engines report the parameters at the end of each epoch.
    pub(crate) track_parameters: bool,
}

/// Validated data in the layout every engine reads: X row-major and
/// contiguous, y contiguous.
pub(crate) struct Problem<'a> {
    pub(crate) model: Model,
    pub(crate) x: &'a [f32],
    pub(crate) y: &'a [f32],
    pub(crate) rows: usize,
    pub(crate) features: usize,
    pub(crate) l2: f32,
}

impl<'a> Problem<'a> {
    /// `x` and `y` must be in standard layout (as `as_standard_layout` makes
    /// them) and already validated.
    pub(crate) fn new(
        model: Model,
        x: &'a ndarray::CowArray<'a, f32, ndarray::Ix2>,
        y: &'a ndarray::CowArray<'a, f32, ndarray::Ix1>,
        l2: f32,
    ) -> Self {
        Problem {
            model,
            x: x.as_slice().expect("standard layout is contiguous"),
            y: y.as_slice().expect("standard layout is contiguous"),
            rows: x.nrows(),
            features: x.ncols(),
            l2,
        }
    }
}

/// What an engine hands back.
pub(crate) struct Outcome {
    /// The weights followed by the bias.
    pub(crate) parameters: Vec<f32>,
    pub(crate) history: History,
    pub(crate) stop_reason: StopReason,
    pub(crate) gradient_evaluations: u64,
    /// The parameters at the end of each epoch, when the plan tracks them.
    pub(crate) parameter_path: Vec<Vec<f32>>,
}

/// The parameters a diverged run keeps: those from the start of the
/// diverging epoch when they are all finite, else those from the start of
/// the epoch before, whose finite loss vouches for them (a step can overflow
/// the parameters before any loss sees it).
pub(crate) fn last_finite(epoch_start: Vec<f32>, previous_start: Vec<f32>) -> Vec<f32> {
    if epoch_start.iter().all(|v| v.is_finite()) {
        epoch_start
    } else {
        previous_start
    }
}

/// The row order of each epoch: a fresh seeded permutation of 0..n, drawn
/// the same way for every engine so that their runs can be compared step by
/// step.
pub(crate) struct BatchOrder {
    rng: ChaCha8Rng,
    order: Vec<u32>,
}

impl BatchOrder {
    pub(crate) fn new(rows: usize, seed: u64) -> Self {
        BatchOrder {
            rng: ChaCha8Rng::seed_from_u64(seed),
            order: vec![0; rows],
        }
    }

    /// The permutation of the next epoch.
    pub(crate) fn next_epoch(&mut self) -> &[u32] {
        for (i, slot) in self.order.iter_mut().enumerate() {
            *slot = i as u32;
        }
        self.order.shuffle(&mut self.rng);
        &self.order
    }
}

/// The bookkeeping every engine shares at the end of an epoch: the history,
/// the schedule, and the rules that stop a run.
pub(crate) struct EpochMonitor {
    scheduler: Scheduler,
    max_epochs: usize,
    early_stopping: Option<EarlyStopping>,
    divergence_factor: f64,
    first_loss: Option<f64>,
    best_loss: f64,
    epochs_without_improvement: usize,
    started: Instant,
    records: Vec<EpochRecord>,
}

impl EpochMonitor {
    pub(crate) fn new(plan: &TrainingPlan) -> Self {
        EpochMonitor {
            scheduler: Scheduler::new(plan.schedule, plan.optimizer.learning_rate()),
            max_epochs: plan.max_epochs,
            early_stopping: plan.early_stopping,
            divergence_factor: plan.divergence_factor,
            first_loss: None,
            best_loss: f64::INFINITY,
            epochs_without_improvement: 0,
            started: Instant::now(),
            records: Vec::with_capacity(plan.max_epochs.min(1 << 16)),
        }
    }

    /// The learning rate of the current epoch.
    pub(crate) fn learning_rate(&self) -> f32 {
        self.scheduler.learning_rate() as f32
    }

    /// Records the epoch that just ended and says whether to stop.
    pub(crate) fn end_epoch(&mut self, loss: f64) -> Option<StopReason> {
        let epoch = self.records.len() + 1;
        self.records.push(EpochRecord {
            epoch,
            loss,
            learning_rate: self.scheduler.learning_rate(),
            seconds: self.started.elapsed().as_secs_f64(),
        });
        let first_loss = *self.first_loss.get_or_insert(loss);
        if !loss.is_finite() || (first_loss > 0.0 && loss > self.divergence_factor * first_loss) {
            return Some(StopReason::Diverged { epoch });
        }
        if let Some(rule) = self.early_stopping {
            if loss > self.best_loss - rule.tolerance {
                self.epochs_without_improvement += 1;
            } else {
                self.epochs_without_improvement = 0;
            }
            self.best_loss = self.best_loss.min(loss);
            if self.epochs_without_improvement >= rule.patience {
                return Some(StopReason::Converged { epoch });
            }
        }
        if epoch >= self.max_epochs {
            return Some(StopReason::MaxEpochs);
        }
        self.scheduler.end_epoch(loss);
        None
    }

    pub(crate) fn into_history(self) -> History {
        History {
            records: self.records,
            parameters: Vec::new(),
        }
    }
}
