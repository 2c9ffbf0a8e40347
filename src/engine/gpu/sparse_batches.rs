//! Mini-batch and single-row steps over sparse rows on the device: the CSR
//! arrays uploaded once, each step's rows read through the epoch's order
//! (shaders/sparse_rows.wgsl's `sparse_batch_rows_main`), Xᵀr summed over
//! the features the batch stores (shaders/sparse_batch.wgsl), and the
//! update of every parameter by update.wgsl, the dense steps' own: the same
//! steps as the rows dense, for every rule, penalty, loss, weight and the
//! multinomial, to float32 rounding.
//!
//! Xᵀr without float atomics: the host, which draws the epoch's order,
//! lists for each step the features its rows store and their entries (a
//! copy of the batch by column, O(its entries)), a window of steps at a
//! time while the device runs the window before; the device adds each
//! feature's entries in batch order, the same sums at every run. A step
//! reads its stored entries twice (by row, then by column), not the
//! batch's rows × features of the dense form; the update is O(features),
//! one invocation a parameter.
//!
//! Standardized rows (their centring would touch every weight's margin)
//! take the dense path, as do batches of more than [`LOOP_BUDGET`] rows on
//! a software adapter.

use super::context::GpuContext;
use super::shared::WORKGROUP_SIZE;
use super::sparse::{rows_within_loop_budget, storage_buffer, targets_of, within_bindings, CsrBuffers};
use super::{
    bind_group, grid, read_epoch, read_optimizer_state, state_layout, Control, Shape, LOOP_BUDGET, STEP_CAP,
};
use crate::data::source::{Csr, DataSource};
use crate::engine::{EngineRun, EpochStats, RunSpec, WorkCounts};
use crate::error::Result;
use crate::math::optim::OptimizerState;

/// Entries a window's copy by column holds (8 bytes each), unless one
/// step's batch holds more.
const WINDOW_ENTRIES: usize = 1 << 20;

/// Steps a window (one submission) takes at most.
const WINDOW_STEPS: usize = 128;

/// A run of mini-batch steps over sparse rows on the device.
pub(super) struct SparseBatches<'s> {
    context: &'s GpuContext,
    csr: Csr<'s>,
    rows: usize,
    /// Margins a row (K classes of the multinomial, else 1).
    margins: usize,
    batch: usize,
    steps_per_epoch: usize,
    /// (features + 1) × margins.
    parameter_count: usize,
    params: wgpu::Buffer,
    state: wgpu::Buffer,
    control: wgpu::Buffer,
    step_losses: wgpu::Buffer,
    order: wgpu::Buffer,
    step_columns: wgpu::Buffer,
    touched: wgpu::Buffer,
    entries: wgpu::Buffer,
    /// Entries `entries` holds.
    window_capacity: usize,
    rows_group: wgpu::BindGroup,
    sums_group: wgpu::BindGroup,
    columns_group: wgpu::BindGroup,
    update_group: wgpu::BindGroup,
    /// The window being built on the host.
    window: Window,
    /// Updates taken, across resumes.
    global_step: u64,
    /// The lengths of the optimizer's first and second moments.
    moment_lengths: (usize, usize),
    /// The first averaged step, where the fit averages.
    average_from: Option<u64>,
    work: WorkCounts,
}

/// The copy by column of a window of steps' batches, as
/// sparse_batch.wgsl reads it.
#[derive(Default)]
struct Window {
    /// Each step's first touched feature and end, in `touched`.
    step_columns: Vec<u32>,
    /// (feature, first entry) of each touched feature, then (0, end).
    touched: Vec<u32>,
    /// (row in the batch, value's bits) of each entry.
    entries: Vec<u32>,
    /// Each feature's entries in the step being built (0 between steps),
    /// then where the next of them goes.
    counts: Vec<u32>,
}

impl<'s> SparseBatches<'s> {
    /// The run of `spec`'s mini-batch steps over `source`'s sparse rows,
    /// where it holds them unstandardized and every array fits the
    /// adapter's limits; `None` otherwise (the rows are then read dense).
    pub(super) fn open(
        context: &'s GpuContext,
        source: &'s dyn DataSource,
        spec: &RunSpec,
    ) -> Result<Option<Self>> {
        let Some(sparse) = source.sparse() else {
            return Ok(None);
        };
        if sparse.standardization.is_some() {
            return Ok(None);
        }
        let csr = sparse.csr;
        let margins = spec.objective.loss.margins();
        let (n, d, stored) = (source.rows(), csr.features, csr.indices.len());
        let batch = spec.steps.batch_rows;
        // An invocation adds a feature's entries in a batch, up to its
        // rows: a software adapter (lavapipe) leaves a loop, nested or
        // not, after 65,535 iterations in all.
        if context.adapter().is_software() && batch > LOOP_BUDGET {
            return Ok(None);
        }
        let steps_per_epoch = spec.steps.steps_per_epoch();
        let parameter_count = (d + 1) * margins;
        // The window holds the largest batch's entries at least: the sum of
        // the `batch` longest rows.
        let mut lengths: Vec<usize> = (0..n).map(|i| csr.entries(i).len()).collect();
        lengths.sort_unstable_by(|a, b| b.cmp(a));
        let largest_batch: usize = lengths.iter().take(batch).sum();
        drop(lengths);
        let window_capacity = stored.min(WINDOW_ENTRIES).max(largest_batch).max(1);
        let weighted = source.weights(0, n.min(1))?.is_some();
        let counts = [
            stored,
            n + 1,
            (1 + usize::from(weighted)) * n,
            3 * parameter_count,
            parameter_count + 1,
            batch * (margins + 2),
            2 * steps_per_epoch,
            2 * window_capacity + 2,
        ];
        if !within_bindings(context, &counts) || !rows_within_loop_budget(&csr, margins) {
            return Ok(None);
        }
        let targets = targets_of(source)?;
        let shape = Shape {
            rows_from_control: 1,
            ..Shape::for_run(spec, n, d, weighted)?
        };
        let device = &context.device;
        let built = context.checked("uploading sparse rows for mini-batches", || {
            let copy = wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC;
            let zeros =
                |label: &str, values: usize| storage_buffer(device, label, &vec![0u8; 4 * values], copy);
            let shape = wgpu::util::DeviceExt::create_buffer_init(
                device,
                &wgpu::util::BufferInitDescriptor {
                    label: Some("sparse batch shape"),
                    contents: bytemuck::bytes_of(&shape),
                    usage: wgpu::BufferUsages::UNIFORM,
                },
            );
            let rows = CsrBuffers::upload(device, &csr, &targets);
            let params = storage_buffer(device, "parameters", bytemuck::cast_slice(&spec.parameters), copy);
            let state = storage_buffer(
                device,
                "optimizer state",
                bytemuck::cast_slice(&state_layout(&spec.state, parameter_count)),
                copy,
            );
            let control = storage_buffer(device, "control", bytemuck::bytes_of(&Control::default()), copy);
            // Zero but where a step has written its touched features.
            let sums = zeros("raw sums", parameter_count + 1);
            let step_losses = zeros("step losses", steps_per_epoch);
            let order = zeros("order", n);
            let row_values = zeros("batch rows' slopes, losses and weights", batch * (margins + 2));
            let step_columns = zeros("each step's touched features", 2 * steps_per_epoch);
            let touched = zeros("touched features", 2 * window_capacity + 2);
            let entries = zeros("batch entries by feature", 2 * window_capacity);
            let pipelines = &context.pipelines;
            let bind = |kernel, buffers: &[&wgpu::Buffer]| bind_group(device, kernel, buffers);
            let rows_group = bind(
                &pipelines.sparse_batch_rows,
                &[
                    &shape,
                    &params,
                    &rows.indptr,
                    &rows.indices,
                    &rows.values,
                    &rows.targets,
                    &row_values,
                    &order,
                    &control,
                ],
            );
            let sums_group = bind(
                &pipelines.sparse_batch_sums,
                &[&shape, &row_values, &params, &control, &sums, &step_losses],
            );
            let columns_group = bind(
                &pipelines.sparse_batch_columns,
                &[
                    &shape,
                    &row_values,
                    &control,
                    &sums,
                    &step_columns,
                    &touched,
                    &entries,
                ],
            );
            let update_group = bind(&pipelines.update, &[&shape, &sums, &control, &params, &state]);
            SparseBatches {
                context,
                csr,
                rows: n,
                margins,
                batch,
                steps_per_epoch,
                parameter_count,
                params,
                state,
                control,
                step_losses,
                order,
                step_columns,
                touched,
                entries,
                window_capacity,
                rows_group,
                sums_group,
                columns_group,
                update_group,
                window: Window {
                    counts: vec![0; d],
                    ..Window::default()
                },
                global_step: spec.state.steps,
                moment_lengths: (spec.state.first_moment.len(), spec.state.second_moment.len()),
                average_from: spec.average_from.map(|from| from.max(1)),
                work: WorkCounts::default(),
            }
        })?;
        Ok(Some(built))
    }

    /// Lists the features and entries of the steps from `first` on, as
    /// many as the window holds; returns how many steps it took and the
    /// touched features of each.
    fn build_window(&mut self, order: &[u32], first: usize) -> (usize, Vec<usize>) {
        let (csr, batch, n) = (self.csr, self.batch, self.rows);
        let window = &mut self.window;
        window.touched.clear();
        window.entries.clear();
        window.step_columns.clear();
        let mut touched_per_step = Vec::new();
        let mut step = first;
        while step < self.steps_per_epoch && step - first < WINDOW_STEPS {
            let rows = &order[step * batch..((step + 1) * batch).min(n)];
            let stored: usize = rows.iter().map(|&row| csr.entries(row as usize).len()).sum();
            if step > first && window.entries.len() / 2 + stored > self.window_capacity {
                break;
            }
            // Count each feature's entries, listing features as first met.
            let first_touched = window.touched.len() / 2;
            for &row in rows {
                for &feature in csr.row(row as usize).0 {
                    let count = &mut window.counts[feature as usize];
                    if *count == 0 {
                        window.touched.extend([feature, 0]);
                    }
                    *count += 1;
                }
            }
            // Each feature's first entry; its count becomes where the next
            // of its entries goes.
            let mut next = window.entries.len() / 2;
            for pair in window.touched[2 * first_touched..].chunks_exact_mut(2) {
                let count = &mut window.counts[pair[0] as usize];
                pair[1] = next as u32;
                next += *count as usize;
                *count = pair[1];
            }
            window.entries.resize(2 * next, 0);
            for (position, &row) in rows.iter().enumerate() {
                let (features, values) = csr.row(row as usize);
                for (&feature, &value) in features.iter().zip(values) {
                    let at = &mut window.counts[feature as usize];
                    window.entries[2 * *at as usize] = position as u32;
                    window.entries[2 * *at as usize + 1] = value.to_bits();
                    *at += 1;
                }
            }
            for pair in window.touched[2 * first_touched..].chunks_exact(2) {
                window.counts[pair[0] as usize] = 0;
            }
            let end_touched = window.touched.len() / 2;
            window
                .step_columns
                .extend([first_touched as u32, end_touched as u32]);
            touched_per_step.push(end_touched - first_touched);
            step += 1;
        }
        window.touched.extend([0, (window.entries.len() / 2) as u32]);
        (step - first, touched_per_step)
    }

    /// Encodes the steps of a window from `first`, each with its touched
    /// features.
    fn encode_window(&self, encoder: &mut wgpu::CommandEncoder, first: usize, touched_per_step: &[usize]) {
        let context = self.context;
        let pipelines = &context.pipelines;
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
        let dispatch = |pass: &mut wgpu::ComputePass,
                        kernel: &super::context::Kernel,
                        group: &wgpu::BindGroup,
                        groups: usize| {
            pass.set_pipeline(&kernel.pipeline);
            pass.set_bind_group(0, group, &[]);
            let (x, y) = grid(context, groups);
            pass.dispatch_workgroups(x, y, 1);
        };
        let workgroups = |invocations: usize| invocations.div_ceil(WORKGROUP_SIZE as usize);
        for (step, &touched) in (first..).zip(touched_per_step) {
            let rows = self.batch.min(self.rows - step * self.batch);
            dispatch(
                &mut pass,
                &pipelines.sparse_batch_rows,
                &self.rows_group,
                workgroups(rows),
            );
            dispatch(&mut pass, &pipelines.sparse_batch_sums, &self.sums_group, 1);
            let columns = workgroups(touched * self.margins);
            if columns > 0 {
                dispatch(
                    &mut pass,
                    &pipelines.sparse_batch_columns,
                    &self.columns_group,
                    columns,
                );
            }
            dispatch(
                &mut pass,
                &pipelines.update,
                &self.update_group,
                workgroups(self.parameter_count),
            );
            if columns > 0 {
                dispatch(
                    &mut pass,
                    &pipelines.sparse_batch_clear,
                    &self.columns_group,
                    columns,
                );
            }
        }
    }
}

impl EngineRun for SparseBatches<'_> {
    fn run_epoch(&mut self, order: Option<&[u32]>, learning_rate: f32) -> Result<EpochStats> {
        let context = self.context;
        let queue = &context.queue;
        let control = Control {
            global_step: self.global_step.min(STEP_CAP) as u32,
            learning_rate,
            ..Control::default()
        };
        queue.write_buffer(&self.control, 0, bytemuck::bytes_of(&control));
        let stored_order: Vec<u32>;
        let order = match order {
            Some(order) => order,
            None => {
                stored_order = (0..self.rows as u32).collect();
                &stored_order
            }
        };
        queue.write_buffer(&self.order, 0, bytemuck::cast_slice(order));
        let mut work = WorkCounts {
            uploaded_bytes: (std::mem::size_of::<Control>() + 4 * order.len()) as u64,
            ..WorkCounts::default()
        };
        let mut first = 0;
        let (loss_sum, parameters) = loop {
            // Built on the host while the device runs the window before.
            let (steps, touched_per_step) = self.build_window(order, first);
            let window = &self.window;
            queue.write_buffer(
                &self.step_columns,
                8 * first as u64,
                bytemuck::cast_slice(&window.step_columns),
            );
            queue.write_buffer(&self.touched, 0, bytemuck::cast_slice(&window.touched));
            queue.write_buffer(&self.entries, 0, bytemuck::cast_slice(&window.entries));
            let stored = window.entries.len() / 2;
            let mut encoder = context.device.create_command_encoder(&Default::default());
            self.encode_window(&mut encoder, first, &touched_per_step);
            // The batch rows, their sums and the update a step; the touched
            // features' sums and their clear where it has any.
            let columns = touched_per_step.iter().filter(|&&touched| touched > 0).count() as u64;
            work.add(&WorkCounts {
                dispatches: 3 * steps as u64 + 2 * columns,
                submissions: 1,
                uploaded_bytes: 4
                    * (window.step_columns.len() + window.touched.len() + window.entries.len()) as u64,
                // Each stored entry of a batch read by row (feature and
                // value), then by column (row and value).
                x_bytes_read: 16 * stored as u64,
                ..WorkCounts::default()
            });
            first += steps;
            if first == self.steps_per_epoch {
                work.readbacks += 1;
                break read_epoch(
                    context,
                    encoder,
                    &self.params,
                    self.parameter_count,
                    &self.step_losses,
                    self.steps_per_epoch,
                )?;
            }
            context.checked("running an epoch", || queue.submit([encoder.finish()]))?;
        };
        self.global_step += self.steps_per_epoch as u64;
        self.work.add(&work);
        Ok(EpochStats {
            loss_sum,
            steps: self.steps_per_epoch,
            parameters,
            work: std::mem::take(&mut self.work).with_epoch(self.steps_per_epoch),
        })
    }

    fn optimizer_state(&mut self) -> Result<OptimizerState> {
        read_optimizer_state(
            self.context,
            &self.state,
            self.parameter_count,
            self.global_step,
            self.moment_lengths,
            self.average_from,
        )
    }
}
