//! What a fit is asked to do, checked: the hyperparameters the driver
//! needs besides the data ([`TrainingPlan`]).

use crate::data::shuffle::Shuffle;
use crate::math::optim::Optimizer;
use crate::train::history::EpochRecord;
use crate::train::schedule::Schedule;
use crate::train::solver::Solver;

/// Early stopping as scikit-learn's `tol` and `n_iter_no_change`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct EarlyStopping {
    pub(crate) tolerance: f64,
    pub(crate) patience: usize,
}

/// What a mini-batch run under early stopping does when its loss stops
/// improving: multiply the learning rate by `factor` and go on, `times`
/// times, before it stops (scikit-learn's `learning_rate='adaptive'`). A
/// mini-batch's epoch loss is noisy at a constant rate: its failing to
/// improve says the run reached the noise of that rate, not the optimum;
/// each cut brings the noise down with the rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RateCuts {
    pub(crate) times: usize,
    pub(crate) factor: f64,
}

/// Checked hyperparameters: what the driver needs besides the data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TrainingPlan {
    /// The method that minimizes the objective.
    pub(crate) solver: Solver,
    /// Rows per step; `None` for the full batch.
    pub(crate) batch_size: Option<usize>,
    /// The row order of mini-batch epochs.
    pub(crate) shuffle: Shuffle,
    pub(crate) optimizer: Optimizer,
    pub(crate) schedule: Schedule,
    /// The most epochs this fit runs.
    pub(crate) max_epochs: usize,
    /// Early stopping; under L-BFGS, its tolerance is the gradient's.
    pub(crate) early_stopping: Option<EarlyStopping>,
    /// What early stopping does first with a mini-batch whose loss stopped
    /// improving (nothing for the full batch).
    pub(crate) rate_cuts: RateCuts,
    /// Convergence of the parameters: the run stops once, for `patience`
    /// epochs in a row, no parameter moved by more than this times the
    /// largest parameter's magnitude, or all came back to where they were
    /// two epochs before ([`crate::train::stop_rules::Moved::settled`]).
    pub(crate) parameter_tolerance: Option<EarlyStopping>,
    /// What L-BFGS compares its gradient tolerance with.
    pub(crate) gradient_test: crate::train::solver::GradientTest,
    pub(crate) divergence_factor: f64,
    pub(crate) seed: u64,
    /// Whether the parameters at the end of each epoch are kept.
    pub(crate) track_parameters: bool,
    /// Told of every epoch as it ends.
    pub(crate) on_epoch: Option<EpochObserver>,
    /// Where set, the fit stops at the end of the epoch during which it
    /// turned true ([`crate::StopReason::Interrupted`]).
    pub(crate) stop_flag: Option<StopFlag>,
    /// Averaged SGD: the first step whose parameters the returned average
    /// takes in.
    pub(crate) average_from: Option<u64>,
    /// Every how many epochs (counted over the whole history, resumed
    /// epochs included) the run hands a snapshot to its checkpoint writer.
    pub(crate) checkpoint_every: Option<usize>,
    /// Where this process is one rank of a data-parallel fit: what adds
    /// every rank's sums before each step.
    pub(crate) reducer: Option<crate::reduce::Reducer>,
    /// With a reducer: where this rank's rows lie among every rank's.
    pub(crate) shard: Option<crate::reduce::Shard>,
    /// The columns' sums that L-BFGS scales by, measured once for every
    /// model fitted on the same rows (the models of a lockstep).
    pub(crate) column_sums: Option<crate::train::lbfgs::memory::SharedColumnSums>,
    /// The last evaluation of the model before, in a warm-started path
    /// (models fitted one after another on the same rows).
    pub(crate) last_evaluations: Option<crate::train::lbfgs::memory::LastEvaluations>,
}

impl TrainingPlan {
    /// Under an L1 penalty (of strength `l1`), gradient descent's stop
    /// rules that wait for nothing to change wait at least as long as the
    /// update rule's momentum takes to build. A weight the L1 step holds at
    /// 0 leaves it only once its velocity outgrows the threshold, about
    /// 1/(1−β) steps later, and meanwhile nothing moves. The rules wait
    /// 3/(1−β) steps, 95% of the velocity's full size, counted in epochs
    /// of `rows` rows.
    pub(crate) fn wait_for_momentum_under_l1(&mut self, l1: f32, rows: usize) {
        let beta = match self.optimizer {
            Optimizer::Momentum(momentum) => momentum.beta,
            Optimizer::Adam(adam) => adam.beta1,
            _ => 0.0,
        };
        if l1 <= 0.0 || beta <= 0.0 || self.solver != Solver::GradientDescent {
            return;
        }
        let steps_per_epoch = self
            .batch_size
            .map_or(1, |batch| rows.div_ceil(batch.clamp(1, rows.max(1))));
        let epochs = (3.0 / (1.0 - f64::from(beta)) / steps_per_epoch as f64).ceil() as usize;
        for rule in [&mut self.parameter_tolerance, &mut self.early_stopping]
            .into_iter()
            .flatten()
        {
            rule.patience = rule.patience.max(epochs);
        }
    }
}

/// A function told of every epoch as it ends: its record and the most
/// epochs the fit may run.
#[derive(Clone)]
pub(crate) struct EpochObserver(pub(crate) std::sync::Arc<ObserveEpoch>);

/// A flag another thread raises to stop a fit between epochs (a Ctrl-C).
#[derive(Clone)]
pub(crate) struct StopFlag(pub(crate) std::sync::Arc<std::sync::atomic::AtomicBool>);

impl StopFlag {
    /// Whether the flag has been raised.
    pub(crate) fn raised(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl std::fmt::Debug for StopFlag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StopFlag({})", self.raised())
    }
}

impl PartialEq for StopFlag {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

/// What an [`EpochObserver`] calls.
pub(crate) type ObserveEpoch = dyn Fn(&EpochRecord, usize) + Send + Sync;

impl std::fmt::Debug for EpochObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EpochObserver")
    }
}

impl PartialEq for EpochObserver {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}
