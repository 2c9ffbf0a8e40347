//! The GPU engine: X, y, the parameters, the optimizer state and the
//! epoch's permutation live on the device; the steps of an epoch are
//! encoded into few submissions, and one small readback per epoch brings
//! the epoch loss that the stop rules need. The kernels are in shaders/.

mod context;
mod shared;
mod sparse;
mod sparse_batches;
mod specialized;
mod stream;

use crate::engine::error::EngineError;
use std::cell::Cell;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytemuck::{Pod, Zeroable};
use ndarray::{ArrayView1, ArrayView2};
use wgpu::util::DeviceExt;

pub use context::GpuContext;

use crate::data::shuffle::Shuffle;
use crate::data::source::{DataSource, InMemory};
use crate::data::{validate_parameters, validate_training_data};
use crate::engine::adapter::KernelGeneration;
use crate::engine::device::{Device, GPU_MAX_CLASSES};
use crate::engine::{Engine, EngineRun, EpochStats, Gradient, RunSpec, StepPlan, SumsRun, WorkCounts};
use crate::error::{Error, Result};
use crate::math::loss::Loss;
use crate::math::model::Model;
use crate::math::objective::{Objective, RawSums};
use crate::math::optim::{Optimizer, OptimizerState};
use shared::{loss_code, rule_code, LANES, STEP_CAP, TILE_ROWS, WORKGROUP_SIZE};

/// The most workgroups one gradient pass over a buffer uses; each sums a
/// fixed span of rows, so any number of rows fits one dispatch.
const MAX_PARTIAL_GROUPS: usize = 1024;
/// The most workgroups of the grid-stride gather.
const MAX_GATHER_GROUPS: usize = 4096;
/// The most steps of steps.wgsl per dispatch.
const MAX_STEPS_PER_DISPATCH: usize = 4096;
/// Loop iterations one invocation may run in one dispatch. Mesa's llvmpipe
/// (lavapipe) silently leaves any loop once an invocation has run 65,535
/// iterations of all its loops together, so the steps of one dispatch are
/// bounded by this budget (on every adapter: a dispatch then still runs
/// dozens of steps or more).
const LOOP_BUDGET: usize = 60_000;
/// Steps of the other paths encoded per submission.
const STEPS_PER_SUBMISSION: usize = 512;
/// The most partial sums per column reduce_update.wgsl adds (a thread
/// adds a column's alone, one after another).
const MAX_REDUCE_UPDATE_GROUPS: usize = 256;
/// The most bytes of rows (X and y) one window of gathered rows holds for
/// steps.wgsl where X is split across buffers: enough for thousands of
/// small steps per dispatch, small beside any GPU's memory.
const WINDOW_BYTES: u64 = 64 << 20;

/// Mirrors `Shape` in shaders/common.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
struct Shape {
    rows: u32,
    features: u32,
    batch_size: u32,
    total_rows: u32,
    rows_per_group: u32,
    group_offset: u32,
    chunk_start: u32,
    rows_from_control: u32,
    loss: u32,
    l1_strength: f32,
    optimizer: u32,
    partial_groups: u32,
    steps_per_epoch: u32,
    l2_strength: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    steps_per_dispatch: u32,
    loss_epsilon: f32,
    weighted: u32,
    average_from: u32,
    classes: u32,
    steps_per_window: u32,
    windowed: u32,
    log_beta1: f32,
    log_beta2: f32,
    mean_weight: f32,
    models: u32,
}

impl Shape {
    /// The shape of a run of `start` over `n` rows of `d` features
    /// (weighted or not), before its kernels' own fields: the rows, the
    /// loss, the penalty, the update rule and the averaging.
    fn for_run(start: &RunSpec, n: usize, d: usize, weighted: bool) -> Result<Shape> {
        let classes = start.objective.loss.margins();
        let (code, beta1, beta2, eps) = optimizer_code(&start.optimizer);
        Ok(Shape {
            rows: as_u32(n, "rows")?,
            features: as_u32(d, "features")?,
            batch_size: as_u32(start.steps.batch_rows, "batch size")?,
            total_rows: as_u32(n, "rows")?,
            loss: loss_code(start.objective.loss),
            l1_strength: start.objective.penalty.l1_strength(),
            optimizer: code,
            steps_per_epoch: as_u32(start.steps.steps_per_epoch(), "steps per epoch")?,
            l2_strength: start.objective.penalty.l2_strength(),
            beta1,
            beta2,
            eps,
            loss_epsilon: start.objective.loss.epsilon().unwrap_or(0.0),
            weighted: u32::from(weighted),
            // 0: not averaging (steps count from 1).
            average_from: match start.average_from {
                Some(from) if from > STEP_CAP => {
                    return Err(Error::Engine(EngineError::GpuFailure {
                        reason: format!(
                            "averaging from step {from}: the GPU counts steps up to {STEP_CAP}; average from an earlier step or on the CPU"
                        ),
                    }))
                }
                Some(from) => from.max(1) as u32,
                None => 0,
            },
            classes: classes as u32,
            log_beta1: natural_log(beta1),
            log_beta2: natural_log(beta2),
            // 0: a batch's sums over its own weight.
            mean_weight: start.mean_weight.map_or(0.0, |mean| mean as f32),
            ..Zeroable::zeroed()
        })
    }
}

/// Mirrors `Control` in shaders/common.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, Default)]
struct Control {
    epoch_step: u32,
    global_step: u32,
    learning_rate: f32,
    batch_rows: u32,
    batch_weight: f32,
    live_models: u32,
    masked: u32,
}

/// How each step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepKernels {
    /// Every row: the gradient pass over each buffer of X.
    Full,
    /// Mini-batch rows gathered into one buffer, then the gradient pass.
    Gathered,
    /// Many small steps per dispatch (steps.wgsl).
    Fused,
}

/// The gradient pass a fit's steps run.
enum PartialsPass {
    /// gradient.wgsl (one margin) or gradient_classes.wgsl (many), compiled
    /// with the context: the legacy generation, and the current one's pass
    /// for many margins and very wide rows.
    Legacy,
    /// gradient_rows.wgsl built for the fit's shape.
    Rows(specialized::RowsShape, Arc<context::Kernel>),
}

impl PartialsPass {
    /// The pass of the context's kernel generation for rows of `features`
    /// values, `classes` margins and loss `loss`.
    fn choose(context: &GpuContext, features: usize, classes: usize, loss: Loss) -> Result<Self> {
        let shape = match context.generation {
            KernelGeneration::Current => {
                specialized::RowsShape::new(context.adapter(), features, classes, loss_code(loss))
            }
            KernelGeneration::Legacy => None,
        };
        Ok(match shape {
            Some(shape) => PartialsPass::Rows(shape, context.rows_kernel(&shape)?),
            None => PartialsPass::Legacy,
        })
    }

    fn kernel<'a>(&'a self, context: &'a GpuContext, classes: usize) -> &'a context::Kernel {
        match self {
            PartialsPass::Legacy => pipelines_for_partials(context, classes),
            PartialsPass::Rows(_, kernel) => kernel,
        }
    }

    /// Rows each workgroup sums in a pass over `rows` rows of a pass over
    /// `total_rows` (the buffer's rows, of all the rows).
    fn rows_per_group(&self, rows: usize, total_rows: usize, features: usize, classes: usize) -> usize {
        match self {
            PartialsPass::Legacy => rows_per_group(rows, features, classes),
            PartialsPass::Rows(shape, _) => shape.rows_per_group(total_rows),
        }
    }
}

/// One buffer of whole rows of X, with its targets and the uniform that
/// says which rows they are.
struct Chunk {
    x: wgpu::Buffer,
    y: wgpu::Buffer,
    shape: wgpu::Buffer,
}

/// Rows each workgroup of the gradient pass sums for `rows` rows of
/// `features` values: a multiple of the tile, with at most
/// `MAX_PARTIAL_GROUPS` workgroups unless a span that long would run more
/// loop iterations than [`LOOP_BUDGET`] (very wide rows).
fn rows_per_group(rows: usize, features: usize, classes: usize) -> usize {
    let tiles = rows.div_ceil(MAX_PARTIAL_GROUPS).div_ceil(TILE_ROWS).max(1);
    tiles.min((LOOP_BUDGET / tile_cost(features, classes)).max(1)) * TILE_ROWS
}

/// The loop iterations one invocation of the gradient pass runs per tile.
fn tile_cost(features: usize, classes: usize) -> usize {
    // Per tile: the margin (d/8 per lane), the eight lane sums, and for
    // each block of 256 features the tile's 32 rows; with K margins
    // (gradient_classes.wgsl), K times the margins' products and lane
    // sums, the softmax's three passes over K, and a block of 256 for every
    // 256 of the (d + 1) K columns.
    match classes {
        1 => {
            features.div_ceil(LANES as usize)
                + 9
                + features.div_ceil(WORKGROUP_SIZE as usize) * (TILE_ROWS + 1)
        }
        k => {
            features.div_ceil(8) * (k + 1)
                + k * 14
                + ((features + 1) * k).div_ceil(WORKGROUP_SIZE as usize) * (TILE_ROWS + 1)
        }
    }
}

/// Steps of steps.wgsl per dispatch within [`LOOP_BUDGET`]: a step costs
/// the invocations of one SIMD group about 2d + 3·batch loop iterations
/// (the margin, then the weight, bias and loss sums, whose branches run
/// one after the other in a group), plus a few.
fn steps_per_dispatch(batch: usize, features: usize) -> usize {
    (LOOP_BUDGET / (2 * features + 3 * batch + 8)).clamp(1, MAX_STEPS_PER_DISPATCH)
}

/// Workgroups laid out in two dimensions when one is not enough.
fn grid(context: &GpuContext, groups: usize) -> (u32, u32) {
    let per_dimension = context.limits.max_compute_workgroups_per_dimension.max(1) as usize;
    let groups = groups.max(1);
    let x = groups.min(per_dimension);
    (x as u32, groups.div_ceil(x) as u32)
}

/// ln β in float64, rounded to float32 (0 for β = 0, which the kernels
/// treat apart).
fn natural_log(beta: f32) -> f32 {
    match beta > 0.0 {
        true => f64::from(beta).ln() as f32,
        false => 0.0,
    }
}

/// The update rule's code and its β₁, β₂ (or α) and ε as `Shape` holds them.
fn optimizer_code(optimizer: &Optimizer) -> (u32, f32, f32, f32) {
    let (beta1, beta2, eps) = match *optimizer {
        Optimizer::Sgd(_) => (0.0, 0.0, 0.0),
        Optimizer::Momentum(o) => (o.beta, 0.0, 0.0),
        Optimizer::AdaGrad(o) => (0.0, 0.0, o.eps),
        Optimizer::RmsProp(o) => (0.0, o.alpha, o.eps),
        Optimizer::Adam(o) => (o.beta1, o.beta2, o.eps),
    };
    (rule_code(optimizer), beta1, beta2, eps)
}

/// Refuses a loss with more margins per row than the kernels hold.
fn check_classes(loss: Loss) -> Result<()> {
    match loss.margins() {
        margins if margins > GPU_MAX_CLASSES => Err(Error::Engine(EngineError::TooManyClassesForGpu {
            classes: margins,
            limit: GPU_MAX_CLASSES,
        })),
        _ => Ok(()),
    }
}

fn as_u32(value: usize, what: &str) -> Result<u32> {
    u32::try_from(value).map_err(|_| {
        Error::Engine(EngineError::GpuFailure {
            reason: format!("{what} = {value} does not fit the kernels' 32-bit indices"),
        })
    })
}

/// Where the rows of a run live.
#[derive(Clone, Copy)]
enum Placement<'c, 'r> {
    /// Uploaded once from this source.
    Upload(&'r dyn DataSource),
    /// Streamed from this source every epoch, in blocks of `block_rows`.
    Stream {
        source: &'c dyn DataSource,
        block_rows: usize,
    },
}

impl Placement<'_, '_> {
    fn source(&self) -> &dyn DataSource {
        match *self {
            Placement::Upload(source) | Placement::Stream { source, .. } => source,
        }
    }

    fn block_rows(&self) -> Option<usize> {
        match *self {
            Placement::Upload(_) => None,
            Placement::Stream { block_rows, .. } => Some(block_rows),
        }
    }
}

/// A fit's data and state on the device, with everything each step binds.
struct OnDevice<'c> {
    context: &'c GpuContext,
    kernels: StepKernels,
    /// The gradient pass over rows.
    partials_pass: PartialsPass,
    /// Rows of the whole data set.
    rows: usize,
    features: usize,
    /// Margins per row: the classes of a multinomial loss, the models of a
    /// pass of many ([`OnDevice::models`]), else 1.
    classes: usize,
    /// The loss sums of a pass: one per model of a pass of many, else one.
    loss_columns: usize,
    steps_per_epoch: usize,
    steps_per_dispatch: usize,
    /// Steps whose rows one gather copies (1 but for windows of them).
    steps_per_window: usize,
    params: wgpu::Buffer,
    state: wgpu::Buffer,
    control: wgpu::Buffer,
    sums: wgpu::Buffer,
    /// The loss of each step of an epoch, added on the host in float64.
    step_losses: wgpu::Buffer,
    order: Option<wgpu::Buffer>,
    step_bind_groups: StepBindGroups,
    /// Where the rows do not fit the device: the source they are streamed
    /// from, block by block.
    stream: Option<stream::Stream<'c>>,
    /// What has been dispatched, submitted, written and read back since
    /// the counts were last taken.
    work: Cell<WorkCounts>,
}

/// A buffer of X's own partial sums, copied into their place among all
/// of them before the reduction.
struct PartialCopy {
    from: wgpu::Buffer,
    /// Where they go in the buffer of all partial sums, in bytes.
    offset: u64,
    bytes: u64,
}

/// The bind groups of each kernel a step dispatches.
struct StepBindGroups {
    /// Gradient pass per buffer of rows: (bind group, workgroups).
    partials: Vec<(wgpu::BindGroup, usize)>,
    /// Where each buffer of X has its own partial sums: their copies.
    partial_copies: Vec<PartialCopy>,
    /// Every workgroup's partial sums, which the reduction adds.
    all_partials: wgpu::Buffer,
    /// Gather per buffer of X.
    gather: Vec<wgpu::BindGroup>,
    gather_groups: usize,
    reduce: wgpu::BindGroup,
    update: wgpu::BindGroup,
    /// Where a step's reduction and update run as one dispatch
    /// (reduce_update.wgsl): gathered batches of the current generation.
    reduce_update: Option<wgpu::BindGroup>,
    steps: Option<wgpu::BindGroup>,
}

impl<'c> OnDevice<'c> {
    /// Builds the state of a run from `start` with its rows placed as
    /// `placement` says: uploaded block by block, or room left for
    /// [`stream::SLOTS`] blocks that each epoch streams the source through.
    fn new(context: &'c GpuContext, placement: Placement<'c, '_>, start: &RunSpec) -> Result<Self> {
        context.checked("uploading the data", || Self::build(context, placement, start, 1))?
    }

    /// The rows placed as `placement` says, for the raw sums of up to
    /// `models` (at least 2, their margins at most [`GPU_MAX_CLASSES`])
    /// models of `objective`'s loss in one pass: their parameters side by
    /// side as a multinomial's classes are, each model's margins and loss
    /// its own (gradient_classes.wgsl), [`OnDevice::raw_sums_of_models`].
    /// With `row_words`, room after the parameters for a word per row
    /// saying whose rows it is ([`OnDevice::set_row_models`]).
    fn models(
        context: &'c GpuContext,
        placement: Placement<'c, '_>,
        objective: Objective,
        models: usize,
        row_words: bool,
    ) -> Result<Self> {
        let source = placement.source();
        let parameters = (source.features() + 1) * objective.loss.margins() * models;
        let words = if row_words { source.rows() } else { 0 };
        let spec = Self::full_batch_spec(placement, objective, vec![0.0; parameters + words]);
        context.checked("uploading the data", || {
            Self::build(context, placement, &spec, models)
        })?
    }

    /// A full-batch run at `parameters` with a plain optimizer, for
    /// gradients without a fit.
    fn full_batch(
        context: &'c GpuContext,
        placement: Placement<'c, '_>,
        objective: Objective,
        parameters: Vec<f32>,
    ) -> Result<Self> {
        Self::new(
            context,
            placement,
            &Self::full_batch_spec(placement, objective, parameters),
        )
    }

    /// The spec of a full-batch run at `parameters` with a plain optimizer.
    fn full_batch_spec(placement: Placement<'_, '_>, objective: Objective, parameters: Vec<f32>) -> RunSpec {
        let optimizer = Optimizer::default();
        let state = optimizer.initial_state(parameters.len());
        RunSpec {
            objective,
            optimizer,
            steps: StepPlan::new(placement.source().rows(), None),
            shuffle: Shuffle::None,
            parameters,
            state,
            average_from: None,
            reducer: None,
            mean_weight: None,
        }
    }

    /// Builds the run of `start`, or where `models` is more than 1, the
    /// pass of that many models of its loss ([`OnDevice::models`]).
    fn build(
        context: &'c GpuContext,
        placement: Placement<'c, '_>,
        start: &RunSpec,
        models: usize,
    ) -> Result<Self> {
        let source = placement.source();
        let streamed_rows = placement.block_rows();
        let device = &context.device;
        let (n, d) = (source.rows(), source.features());
        // The margins of a row, and its loss sums: a pass of many models
        // has each model's margins side by side, and a loss sum for each.
        let per_model = start.objective.loss.margins();
        let (classes, loss_columns) = match models {
            1 => (per_model, 1),
            models => (models * per_model, models),
        };
        // The weights (features × classes), then the biases.
        let parameter_count = (d + 1) * classes;
        // A slot of partial sums: the parameters', the losses', the weight.
        let slot_values = parameter_count + loss_columns + 1;
        let weighted = source.weights(0, n.min(1))?.is_some();
        // Values per row in the buffers of y: the target, then its weight.
        let y_stride = 1 + usize::from(weighted);
        let row_bytes = (d * 4) as u64;
        let max_binding = context.adapter().max_binding_bytes;
        if row_bytes > max_binding {
            return Err(Error::Engine(EngineError::GpuFailure {
                reason: format!(
                    "one row of {d} features ({row_bytes} bytes) exceeds the adapter's largest binding ({max_binding} bytes)"
                ),
            }));
        }
        let batch = start.steps.batch_rows;
        let steps_per_epoch = start.steps.steps_per_epoch();
        // A buffer of y (with weights, two values a row) must fit a binding
        // too, as must a gathered batch's.
        let y_rows = (max_binding / (4 * y_stride as u64)).max(1) as usize;
        let rows_per_chunk = streamed_rows
            .unwrap_or((context.x_chunk_bytes / row_bytes).max(1) as usize)
            .min(y_rows)
            .min(n);
        let single_chunk = streamed_rows.is_none() && rows_per_chunk >= n;
        let partials_pass = match models {
            1 => PartialsPass::choose(context, d, classes, start.objective.loss)?,
            _ => PartialsPass::Legacy,
        };
        // Small steps run many to a dispatch (steps.wgsl): from X itself in
        // one buffer, or, in the current generation, from a window of rows
        // gathered from X's buffers once per dispatch.
        let fusable = classes == 1 && batch <= WORKGROUP_SIZE as usize && d + 2 <= WORKGROUP_SIZE as usize;
        let windowed = fusable
            && !single_chunk
            && streamed_rows.is_none()
            && context.generation == KernelGeneration::Current;
        let kernels = match start.steps.shuffled {
            false => StepKernels::Full,
            true if fusable && (single_chunk || windowed) => StepKernels::Fused,
            true => StepKernels::Gathered,
        };
        let windowed = windowed && kernels == StepKernels::Fused;
        // Steps per dispatch of steps.wgsl: within the loop budget, and
        // where rows are gathered, a window of at most WINDOW_BYTES.
        let window_rows_limit =
            (WINDOW_BYTES.min(max_binding) / (row_bytes + 4 * y_stride as u64)).max(1) as usize;
        let fused_steps = match windowed {
            true => steps_per_dispatch(batch, d).min((window_rows_limit / batch.max(1)).max(1)),
            false => steps_per_dispatch(batch, d),
        };
        // Larger batches in the current generation: the rows of several
        // steps gathered at once into a window that the gradient pass reads
        // step by step (gradient_rows.wgsl), at most WINDOW_BYTES of them
        // (one step's at least).
        let windows_of_batches = context.generation == KernelGeneration::Current
            && (matches!(partials_pass, PartialsPass::Rows(..)) || classes > 1);
        let gathered_steps =
            match kernels == StepKernels::Gathered && windows_of_batches && streamed_rows.is_none() {
                true => (window_rows_limit / batch.max(1)).clamp(1, steps_per_epoch.max(1)),
                false => 1,
            };
        // The current pass over X in several buffers writes each buffer's
        // partial sums into a buffer of their own, so that nothing orders
        // the buffers' dispatches (wgpu puts a barrier between dispatches
        // that write one buffer); they are copied together for the
        // reduction.
        let partials_per_chunk = matches!(partials_pass, PartialsPass::Rows(..))
            && kernels == StepKernels::Full
            && streamed_rows.is_none()
            && rows_per_chunk < n;
        let base = Shape {
            steps_per_dispatch: fused_steps as u32,
            steps_per_window: if windowed { fused_steps } else { gathered_steps } as u32,
            windowed: u32::from(windowed || gathered_steps > 1),
            classes: classes as u32,
            models: match models {
                1 => 0,
                _ => per_model as u32,
            },
            ..Shape::for_run(start, n, d, weighted)?
        };

        let storage =
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC;
        let init = |label: &str, contents: &[u8], usage| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents,
                usage,
            })
        };
        let empty = |label: &str, size: u64| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: size.max(16),
                usage: storage,
                mapped_at_creation: false,
            })
        };

        let shape_buffer = |shape: &Shape| {
            init(
                "shape",
                bytemuck::bytes_of(shape),
                wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            )
        };
        let mut chunks = Vec::new();
        // Workgroups of the gradient pass over every row (the full batch),
        // each with its own partial sums: where each buffer of X has its
        // own buffer of them, (the first slot in the whole, slots).
        let mut group_offset = 0usize;
        let mut chunk_slots = Vec::new();
        for start in (0..n).step_by(rows_per_chunk) {
            let rows = rows_per_chunk.min(n - start);
            let span = partials_pass.rows_per_group(rows, n, d, classes);
            if streamed_rows.is_none() {
                let block = source.block(start, rows)?;
                let x = init("x", bytemuck::cast_slice(&block.x), storage);
                let weights = crate::data::source::weights_of(source, start, rows)?;
                if weighted && weights.is_none() {
                    // Weights for some rows and not others.
                    return Err(Error::WeightCountMismatch { rows, weights: 0 });
                }
                let y = init(
                    "y",
                    bytemuck::cast_slice(&targets_and_weights(&block.y, weights.as_deref())),
                    storage,
                );
                drop(block);
                // Upload chunk by chunk, so that at most one chunk waits in
                // staging memory at a time.
                context.queue.submit([]);
                let shape = shape_buffer(&Shape {
                    rows: rows as u32,
                    rows_per_group: span as u32,
                    group_offset: if partials_per_chunk {
                        0
                    } else {
                        group_offset as u32
                    },
                    chunk_start: start as u32,
                    ..base
                });
                chunks.push(Chunk { x, y, shape });
            }
            chunk_slots.push((group_offset, rows.div_ceil(span)));
            group_offset += rows.div_ceil(span);
        }
        if streamed_rows.is_some() {
            // Empty slots (no rows) until the first block arrives.
            for _ in 0..stream::SLOTS {
                chunks.push(Chunk {
                    x: empty("x slot", (rows_per_chunk * d * 4) as u64),
                    y: empty("y slot", (rows_per_chunk * y_stride * 4) as u64),
                    shape: shape_buffer(&Shape { rows: 0, ..base }),
                });
            }
        }

        let batch_span = partials_pass.rows_per_group(batch, batch, d, classes);
        let partial_groups = match kernels {
            StepKernels::Full => group_offset,
            StepKernels::Gathered => batch.div_ceil(batch_span),
            StepKernels::Fused => 0,
        };
        let step_shape = Shape {
            rows: if kernels == StepKernels::Full {
                n as u32
            } else {
                batch as u32
            },
            rows_per_group: batch_span as u32,
            rows_from_control: u32::from(kernels != StepKernels::Full),
            partial_groups: partial_groups as u32,
            ..base
        };
        let uniform = |shape: &Shape| init("shape", bytemuck::bytes_of(shape), wgpu::BufferUsages::UNIFORM);
        let step_uniform = uniform(&step_shape);

        let params = init("parameters", bytemuck::cast_slice(&start.parameters), storage);
        let state = init(
            "optimizer state",
            bytemuck::cast_slice(&state_layout(&start.state, parameter_count)),
            storage,
        );
        let control = init("control", bytemuck::bytes_of(&Control::default()), storage);
        let sums = empty("raw sums", ((parameter_count + loss_columns) * 4) as u64);
        let step_losses = empty("step losses", (steps_per_epoch.max(1) * 4) as u64);
        // Σ ℓ′ x, Σ ℓ′ (per class), Σ loss (per model) and Σ weight per
        // workgroup.
        let partials = empty("partial sums", (partial_groups.max(1) * slot_values * 4) as u64);
        let partials_kernel = partials_pass.kernel(context, classes);
        // A tile beyond lavapipe's loop limit would be cut short without a
        // word; partial sums beyond a binding would not bind.
        let cost = tile_cost(d, classes);
        let legacy = matches!(partials_pass, PartialsPass::Legacy);
        if legacy && context.adapter().is_software() && cost > LOOP_BUDGET {
            return Err(Error::Engine(EngineError::GpuFailure {
                reason: format!(
                    "one tile of {d} features × {classes} margins runs {cost} loop iterations, beyond the {LOOP_BUDGET} a software adapter (lavapipe) runs before it leaves a loop; use the CPU engine"
                ),
            }));
        }
        let partial_bytes = (partial_groups.max(1) * slot_values * 4) as u64;
        if partial_bytes > max_binding {
            return Err(Error::Engine(EngineError::GpuFailure {
                reason: format!(
                    "the partial sums of {partial_groups} workgroups × {slot_values} values ({partial_bytes} bytes) exceed the adapter's largest binding ({max_binding} bytes); use fewer classes or features, or the CPU engine"
                ),
            }));
        }
        let order = start.steps.shuffled.then(|| empty("permutation", (n * 4) as u64));

        let pipelines = &context.pipelines;
        let bind = |kernel: &context::Kernel, buffers: &[&wgpu::Buffer]| bind_group(device, kernel, buffers);

        // A bind group holds the buffers it names: the chunks and the batch
        // buffers live as long as the bind groups do.
        let mut partial_groups_per_pass = Vec::new();
        let mut partial_copies = Vec::new();
        let mut gather = Vec::new();
        // The gather from each buffer of X into `x` and `y` (a batch, or a
        // window of several steps' batches).
        let gathers_into =
            |order: &wgpu::Buffer, x: &wgpu::Buffer, y: &wgpu::Buffer| -> Vec<wgpu::BindGroup> {
                chunks
                    .iter()
                    .map(|chunk| {
                        bind(
                            &pipelines.gather,
                            &[&chunk.shape, &chunk.x, &chunk.y, order, &control, x, y],
                        )
                    })
                    .collect()
            };
        let slot_bytes = (slot_values * 4) as u64;
        match kernels {
            StepKernels::Full => {
                for (chunk, &(first_slot, slots)) in chunks.iter().zip(&chunk_slots) {
                    let own;
                    let written = if partials_per_chunk {
                        own = empty("partial sums of a buffer of X", slots as u64 * slot_bytes);
                        partial_copies.push(PartialCopy {
                            from: own.clone(),
                            offset: first_slot as u64 * slot_bytes,
                            bytes: slots as u64 * slot_bytes,
                        });
                        &own
                    } else {
                        &partials
                    };
                    let group = bind(
                        partials_kernel,
                        &[&chunk.shape, &chunk.x, &chunk.y, &params, &control, written],
                    );
                    partial_groups_per_pass.push((group, slots));
                }
            }
            StepKernels::Gathered => {
                let window_rows = (gathered_steps * batch).min(n.max(batch));
                let batch_bytes = (window_rows * d * 4) as u64;
                if batch_bytes > max_binding {
                    return Err(Error::Engine(EngineError::GpuFailure {
                        reason: format!(
                            "a batch of {batch} rows × {d} features ({batch_bytes} bytes) exceeds the adapter's largest binding ({max_binding} bytes); use a smaller batch or Variant::Full"
                        ),
                    }));
                }
                let batch_x = empty("batch x", batch_bytes);
                let batch_y = empty("batch y", (window_rows * y_stride * 4) as u64);
                let order = order.as_ref().expect("mini-batch plans have a permutation");
                gather = gathers_into(order, &batch_x, &batch_y);
                let group = bind(
                    partials_kernel,
                    &[&step_uniform, &batch_x, &batch_y, &params, &control, &partials],
                );
                partial_groups_per_pass.push((group, partial_groups));
            }
            StepKernels::Fused => {}
        }
        let steps = match kernels {
            StepKernels::Fused => {
                let order = order.as_ref().expect("mini-batch plans have a permutation");
                let (x, y) = match windowed {
                    true => {
                        let window_rows = (fused_steps * batch).min(n);
                        let window_x = empty("window x", (window_rows * d * 4) as u64);
                        let window_y = empty("window y", (window_rows * y_stride * 4) as u64);
                        gather = gathers_into(order, &window_x, &window_y);
                        (window_x, window_y)
                    }
                    false => (chunks[0].x.clone(), chunks[0].y.clone()),
                };
                Some(bind(
                    &pipelines.steps,
                    &[
                        &step_uniform,
                        &x,
                        &y,
                        order,
                        &control,
                        &params,
                        &state,
                        &step_losses,
                    ],
                ))
            }
            _ => None,
        };
        let stream = match placement {
            Placement::Upload(_) => None,
            Placement::Stream { source, block_rows } => Some(stream::Stream {
                source,
                block_rows,
                base,
                // The full batch's gradient pass runs over each block as it
                // arrives, not in every step.
                slot_passes: match kernels {
                    StepKernels::Full => std::mem::take(&mut partial_groups_per_pass)
                        .into_iter()
                        .map(|(group, _)| group)
                        .collect(),
                    _ => Vec::new(),
                },
                slots: chunks,
            }),
        };
        let step_bind_groups = StepBindGroups {
            partials: partial_groups_per_pass,
            partial_copies,
            all_partials: partials.clone(),
            gather,
            gather_groups: (base.steps_per_window as usize * batch * d)
                .div_ceil(WORKGROUP_SIZE as usize)
                .min(MAX_GATHER_GROUPS),
            reduce: bind(
                &pipelines.reduce,
                &[&step_uniform, &partials, &params, &control, &sums, &step_losses],
            ),
            update: bind(
                &pipelines.update,
                &[&step_uniform, &sums, &control, &params, &state],
            ),
            // A batch's few partial sums: reduced and applied in one
            // dispatch, whose one workgroup adds each column's alone (more
            // than a few hundred are faster added by reduce.wgsl's
            // workgroup per column).
            reduce_update: (kernels == StepKernels::Gathered
                && windows_of_batches
                && partial_groups <= MAX_REDUCE_UPDATE_GROUPS
                && 3 * partial_groups * parameter_count.div_ceil(WORKGROUP_SIZE as usize) <= LOOP_BUDGET / 4)
                .then(|| {
                    bind(
                        &pipelines.reduce_update,
                        &[&step_uniform, &partials, &control, &params, &state, &step_losses],
                    )
                }),
            steps,
        };
        Ok(OnDevice {
            context,
            kernels,
            partials_pass,
            rows: n,
            features: d,
            classes,
            loss_columns,
            steps_per_epoch,
            steps_per_dispatch: base.steps_per_dispatch as usize,
            steps_per_window: base.steps_per_window as usize,
            params,
            state,
            control,
            sums,
            step_losses,
            order,
            step_bind_groups,
            stream,
            work: Cell::new(WorkCounts::default()),
        })
    }

    /// Adds to the counts of work done.
    fn count(&self, add: impl FnOnce(&mut WorkCounts)) {
        let mut work = self.work.get();
        add(&mut work);
        self.work.set(work);
    }

    /// The work counted since the last call, and the counts back to zero.
    fn take_work(&self) -> WorkCounts {
        self.work.take()
    }

    /// Records a dispatch of `groups` workgroups, laid out by [`grid`].
    fn dispatch(&self, pass: &mut wgpu::ComputePass, groups: usize) {
        let (gx, gy) = grid(self.context, groups);
        pass.dispatch_workgroups(gx, gy, 1);
        self.count(|work| work.dispatches += 1);
    }

    /// Writes `bytes` into `buffer` through the queue (before the next
    /// submission), and counts them.
    fn upload(&self, buffer: &wgpu::Buffer, bytes: &[u8]) {
        self.context.queue.write_buffer(buffer, 0, bytes);
        self.count(|work| work.uploaded_bytes += bytes.len() as u64);
    }

    /// Submits `encoder`, counting the submission.
    fn submit(&self, what: &str, encoder: wgpu::CommandEncoder) -> Result<wgpu::SubmissionIndex> {
        self.count(|work| work.submissions += 1);
        self.context
            .checked(what, || self.context.queue.submit([encoder.finish()]))
    }

    /// Encodes the gradient pass and the reduction of one step: in one
    /// compute pass, or, where each buffer of X has partial sums of its
    /// own, the gradient pass, their copies, and the reduction in a pass
    /// of its own.
    fn encode_gradient(&self, encoder: &mut wgpu::CommandEncoder) {
        if self.step_bind_groups.partial_copies.is_empty() {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            self.encode_partials(&mut pass, true);
            self.encode_reduce(&mut pass);
            return;
        }
        self.encode_copied_partials(encoder);
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
        self.encode_reduce(&mut pass);
    }

    /// Encodes the gradient pass over each buffer of X into its own
    /// partial sums, then their copies among all of them.
    fn encode_copied_partials(&self, encoder: &mut wgpu::CommandEncoder) {
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            self.encode_partials(&mut pass, true);
        }
        for copy in &self.step_bind_groups.partial_copies {
            encoder.copy_buffer_to_buffer(
                &copy.from,
                0,
                &self.step_bind_groups.all_partials,
                copy.offset,
                copy.bytes,
            );
        }
    }

    /// Encodes the gradient pass of one step, after the gather of its rows
    /// where `gather` says (the first step of a window of them).
    fn encode_partials(&self, pass: &mut wgpu::ComputePass, gather: bool) {
        let pipelines = &self.context.pipelines;
        let groups = &self.step_bind_groups;
        if self.kernels == StepKernels::Gathered && gather {
            pass.set_pipeline(&pipelines.gather.pipeline);
            for bind_group in &groups.gather {
                pass.set_bind_group(0, bind_group, &[]);
                self.dispatch(pass, groups.gather_groups);
            }
        }
        pass.set_pipeline(&self.partials_pass.kernel(self.context, self.classes).pipeline);
        for (bind_group, workgroups) in &groups.partials {
            pass.set_bind_group(0, bind_group, &[]);
            self.dispatch(pass, *workgroups);
        }
    }

    /// Encodes the reduction of the gradient pass's partial sums.
    fn encode_reduce(&self, pass: &mut wgpu::ComputePass) {
        let pipelines = &self.context.pipelines;
        let groups = &self.step_bind_groups;
        pass.set_pipeline(&pipelines.reduce.pipeline);
        pass.set_bind_group(0, &groups.reduce, &[]);
        // A workgroup per column: the parameters', then the losses'.
        self.dispatch(pass, self.parameter_count() + self.loss_columns);
    }

    /// The weights (features × classes), then the biases.
    fn parameter_count(&self) -> usize {
        (self.features + 1) * self.classes
    }

    /// Encodes `count` whole steps, from step `first` of the epoch.
    fn encode_steps(&self, encoder: &mut wgpu::CommandEncoder, first: usize, count: usize) {
        let pipelines = &self.context.pipelines;
        let groups = &self.step_bind_groups;
        let update_groups = self.parameter_count().div_ceil(WORKGROUP_SIZE as usize);
        let update = |pass: &mut wgpu::ComputePass| {
            pass.set_pipeline(&pipelines.update.pipeline);
            pass.set_bind_group(0, &groups.update, &[]);
            self.dispatch(pass, update_groups);
        };
        match &groups.steps {
            Some(steps) => {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
                for _ in 0..count.div_ceil(self.steps_per_dispatch) {
                    // Where X is split: the window of the dispatch's rows
                    // first, gathered from each buffer.
                    if !groups.gather.is_empty() {
                        pass.set_pipeline(&pipelines.gather.pipeline);
                        for bind_group in &groups.gather {
                            pass.set_bind_group(0, bind_group, &[]);
                            self.dispatch(&mut pass, groups.gather_groups);
                        }
                    }
                    pass.set_pipeline(&pipelines.steps.pipeline);
                    pass.set_bind_group(0, steps, &[]);
                    self.dispatch(&mut pass, 1);
                }
            }
            None if groups.partial_copies.is_empty() => {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
                let window = self.steps_per_window.max(1);
                for step in first..first + count {
                    self.encode_partials(&mut pass, step % window == 0);
                    match &groups.reduce_update {
                        Some(reduce_update) => {
                            pass.set_pipeline(&pipelines.reduce_update.pipeline);
                            pass.set_bind_group(0, reduce_update, &[]);
                            self.dispatch(&mut pass, 1);
                        }
                        None => {
                            self.encode_reduce(&mut pass);
                            update(&mut pass);
                        }
                    }
                }
            }
            None => {
                for _ in 0..count {
                    self.encode_copied_partials(encoder);
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
                    self.encode_reduce(&mut pass);
                    update(&mut pass);
                }
            }
        }
    }

    /// Runs one epoch with `learning_rate` after `global_step` steps so far,
    /// and returns the sum of its batch losses and the parameters at its
    /// end, read back together.
    fn run_epoch(
        &self,
        order: Option<&[u32]>,
        learning_rate: f32,
        global_step: u64,
    ) -> Result<(f64, Vec<f32>)> {
        let context = self.context;
        let control = Control {
            global_step: global_step.min(STEP_CAP) as u32,
            learning_rate,
            ..Control::default()
        };
        self.upload(&self.control, bytemuck::bytes_of(&control));
        if let (Some(buffer), Some(order)) = (&self.order, order) {
            self.upload(buffer, bytemuck::cast_slice(order));
        }
        if let Some(stream) = &self.stream {
            self.stream_epoch(stream, order)?;
            let mut encoder = context.device.create_command_encoder(&Default::default());
            if order.is_none() {
                // Every block's partial sums are in: reduce them and step.
                self.encode_steps(&mut encoder, 0, 1);
            }
            return self.read_epoch(encoder);
        }
        let mut encoder = context.device.create_command_encoder(&Default::default());
        let per_submission = match self.kernels {
            StepKernels::Fused => self.steps_per_epoch,
            _ => STEPS_PER_SUBMISSION,
        };
        let mut done = 0;
        while done < self.steps_per_epoch {
            let count = per_submission.min(self.steps_per_epoch - done);
            self.encode_steps(&mut encoder, done, count);
            done += count;
            if done < self.steps_per_epoch {
                let full = std::mem::replace(
                    &mut encoder,
                    context.device.create_command_encoder(&Default::default()),
                );
                self.submit("running an epoch", full)?;
            }
        }
        self.read_epoch(encoder)
    }

    /// Submits `encoder` and reads back the epoch's loss sum and the
    /// parameters at its end.
    fn read_epoch(&self, encoder: wgpu::CommandEncoder) -> Result<(f64, Vec<f32>)> {
        self.count(|work| {
            work.submissions += 1;
            work.readbacks += 1;
        });
        read_epoch(
            self.context,
            encoder,
            &self.params,
            self.parameter_count(),
            &self.step_losses,
            self.steps_per_epoch,
        )
    }

    /// Submits `encoder` with copies of the first bytes of each buffer of
    /// `parts` and returns them one after the other ([`read_back`]),
    /// counting the submission and the readback.
    fn read(&self, encoder: wgpu::CommandEncoder, parts: &[(&wgpu::Buffer, u64)]) -> Result<Vec<u8>> {
        self.count(|work| {
            work.submissions += 1;
            work.readbacks += 1;
        });
        read_back(self.context, encoder, parts)
    }

    /// Replaces the parameters on the device (the weights, then the biases: one, or one per class).
    fn set_parameters(&self, parameters: &[f32]) {
        self.upload(&self.params, bytemuck::cast_slice(parameters));
    }

    /// The raw sums of every row at the current parameters (no update).
    fn raw_sums(&self) -> Result<RawSums> {
        let (values, control) = self.summed()?;
        let count = self.parameter_count();
        Ok(RawSums {
            derivative: values[..count].iter().map(|&v| f64::from(v)).collect(),
            loss: f64::from(values[count]),
            rows: control.batch_rows as usize,
            weight: f64::from(control.batch_weight),
        })
    }

    /// Writes, after the parameters of a run built by [`OnDevice::models`]
    /// with room for them, each row's word: bit k set where the row is one
    /// of `rows[k]` (indices, each list at most once a row).
    fn set_row_models(&self, rows: &[&[u32]]) {
        let mut words = vec![0u32; self.rows];
        for (k, list) in rows.iter().enumerate() {
            for &i in list.iter() {
                words[i as usize] |= 1 << k;
            }
        }
        let offset = (self.parameter_count() * 4) as u64;
        self.context
            .queue
            .write_buffer(&self.params, offset, bytemuck::cast_slice(&words));
        self.count(|work| work.uploaded_bytes += (words.len() * 4) as u64);
    }

    /// The raw sums of each of `parameters` (each a model's weights, then
    /// its biases; at most the models the run holds) over every row, or
    /// where `masked`, over the rows [`OnDevice::set_row_models`] last gave
    /// each, in one pass of a run built by [`OnDevice::models`].
    fn raw_sums_of_models(&self, parameters: &[&[f32]], masked: bool) -> Result<Vec<RawSums>> {
        let (d, width) = (self.features, self.classes);
        let per_model = width / self.loss_columns;
        // Model m's weight of feature j and class c (at j·C + c in its
        // parameters, the biases as feature d) at j·width + m·C + c.
        let place = |m: usize, i: usize| (i / per_model) * width + m * per_model + i % per_model;
        let mut packed = vec![0.0f32; (d + 1) * width];
        for (m, model) in parameters.iter().enumerate() {
            for (i, &value) in model.iter().take((d + 1) * per_model).enumerate() {
                packed[place(m, i)] = value;
            }
        }
        self.set_parameters(&packed);
        let control = Control {
            live_models: parameters.len() as u32,
            masked: u32::from(masked),
            ..Control::default()
        };
        self.upload(&self.control, bytemuck::bytes_of(&control));
        let (values, control) = self.summed()?;
        let count = self.parameter_count();
        Ok((0..parameters.len())
            .map(|m| RawSums {
                derivative: (0..(d + 1) * per_model)
                    .map(|i| f64::from(values[place(m, i)]))
                    .collect(),
                loss: f64::from(values[count + m]),
                rows: control.batch_rows as usize,
                weight: f64::from(control.batch_weight),
            })
            .collect())
    }

    /// The pass over every row at the current parameters (no update): the
    /// raw sums (the parameters', then the losses') and the control the
    /// reduction left.
    fn summed(&self) -> Result<(Vec<f32>, Control)> {
        if let Some(stream) = &self.stream {
            self.stream_epoch(stream, None)?;
        }
        let mut encoder = self.context.device.create_command_encoder(&Default::default());
        self.encode_gradient(&mut encoder);
        let values = self.parameter_count() + self.loss_columns;
        let control_bytes = std::mem::size_of::<Control>();
        let bytes = self.read(
            encoder,
            &[
                (&self.control, control_bytes as u64),
                (&self.sums, (values * 4) as u64),
            ],
        )?;
        let control: Control = bytemuck::pod_read_unaligned(&bytes[..control_bytes]);
        Ok((bytemuck::pod_collect_to_vec(&bytes[control_bytes..]), control))
    }
}

/// Submits `encoder` and reads back an epoch's end: the sum of its
/// `steps` losses and the `count` parameters.
fn read_epoch(
    context: &GpuContext,
    encoder: wgpu::CommandEncoder,
    params: &wgpu::Buffer,
    count: usize,
    step_losses: &wgpu::Buffer,
    steps: usize,
) -> Result<(f64, Vec<f32>)> {
    let parameter_bytes = count * 4;
    let bytes = read_back(
        context,
        encoder,
        &[
            (params, parameter_bytes as u64),
            (step_losses, (steps * 4) as u64),
        ],
    )?;
    let parameters = bytemuck::pod_collect_to_vec(&bytes[..parameter_bytes]);
    // Added here in float64, in step order: a compensated sum on the
    // device is not one a driver's compiler must keep (WGSL cannot
    // forbid it to reassociate).
    let step_losses: Vec<f32> = bytemuck::pod_collect_to_vec(&bytes[parameter_bytes..]);
    let loss_sum = step_losses.iter().map(|&loss| f64::from(loss)).sum();
    Ok((loss_sum, parameters))
}

/// The optimizer state of `count` parameters after `steps` updates, read
/// from `state` (its first moments, second moments and running average,
/// [`state_layout`]): the moments of `moment_lengths`, the average where
/// the fit has reached `average_from`.
fn read_optimizer_state(
    context: &GpuContext,
    state: &wgpu::Buffer,
    count: usize,
    steps: u64,
    moment_lengths: (usize, usize),
    average_from: Option<u64>,
) -> Result<OptimizerState> {
    let encoder = context.device.create_command_encoder(&Default::default());
    let values: Vec<f32> =
        bytemuck::pod_collect_to_vec(&read_back(context, encoder, &[(state, (3 * count * 4) as u64)])?);
    let averaging = average_from.is_some_and(|from| steps >= from);
    Ok(OptimizerState {
        steps,
        first_moment: values[..moment_lengths.0].to_vec(),
        second_moment: values[count..count + moment_lengths.1].to_vec(),
        average: match averaging {
            true => values[2 * count..3 * count].to_vec(),
            false => Vec::new(),
        },
    })
}

/// The bind group of `kernel` over `buffers`, bound in their order to the
/// kernel's binding numbers.
fn bind_group(device: &wgpu::Device, kernel: &context::Kernel, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
    debug_assert_eq!(buffers.len(), kernel.bindings.len(), "a buffer for each binding");
    let entries: Vec<wgpu::BindGroupEntry> = buffers
        .iter()
        .zip(&kernel.bindings)
        .map(|(buffer, &binding)| wgpu::BindGroupEntry {
            binding,
            resource: buffer.as_entire_binding(),
        })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &kernel.layout,
        entries: &entries,
    })
}

/// Submits `encoder` with copies of the first bytes of each buffer of
/// `parts` and returns them one after the other, waiting at most
/// [`context::WAIT_LIMIT`].
fn read_back(
    context: &GpuContext,
    mut encoder: wgpu::CommandEncoder,
    parts: &[(&wgpu::Buffer, u64)],
) -> Result<Vec<u8>> {
    let bytes: u64 = parts.iter().map(|(_, bytes)| bytes).sum();
    let staging = context.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size: bytes,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut offset = 0;
    for &(buffer, bytes) in parts {
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, offset, bytes);
        offset += bytes;
    }
    context.checked("running on the device", || {
        context.queue.submit([encoder.finish()])
    })?;
    let (sender, receiver) = mpsc::channel();
    staging.map_async(wgpu::MapMode::Read, .., move |outcome| {
        let _ = sender.send(outcome);
    });
    // Another thread polling the same device may be the one that runs
    // the callback, a moment after this thread's wait returns.
    let deadline = Instant::now() + context::WAIT_LIMIT;
    let mapped = loop {
        context.wait()?;
        match receiver.recv_timeout(Duration::from_millis(5)) {
            Ok(outcome) => break outcome,
            Err(_) if Instant::now() < deadline => continue,
            Err(_) => {
                return Err(Error::Engine(EngineError::GpuFailure {
                    reason: format!("the device did not finish within {:?}", context::WAIT_LIMIT),
                }))
            }
        }
    };
    mapped.map_err(|e| {
        Error::Engine(EngineError::GpuFailure {
            reason: format!("mapping a readback buffer: {e}"),
        })
    })?;
    let values = {
        let view = staging.get_mapped_range(..).map_err(|e| {
            Error::Engine(EngineError::GpuFailure {
                reason: format!("reading a mapped buffer: {e}"),
            })
        })?;
        view.to_vec()
    };
    staging.unmap();
    Ok(values)
}

/// The gradient pass for rows of `classes` margins: gradient.wgsl for one,
/// gradient_classes.wgsl for many.
fn pipelines_for_partials(context: &GpuContext, classes: usize) -> &context::Kernel {
    match classes {
        1 => &context.pipelines.partials,
        _ => &context.pipelines.partials_classes,
    }
}

/// The optimizer state as the shaders hold it: the first moments, the
/// second moments, then the running average of the parameters, `count`
/// each (zeros where the rule keeps none, or the fit does not average).
fn state_layout(state: &OptimizerState, count: usize) -> Vec<f32> {
    let mut values = vec![0.0; 3 * count];
    values[..state.first_moment.len()].copy_from_slice(&state.first_moment);
    values[count..count + state.second_moment.len()].copy_from_slice(&state.second_moment);
    values[2 * count..2 * count + state.average.len()].copy_from_slice(&state.average);
    values
}

impl GpuContext {
    /// Measures the device's copy bandwidth: bytes read plus bytes written
    /// per second by buffer-to-buffer copies between two buffers of
    /// `bytes` bytes (capped by the adapter's largest buffer), eight copies
    /// per submission, best of three submissions. The peak that
    /// `downhill bench` compares the gradient pass with.
    pub fn copy_bandwidth(&self, bytes: u64) -> Result<f64> {
        const COPIES: u64 = 8;
        let size = bytes.min(self.limits.max_buffer_size) / 4 * 4;
        let make = |label| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        };
        let (a, b) = self.checked("allocating the copy benchmark", || {
            (make("copy a"), make("copy b"))
        })?;
        let mut best = f64::INFINITY;
        for _ in 0..4 {
            let mut encoder = self.device.create_command_encoder(&Default::default());
            for copy in 0..COPIES {
                let (from, to) = if copy % 2 == 0 { (&a, &b) } else { (&b, &a) };
                encoder.copy_buffer_to_buffer(from, 0, to, 0, size);
            }
            let start = Instant::now();
            self.queue.submit([encoder.finish()]);
            self.wait()?;
            best = best.min(start.elapsed().as_secs_f64());
        }
        // The first submission also pays for first-touch allocation; the
        // best of the others is the bandwidth.
        Ok(2.0 * (size * COPIES) as f64 / best)
    }

    /// Uploads `x` and `y` once, for many gradient evaluations at
    /// different parameters without copying the data again; checks the
    /// data (NaN and infinity included) first.
    ///
    /// ```no_run
    /// use downhill::{GpuContext, Model};
    /// use ndarray::array;
    /// let context = GpuContext::new()?;
    /// let x = array![[1.0f32], [2.0]];
    /// let y = array![1.0f32, 2.0];
    /// let data = context.upload(Model::Linear, x.view(), y.view())?;
    /// let g = data.gradient(array![0.0f32].view(), 0.0)?;
    /// assert_eq!(g.weights[0], -5.0);
    /// # Ok::<(), downhill::Error>(())
    /// ```
    pub fn upload(&self, model: Model, x: ArrayView2<f32>, y: ArrayView1<f32>) -> Result<GpuData<'_>> {
        validate_training_data(model, x, y)?;
        let source = InMemory::unchecked(x, y);
        let objective = Objective::unpenalized(crate::math::loss::Loss::default_for(model));
        let on_device = OnDevice::full_batch(
            self,
            Placement::Upload(&source),
            objective,
            vec![0.0; x.ncols() + 1],
        )?;
        Ok(GpuData { on_device, objective })
    }

    /// [`crate::gradient`] on this context.
    pub fn gradient(
        self: &Arc<Self>,
        model: Model,
        x: ArrayView2<f32>,
        y: ArrayView1<f32>,
        w: ArrayView1<f32>,
        b: f32,
    ) -> Result<Gradient> {
        crate::engine::gradient_on(&GpuEngine::new(Arc::clone(self), None, None), model, x, y, w, b)
    }
}

/// Data held by a GPU context, from [`GpuContext::upload`].
pub struct GpuData<'c> {
    on_device: OnDevice<'c>,
    objective: Objective,
}

impl std::fmt::Debug for GpuData<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuData")
            .field("features", &self.on_device.features)
            .finish_non_exhaustive()
    }
}

impl GpuData<'_> {
    /// The gradient and the loss over every row at weights `w` and bias
    /// `b`: [`crate::gradient`] without the upload.
    pub fn gradient(&self, w: ArrayView1<f32>, b: f32) -> Result<Gradient> {
        validate_parameters(w, b, self.on_device.features)?;
        let mut parameters = w.to_vec();
        parameters.push(b);
        self.on_device.set_parameters(&parameters);
        let sums = self.on_device.raw_sums()?;
        Ok(Gradient::from_sums(&self.objective, &sums, &parameters))
    }
}

/// The largest streamed block, in bytes of X: blocks of a few hundred MB
/// keep the per-block costs (a submission, a wait) small against the
/// transfer.
const STREAM_BLOCK_BYTES: u64 = 256 << 20;

/// The GPU engine on one context. Rows (X, y and an epoch's permutation)
/// beyond the device budget are streamed through the device every epoch
/// ([`stream`]), in blocks that also fit the host budget.
pub(crate) struct GpuEngine {
    pub(crate) context: Arc<GpuContext>,
    /// Bytes of rows the engine keeps on the device.
    pub(crate) device_budget: u64,
    /// Bytes of rows a stream holds in host memory.
    pub(crate) host_budget: u64,
}

impl GpuEngine {
    /// The engine on `context` with the given budgets, or the defaults
    /// ([`GpuContext::memory_budget`], [`crate::memory::default_budget`]).
    pub(crate) fn new(
        context: Arc<GpuContext>,
        device_budget: Option<u64>,
        host_budget: Option<u64>,
    ) -> Self {
        GpuEngine {
            device_budget: device_budget.unwrap_or_else(|| context.memory_budget()),
            host_budget: host_budget.unwrap_or_else(crate::memory::default_budget),
            context,
        }
    }

    /// Where the rows of `source` go for a run of `steps` and `shuffle`:
    /// uploaded where they fit the device budget, else streamed in blocks
    /// (the shuffle's blocks for mini-batches).
    fn placement<'s>(
        &self,
        source: &'s dyn DataSource,
        steps: &StepPlan,
        shuffle: Shuffle,
    ) -> Result<Placement<'s, 's>> {
        let (n, d) = (source.rows() as u64, source.features() as u64);
        // A weighted row carries its weight beside its target.
        let weighted = source.weights(0, source.rows().min(1))?.is_some();
        let row_bytes = 4 * (d + 1 + u64::from(weighted) + u64::from(steps.shuffled));
        if n * row_bytes <= self.device_budget {
            return Ok(Placement::Upload(source));
        }
        let fitting = [
            self.device_budget / (stream::SLOTS as u64 * row_bytes),
            // The reader's buffers, and wgpu's staging copies of the two
            // blocks in flight.
            self.host_budget / ((crate::data::read_ahead::BUFFERS + 2) as u64 * row_bytes),
            self.context.x_chunk_bytes / (4 * d),
            STREAM_BLOCK_BYTES / (4 * d),
        ]
        .into_iter()
        .min()
        .unwrap_or(1)
        .max(1) as usize;
        let block_rows = shuffle.streamed_block_rows(steps.shuffled, fitting, source.rows())?;
        if steps.shuffled && steps.batch_rows > block_rows {
            return Err(Error::Engine(EngineError::BatchBeyondBlock {
                batch: steps.batch_rows,
                block_rows,
            }));
        }
        Ok(Placement::Stream { source, block_rows })
    }
}

impl Engine for GpuEngine {
    fn device(&self) -> Device {
        Device::Gpu
    }

    fn open<'s>(&'s self, source: &'s dyn DataSource, spec: RunSpec) -> Result<Box<dyn EngineRun + 's>> {
        check_classes(spec.objective.loss)?;
        // A rank of a data-parallel fit: the device sums its rows, the
        // host adds every rank's sums and steps.
        if let Some(reducer) = &spec.reducer {
            let sums = crate::engine::open_sums(self, source, spec.objective, Some(reducer))?;
            return Ok(Box::new(crate::engine::SummedRun::new(sums, spec)?));
        }
        // Sparse rows in full-batch steps: their CSR arrays on the device,
        // the steps taken on the host from the sums; in mini-batches, the
        // steps taken on the device from the batch's stored entries.
        if !spec.steps.shuffled {
            if let Some(sums) = sparse::SparseSums::open(&self.context, source, spec.objective)? {
                return Ok(Box::new(crate::engine::SummedRun::new(Box::new(sums), spec)?));
            }
        } else if let Some(run) = sparse_batches::SparseBatches::open(&self.context, source, &spec)? {
            return Ok(Box::new(run));
        }
        let placement = self.placement(source, &spec.steps, spec.shuffle)?;
        let on_device = OnDevice::new(&self.context, placement, &spec)?;
        Ok(Box::new(GpuRun {
            on_device,
            global_step: spec.state.steps,
            moment_lengths: (spec.state.first_moment.len(), spec.state.second_moment.len()),
            average_from: spec.average_from.map(|from| from.max(1)),
        }))
    }

    fn open_sums<'s>(
        &'s self,
        source: &'s dyn DataSource,
        objective: Objective,
    ) -> Result<Box<dyn SumsRun + 's>> {
        check_classes(objective.loss)?;
        if let Some(sums) = sparse::SparseSums::open(&self.context, source, objective)? {
            return Ok(Box::new(sums));
        }
        let placement = self.placement(source, &StepPlan::new(source.rows(), None), Shuffle::None)?;
        let on_device = OnDevice::full_batch(
            &self.context,
            placement,
            objective,
            vec![0.0; (source.features() + 1) * objective.loss.margins()],
        )?;
        Ok(Box::new(GpuSums { on_device }))
    }

    fn open_sums_of_models<'s>(
        &'s self,
        source: &'s dyn DataSource,
        objective: Objective,
        models: usize,
    ) -> Result<Box<dyn SumsRun + 's>> {
        match self.models_width(source.features(), objective.loss.margins(), models) {
            Some(width) if source.sparse().is_none() => {
                check_classes(objective.loss)?;
                let placement = self.placement(source, &StepPlan::new(source.rows(), None), Shuffle::None)?;
                let on_device = OnDevice::models(&self.context, placement, objective, width, false)?;
                Ok(Box::new(GpuModelSums {
                    on_device,
                    width,
                    in_rows: None,
                }))
            }
            _ => self.open_sums(source, objective),
        }
    }

    fn open_sums_in_rows<'s>(
        &'s self,
        source: &'s dyn DataSource,
        objective: Objective,
        models: usize,
    ) -> Result<Option<Box<dyn SumsRun + 's>>> {
        let (n, d) = (source.rows(), source.features());
        let Some(width) = self.models_width(d, objective.loss.margins(), models) else {
            return Ok(None);
        };
        // The rows' words bind with the parameters.
        let bytes = 4 * ((d + 1) * objective.loss.margins() * width + n) as u64;
        if source.sparse().is_some() || bytes > self.context.adapter().max_binding_bytes {
            return Ok(None);
        }
        check_classes(objective.loss)?;
        let placement = self.placement(source, &StepPlan::new(n, None), Shuffle::None)?;
        let on_device = OnDevice::models(&self.context, placement, objective, width, true)?;
        let weights = source.weights(0, n)?.map(|w| w.into_owned());
        Ok(Some(Box::new(GpuModelSums {
            on_device,
            width,
            in_rows: Some(InRows {
                weights,
                written: Vec::new(),
                list_weights: Vec::new(),
            }),
        })))
    }
}

impl GpuEngine {
    /// The most models of `per_model` margins over rows of `features`
    /// values one pass sums (at least 2, at most `models`): the kernels'
    /// margins, and on a software adapter the tile's loop budget.
    fn models_width(&self, features: usize, per_model: usize, models: usize) -> Option<usize> {
        (2..=models.min(GPU_MAX_CLASSES / per_model))
            .rev()
            .find(|&width| {
                !self.context.adapter().is_software() || tile_cost(features, width * per_model) <= LOOP_BUDGET
            })
    }
}

/// The targets as the buffers of y hold them: alone, or each followed by
/// its row's sample weight.
pub(crate) fn targets_and_weights<'a>(
    targets: &'a [f32],
    weights: Option<&[f32]>,
) -> std::borrow::Cow<'a, [f32]> {
    match weights {
        None => std::borrow::Cow::Borrowed(targets),
        Some(weights) => targets.iter().zip(weights).flat_map(|(&y, &w)| [y, w]).collect(),
    }
}

/// Every row on the device, for raw sums of many models in one pass: up to
/// `width` models' at once, more in groups of that many.
struct GpuModelSums<'c> {
    on_device: OnDevice<'c>,
    width: usize,
    /// Where models may sum rows of their own: the rows' weights (`None`
    /// where they weigh 1), and the lists whose words the device holds.
    in_rows: Option<InRows>,
}

/// What [`GpuModelSums`] keeps for models over rows of their own.
struct InRows {
    weights: Option<Vec<f32>>,
    /// The lists (address, length) of the words on the device, and the
    /// weight of each list's rows (float64, from the host's weights).
    written: Vec<(usize, usize)>,
    list_weights: Vec<f64>,
}

impl SumsRun for GpuModelSums<'_> {
    fn raw_sums(&mut self, parameters: &[f32]) -> Result<RawSums> {
        Ok(self.on_device.raw_sums_of_models(&[parameters], false)?.remove(0))
    }

    fn raw_sums_of_many(&mut self, parameters: &[&[f32]]) -> Result<Vec<RawSums>> {
        let mut sums = Vec::with_capacity(parameters.len());
        for group in parameters.chunks(self.width) {
            sums.extend(self.on_device.raw_sums_of_models(group, false)?);
        }
        Ok(sums)
    }

    fn raw_sums_of_many_in(&mut self, parameters: &[&[f32]], rows: &[&[u32]]) -> Result<Vec<RawSums>> {
        let Some(in_rows) = &mut self.in_rows else {
            return Err(EngineError::NoPassInRows.into());
        };
        let mut sums = Vec::with_capacity(parameters.len());
        for (group, lists) in parameters.chunks(self.width).zip(rows.chunks(self.width)) {
            // The rows' words are written again only where the lists change
            // (a fold's models leave when its path ends).
            let key: Vec<(usize, usize)> = lists.iter().map(|l| (l.as_ptr() as usize, l.len())).collect();
            if key != in_rows.written {
                self.on_device.set_row_models(lists);
                in_rows.written = key;
                in_rows.list_weights = lists
                    .iter()
                    .map(|list| match &in_rows.weights {
                        Some(weights) => list.iter().map(|&i| f64::from(weights[i as usize])).sum(),
                        None => list.len() as f64,
                    })
                    .collect();
            }
            // Each model's rows and their weight, from the lists.
            let models = self.on_device.raw_sums_of_models(group, true)?;
            for ((mut model, list), &weight) in models.into_iter().zip(lists).zip(&in_rows.list_weights) {
                model.rows = list.len();
                model.weight = weight;
                sums.push(model);
            }
        }
        Ok(sums)
    }

    fn take_work(&mut self) -> WorkCounts {
        self.on_device.take_work()
    }
}

/// Every row on the device, for raw sums at many parameters.
struct GpuSums<'c> {
    on_device: OnDevice<'c>,
}

impl SumsRun for GpuSums<'_> {
    fn raw_sums(&mut self, parameters: &[f32]) -> Result<RawSums> {
        self.on_device.set_parameters(parameters);
        self.on_device.raw_sums()
    }

    fn take_work(&mut self) -> WorkCounts {
        self.on_device.take_work()
    }
}

/// A run on the GPU: the rows, the parameters and the optimizer state on
/// the device.
struct GpuRun<'c> {
    on_device: OnDevice<'c>,
    /// Updates taken, across resumes (Adam's bias correction counts them).
    global_step: u64,
    /// The lengths of the optimizer's first and second moments.
    moment_lengths: (usize, usize),
    /// The first averaged step, where the fit averages.
    average_from: Option<u64>,
}

impl EngineRun for GpuRun<'_> {
    fn run_epoch(&mut self, order: Option<&[u32]>, learning_rate: f32) -> Result<EpochStats> {
        let (loss_sum, parameters) = self.on_device.run_epoch(order, learning_rate, self.global_step)?;
        let steps = self.on_device.steps_per_epoch;
        self.global_step += steps as u64;
        let on_device = &self.on_device;
        let x_bytes = (on_device.rows * on_device.features * 4) as u64;
        // A gathered step reads its rows twice from memory: to copy them
        // together, then to sum them.
        let gathered = !on_device.step_bind_groups.gather.is_empty();
        let reads_per_row = if gathered { 2 } else { 1 };
        Ok(EpochStats {
            loss_sum,
            steps,
            parameters,
            work: WorkCounts {
                x_bytes_read: reads_per_row * x_bytes,
                ..on_device.take_work().with_epoch(steps)
            },
        })
    }

    fn optimizer_state(&mut self) -> Result<OptimizerState> {
        self.on_device.count(|work| {
            work.submissions += 1;
            work.readbacks += 1;
        });
        read_optimizer_state(
            self.on_device.context,
            &self.on_device.state,
            self.on_device.parameter_count(),
            self.global_step,
            self.moment_lengths,
            self.average_from,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{Control, GpuContext, GpuEngine, Shape};
    use crate::data::source::{DataSource, InMemory, Weighted};
    use crate::engine::adapter::GpuOptions;
    use crate::engine::Engine;
    use crate::math::loss::Loss;
    use crate::math::objective::{Objective, RawSums};
    use ndarray::{Array1, Array2, Axis};
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng as StdRng;
    use std::sync::Arc;

    /// `context`, or `None` where no adapter exists: a failure instead
    /// where `DOWNHILL_REQUIRE_GPU=1` (as the tests of tests/ treat it).
    fn or_skip(context: crate::error::Result<Arc<GpuContext>>, what: &str) -> Option<Arc<GpuContext>> {
        match context {
            Ok(context) => Some(context),
            Err(error) if std::env::var("DOWNHILL_REQUIRE_GPU").is_ok_and(|v| v == "1") => {
                panic!("DOWNHILL_REQUIRE_GPU=1 but no GPU context for {what}: {error}")
            }
            Err(error) => {
                eprintln!("skipped {what}: {error}");
                None
            }
        }
    }

    /// The engines the tests of many models' passes run on, for rows of
    /// `values` float32 values: X in one buffer, split across buffers of 96
    /// rows of 5 values, and streamed (rows beyond the device budget pass
    /// through in blocks); `None` where no adapter exists.
    fn engines(what: &str, values: usize) -> Option<[(&'static str, GpuEngine); 3]> {
        let shared = or_skip(GpuContext::shared(), what)?;
        let options = GpuOptions {
            x_chunk_bytes: Some(96 * 4 * 5),
            ..GpuOptions::default()
        };
        let split = or_skip(GpuContext::with_options(options), what)?;
        Some([
            ("one buffer", GpuEngine::new(shared.clone(), None, None)),
            ("split buffers", GpuEngine::new(split, None, None)),
            (
                "streamed",
                GpuEngine::new(shared, Some((values * 4 / 3) as u64), None),
            ),
        ])
    }

    /// Rows of `d` features on mixed scales, targets for `loss` (labels,
    /// counts or values), and weights between 0.5 and 2.
    fn rows(loss: Loss, n: usize, d: usize, seed: u64) -> (Array2<f32>, Array1<f32>, Vec<f32>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let x = Array2::from_shape_fn((n, d), |(_, j)| {
            rng.random_range(-1.0f32..1.0) * (1 + j % 3) as f32
        });
        let y = Array1::from_shape_fn(n, |_| match loss {
            Loss::Log | Loss::ModifiedHuber => f32::from(rng.random_bool(0.4)),
            Loss::Poisson => rng.random_range(0..4) as f32,
            Loss::Multinomial { classes } => rng.random_range(0..classes) as f32,
            _ => rng.random_range(-2.0f32..2.0),
        });
        let weights = (0..n).map(|_| rng.random_range(0.5f32..2.0)).collect();
        (x, y, weights)
    }

    /// Checks `sums` (from float32 on the device) against each model's sums
    /// in float64, within float32's rounding: a margin of d products
    /// rounds by at most (d + 1)·u of Σ|xⱼwⱼ| + |b|, which moves ℓ′ by at
    /// most the loss's curvature at the row times that; a sum of n terms
    /// in tiles and a tree rounds by at most (log₂ n + 32)·u of Σ|terms|
    /// (32 rows a tile added in order). Twice that bound is allowed.
    fn check_sums(what: &str, loss: Loss, source: &dyn DataSource, models: &[Vec<f32>], sums: &[RawSums]) {
        let (n, d) = (source.rows(), source.features());
        let block = source.block(0, n).unwrap();
        let weights = crate::data::source::weights_of(source, 0, n).unwrap();
        let u = f64::from(f32::EPSILON) / 2.0;
        let depth = (n as f64).log2() + 32.0;
        assert_eq!(sums.len(), models.len(), "{what}");
        let classes = loss.margins();
        let columns = (d + 1) * classes;
        for (k, (model, sums)) in models.iter().zip(sums).enumerate() {
            let (mut derivative, mut bound) = (vec![0.0; columns], vec![0.0; columns]);
            let (mut value, mut value_bound, mut weight) = (0.0, 0.0, 0.0);
            let (mut z, mut slopes) = (vec![0.0f64; classes], vec![0.0f64; classes]);
            for i in 0..n {
                let row = &block.x[i * d..(i + 1) * d];
                let s = weights.as_ref().map_or(1.0, |w| f64::from(w[i]));
                let y = f64::from(block.y[i]);
                // Each margin, and the largest Σ|xⱼwⱼ| + |b| among them.
                let mut spread = 0.0f64;
                for (c, z) in z.iter_mut().enumerate() {
                    let bias = f64::from(model[d * classes + c]);
                    let terms = row
                        .iter()
                        .enumerate()
                        .map(|(j, &x)| f64::from(x) * f64::from(model[j * classes + c]));
                    *z = terms.clone().sum::<f64>() + bias;
                    spread = spread.max(terms.map(f64::abs).sum::<f64>() + bias.abs());
                }
                let curvature = match loss {
                    Loss::Log => 0.25,
                    Loss::Poisson => z[0].exp(),
                    Loss::Multinomial { .. } => 1.0,
                    _ => 2.0,
                };
                let row_value = loss.row_value_and_derivatives(&z, y, &mut slopes);
                let slope_error = curvature * (d + 1) as f64 * u * spread;
                for j in 0..=d {
                    let x = if j < d { f64::from(row[j]) } else { 1.0 };
                    for (c, &slope) in slopes.iter().enumerate() {
                        derivative[j * classes + c] += s * slope * x;
                        bound[j * classes + c] += s * (depth * u * (slope * x).abs() + slope_error * x.abs());
                    }
                }
                let largest_slope = slopes.iter().fold(0.0f64, |a, s| a.max(s.abs()));
                value += s * row_value;
                value_bound +=
                    s * (depth * u * row_value.abs() + largest_slope * (d + 1) as f64 * u * spread);
                weight += s;
            }
            for j in 0..columns {
                let error = (sums.derivative[j] - derivative[j]).abs();
                assert!(
                    error <= 2.0 * bound[j],
                    "{what}: model {k}, column {j}: {} against {} (bound {})",
                    sums.derivative[j],
                    derivative[j],
                    2.0 * bound[j]
                );
            }
            let error = (sums.loss - value).abs();
            assert!(
                error <= 2.0 * value_bound,
                "{what}: model {k}'s loss {} against {value}",
                sums.loss
            );
            assert_eq!(sums.rows, n, "{what}");
            assert!(
                (sums.weight - weight).abs() <= depth * u * weight,
                "{what}: weight {} against {weight}",
                sums.weight
            );
        }
    }

    /// Many models' sums from one pass over the rows on the device (one
    /// submission and one read-back for up to 32 of them), each within
    /// float32 rounding of its sums in float64: for each loss whose
    /// derivative is continuous, the multinomial's too (a discontinuous
    /// one, the hinge's, may
    /// jump at a row whose margin rounds across its kink), weighted and
    /// not, X in one buffer and split across many, uploaded and streamed,
    /// and more models than one pass holds.
    #[test]
    fn one_pass_sums_many_models_each_within_rounding_of_float64() {
        let (n, d) = (3_001, 5);
        let Some(engines) = engines("many models' sums in one pass", n * d) else {
            return;
        };
        let losses = [
            Loss::Log,
            Loss::Squared,
            Loss::Huber { epsilon: 1.0 },
            Loss::Poisson,
            Loss::ModifiedHuber,
            Loss::Multinomial { classes: 3 },
        ];
        for (l, &loss) in losses.iter().enumerate() {
            let per_model = loss.margins();
            let (x, y, weights) = rows(loss, n, d, 11 + l as u64);
            let plain = InMemory::new(x.view(), y.view()).unwrap();
            let weighted = Weighted::new(&plain, weights).unwrap();
            let mut rng = StdRng::seed_from_u64(l as u64);
            let scale = if loss == Loss::Poisson { 0.2 } else { 1.0 };
            let models: Vec<Vec<f32>> = (0..37)
                .map(|_| {
                    (0..(d + 1) * per_model)
                        .map(|_| scale * rng.random_range(-1.0f32..1.0))
                        .collect()
                })
                .collect();
            for (name, engine) in &engines {
                for (rows_name, source) in [("plain", &plain as &dyn DataSource), ("weighted", &weighted)] {
                    let what = format!("{loss:?}, {name}, {rows_name}");
                    let mut run = engine
                        .open_sums_of_models(source, Objective::unpenalized(loss), models.len())
                        .unwrap();
                    run.take_work();
                    let five: Vec<&[f32]> = models[..5].iter().map(Vec::as_slice).collect();
                    let sums = run.raw_sums_of_many(&five).unwrap();
                    if *name != "streamed" {
                        let work = run.take_work();
                        assert_eq!((work.submissions, work.readbacks), (1, 1), "{what}: {work:?}");
                    }
                    check_sums(&what, loss, source, &models[..5], &sums);
                    // 37 models: passes of 32 (of 10 multinomials of 3
                    // classes), then the rest.
                    let all: Vec<&[f32]> = models.iter().map(Vec::as_slice).collect();
                    let sums = run.raw_sums_of_many(&all).unwrap();
                    if *name != "streamed" {
                        let passes = all.len().div_ceil(32 / per_model) as u64;
                        assert_eq!(run.take_work().readbacks, passes, "{what}");
                    }
                    check_sums(&what, loss, source, &models, &sums);
                    let one = run.raw_sums(&models[3]).unwrap();
                    check_sums(&what, loss, source, &models[3..4], &[one]);
                }
            }
        }
    }

    /// Models that each sum rows of their own (the training rows of 4
    /// folds, as a lockstep of folds asks): one pass for all of them, each
    /// within float32 rounding of its sums in float64 over a copy of its
    /// rows; the rows' words uploaded again only when the lists change;
    /// X in one buffer, split, and streamed; weighted rows and not; one
    /// margin and the multinomial's.
    #[test]
    fn one_pass_sums_models_over_rows_of_their_own() {
        let (n, d) = (2_003, 5);
        let Some(engines) = engines("models over rows of their own", n * d) else {
            return;
        };
        // Fold f leaves out the rows i with i·7 mod 4 = f.
        let lists: Vec<Vec<u32>> = (0..4)
            .map(|f| (0..n as u32).filter(|i| (i * 7) % 4 != f).collect())
            .collect();
        let views: Vec<&[u32]> = lists.iter().map(Vec::as_slice).collect();
        for (l, loss) in [Loss::Log, Loss::Squared, Loss::Multinomial { classes: 3 }]
            .into_iter()
            .enumerate()
        {
            let (x, y, weights) = rows(loss, n, d, 31 + l as u64);
            let plain = InMemory::new(x.view(), y.view()).unwrap();
            let weighted = Weighted::new(&plain, weights.clone()).unwrap();
            let mut rng = StdRng::seed_from_u64(40 + l as u64);
            let models: Vec<Vec<f32>> = (0..4)
                .map(|_| {
                    (0..(d + 1) * loss.margins())
                        .map(|_| rng.random_range(-1.0f32..1.0))
                        .collect()
                })
                .collect();
            let parameters: Vec<&[f32]> = models.iter().map(Vec::as_slice).collect();
            for (name, engine) in &engines {
                for (rows_name, source, weighted_rows) in [
                    ("plain", &plain as &dyn DataSource, false),
                    ("weighted", &weighted, true),
                ] {
                    let what = format!("{loss:?}, {name}, {rows_name}");
                    let mut run = engine
                        .open_sums_in_rows(source, Objective::unpenalized(loss), 4)
                        .unwrap()
                        .expect("the GPU sums models over rows of their own");
                    run.take_work();
                    let sums = run.raw_sums_of_many_in(&parameters, &views).unwrap();
                    let first = run.take_work();
                    let again = run.raw_sums_of_many_in(&parameters, &views).unwrap();
                    let second = run.take_work();
                    if *name != "streamed" {
                        assert_eq!(first.readbacks, 1, "{what}: {first:?}");
                        assert!(
                            first.uploaded_bytes >= second.uploaded_bytes + 4 * n as u64,
                            "{what}: the rows' words once: {first:?} then {second:?}"
                        );
                    }
                    for (k, (list, (sums, again))) in lists.iter().zip(sums.iter().zip(&again)).enumerate() {
                        let indices: Vec<usize> = list.iter().map(|&i| i as usize).collect();
                        let (x_own, y_own) = (x.select(Axis(0), &indices), y.select(Axis(0), &indices));
                        let own = InMemory::new(x_own.view(), y_own.view()).unwrap();
                        let own_weights: Vec<f32> = indices.iter().map(|&i| weights[i]).collect();
                        let own_weighted = Weighted::new(&own, own_weights).unwrap();
                        let copy: &dyn DataSource = match weighted_rows {
                            true => &own_weighted,
                            false => &own,
                        };
                        let model = std::slice::from_ref(&models[k]);
                        check_sums(
                            &format!("{what}, model {k}"),
                            loss,
                            copy,
                            model,
                            std::slice::from_ref(sums),
                        );
                        assert_eq!(sums.derivative, again.derivative, "{what}: the same pass twice");
                    }
                }
            }
        }
    }

    /// (name, offset) of every member of the WGSL struct `name` in
    /// shaders/common.wgsl, and its size.
    fn wgsl_layout(name: &str) -> (Vec<(String, usize)>, usize) {
        let source = super::shared::wgsl_header() + include_str!("../../../shaders/common.wgsl");
        let module = naga::front::wgsl::parse_str(&source).expect("common.wgsl parses");
        let mut layouter = naga::proc::Layouter::default();
        layouter.update(module.to_ctx()).expect("the types lay out");
        let (handle, ty) = module
            .types
            .iter()
            .find(|(_, ty)| ty.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("common.wgsl declares no struct {name}"));
        let naga::TypeInner::Struct { members, .. } = &ty.inner else {
            panic!("{name} is not a struct");
        };
        let fields = members
            .iter()
            .map(|m| (m.name.clone().unwrap_or_default(), m.offset as usize))
            .collect();
        (fields, layouter[handle].size as usize)
    }

    macro_rules! rust_layout {
        ($type:ty: $($field:ident),* $(,)?) => {
            (
                vec![$((stringify!($field).to_string(), std::mem::offset_of!($type, $field))),*],
                std::mem::size_of::<$type>(),
            )
        };
    }

    #[test]
    fn shape_has_the_same_layout_in_rust_and_wgsl() {
        let rust = rust_layout!(Shape: rows, features, batch_size, total_rows, rows_per_group,
            group_offset, chunk_start, rows_from_control, loss, l1_strength, optimizer, partial_groups,
            steps_per_epoch, l2_strength, beta1, beta2, eps, steps_per_dispatch, loss_epsilon, weighted, average_from, classes, steps_per_window, windowed, log_beta1, log_beta2, mean_weight, models);
        assert_eq!(rust, wgsl_layout("Shape"));
    }

    #[test]
    fn control_has_the_same_layout_in_rust_and_wgsl() {
        let rust = rust_layout!(Control: epoch_step, global_step, learning_rate, batch_rows,
            batch_weight, live_models, masked);
        assert_eq!(rust, wgsl_layout("Control"));
    }
}
