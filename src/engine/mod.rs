//! The contract between the one training loop ([`crate::train::driver`]) and the
//! engines that run its steps. An engine opens a run on a data source with
//! an objective, an optimizer and a step plan; the driver then asks it for
//! one epoch at a time and decides everything else (order, learning rate,
//! stopping, rollback, history). Adding an engine is one module that
//! implements [`Engine`] and [`EngineRun`].

pub(crate) mod adapter;
pub(crate) mod choice;
pub(crate) mod cpu;
pub(crate) mod device;
pub(crate) mod error;
// The one place the `gpu` feature is decided: without it the GPU engine
// keeps its types and entry points, which report `EngineError::GpuUnavailable`.
#[cfg_attr(not(feature = "gpu"), path = "gpu_unavailable.rs")]
pub(crate) mod gpu;
pub(crate) mod lockstep;
#[cfg(test)]
mod reference_engine;

use ndarray::{Array1, ArrayView1, ArrayView2};

use crate::data::shuffle::Shuffle;
use crate::data::source::{DataSource, InMemory};
use crate::data::{validate_features, validate_parameters, validate_targets};
use crate::engine::device::Device;
use crate::error::Result;
use crate::math::model::Model;
use crate::math::objective::{Objective, RawSums};
use crate::math::optim::{Optimizer, OptimizerState};

/// How the rows of an epoch are split into steps, derived once per fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StepPlan {
    /// Rows in the data.
    pub(crate) rows: usize,
    /// Rows per step (every row for the full batch; the last step of an
    /// epoch may have fewer).
    pub(crate) batch_rows: usize,
    /// Whether each epoch visits the rows in a fresh order given by the
    /// driver (mini-batches) rather than in storage order (full batch).
    pub(crate) shuffled: bool,
}

impl StepPlan {
    /// The plan for `rows` rows and `batch_size` rows per step (`None`: the
    /// full batch).
    pub(crate) fn new(rows: usize, batch_size: Option<usize>) -> Self {
        StepPlan {
            rows,
            batch_rows: batch_size.map_or(rows, |b| b.min(rows)),
            shuffled: batch_size.is_some(),
        }
    }

    /// Steps per epoch.
    pub(crate) fn steps_per_epoch(&self) -> usize {
        self.rows.div_ceil(self.batch_rows)
    }
}

/// What a run needs besides the data.
#[derive(Debug, Clone)]
pub(crate) struct RunSpec {
    pub(crate) objective: Objective,
    pub(crate) optimizer: Optimizer,
    pub(crate) steps: StepPlan,
    /// How the driver orders mini-batch epochs (a streamed source needs
    /// blocks kept together).
    pub(crate) shuffle: Shuffle,
    /// Starting parameters: the weights, then the biases (one, or one per class).
    pub(crate) parameters: Vec<f32>,
    /// Starting optimizer state (fresh, or carried over by a resume).
    pub(crate) state: OptimizerState,
    /// The first step whose parameters the running average takes in, where
    /// the fit averages them.
    pub(crate) average_from: Option<u64>,
    /// Where the run is one rank of a data-parallel fit: what adds every
    /// rank's sums before each step ([`crate::reduce`]).
    pub(crate) reducer: Option<crate::reduce::Reducer>,
    /// The mean weight of the fit's rows (every rank's), where its steps
    /// take mini-batches of weighted rows: a batch's sums are divided by
    /// its rows times it ([`crate::math::objective::batch_divisor`]).
    pub(crate) mean_weight: Option<f64>,
}

/// One epoch as an engine reports it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EpochStats {
    /// Σ of the batch losses of the epoch's steps, each taken at the
    /// parameters its step started from, the penalty included.
    pub(crate) loss_sum: f64,
    /// Steps taken.
    pub(crate) steps: usize,
    /// The parameters at the end of the epoch: the weights, then the biases (one, or one per class).
    pub(crate) parameters: Vec<f32>,
    /// What the engine did to run the epoch.
    pub(crate) work: WorkCounts,
}

/// What an engine did to run a fit's epochs, counted by the engine as it
/// ran them: the structural figures a benchmark reports beside its times
/// (a GPU step's dispatches, the round trips to the host, the bytes of X
/// the kernels read), which, unlike times, a test can check on any
/// machine.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WorkCounts {
    /// Epochs counted.
    pub epochs: u64,
    /// Steps (parameter updates) counted.
    pub steps: u64,
    /// Compute dispatches recorded on the GPU (0 on the CPU).
    pub dispatches: u64,
    /// Command buffers submitted to the GPU's queue (0 on the CPU).
    pub submissions: u64,
    /// Reads from the GPU that the host waited for (0 on the CPU).
    pub readbacks: u64,
    /// Bytes written to the GPU while the epochs ran: rows' orders,
    /// streamed blocks, the loop's control values (0 on the CPU).
    pub uploaded_bytes: u64,
    /// Bytes of X the kernels read from memory, as the kernels are
    /// designed to read them: each row of a step once (a second read of it
    /// from the cache within the step is not counted), and once more where
    /// a step first copies its rows together (a gather).
    pub x_bytes_read: u64,
    /// Seconds the host spent drawing the epochs' row orders (the
    /// shuffle), inside the fit's time.
    pub shuffle_seconds: f64,
}

impl WorkCounts {
    /// The counts of one epoch of `steps` steps.
    pub(crate) fn epoch(steps: usize) -> Self {
        WorkCounts {
            epochs: 1,
            steps: steps as u64,
            ..WorkCounts::default()
        }
    }

    /// These counts, as those of one epoch of `steps` steps.
    #[cfg(feature = "gpu")]
    pub(crate) fn with_epoch(self, steps: usize) -> Self {
        WorkCounts {
            epochs: 1,
            steps: steps as u64,
            ..self
        }
    }

    /// These counts with `other`'s added.
    pub(crate) fn add(&mut self, other: &WorkCounts) {
        self.epochs += other.epochs;
        self.steps += other.steps;
        self.dispatches += other.dispatches;
        self.submissions += other.submissions;
        self.readbacks += other.readbacks;
        self.uploaded_bytes += other.uploaded_bytes;
        self.x_bytes_read += other.x_bytes_read;
        self.shuffle_seconds += other.shuffle_seconds;
    }

    /// Dispatches per step.
    pub fn dispatches_per_step(&self) -> f64 {
        self.dispatches as f64 / self.steps.max(1) as f64
    }

    /// Submissions per epoch.
    pub fn submissions_per_epoch(&self) -> f64 {
        self.submissions as f64 / self.epochs.max(1) as f64
    }

    /// Readbacks per epoch.
    pub fn readbacks_per_epoch(&self) -> f64 {
        self.readbacks as f64 / self.epochs.max(1) as f64
    }

    /// Bytes of X read per epoch.
    pub fn x_bytes_per_epoch(&self) -> f64 {
        self.x_bytes_read as f64 / self.epochs.max(1) as f64
    }
}

/// An engine: where steps run (shared by the threads of a lockstep,
/// [`lockstep`]).
pub(crate) trait Engine: Sync {
    /// `Cpu` or `Gpu`.
    fn device(&self) -> Device;

    /// Opens a run on `source` (already validated).
    fn open<'s>(&'s self, source: &'s dyn DataSource, spec: RunSpec) -> Result<Box<dyn EngineRun + 's>>;

    /// Opens `source` for raw sums over every row at many parameters, the
    /// rows read (or uploaded) once.
    fn open_sums<'s>(
        &'s self,
        source: &'s dyn DataSource,
        objective: Objective,
    ) -> Result<Box<dyn SumsRun + 's>>;

    /// Opens `source` for the raw sums of `models` models at a time (a
    /// lockstep's passes): an engine that can sums them all from one read
    /// of each row; by default, as [`Engine::open_sums`] does.
    fn open_sums_of_models<'s>(
        &'s self,
        source: &'s dyn DataSource,
        objective: Objective,
        models: usize,
    ) -> Result<Box<dyn SumsRun + 's>> {
        let _ = models;
        self.open_sums(source, objective)
    }

    /// Opens `source` for the raw sums of `models` models at a time, each
    /// over rows of its own ([`SumsRun::raw_sums_of_many_in`]): `None`
    /// where the engine sums none so (rows it streams, sparse rows).
    fn open_sums_in_rows<'s>(
        &'s self,
        source: &'s dyn DataSource,
        objective: Objective,
        models: usize,
    ) -> Result<Option<Box<dyn SumsRun + 's>>> {
        let _ = (source, objective, models);
        Ok(None)
    }

    /// The raw sums of every row of `source` at `parameters`.
    fn raw_sums(
        &self,
        source: &dyn DataSource,
        objective: &Objective,
        parameters: &[f32],
    ) -> Result<RawSums> {
        self.open_sums(source, *objective)?.raw_sums(parameters)
    }
}

/// Raw sums over every row of an opened source.
pub(crate) trait SumsRun {
    /// The raw sums at `parameters` (the weights, then the biases: one, or one per class).
    fn raw_sums(&mut self, parameters: &[f32]) -> Result<RawSums>;

    /// The raw sums at each of `parameters` (many models' over the same
    /// rows), each as [`SumsRun::raw_sums`] gives it alone; an engine that
    /// can reads the rows once for all of them.
    fn raw_sums_of_many(&mut self, parameters: &[&[f32]]) -> Result<Vec<RawSums>> {
        parameters.iter().map(|p| self.raw_sums(p)).collect()
    }

    /// The raw sums of each of `parameters` over rows of its own,
    /// `rows[k]` (indices into the run's rows, in order), each as its sums
    /// over a copy of those rows would be (on the CPU, bit for bit): a
    /// lockstep of folds' models ([`lockstep::run_in_rows`]), on a run
    /// [`Engine::open_sums_in_rows`] opened.
    fn raw_sums_of_many_in(&mut self, parameters: &[&[f32]], rows: &[&[u32]]) -> Result<Vec<RawSums>> {
        let _ = (parameters, rows);
        Err(crate::engine::error::EngineError::NoPassInRows.into())
    }

    /// The work counted since it was last taken (dispatches, round trips,
    /// bytes moved), where the run counts it.
    fn take_work(&mut self) -> WorkCounts {
        WorkCounts::default()
    }
}

/// A run in progress on an engine.
pub(crate) trait EngineRun {
    /// Runs the steps of one epoch at `learning_rate`. `order` is the
    /// epoch's permutation of the rows for a shuffled plan, `None` for the
    /// full batch.
    fn run_epoch(&mut self, order: Option<&[u32]>, learning_rate: f32) -> Result<EpochStats>;

    /// Runs the steps of one mini-batch epoch of a rank of a data-parallel
    /// fit at `learning_rate`: `order` holds, global batch by global batch,
    /// this rank's rows of each (as indices into its shard), batch k ending
    /// at `ends[k]`. A batch may hold none of this rank's rows; the rank
    /// still joins the step with its zero sums.
    fn run_epoch_of_shard(
        &mut self,
        order: &[u32],
        ends: &[usize],
        learning_rate: f32,
    ) -> Result<EpochStats> {
        let _ = (order, ends, learning_rate);
        Err(crate::error::Error::Distributed {
            reason: "this engine takes the full batch only in a data-parallel fit".into(),
        })
    }

    /// The optimizer's state now.
    fn optimizer_state(&mut self) -> Result<OptimizerState>;
}

/// One gradient of the (unpenalized) mean loss over all rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Gradient {
    /// ∂loss/∂w.
    pub weights: Array1<f32>,
    /// ∂loss/∂b.
    pub bias: f32,
    /// The loss at the given parameters.
    pub loss: f64,
}

impl Gradient {
    /// The gradient of `objective` from raw sums at `parameters`.
    pub(crate) fn from_sums(objective: &Objective, sums: &RawSums, parameters: &[f32]) -> Gradient {
        let mut gradient = vec![0.0; parameters.len()];
        let loss = objective.gradient(sums, parameters, &mut gradient);
        let bias = gradient.pop().expect("the bias follows the weights");
        Gradient {
            weights: Array1::from(gradient),
            bias,
            loss,
        }
    }
}

/// [`crate::gradient`] on `engine`: checks the data, sums on the engine,
/// and names a non-finite value of X where the loss is not finite.
pub(crate) fn gradient_on(
    engine: &dyn Engine,
    model: Model,
    x: ArrayView2<f32>,
    y: ArrayView1<f32>,
    w: ArrayView1<f32>,
    b: f32,
) -> Result<Gradient> {
    validate_targets(model, x, y)?;
    validate_parameters(w, b, x.ncols())?;
    let source = InMemory::unchecked(x, y);
    let objective = Objective::unpenalized(crate::math::loss::Loss::default_for(model));
    let mut parameters = w.to_vec();
    parameters.push(b);
    let sums = engine.raw_sums(&source, &objective, &parameters)?;
    let gradient = Gradient::from_sums(&objective, &sums, &parameters);
    if !gradient.loss.is_finite() {
        validate_features(x)?;
    }
    Ok(gradient)
}

/// Raw sums over every rank's rows: each of this rank's sums, all-reduced
/// (the curvature's and L-BFGS's passes).
pub(crate) struct ReducedSums<'s> {
    pub(crate) local: Box<dyn SumsRun + 's>,
    pub(crate) reducer: crate::reduce::Reducer,
}

impl SumsRun for ReducedSums<'_> {
    fn raw_sums(&mut self, parameters: &[f32]) -> Result<RawSums> {
        let sums = self.local.raw_sums(parameters)?;
        let total = self.reducer.all_reduce(&sums)?;
        self.reducer.checked(total)
    }
}

/// Raw sums of `objective` over `source` on `engine`: over every rank's
/// rows where `reducer` joins ranks, else over this process's.
pub(crate) fn open_sums<'s>(
    engine: &'s dyn Engine,
    source: &'s dyn crate::data::source::DataSource,
    objective: crate::math::objective::Objective,
    reducer: Option<&crate::reduce::Reducer>,
) -> Result<Box<dyn SumsRun + 's>> {
    // Every rank learns whether every rank could open its rows.
    let local = match reducer {
        Some(reducer) => reducer.agree(engine.open_sums(source, objective))?,
        None => engine.open_sums(source, objective)?,
    };
    Ok(match reducer {
        Some(reducer) => Box::new(ReducedSums {
            local,
            reducer: reducer.clone(),
        }),
        None => local,
    })
}

/// One step from the raw sums of a batch: the gradient with the penalty's
/// smooth part, the update rule, then the L1 part's proximal step; returns
/// the batch's loss.
#[allow(clippy::too_many_arguments)]
pub(crate) fn take_step(
    objective: Objective,
    optimizer: Optimizer,
    average_from: Option<u64>,
    mean_weight: Option<f64>,
    sums: &RawSums,
    parameters: &mut [f32],
    gradient: &mut [f32],
    state: &mut OptimizerState,
    learning_rate: f32,
) -> f64 {
    let divisor = crate::math::objective::batch_divisor(sums.rows, sums.weight, mean_weight);
    let loss = objective.gradient_over(sums, divisor, parameters, gradient);
    optimizer.step(state, parameters, gradient, learning_rate);
    objective.penalty.shrink(
        parameters,
        objective.loss.margins(),
        &optimizer,
        state,
        learning_rate,
    );
    if let Some(from) = average_from {
        crate::math::optim::average(state, parameters, from);
    }
    loss
}

/// A full-batch run of a data-parallel fit on an engine that keeps its
/// steps to itself (the GPU's): each step the engine sums this rank's rows
/// at the parameters, the ranks add their sums, and the step is taken on
/// the host from the total ([`take_step`]), as the CPU engine takes it.
// Only the GPU engine runs its steps apart from the rows' sums.
#[cfg_attr(not(feature = "gpu"), allow(dead_code))]
pub(crate) struct SummedRun<'s> {
    pub(crate) sums: Box<dyn SumsRun + 's>,
    pub(crate) objective: Objective,
    pub(crate) optimizer: Optimizer,
    pub(crate) parameters: Vec<f32>,
    pub(crate) gradient: Vec<f32>,
    pub(crate) state: OptimizerState,
    pub(crate) average_from: Option<u64>,
}

#[cfg_attr(not(feature = "gpu"), allow(dead_code))]
impl<'s> SummedRun<'s> {
    /// The run of `spec` over `sums` (all ranks' sums); the full batch only.
    pub(crate) fn new(sums: Box<dyn SumsRun + 's>, spec: RunSpec) -> Result<Self> {
        if spec.steps.shuffled {
            return Err(crate::error::Error::Distributed {
                reason:
                    "this engine's ranks take the full batch only; run mini-batches on the CPU (--device cpu)"
                        .into(),
            });
        }
        Ok(SummedRun {
            sums,
            objective: spec.objective,
            optimizer: spec.optimizer,
            gradient: vec![0.0; spec.parameters.len()],
            parameters: spec.parameters,
            state: spec.state,
            average_from: spec.average_from,
        })
    }
}

impl EngineRun for SummedRun<'_> {
    fn run_epoch(&mut self, order: Option<&[u32]>, learning_rate: f32) -> Result<EpochStats> {
        debug_assert!(order.is_none(), "the full batch");
        let sums = self.sums.raw_sums(&self.parameters)?;
        let loss_sum = take_step(
            self.objective,
            self.optimizer,
            self.average_from,
            None,
            &sums,
            &mut self.parameters,
            &mut self.gradient,
            &mut self.state,
            learning_rate,
        );
        let mut work = WorkCounts::epoch(1);
        work.add(&self.sums.take_work());
        Ok(EpochStats {
            loss_sum,
            steps: 1,
            parameters: self.parameters.clone(),
            work,
        })
    }

    fn optimizer_state(&mut self) -> Result<OptimizerState> {
        Ok(self.state.clone())
    }
}

/// The unpenalized loss's sums over the held-out rows, where rows are held
/// out (over every rank's where `reducer` joins ranks).
pub(crate) fn open_held_out<'s>(
    engine: &'s dyn Engine,
    held_out: Option<&'s dyn DataSource>,
    objective: Objective,
    reducer: Option<&crate::reduce::Reducer>,
) -> Result<Option<Box<dyn SumsRun + 's>>> {
    held_out
        .map(|rows| open_sums(engine, rows, Objective::unpenalized(objective.loss), reducer))
        .transpose()
}
