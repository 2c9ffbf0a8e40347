//! The one training loop. Every engine runs under it: the driver draws the
//! row order of each epoch, sets the learning rate from the schedule, asks
//! the engine for one epoch, records the history, decides when to stop,
//! and picks the parameters a stopped run keeps. Engines only run steps
//! ([`crate::engine`]).

use std::time::Instant;

use crate::data::shuffle::{share_of_batches, BatchOrder, Shuffle};
use crate::data::source::DataSource;
use crate::engine::{Engine, RunSpec, StepPlan, WorkCounts};
use crate::error::{Error, Result};
use crate::math::objective::Objective;
use crate::math::optim::{Optimizer, OptimizerState};
use crate::train::history::{EpochRecord, StopReason};
use crate::train::schedule::{Schedule, Scheduler};

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
    /// Rows per step; `None` for the full batch.
    pub(crate) batch_size: Option<usize>,
    /// The row order of mini-batch epochs.
    pub(crate) shuffle: Shuffle,
    pub(crate) optimizer: Optimizer,
    pub(crate) schedule: Schedule,
    /// The most epochs this fit runs.
    pub(crate) max_epochs: usize,
    pub(crate) early_stopping: Option<EarlyStopping>,
    /// What early stopping does first with a mini-batch whose loss stopped
    /// improving (nothing for the full batch).
    pub(crate) rate_cuts: RateCuts,
    /// Convergence of the parameters: the run stops once, for `patience`
    /// epochs in a row, no parameter moved by more than this times the
    /// largest parameter's magnitude, or all came back to where they were
    /// two epochs before ([`Moved::settled`]).
    pub(crate) parameter_tolerance: Option<EarlyStopping>,
    pub(crate) divergence_factor: f64,
    pub(crate) seed: u64,
    /// Whether the parameters at the end of each epoch are kept.
    pub(crate) track_parameters: bool,
    /// Told of every epoch as it ends.
    pub(crate) on_epoch: Option<EpochObserver>,
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
}

/// What a run hands its snapshots to: a checkpoint writer.
pub(crate) type WriteCheckpoint<'a> = &'a dyn Fn(&Outcome) -> Result<()>;

/// A function told of every epoch as it ends: its record and the most
/// epochs the fit may run.
#[derive(Clone)]
pub(crate) struct EpochObserver(pub(crate) std::sync::Arc<ObserveEpoch>);

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

/// Everything a fit needs to continue exactly where it stopped: the
/// parameters on the scale the engine saw, the optimizer state, the
/// schedule's position, the position of the shuffling generator and the
/// stop rules' memory. [`crate::Fitted::training_state`] returns it and
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

/// What the stop rules remember from epoch to epoch.
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct StopRules {
    /// Epochs run, across resumes.
    pub(crate) epochs: usize,
    /// The first epoch's loss, the reference of the divergence factor.
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::optional_float64"))]
    pub(crate) first_loss: Option<f64>,
    /// The lowest epoch loss so far and its epoch.
    #[cfg_attr(
        feature = "serde",
        serde(with = "crate::json_numbers::optional_loss_and_epoch")
    )]
    pub(crate) best: Option<(f64, usize)>,
    /// The last epochs' losses, as many as the patience window needs.
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::float64s"))]
    pub(crate) recent: Vec<f64>,
    pub(crate) epochs_without_improvement: usize,
    /// Epochs in a row whose parameters moved less than the parameter
    /// tolerance.
    #[cfg_attr(feature = "serde", serde(default))]
    pub(crate) epochs_settled: usize,
    /// The cuts of the learning rate made so far ([`RateCuts`]).
    #[cfg_attr(feature = "serde", serde(default))]
    pub(crate) rate_cuts: usize,
    /// The parameters the best loss belongs to.
    #[cfg_attr(feature = "serde", serde(with = "crate::json_numbers::optional_float32s"))]
    pub(crate) best_parameters: Option<Vec<f32>>,
}

/// How an epoch ended, in the stop rules' eyes.
enum Verdict {
    Continue,
    Stop(StopReason),
    /// Early stopping fired: the run keeps its best epoch's parameters.
    StopAtBest(StopReason),
}

impl StopRules {
    /// Judges an epoch by its training `loss` (divergence), the loss the
    /// stop rules `watch` (the held-out loss where there is one, else the
    /// training loss) and how far its parameters `moved` (the largest change
    /// of one over the largest magnitude).
    fn judge(
        &mut self,
        loss: f64,
        watch: f64,
        moved: Moved,
        plan: &TrainingPlan,
        epochs_this_fit: usize,
    ) -> Verdict {
        self.epochs += 1;
        let epoch = self.epochs;
        let first_loss = *self.first_loss.get_or_insert(loss);
        // Divergence is decided before anything else.
        if !loss.is_finite() || (first_loss > 0.0 && loss > plan.divergence_factor * first_loss) {
            return Verdict::Stop(StopReason::Diverged { epoch });
        }
        if let Some(rule) = plan.parameter_tolerance {
            self.epochs_settled = match moved.settled(rule.tolerance) {
                true => self.epochs_settled + 1,
                false => 0,
            };
            if self.epochs_settled >= rule.patience {
                return Verdict::Stop(StopReason::Converged { epoch });
            }
        }
        let loss = watch;
        let best_before = self.best.map_or(f64::INFINITY, |(best, _)| best);
        if loss < best_before {
            self.best = Some((loss, epoch));
        }
        if let Some(rule) = plan.early_stopping {
            self.recent.push(loss);
            // A resumed fit may have kept a longer window than this one's.
            let excess = self.recent.len().saturating_sub(rule.patience + 1);
            self.recent.drain(..excess);
            if loss > best_before - rule.tolerance {
                self.epochs_without_improvement += 1;
            } else {
                self.epochs_without_improvement = 0;
            }
            if self.epochs_without_improvement >= rule.patience {
                let best = best_before.min(loss);
                // A mini-batch's loss that stopped improving, or rose, at
                // this rate: cut the rate and wait the patience again,
                // until the cuts run out.
                let noisy = plan.batch_size.is_some();
                if noisy && self.rate_cuts < plan.rate_cuts.times {
                    self.rate_cuts += 1;
                    self.epochs_without_improvement = 0;
                } else if self.loss_ran_away(best, loss, rule) {
                    return Verdict::StopAtBest(StopReason::Diverged { epoch });
                } else if noisy {
                    return Verdict::StopAtBest(StopReason::StoppedImproving { epoch });
                } else {
                    return Verdict::StopAtBest(StopReason::Converged { epoch });
                }
            }
        }
        if epochs_this_fit >= plan.max_epochs {
            return Verdict::Stop(StopReason::MaxEpochs);
        }
        Verdict::Continue
    }

    /// What the cuts made so far multiply the schedule's learning rate by.
    fn rate_factor(&self, plan: &TrainingPlan) -> f64 {
        match self.rate_cuts {
            0 => 1.0,
            cuts => plan
                .rate_cuts
                .factor
                .powi(i32::try_from(cuts).unwrap_or(i32::MAX)),
        }
    }

    /// Whether a run that stopped improving did so because its loss rose:
    /// every epoch of the patience window rose by more than the tolerance
    /// (over at least two epochs), or the loss ended more than its best
    /// again above its best.
    fn loss_ran_away(&self, best: f64, loss: f64, rule: EarlyStopping) -> bool {
        let rising = rule.patience >= 2
            && self.recent.len() == rule.patience + 1
            && self
                .recent
                .windows(2)
                .all(|pair| pair[1] > pair[0] + rule.tolerance);
        let far_above = loss - best > rule.tolerance.max(best.abs());
        rising || far_above
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

/// What the driver hands back; parameters on the engine's scale.
#[derive(Clone)]
pub(crate) struct Outcome {
    /// The parameters the run keeps: the weights, then the biases (one, or one per class).
    pub(crate) parameters: Vec<f32>,
    /// This fit's epochs.
    pub(crate) records: Vec<EpochRecord>,
    pub(crate) stop_reason: StopReason,
    /// The epoch whose parameters are kept, when early stopping chose them.
    pub(crate) best_epoch: Option<usize>,
    pub(crate) gradient_evaluations: u64,
    /// What the engine did to run this fit's epochs.
    pub(crate) work: WorkCounts,
    /// The parameters at the end of each epoch, when the plan tracks them.
    pub(crate) parameter_path: Vec<Vec<f32>>,
    pub(crate) state: TrainingState,
}

/// The parameters a diverged run keeps: those from the start of the
/// diverging epoch when they are all finite, else those from the start of
/// the epoch before, whose finite loss vouches for them (a step can overflow
/// the parameters before any loss sees it).
fn last_finite(epoch_start: Vec<f32>, previous_start: Vec<f32>) -> Vec<f32> {
    if epoch_start.iter().all(|v| v.is_finite()) {
        epoch_start
    } else {
        previous_start
    }
}

/// How far the parameters moved by the end of an epoch.
#[derive(Debug, Clone, Copy)]
struct Moved {
    /// Over the epoch ([`relative_change`] from its start).
    epoch: f64,
    /// Over the last two epochs (0 where the parameters are exactly those
    /// of two epochs before).
    two_epochs: f64,
}

impl Moved {
    /// Whether the parameters have settled under `tolerance`: they moved
    /// less than it over the epoch, or they came back exactly to where
    /// they were two epochs before. The latter is the float32 rounding's
    /// own fixed cycle: near the optimum an update can alternate between
    /// two neighbouring floats for ever, each epoch moving a unit in the
    /// last place, which a tolerance finer than float32's resolution would
    /// never call settled.
    fn settled(self, tolerance: f64) -> bool {
        self.epoch <= tolerance || self.two_epochs == 0.0
    }
}

/// The largest change of one parameter from `before` to `after`, over the
/// largest magnitude of one after (scikit-learn's SAG criterion): 0 when
/// nothing moved, infinite when something moved from all zeros or a
/// parameter is not finite.
fn relative_change(before: &[f32], after: &[f32]) -> f64 {
    if !after.iter().all(|v| v.is_finite()) {
        return f64::INFINITY;
    }
    let change = before
        .iter()
        .zip(after)
        .map(|(a, b)| (f64::from(*b) - f64::from(*a)).abs())
        .fold(0.0, f64::max);
    let magnitude = after.iter().map(|v| f64::from(v.abs())).fold(0.0, f64::max);
    match change {
        0.0 => 0.0,
        _ => change / magnitude,
    }
}

/// Where a fit starts: its parameters, optimizer state, scheduler, the
/// position of the shuffling generator and the stop rules' memory; a
/// resumed state is checked against `source`, `plan` and the `margins`
/// per row of the loss.
pub(crate) fn starting_point(
    start: Start,
    plan: &TrainingPlan,
    source: &dyn DataSource,
    margins: usize,
) -> Result<(Vec<f32>, OptimizerState, Scheduler, u64, StopRules)> {
    Ok(match start {
        Start::Fresh(parameters) => (
            parameters.clone(),
            plan.optimizer.initial_state(parameters.len()),
            Scheduler::new(plan.schedule, plan.optimizer.learning_rate()),
            0,
            StopRules::default(),
        ),
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
            (
                state.parameters,
                state.optimizer,
                state
                    .scheduler
                    .continued(plan.schedule, plan.optimizer.learning_rate()),
                state.order_position,
                state.stop_rules,
            )
        }
    })
}

/// Runs epochs of `engine` over `source` until a stop rule fires; every
/// `plan.checkpoint_every` epochs that the run goes on from, hands
/// `checkpoint` a snapshot whose state continues it exactly
/// ([`StopReason::Checkpoint`]).
pub(crate) fn train(
    engine: &dyn Engine,
    source: &dyn DataSource,
    held_out: Option<&dyn DataSource>,
    objective: Objective,
    plan: &TrainingPlan,
    start: Start,
    checkpoint: Option<WriteCheckpoint>,
) -> Result<Outcome> {
    let steps = StepPlan::new(source.rows(), plan.batch_size);
    let (parameters, optimizer_state, mut scheduler, position, mut rules) =
        starting_point(start, plan, source, objective.loss.margins())?;
    let run = engine.open(
        source,
        RunSpec {
            objective,
            optimizer: plan.optimizer,
            steps,
            shuffle: plan.shuffle,
            parameters: parameters.clone(),
            state: optimizer_state,
            average_from: plan.average_from,
            reducer: plan.reducer.clone(),
        },
    );
    // Every rank learns whether every rank could open its run.
    let mut run = match &plan.reducer {
        Some(reducer) => reducer.agree(run)?,
        None => run?,
    };
    // A rank of a data-parallel fit draws the order of every rank's rows,
    // as one process would, and takes its share of each batch.
    let global_rows = plan.shard.map_or(steps.rows, |s| s.total);
    let mut order = steps
        .shuffled
        .then(|| BatchOrder::new(global_rows, plan.shuffle, plan.seed, position));
    let (mut share, mut share_ends) = (Vec::new(), Vec::new());
    let mut held_out_sums = crate::engine::open_held_out(engine, held_out, objective, plan.reducer.as_ref())?;
    // On the CPU the drawing would take a core from the epoch itself.
    let draw_ahead = engine.device() == crate::engine::device::Device::Gpu;
    let started = Instant::now();
    let mut epoch_start = parameters.clone();
    let mut previous_start = parameters;
    let mut records = Vec::with_capacity(plan.max_epochs.min(1 << 16));
    let mut gradient_evaluations = 0u64;
    let mut work = WorkCounts::default();
    let mut parameter_path = Vec::new();

    let (stop_reason, kept, best_epoch, last_parameters) = loop {
        let learning_rate = scheduler.learning_rate() * rules.rate_factor(plan);
        let shuffling = Instant::now();
        let (stats, shuffle_seconds) = match (order.as_mut(), plan.shard) {
            // An engine whose epochs run on the GPU: the next epoch's order
            // is drawn while this one runs. The time not hidden (an order
            // drawn before the first epoch, or longer than an epoch) counts
            // as the shuffle's.
            (Some(order), None) if draw_ahead => {
                let mut epoch_seconds = 0.0;
                let stats = order.run_drawing_ahead(|epoch_order| {
                    let running = Instant::now();
                    let stats = run.run_epoch(Some(epoch_order), learning_rate as f32);
                    epoch_seconds = running.elapsed().as_secs_f64();
                    stats
                })?;
                (
                    stats,
                    (shuffling.elapsed().as_secs_f64() - epoch_seconds).max(0.0),
                )
            }
            (Some(order), Some(shard)) => {
                let epoch_order = order.next_epoch();
                let shuffle_seconds = shuffling.elapsed().as_secs_f64();
                let batch = plan.batch_size.unwrap_or(global_rows).min(global_rows);
                let mine = shard.offset..shard.offset + steps.rows;
                share_of_batches(epoch_order, batch, mine, &mut share, &mut share_ends);
                (
                    run.run_epoch_of_shard(&share, &share_ends, learning_rate as f32)?,
                    shuffle_seconds,
                )
            }
            (order, _) => {
                let epoch_order = order.map(|o| o.next_epoch());
                let shuffle_seconds = shuffling.elapsed().as_secs_f64();
                (run.run_epoch(epoch_order, learning_rate as f32)?, shuffle_seconds)
            }
        };
        gradient_evaluations += stats.steps as u64;
        work.add(&stats.work);
        work.shuffle_seconds += shuffle_seconds;
        let loss = stats.loss_sum / stats.steps as f64;
        if let Some(reducer) = &plan.reducer {
            reducer.same_on_every_rank(rules.epochs + 1, &stats.parameters, loss)?;
        }
        let validation_loss = match &mut held_out_sums {
            Some(sums) => sums.raw_sums(&stats.parameters)?.mean_loss(),
            None => None,
        };
        let moved = Moved {
            epoch: relative_change(&epoch_start, &stats.parameters),
            two_epochs: relative_change(&previous_start, &stats.parameters),
        };
        let verdict = rules.judge(
            loss,
            validation_loss.unwrap_or(loss),
            moved,
            plan,
            records.len() + 1,
        );
        records.push(EpochRecord {
            epoch: rules.epochs,
            loss,
            validation_loss,
            learning_rate,
            seconds: started.elapsed().as_secs_f64(),
        });
        if let (Some(observer), Some(record)) = (&plan.on_epoch, records.last()) {
            (observer.0)(record, plan.max_epochs);
        }
        if plan.track_parameters {
            parameter_path.push(stats.parameters.clone());
        }
        if rules.best.is_some_and(|(_, epoch)| epoch == rules.epochs) {
            // The full batch's loss is taken at the start of its epoch; a
            // mini-batch epoch's along the way, so its end stands for it; a
            // held-out loss at the end of the epoch.
            rules.best_parameters = Some(if steps.shuffled || validation_loss.is_some() {
                stats.parameters.clone()
            } else {
                epoch_start.clone()
            });
        }
        // The schedule moves on even after the last epoch, so that a
        // resumed fit starts from the next epoch's rate.
        scheduler.end_epoch(loss);
        match verdict {
            Verdict::Continue => {
                let due = plan
                    .checkpoint_every
                    .is_some_and(|every| rules.epochs % every == 0);
                if let (true, Some(write)) = (due, checkpoint) {
                    let optimizer = run.optimizer_state()?;
                    let kept = match plan.average_from {
                        Some(_) if !optimizer.average.is_empty() => optimizer.average.clone(),
                        _ => stats.parameters.clone(),
                    };
                    write(&Outcome {
                        parameters: kept,
                        records: records.clone(),
                        stop_reason: StopReason::Checkpoint { epoch: rules.epochs },
                        best_epoch: None,
                        gradient_evaluations,
                        work,
                        parameter_path: parameter_path.clone(),
                        state: TrainingState {
                            parameters: stats.parameters.clone(),
                            optimizer,
                            scheduler: scheduler.clone(),
                            order_position: order.as_ref().map_or(position, BatchOrder::position),
                            stop_rules: rules.clone(),
                        },
                    })?;
                }
                previous_start = std::mem::replace(&mut epoch_start, stats.parameters);
            }
            Verdict::Stop(reason @ StopReason::Diverged { .. }) => {
                break (
                    reason,
                    last_finite(epoch_start, previous_start),
                    None,
                    stats.parameters,
                )
            }
            Verdict::Stop(reason) => break (reason, stats.parameters.clone(), None, stats.parameters),
            Verdict::StopAtBest(reason) => match (&rules.best_parameters, rules.best) {
                (Some(best_parameters), Some((_, best_epoch))) => {
                    break (
                        reason,
                        best_parameters.clone(),
                        Some(best_epoch),
                        stats.parameters,
                    )
                }
                _ => break (reason, stats.parameters.clone(), None, stats.parameters),
            },
        }
    };
    let optimizer = run.optimizer_state()?;
    // An averaged fit returns the average, where it has begun and is
    // finite (a diverged run keeps its last finite parameters).
    let kept = match (plan.average_from, &stop_reason) {
        (Some(_), StopReason::Diverged { .. }) => kept,
        (Some(_), _) if !optimizer.average.is_empty() && optimizer.average.iter().all(|v| v.is_finite()) => {
            optimizer.average.clone()
        }
        _ => kept,
    };
    let best_epoch = best_epoch.filter(|_| plan.average_from.is_none());
    let state = TrainingState {
        parameters: last_parameters,
        optimizer,
        scheduler,
        order_position: order.as_ref().map_or(position, BatchOrder::position),
        stop_rules: rules,
    };
    Ok(Outcome {
        parameters: kept,
        records,
        stop_reason,
        best_epoch,
        gradient_evaluations,
        work,
        parameter_path,
        state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parameters that alternate exactly between two states have settled
    /// under any tolerance; parameters that creep a unit in the last place
    /// an epoch in one direction (slow progress, not a cycle) have not,
    /// under a tolerance finer than that; coarser tolerances are what they
    /// were.
    #[test]
    fn an_exact_two_epoch_cycle_is_settled_and_slow_progress_is_not() {
        for largest in [1.0f32, 1.2849088, -1.8051287, 3.0e5, 7.5e-4] {
            let up = |ulps: u32| f32::from_bits(largest.to_bits() + ulps);
            let state = |value: f32| [value, 0.25 * largest];
            let cycle = Moved {
                epoch: relative_change(&state(up(1)), &state(largest)),
                two_epochs: relative_change(&state(largest), &state(largest)),
            };
            assert!(cycle.settled(1e-12), "{largest}: {cycle:?}");
            let creeping = Moved {
                epoch: relative_change(&state(up(1)), &state(up(2))),
                two_epochs: relative_change(&state(largest), &state(up(2))),
            };
            assert!(!creeping.settled(1e-12), "{largest}: {creeping:?}");
            assert!(creeping.settled(1e-3) && cycle.settled(1e-3));
        }
    }
}
