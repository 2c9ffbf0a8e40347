//! What a fit records: the loss of every epoch and why it stopped.

use ndarray::Array1;

/// Why a fit stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind", rename_all = "snake_case"))]
pub enum StopReason {
    /// The epoch loss improved by less than the tolerance for `patience`
    /// epochs in a row while staying near its best (the full batch, whose
    /// loss has no noise, or a held-out loss; a mini-batch's own loss stops
    /// as [`StopReason::StoppedImproving`]); or the parameter tolerance or
    /// L-BFGS's gradient tolerance was met; `epoch` is the last one
    /// run (1-based). The parameters are those of the best epoch
    /// ([`crate::Fitted::best_epoch`]).
    Converged {
        /// The last epoch run.
        epoch: usize,
    },
    /// A mini-batch (or stochastic) run under early stopping: its epoch
    /// loss, noisy with the batches, improved by less than the tolerance for
    /// `patience` epochs in a row after the learning rate had already been
    /// cut as many times as the rule allows
    /// ([`crate::GradientDescent::rate_cuts`]), while staying near its
    /// best. Not a proof of convergence: the loss stopped improving at the
    /// last rate. `epoch` is the last one run (1-based); the parameters are
    /// those of the best epoch ([`crate::Fitted::best_epoch`]).
    StoppedImproving {
        /// The last epoch run.
        epoch: usize,
    },
    /// `max_epochs` epochs ran.
    MaxEpochs,
    /// The epoch loss became NaN or infinite, grew beyond the divergence
    /// factor times the first epoch's, or, under early stopping, rose
    /// through the whole patience window or ended far above its best.
    /// The parameters are the last finite ones: from the start of `epoch`
    /// (1-based), or of the epoch before when a step had already
    /// overflowed them; those of the best epoch when early stopping saw
    /// the loss rise.
    Diverged {
        /// The epoch whose loss diverged.
        epoch: usize,
    },
    /// L-BFGS brought the gradient down to the rounding of its float32
    /// sums: its line search found no lower objective, or further
    /// iterations no smaller gradient. `epoch` is the last iteration run;
    /// the parameters are those of the iteration with the smallest
    /// gradient.
    RoundingLimit {
        /// The last iteration run.
        epoch: usize,
    },
    /// Stopped from outside at the end of epoch `epoch` (1-based): the
    /// flag of [`crate::GradientDescent::stop_when`] was raised (a Ctrl-C
    /// in the Python package). The parameters are that epoch's end, and
    /// resuming the fit continues it.
    Interrupted {
        /// The last epoch run.
        epoch: usize,
    },
    /// Not stopped: a checkpoint written while the fit went on
    /// ([`crate::GradientDescent::checkpoint`]), after `epoch` epochs; its
    /// parameters are those of that epoch's end, and resuming it continues
    /// the fit exactly.
    Checkpoint {
        /// The epochs run when it was written.
        epoch: usize,
    },
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Converged { epoch } => write!(f, "converged at epoch {epoch}"),
            StopReason::StoppedImproving { epoch } => {
                write!(f, "the loss stopped improving at epoch {epoch}")
            }
            StopReason::MaxEpochs => write!(f, "reached the epoch limit"),
            StopReason::Diverged { epoch } => write!(f, "diverged at epoch {epoch}"),
            StopReason::RoundingLimit { epoch } => write!(
                f,
                "converged to the rounding of float32 sums at iteration {epoch}"
            ),
            StopReason::Interrupted { epoch } => write!(f, "interrupted after epoch {epoch}"),
            StopReason::Checkpoint { epoch } => {
                write!(f, "a checkpoint after epoch {epoch}, the fit still running")
            }
        }
    }
}

/// One epoch of the loss history.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean of the batch losses seen during the epoch, each taken at the
    /// parameters its step started from (for `Full`, the loss at the start of
    /// the epoch; for L-BFGS, at the end of the iteration). Includes the
    /// penalty. On standardized data when
    /// `standardize(true)`.
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float64"))]
    pub loss: f64,
    /// The mean loss (without the penalty) of the held-out rows at the end
    /// of the epoch, when the fit holds rows out
    /// ([`crate::GradientDescent::validation_fraction`]).
    #[cfg_attr(
        feature = "serde",
        serde(default, with = "crate::json_numbers::optional_float64")
    )]
    pub validation_loss: Option<f64>,
    /// The learning rate used during the epoch; for L-BFGS
    /// ([`crate::Solver::Lbfgs`]), the step its line search took, as a
    /// multiple of the iteration's direction.
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float64"))]
    pub learning_rate: f64,
    /// How far the epoch moved the parameters (weights and biases, on the
    /// scale the engine saw): the Euclidean length of its step; `None` in a
    /// history saved before it was recorded.
    #[cfg_attr(
        feature = "serde",
        serde(default, with = "crate::json_numbers::optional_float64")
    )]
    pub step_length: Option<f64>,
    /// Seconds from the start of the fit to the end of this epoch.
    pub seconds: f64,
}

/// The loss history of a fit, one record per epoch run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct History {
    pub(crate) records: Vec<EpochRecord>,
    pub(crate) parameters: Vec<(Array1<f32>, f32)>,
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
    /// [track them](crate::GradientDescent::track_parameters); empty otherwise.
    pub fn parameters(&self) -> &[(Array1<f32>, f32)] {
        &self.parameters
    }
}
