//! The one training loop. Every solver runs under it
//! ([`crate::train::method::Method`]): gradient descent's epochs and
//! L-BFGS's iterations alike. The solver supplies one iterate at a time;
//! the driver records the history, evaluates the held-out rows, tells the
//! observer, tracks the parameters, judges each iteration by the stop
//! rules, writes checkpoints and picks the parameters a stopped run keeps.
//! Engines only run steps and passes ([`crate::engine`]).

use std::time::Instant;

use crate::data::source::DataSource;
use crate::engine::{Engine, WorkCounts};
use crate::error::Result;
use crate::math::objective::Objective;
use crate::train::descent::Descent;
use crate::train::history::{EpochRecord, StopReason};
use crate::train::lbfgs::Lbfgs;
use crate::train::method::{Iterate, Method};
use crate::train::plan::{StopFlag, TrainingPlan};
use crate::train::solver::Solver;
use crate::train::state::{starting_point, Start, TrainingState};
use crate::train::stop_rules::{last_finite, relative_change, Ending, Moved, StopRules, Verdict};

/// What a run hands its snapshots to: a checkpoint writer.
pub(crate) type WriteCheckpoint<'a> = &'a dyn Fn(&Outcome) -> Result<()>;

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

/// What a run has gathered so far, besides the method's own state.
struct Progress {
    rules: StopRules,
    /// This fit's epochs.
    records: Vec<EpochRecord>,
    gradient_evaluations: u64,
    work: WorkCounts,
    parameter_path: Vec<Vec<f32>>,
}

impl Progress {
    /// The run so far, ended (or checkpointed) for `reason`, handing back
    /// the parameters the stop rules `chose` as the method keeps them;
    /// `last` are the parameters it would continue from.
    fn outcome(
        &self,
        method: &mut dyn Method,
        reason: StopReason,
        chose: Vec<f32>,
        last: Vec<f32>,
    ) -> Result<Outcome> {
        let state = method.state(last, self.rules.clone(), reason)?;
        Ok(Outcome {
            parameters: method.kept(reason, chose, &state),
            records: self.records.clone(),
            stop_reason: reason,
            best_epoch: None,
            gradient_evaluations: self.gradient_evaluations,
            work: self.work,
            parameter_path: self.parameter_path.clone(),
            state,
        })
    }
}

/// Runs `plan.solver` over `source` on `engine` from `start` until a stop
/// rule fires; every `plan.checkpoint_every` epochs that the run goes on
/// from, hands `checkpoint` a snapshot whose state continues it exactly
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
    let start = starting_point(start, plan, source, objective.loss.margins())?;
    let mut method: Box<dyn Method + '_> = match plan.solver {
        Solver::GradientDescent => Box::new(Descent::open(engine, source, objective, plan, &start)?),
        Solver::Lbfgs { memory } => Box::new(Lbfgs::open(engine, source, objective, plan, memory, &start)?),
    };
    let mut held_out_sums = crate::engine::open_held_out(engine, held_out, objective, plan.reducer.as_ref())?;
    let started = Instant::now();
    let mut epoch_start = start.parameters;
    let mut previous_start = epoch_start.clone();
    let mut progress = Progress {
        rules: start.stop_rules,
        records: Vec::with_capacity(plan.max_epochs.min(1 << 16)),
        gradient_evaluations: 0,
        work: WorkCounts::default(),
        parameter_path: Vec::new(),
    };
    loop {
        let iteration = method.iterate(progress.rules.rate_factor(plan))?;
        progress.gradient_evaluations += iteration.gradient_evaluations;
        progress.work.add(&iteration.work);
        let Some(Iterate {
            parameters,
            loss,
            loss_at_start,
            learning_rate,
        }) = iteration.reached
        else {
            // The method can go no further from where it stands, and says
            // why.
            debug_assert!(
                iteration.ending.is_some(),
                "an iteration reached nothing without an ending"
            );
            let ending = iteration.ending.unwrap_or(Ending::RoundingLimit);
            let last = epoch_start.clone();
            return progress.outcome(
                method.as_mut(),
                ending.reason(progress.rules.epochs),
                epoch_start,
                last,
            );
        };
        if let Some(reducer) = &plan.reducer {
            reducer.same_on_every_rank(progress.rules.epochs + 1, &parameters, loss)?;
        }
        let validation_loss = match &mut held_out_sums {
            Some(sums) => sums.raw_sums(&parameters)?.mean_loss(),
            None => None,
        };
        let moved = Moved {
            epoch: relative_change(&epoch_start, &parameters),
            two_epochs: relative_change(&previous_start, &parameters),
        };
        let rules = &mut progress.rules;
        let verdict = rules.judge(
            loss,
            validation_loss.unwrap_or(loss),
            moved,
            iteration.ending,
            plan,
            progress.records.len() + 1,
        );
        let record = EpochRecord {
            epoch: rules.epochs,
            loss,
            validation_loss,
            learning_rate,
            step_length: Some(distance(&epoch_start, &parameters)),
            seconds: started.elapsed().as_secs_f64(),
        };
        if let Some(observer) = &plan.on_epoch {
            (observer.0)(&record, plan.max_epochs);
        }
        progress.records.push(record);
        if plan.track_parameters {
            progress.parameter_path.push(parameters.clone());
        }
        if rules.best.is_some_and(|(_, epoch)| epoch == rules.epochs) {
            // A held-out loss is taken at the end of the epoch.
            rules.best_parameters = Some(match loss_at_start && validation_loss.is_none() {
                true => epoch_start.clone(),
                false => parameters.clone(),
            });
        }
        // A raised stop flag ends a fit that would go on.
        let verdict = match verdict {
            Verdict::Continue if plan.stop_flag.as_ref().is_some_and(StopFlag::raised) => {
                Verdict::Stop(StopReason::Interrupted { epoch: rules.epochs })
            }
            verdict => verdict,
        };
        let (reason, chose, best_epoch) = match verdict {
            Verdict::Continue => {
                let epoch = rules.epochs;
                let due = plan
                    .checkpoint_every
                    .is_some_and(|every| epoch.is_multiple_of(every));
                if let (true, Some(write)) = (due, checkpoint) {
                    let reason = StopReason::Checkpoint { epoch };
                    write(&progress.outcome(
                        method.as_mut(),
                        reason,
                        parameters.clone(),
                        parameters.clone(),
                    )?)?;
                }
                previous_start = std::mem::replace(&mut epoch_start, parameters);
                continue;
            }
            Verdict::Stop(reason @ StopReason::Diverged { .. }) => {
                (reason, last_finite(epoch_start, previous_start), None)
            }
            Verdict::Stop(reason) => (reason, parameters.clone(), None),
            Verdict::StopAtBest(reason) => match (&rules.best_parameters, rules.best) {
                (Some(best_parameters), Some((_, best_epoch))) => {
                    (reason, best_parameters.clone(), Some(best_epoch))
                }
                _ => (reason, parameters.clone(), None),
            },
        };
        let mut outcome = progress.outcome(method.as_mut(), reason, chose, parameters)?;
        // An averaged fit's parameters are no one epoch's.
        outcome.best_epoch = best_epoch.filter(|_| plan.average_from.is_none());
        return Ok(outcome);
    }
}

/// The Euclidean distance between two parameter vectors.
fn distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        .sqrt()
}
