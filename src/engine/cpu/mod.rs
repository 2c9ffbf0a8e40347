//! The CPU engine: the fused row pass of [`kernel`], parallel over fixed
//! chunks of rows with rayon.

mod kernel;
mod lane_sums;
mod row_losses;
mod simd_math;
mod stream;

use crate::engine::device::Device;
use crate::engine::{Engine, EngineRun, EpochStats, RunSpec, StepPlan, SumsRun, WorkCounts};
use crate::error::Result;
use crate::math::objective::{Objective, RawSums};
use crate::math::optim::{Optimizer, OptimizerState};
use crate::reduce::Reducer;
use std::borrow::Cow;

use crate::data::source::{all_rows, Block, DataSource};
use kernel::{Rows, Workspace};

/// The CPU engine. A source it cannot borrow whole (a file, or rows scaled
/// as they are read) is read into memory when its rows fit the memory
/// budget, else streamed block by block ([`stream`]).
pub(crate) struct CpuEngine {
    /// Bytes of rows (X and y, float32) the engine may hold.
    pub(crate) memory_budget: u64,
}

impl Default for CpuEngine {
    fn default() -> Self {
        CpuEngine {
            memory_budget: crate::memory::default_budget(),
        }
    }
}

impl CpuEngine {
    /// Rows per streamed block, where `source` must be streamed: the
    /// blocks a stream holds at once ([`crate::data::read_ahead::BUFFERS`]) fit the budget.
    fn streamed_block_rows(&self, source: &dyn DataSource) -> Option<usize> {
        if source.resident().is_some() {
            return None;
        }
        let row_bytes = 4 * (source.features() as u64 + 1);
        let bytes = row_bytes * source.rows() as u64;
        (bytes > self.memory_budget).then(|| {
            (self.memory_budget / (crate::data::read_ahead::BUFFERS as u64 * row_bytes)).max(1) as usize
        })
    }
}

impl Engine for CpuEngine {
    fn device(&self) -> Device {
        Device::Cpu
    }

    fn open<'s>(&'s self, source: &'s dyn DataSource, spec: RunSpec) -> Result<Box<dyn EngineRun + 's>> {
        if let Some(block_rows) = self.streamed_block_rows(source) {
            if spec.reducer.is_some() && spec.steps.shuffled {
                return Err(crate::error::Error::Distributed {
                    reason: format!(
                        "this rank streams its {} rows from the file (beyond the memory budget), and streamed mini-batches are not split among ranks; raise --memory-budget, add ranks, or take the full batch",
                        source.rows()
                    ),
                });
            }
            return Ok(Box::new(stream::StreamedRun::new(source, spec, block_rows)?));
        }
        let data = all_rows(source)?;
        let weights = crate::data::source::weights_of(source, 0, source.rows())?;
        let workspace = Workspace::new(
            source.features(),
            spec.objective.loss.margins(),
            spec.steps.batch_rows,
        );
        Ok(Box::new(CpuRun {
            data,
            weights,
            features: source.features(),
            workspace,
            stepper: Stepper::new(spec),
        }))
    }

    fn open_sums<'s>(
        &'s self,
        source: &'s dyn DataSource,
        objective: Objective,
    ) -> Result<Box<dyn SumsRun + 's>> {
        if let Some(block_rows) = self.streamed_block_rows(source) {
            return Ok(Box::new(stream::StreamedSums {
                source,
                block_rows,
                workspace: Workspace::new(
                    source.features(),
                    objective.loss.margins(),
                    block_rows.min(source.rows()),
                ),
                objective,
            }));
        }
        let data = all_rows(source)?;
        let weights = crate::data::source::weights_of(source, 0, source.rows())?;
        let workspace = Workspace::new(source.features(), objective.loss.margins(), data.rows());
        Ok(Box::new(CpuSums {
            data,
            weights,
            features: source.features(),
            workspace,
            objective,
        }))
    }
}

/// Every row in memory, for raw sums at many parameters.
struct CpuSums<'s> {
    data: Block<'s>,
    weights: Option<Cow<'s, [f32]>>,
    features: usize,
    workspace: Workspace,
    objective: Objective,
}

impl SumsRun for CpuSums<'_> {
    fn raw_sums(&mut self, parameters: &[f32]) -> Result<RawSums> {
        let data = kernel::Data::new(
            &self.data,
            self.weights.as_deref(),
            self.features,
            self.objective.loss,
        );
        let rows = Rows::Contiguous {
            start: 0,
            len: self.data.rows(),
        };
        let workspace = &mut self.workspace;
        Ok(rayon::scope(|_| {
            workspace.accumulate(&data, parameters, rows).clone()
        }))
    }
}

/// What a CPU run carries from step to step, in memory or streamed: the
/// parameters, the optimizer and its state, and how a batch's raw sums
/// become a step.
struct Stepper {
    gradient: Vec<f32>,
    objective: Objective,
    optimizer: Optimizer,
    steps: StepPlan,
    parameters: Vec<f32>,
    state: OptimizerState,
    average_from: Option<u64>,
    /// Where this run is one rank of a data-parallel fit.
    reducer: Option<Reducer>,
}

impl Stepper {
    fn new(spec: RunSpec) -> Self {
        Stepper {
            gradient: vec![0.0; spec.parameters.len()],
            objective: spec.objective,
            optimizer: spec.optimizer,
            steps: spec.steps,
            parameters: spec.parameters,
            state: spec.state,
            average_from: spec.average_from,
            reducer: spec.reducer,
        }
    }

    /// One step on a batch's `sums` (every rank's, where this run is one
    /// rank of a data-parallel fit): the batch's loss sum.
    fn step(&mut self, sums: &RawSums, learning_rate: f32) -> Result<f64> {
        let reduced = self.reducer.as_ref().map(|r| r.all_reduce(sums)).transpose()?;
        Ok(crate::engine::take_step(
            self.objective,
            self.optimizer,
            self.average_from,
            reduced.as_ref().unwrap_or(sums),
            &mut self.parameters,
            &mut self.gradient,
            &mut self.state,
            learning_rate,
        ))
    }
}

/// A run on the CPU: the rows in memory, the parameters and the optimizer
/// state on the host.
struct CpuRun<'s> {
    data: Block<'s>,
    weights: Option<Cow<'s, [f32]>>,
    features: usize,
    workspace: Workspace,
    stepper: Stepper,
}

impl EngineRun for CpuRun<'_> {
    fn run_epoch(&mut self, order: Option<&[u32]>, learning_rate: f32) -> Result<EpochStats> {
        // On a worker thread of the pool, the parallel chunks of each step
        // are shared by work stealing instead of a round trip from outside.
        let batches = order.map(|order| (order, Batches::Even(self.stepper.steps.batch_rows)));
        rayon::scope(|_| self.epoch_on_pool(batches, learning_rate))
    }

    fn run_epoch_of_shard(
        &mut self,
        order: &[u32],
        ends: &[usize],
        learning_rate: f32,
    ) -> Result<EpochStats> {
        rayon::scope(|_| self.epoch_on_pool(Some((order, Batches::Ending(ends))), learning_rate))
    }

    fn optimizer_state(&mut self) -> Result<OptimizerState> {
        Ok(self.stepper.state.clone())
    }
}

/// Where an epoch's batches of ordered rows end.
#[derive(Clone, Copy)]
enum Batches<'a> {
    /// Every `rows` rows (the last batch may have fewer).
    Even(usize),
    /// Batch k ends at the k-th position (a rank's share of each global
    /// batch).
    Ending(&'a [usize]),
}

impl<'a> Batches<'a> {
    /// The start and the length of every batch of `rows` ordered rows.
    fn spans(self, rows: usize) -> impl Iterator<Item = (usize, usize)> + 'a {
        let count = match self {
            Batches::Even(batch) => rows.div_ceil(batch),
            Batches::Ending(ends) => ends.len(),
        };
        (0..count).map(move |k| match self {
            Batches::Even(batch) => (k * batch, batch.min(rows - k * batch)),
            Batches::Ending(ends) => {
                let start = k.checked_sub(1).map_or(0, |previous| ends[previous]);
                (start, ends[k] - start)
            }
        })
    }
}

impl CpuRun<'_> {
    fn epoch_on_pool(&mut self, order: Option<(&[u32], Batches)>, learning_rate: f32) -> Result<EpochStats> {
        let data = kernel::Data::new(
            &self.data,
            self.weights.as_deref(),
            self.features,
            self.stepper.objective.loss,
        );
        let n = self.data.rows();
        let mut step = |rows: Rows| -> Result<f64> {
            let sums = self.workspace.accumulate(&data, &self.stepper.parameters, rows);
            self.stepper.step(sums, learning_rate)
        };
        let row_bytes = (4 * self.features) as u64;
        let (loss_sum, steps) = match order {
            None => (step(Rows::Contiguous { start: 0, len: n })?, 1),
            Some((order, batches)) => {
                batches
                    .spans(order.len())
                    .try_fold((0.0, 0), |(sum, steps), (start, len)| {
                        Ok::<_, crate::error::Error>((
                            sum + step(Rows::Permuted { order, start, len })?,
                            steps + 1,
                        ))
                    })?
            }
        };
        // Each row of the epoch is read once, by the step that takes it.
        let rows_read = order.map_or(n, |(order, _)| order.len()) as u64;
        Ok(EpochStats {
            loss_sum,
            steps,
            parameters: self.stepper.parameters.clone(),
            work: WorkCounts {
                x_bytes_read: rows_read * row_bytes,
                ..WorkCounts::epoch(steps)
            },
        })
    }
}
