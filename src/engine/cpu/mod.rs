//! The CPU engine: the fused row pass of [`kernel`], parallel over fixed
//! chunks of rows with rayon.

mod kernel;
mod lane_sums;
mod row_losses;
mod simd_math;
mod sparse;
mod sparse_steps;
mod stream;

use crate::engine::device::Device;
use crate::engine::{Engine, EngineRun, EpochStats, RunSpec, StepPlan, SumsRun, WorkCounts};
use crate::error::Result;
use crate::math::objective::{Objective, RawSums};
use crate::math::optim::{Optimizer, OptimizerState};
use crate::reduce::Reducer;
use std::borrow::Cow;

use crate::data::source::{all_rows, Block, DataSource};
use crate::math::loss::Loss;
use kernel::{Rows, Workspace};
use sparse::{SparseRows, SparseWorkspace};
use sparse_steps::SparseSteps;

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
        if source.resident().is_some() || source.sparse().is_some() {
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
        let rows = RowSet::open(source, spec.objective.loss, spec.steps.batch_rows)?;
        let sparse_steps = match &rows {
            RowSet::Sparse { rows, .. } => SparseSteps::for_run(&spec, rows),
            RowSet::Dense { .. } => None,
        };
        Ok(Box::new(CpuRun {
            rows,
            stepper: Stepper::new(spec),
            sparse_steps,
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
        Ok(Box::new(CpuSums {
            rows: RowSet::open(source, objective.loss, source.rows())?,
            workspaces: Vec::new(),
            list_lengths: Vec::new(),
            list_workspaces: Vec::new(),
        }))
    }

    fn open_sums_in_rows<'s>(
        &'s self,
        source: &'s dyn DataSource,
        objective: Objective,
        _models: usize,
    ) -> Result<Option<Box<dyn SumsRun + 's>>> {
        if self.streamed_block_rows(source).is_some() || source.sparse().is_some() {
            return Ok(None);
        }
        self.open_sums(source, objective).map(Some)
    }
}

/// The rows a CPU run holds in memory: dense, for the fused SIMD pass of
/// [`kernel`], or sparse, for the CSR pass of [`sparse`].
enum RowSet<'s> {
    Dense {
        data: Block<'s>,
        weights: Option<Cow<'s, [f32]>>,
        features: usize,
        loss: Loss,
        workspace: Workspace,
    },
    Sparse {
        rows: SparseRows<'s>,
        workspace: SparseWorkspace,
    },
}

impl<'s> RowSet<'s> {
    /// The dense rows as the fused pass reads them; `None` for sparse rows.
    fn dense(&self) -> Option<kernel::Data<'_>> {
        match self {
            RowSet::Dense {
                data,
                weights,
                features,
                loss,
                ..
            } => Some(kernel::Data::new(data, weights.as_deref(), *features, *loss)),
            RowSet::Sparse { .. } => None,
        }
    }

    /// Every row of `source` for sums of `loss` over batches of at most
    /// `largest_batch` rows: its CSR arrays where it holds them, else its
    /// rows dense, borrowed or read whole.
    fn open(source: &'s dyn DataSource, loss: Loss, largest_batch: usize) -> Result<Self> {
        let (features, margins) = (source.features(), loss.margins());
        let weights = crate::data::source::weights_of(source, 0, source.rows())?;
        Ok(match source.sparse() {
            // A source of the caller's making hands out its own arrays:
            // they must be the rows it says it has.
            Some(sparse)
                if sparse.csr.features != features || sparse.csr.indptr.len() != source.rows() + 1 =>
            {
                return Err(crate::data::error::DataError::SparseShape {
                    what: "the sparse rows handed out (features, then indptr: one more than the rows)",
                    expected: if sparse.csr.features != features {
                        features
                    } else {
                        source.rows() + 1
                    },
                    found: if sparse.csr.features != features {
                        sparse.csr.features
                    } else {
                        sparse.csr.indptr.len()
                    },
                }
                .into())
            }
            Some(sparse) => RowSet::Sparse {
                rows: SparseRows {
                    sparse,
                    y: source.targets(0, source.rows())?,
                    weights,
                    loss,
                },
                workspace: SparseWorkspace::new(features, margins, largest_batch),
            },
            None => RowSet::Dense {
                data: all_rows(source)?,
                weights,
                features,
                loss,
                workspace: Workspace::new(features, margins, largest_batch),
            },
        })
    }

    fn rows(&self) -> usize {
        match self {
            RowSet::Dense { data, .. } => data.rows(),
            RowSet::Sparse { rows, .. } => rows.y.len(),
        }
    }

    fn features(&self) -> usize {
        match self {
            RowSet::Dense { features, .. } => *features,
            RowSet::Sparse { rows, .. } => rows.sparse.csr.features,
        }
    }

    /// Bytes of X a pass over `rows` of them reads (for sparse rows, the
    /// average row's indices and values).
    fn x_bytes(&self, rows: usize) -> u64 {
        match self {
            RowSet::Dense { features, .. } => (4 * features * rows) as u64,
            RowSet::Sparse { rows: all, .. } => {
                let entries = all.sparse.csr.indices.len() as u64;
                8 * entries * rows as u64 / (all.y.len() as u64).max(1)
            }
        }
    }

    /// The raw sums of `rows` at `parameters`.
    fn accumulate(&mut self, parameters: &[f32], rows: Rows) -> &RawSums {
        match self {
            RowSet::Dense {
                data,
                weights,
                features,
                loss,
                workspace,
            } => {
                let data = kernel::Data::new(data, weights.as_deref(), *features, *loss);
                workspace.accumulate(&data, parameters, rows)
            }
            RowSet::Sparse { rows: all, workspace } => workspace.accumulate(all, parameters, rows),
        }
    }
}

/// `run` on a worker thread of the pool, where its batches of `rows` rows
/// of `features` features are summed on many threads (their parallel
/// chunks are then shared by work stealing instead of a round trip from
/// outside); else here, sparing a hand-over to the pool.
fn on_pool<R: Send>(rows: usize, features: usize, run: impl FnOnce() -> R + Send) -> R {
    match kernel::on_many_threads(rows, features) {
        true => rayon::scope(|_| run()),
        false => run(),
    }
}

/// Every row in memory, for raw sums at many parameters.
struct CpuSums<'s> {
    rows: RowSet<'s>,
    /// One workspace per model of the passes that sum many models at once
    /// (made as first needed).
    workspaces: Vec<Workspace>,
    /// Where the models sum rows of their own: one workspace per model,
    /// made for its rows (as its run over a copy of them makes it: the
    /// chunks' length follows the rows), kept while the lists' lengths
    /// stay the same.
    list_lengths: Vec<usize>,
    list_workspaces: Vec<Workspace>,
}

impl SumsRun for CpuSums<'_> {
    fn raw_sums(&mut self, parameters: &[f32]) -> Result<RawSums> {
        let rows = Rows::Contiguous {
            start: 0,
            len: self.rows.rows(),
        };
        let features = self.rows.features();
        let set = &mut self.rows;
        Ok(on_pool(rows.len(), features, || {
            set.accumulate(parameters, rows).clone()
        }))
    }

    fn raw_sums_of_many(&mut self, parameters: &[&[f32]]) -> Result<Vec<RawSums>> {
        let n = self.rows.rows();
        let rows = Rows::Contiguous { start: 0, len: n };
        let Some(data) = self.rows.dense() else {
            return parameters.iter().map(|p| self.raw_sums(p)).collect();
        };
        while self.workspaces.len() < parameters.len() {
            self.workspaces
                .push(Workspace::new(data.features(), data.margins(), n));
        }
        let workspaces = &mut self.workspaces[..parameters.len()];
        Ok(rayon::scope(|_| {
            Workspace::accumulate_many(workspaces, &data, parameters, rows)
        }))
    }

    fn raw_sums_of_many_in(&mut self, parameters: &[&[f32]], rows: &[&[u32]]) -> Result<Vec<RawSums>> {
        let Some(data) = self.rows.dense() else {
            return Err(crate::engine::error::EngineError::NoPassInRows.into());
        };
        if !self
            .list_lengths
            .iter()
            .copied()
            .eq(rows.iter().map(|list| list.len()))
        {
            self.list_lengths = rows.iter().map(|list| list.len()).collect();
            self.list_workspaces = self
                .list_lengths
                .iter()
                .map(|&len| Workspace::new(data.features(), data.margins(), len))
                .collect();
        }
        let workspaces = &mut self.list_workspaces;
        Ok(rayon::scope(|_| {
            Workspace::accumulate_many_in(workspaces, &data, parameters, rows)
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
    /// The mean weight of weighted rows in mini-batches ([`RunSpec`]).
    mean_weight: Option<f64>,
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
            mean_weight: spec.mean_weight,
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
            self.mean_weight,
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
    rows: RowSet<'s>,
    stepper: Stepper,
    /// Where the rows are sparse and the rule has steps that touch only
    /// what a batch stores ([`sparse_steps`]): the mini-batch epochs'.
    sparse_steps: Option<SparseSteps>,
}

impl EngineRun for CpuRun<'_> {
    fn run_epoch(&mut self, order: Option<&[u32]>, learning_rate: f32) -> Result<EpochStats> {
        // On a worker thread of the pool, the parallel chunks of each step
        // are shared by work stealing instead of a round trip from outside.
        let batches = order.map(|order| (order, Batches::Even(self.stepper.steps.batch_rows)));
        if let (Some(steps), RowSet::Sparse { rows, .. }, Some((order, batches))) =
            (&mut self.sparse_steps, &self.rows, batches)
        {
            let stepper = &mut self.stepper;
            let (mut loss_sum, mut count) = (0.0, 0);
            for (start, len) in batches.spans(order.len()) {
                let batch = Rows::Permuted { order, start, len };
                loss_sum += steps.step(
                    rows,
                    batch,
                    &mut stepper.parameters,
                    &mut stepper.state,
                    learning_rate,
                );
                count += 1;
            }
            loss_sum += steps.settle(&mut stepper.parameters, &mut stepper.state);
            return Ok(EpochStats {
                loss_sum,
                steps: count,
                parameters: stepper.parameters.clone(),
                work: WorkCounts {
                    x_bytes_read: self.rows.x_bytes(order.len()),
                    ..WorkCounts::epoch(count)
                },
            });
        }
        let (batch, features) = (self.stepper.steps.batch_rows, self.rows.features());
        on_pool(batch, features, || self.epoch_on_pool(batches, learning_rate))
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
        let n = self.rows.rows();
        let set = &mut self.rows;
        let stepper = &mut self.stepper;
        let mut step = |rows: Rows| -> Result<f64> {
            let sums = set.accumulate(&stepper.parameters, rows);
            stepper.step(sums, learning_rate)
        };
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
        let rows_read = order.map_or(n, |(order, _)| order.len());
        Ok(EpochStats {
            loss_sum,
            steps,
            parameters: self.stepper.parameters.clone(),
            work: WorkCounts {
                x_bytes_read: self.rows.x_bytes(rows_read),
                ..WorkCounts::epoch(steps)
            },
        })
    }
}
