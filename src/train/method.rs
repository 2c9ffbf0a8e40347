//! What the driver runs: a solver that supplies one iteration at a time
//! (an epoch of gradient-descent steps, [`crate::train::descent`], or one
//! L-BFGS iteration, [`crate::train::lbfgs`]). Everything else about a
//! run (the stop rules, the history, the held-out loss, the observer,
//! tracking, checkpoints and the parameters a stopped run keeps) is
//! decided once, in the driver ([`crate::train::driver`]); argmin's
//! `Executor` is the model.

use crate::engine::WorkCounts;
use crate::error::Result;
use crate::train::history::StopReason;
use crate::train::state::TrainingState;
use crate::train::stop_rules::{Ending, StopRules};

/// A solver under the driver.
pub(crate) trait Method {
    /// Runs one iteration from where the method stands; a learning rate
    /// it takes from a schedule is multiplied by `rate_factor` (the stop
    /// rules' cuts).
    fn iterate(&mut self, rate_factor: f64) -> Result<Iteration>;

    /// What continues the run exactly from here, where it ends for
    /// `reason` (or writes a checkpoint): the method's state with the last
    /// iterate's `parameters` and the stop rules' memory.
    fn state(
        &mut self,
        parameters: Vec<f32>,
        stop_rules: StopRules,
        reason: StopReason,
    ) -> Result<TrainingState>;

    /// The parameters a run that ends for `reason` (or writes a
    /// checkpoint) hands back, given those the stop rules `chose` and the
    /// run's `state` at that point.
    fn kept(&self, reason: StopReason, chose: Vec<f32>, state: &TrainingState) -> Vec<f32>;
}

/// What one call of [`Method::iterate`] did.
pub(crate) struct Iteration {
    /// Where the iteration ended; `None` where the method could go no
    /// further from where it stood, and then `ending` says why.
    pub(crate) reached: Option<Iterate>,
    /// Where the method itself ends the run.
    pub(crate) ending: Option<Ending>,
    /// Passes over the rows (or steps) that computed a gradient.
    pub(crate) gradient_evaluations: u64,
    /// What the engine did.
    pub(crate) work: WorkCounts,
}

/// An iterate: the parameters an iteration ended with, and what it saw.
pub(crate) struct Iterate {
    /// The weights (feature by feature, each margin's), then the biases.
    pub(crate) parameters: Vec<f32>,
    /// The training loss the iteration reports, the penalty included.
    pub(crate) loss: f64,
    /// Whether `loss` was taken at the parameters the iteration started
    /// from (a full-batch epoch) rather than where it ended.
    pub(crate) loss_at_start: bool,
    /// The learning rate of gradient descent; the step of L-BFGS's line
    /// search, a multiple of its direction.
    pub(crate) learning_rate: f64,
}
