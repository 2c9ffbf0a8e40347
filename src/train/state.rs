//! Where a fit starts and what it hands on: [`TrainingState`], which
//! continues a fit exactly where it stopped, and its checks on resuming.

use crate::data::source::DataSource;
use crate::error::{Error, Result};
use crate::math::optim::OptimizerState;
use crate::train::lbfgs::memory::LbfgsState;
use crate::train::plan::TrainingPlan;
use crate::train::schedule::Scheduler;
use crate::train::stop_rules::StopRules;

/// Everything a fit needs to continue exactly where it stopped: the
/// parameters on the scale the engine saw, the optimizer state, the
/// schedule's position, the position of the shuffling generator, the stop
/// rules' memory and, under L-BFGS, its curvature pairs. [`crate::Fitted::training_state`] returns it and
/// [`crate::GradientDescent::resume`] continues from it.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TrainingState {
    /// The weights (feature by feature, each margin's), then the biases, at the end of the last epoch, on the
    /// scale the engine saw (standardized where the fit standardized).
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float32s"))]
    pub(crate) parameters: Vec<f32>,
    pub(crate) optimizer: OptimizerState,
    pub(crate) scheduler: Scheduler,
    /// Words the shuffling generator had produced.
    pub(crate) order_position: u64,
    pub(crate) stop_rules: StopRules,
    /// What an L-BFGS run remembers besides its parameters (none for
    /// gradient descent, or in a file saved before it was kept).
    #[cfg_attr(feature = "serde", serde(default))]
    pub(crate) lbfgs: Option<LbfgsState>,
}

impl TrainingState {
    /// Epochs run so far.
    pub fn epochs(&self) -> usize {
        self.stop_rules.epochs
    }
    /// The weights (feature by feature, each margin's), then the biases, at the end of the last epoch, on the
    /// scale the engine saw (standardized where the fit standardized).
    pub fn parameters(&self) -> &[f32] {
        &self.parameters
    }
    /// The optimizer's state.
    pub fn optimizer_state(&self) -> &OptimizerState {
        &self.optimizer
    }
    /// How many times early stopping has cut a mini-batch run's learning
    /// rate ([`crate::GradientDescent::rate_cuts`]).
    pub fn rate_cuts(&self) -> usize {
        self.stop_rules.rate_cuts
    }
}

/// How a fit starts.
pub(crate) enum Start {
    /// From these parameters (the weights, then the biases: one, or one per class) with a fresh
    /// optimizer, schedule and order.
    Fresh(Vec<f32>),
    /// Exactly where an earlier fit stopped.
    Resume(Box<TrainingState>),
}

/// Where a fit starts: its parameters, optimizer state, scheduler, the
/// position of the shuffling generator, the stop rules' memory and what
/// L-BFGS remembers; a resumed state is checked against `source`, `plan`
/// and the `margins` per row of the loss (what L-BFGS remembers, by the
/// method that takes it, [`crate::train::lbfgs`]).
pub(crate) fn starting_point(
    start: Start,
    plan: &TrainingPlan,
    source: &dyn DataSource,
    margins: usize,
) -> Result<TrainingState> {
    Ok(match start {
        Start::Fresh(parameters) => TrainingState {
            optimizer: plan.optimizer.initial_state(parameters.len()),
            parameters,
            scheduler: Scheduler::new(plan.schedule, plan.optimizer.learning_rate()),
            order_position: 0,
            stop_rules: StopRules::default(),
            lbfgs: None,
        },
        Start::Resume(state) => {
            let state = *state;
            if state.parameters.len() != (source.features() + 1) * margins {
                return Err(Error::FeatureCountMismatch {
                    expected: (state.parameters.len() / margins).saturating_sub(1),
                    found: source.features(),
                });
            }
            if state
                .stop_rules
                .best_parameters
                .as_ref()
                .is_some_and(|best| best.len() != state.parameters.len())
            {
                return Err(Error::ResumeMismatch {
                    reason: "the saved best parameters and the saved parameters differ in length".into(),
                });
            }
            if !(state.optimizer.average.is_empty()
                || state.optimizer.average.len() == state.parameters.len())
            {
                return Err(Error::ResumeMismatch {
                    reason: "the saved average and the saved parameters differ in length".into(),
                });
            }
            // An average that should have begun but was not kept (the fit
            // resumed from did not average) cannot be continued.
            if plan
                .average_from
                .is_some_and(|from| state.optimizer.steps >= from && state.optimizer.average.is_empty())
            {
                return Err(Error::ResumeMismatch {
                    reason:
                        "the fit resumed from did not average its steps; this one would continue an average"
                            .into(),
                });
            }
            let fresh = plan.optimizer.initial_state(state.parameters.len());
            if state.optimizer.first_moment.len() != fresh.first_moment.len()
                || state.optimizer.second_moment.len() != fresh.second_moment.len()
            {
                return Err(Error::ResumeMismatch {
                    reason: format!("the saved optimizer state does not fit {}", plan.optimizer),
                });
            }
            TrainingState {
                scheduler: state
                    .scheduler
                    .continued(plan.schedule, plan.optimizer.learning_rate()),
                ..state
            }
        }
    })
}
