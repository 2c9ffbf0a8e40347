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
