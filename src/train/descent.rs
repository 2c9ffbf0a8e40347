//! Gradient descent as the driver runs it: each iteration is one epoch of
//! the engine's steps (the full batch, mini-batches or single rows), in
//! the row order this method draws, at the learning rate of its schedule.

use std::time::Instant;

use crate::data::shuffle::{share_of_batches, BatchOrder};
use crate::data::source::DataSource;
use crate::engine::device::Device;
use crate::engine::{Engine, EngineRun, RunSpec, StepPlan};
use crate::error::Result;
use crate::math::objective::Objective;
use crate::train::history::StopReason;
use crate::train::method::{Iterate, Iteration, Method};
use crate::train::plan::TrainingPlan;
use crate::train::schedule::Scheduler;
use crate::train::state::TrainingState;
use crate::train::stop_rules::StopRules;

/// A gradient-descent run: the engine's run, the row order and the
/// schedule.
pub(crate) struct Descent<'r> {
    run: Box<dyn EngineRun + 'r>,
    plan: &'r TrainingPlan,
    steps: StepPlan,
    /// The rows of every rank (this process's where it is alone).
    global_rows: usize,
    /// The row order of shuffled epochs.
    order: Option<BatchOrder>,
    /// The order's position where there is no order.
    position: u64,
    scheduler: Scheduler,
    /// Whether the next epoch's order is drawn while this one runs: on
    /// the GPU (on the CPU the drawing would take a core from the epoch).
    draw_ahead: bool,
    /// A rank's share of each batch, and where each batch's share ends.
    share: Vec<u32>,
    share_ends: Vec<usize>,
}

impl<'r> Descent<'r> {
    /// Opens `engine`'s run over `source` from `start`.
    pub(crate) fn open(
        engine: &'r dyn Engine,
        source: &'r dyn DataSource,
        objective: Objective,
        plan: &'r TrainingPlan,
        start: &TrainingState,
    ) -> Result<Self> {
        let steps = StepPlan::new(source.rows(), plan.batch_size);
        let mean_weight = match steps.shuffled {
            true => mean_weight(source, plan.reducer.as_ref())?,
            false => None,
        };
        let run = engine.open(
            source,
            RunSpec {
                objective,
                optimizer: plan.optimizer,
                steps,
                shuffle: plan.shuffle,
                parameters: start.parameters.clone(),
                state: start.optimizer.clone(),
                average_from: plan.average_from,
                reducer: plan.reducer.clone(),
                mean_weight,
            },
        );
        // Every rank learns whether every rank could open its run.
        let run = match &plan.reducer {
            Some(reducer) => reducer.agree(run)?,
            None => run?,
        };
        // A rank of a data-parallel fit draws the order of every rank's
        // rows, as one process would, and takes its share of each batch.
        let global_rows = plan.shard.map_or(steps.rows, |s| s.total);
        let order = steps
            .shuffled
            .then(|| BatchOrder::new(global_rows, plan.shuffle, plan.seed, start.order_position));
        Ok(Descent {
            run,
            plan,
            steps,
            global_rows,
            order,
            position: start.order_position,
            scheduler: start.scheduler.clone(),
            draw_ahead: engine.device() == Device::Gpu,
            share: Vec::new(),
            share_ends: Vec::new(),
        })
    }
}

impl Method for Descent<'_> {
    fn iterate(&mut self, rate_factor: f64) -> Result<Iteration> {
        let learning_rate = self.scheduler.learning_rate() * rate_factor;
        let rate = learning_rate as f32;
        let shuffling = Instant::now();
        let (stats, shuffle_seconds) = match (self.order.as_mut(), self.plan.shard) {
            // An engine whose epochs run on the GPU: the next epoch's order
            // is drawn while this one runs. The time not hidden (an order
            // drawn before the first epoch, or longer than an epoch) counts
            // as the shuffle's.
            (Some(order), None) if self.draw_ahead => {
                let mut epoch_seconds = 0.0;
                let run = &mut self.run;
                let stats = order.run_drawing_ahead(|epoch_order| {
                    let running = Instant::now();
                    let stats = run.run_epoch(Some(epoch_order), rate);
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
                let batch = self
                    .plan
                    .batch_size
                    .unwrap_or(self.global_rows)
                    .min(self.global_rows);
                let mine = shard.offset..shard.offset + self.steps.rows;
                share_of_batches(epoch_order, batch, mine, &mut self.share, &mut self.share_ends);
                (
                    self.run.run_epoch_of_shard(&self.share, &self.share_ends, rate)?,
                    shuffle_seconds,
                )
            }
            (order, _) => {
                let epoch_order = order.map(|o| o.next_epoch());
                let shuffle_seconds = shuffling.elapsed().as_secs_f64();
                (self.run.run_epoch(epoch_order, rate)?, shuffle_seconds)
            }
        };
        let loss = stats.loss_sum / stats.steps as f64;
        // The schedule moves on after every epoch, the last included, so
        // that a resumed fit starts from the next epoch's rate.
        self.scheduler.end_epoch(loss);
        let mut work = stats.work;
        work.shuffle_seconds += shuffle_seconds;
        Ok(Iteration {
            reached: Some(Iterate {
                parameters: stats.parameters,
                loss,
                // The full batch's loss is taken at the start of its
                // epoch; a mini-batch epoch's along the way, so its end
                // stands for it.
                loss_at_start: !self.steps.shuffled,
                learning_rate,
            }),
            ending: None,
            gradient_evaluations: stats.steps as u64,
            work,
        })
    }

    fn state(
        &mut self,
        parameters: Vec<f32>,
        stop_rules: StopRules,
        _reason: StopReason,
    ) -> Result<TrainingState> {
        Ok(TrainingState {
            parameters,
            optimizer: self.run.optimizer_state()?,
            scheduler: self.scheduler.clone(),
            order_position: self.order.as_ref().map_or(self.position, BatchOrder::position),
            stop_rules,
            lbfgs: None,
        })
    }

    /// An averaged fit hands back the average, where it has begun and is
    /// finite; a diverged one its last finite parameters.
    fn kept(&self, reason: StopReason, chose: Vec<f32>, state: &TrainingState) -> Vec<f32> {
        let average = &state.optimizer.average;
        match (self.plan.average_from, reason) {
            (Some(_), StopReason::Diverged { .. }) => chose,
            (Some(_), _) if !average.is_empty() && average.iter().all(|v| v.is_finite()) => average.clone(),
            _ => chose,
        }
    }
}

/// The mean weight of the fit's rows (every rank's, added in rank order),
/// where they are weighted: what a mini-batch's sums are divided by, times
/// its rows ([`crate::math::objective::batch_divisor`]).
fn mean_weight(source: &dyn DataSource, reducer: Option<&crate::reduce::Reducer>) -> Result<Option<f64>> {
    let local = crate::data::source::weight_sum(source)?;
    let (sum, rows) = match reducer {
        Some(reducer) => {
            // A rank without weights weighs its rows 1 each; every rank
            // learns the same totals.
            let shares = reducer.gather(&[local.unwrap_or(source.rows() as f64), source.rows() as f64])?;
            if local.is_none() {
                return Ok(None);
            }
            shares
                .iter()
                .fold((0.0, 0.0), |(sum, rows), share| (sum + share[0], rows + share[1]))
        }
        None => match local {
            Some(sum) => (sum, source.rows() as f64),
            None => return Ok(None),
        },
    };
    Ok((rows > 0.0).then(|| sum / rows))
}
