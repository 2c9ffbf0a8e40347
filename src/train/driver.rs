//! The one training loop. Every engine runs under it: the driver draws the
//! row order of each epoch, sets the learning rate from the schedule, asks
//! the engine for one epoch, records the history, decides when to stop,
//! and picks the parameters a stopped run keeps. Engines only run steps
//! ([`crate::engine`]).

use std::time::Instant;

use crate::data::shuffle::{share_of_batches, BatchOrder};
use crate::data::source::DataSource;
use crate::engine::{Engine, RunSpec, StepPlan, WorkCounts};
use crate::error::Result;
use crate::math::objective::Objective;
use crate::train::history::{EpochRecord, StopReason};
use crate::train::plan::TrainingPlan;
use crate::train::state::{starting_point, Start, TrainingState};
use crate::train::stop_rules::{last_finite, relative_change, Moved, Verdict};

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
