//! Sparse rows on the device: the CSR arrays uploaded as they are, with a
//! copy by column (CSC) made once on the host, and the raw sums of every
//! row at given parameters from two kernels (shaders/sparse_rows.wgsl,
//! shaders/sparse_columns.wgsl). Xᵀr is summed feature by feature over
//! each column, in the column's order: no float atomics, the same sums at
//! every run. A pass reads each stored entry twice (once by row, once by
//! column) and the slopes once per entry, not the rows × features of the
//! dense form.
//!
//! It serves the full batch and L-BFGS (the sums run of
//! [`crate::engine::SumsRun`]; the steps are taken on the host from them,
//! as for ranks), for every loss, the multinomial's K margins included.
//! Mini-batches read the rows written out dense.

use wgpu::util::DeviceExt;

use super::context::GpuContext;
use super::shared::{loss_code, WORKGROUP_SIZE};
use super::{bind_group, grid, read_back, targets_and_weights, Shape};
use crate::data::source::{Csr, DataSource, Sparse};
use crate::engine::error::EngineError;
use crate::engine::{SumsRun, WorkCounts};
use crate::error::{Error, Result};
use crate::math::objective::{Objective, RawSums};

/// The most loop iterations one row of sparse_rows.wgsl may take (its
/// entries times its margins, and the margins'): rows beyond are read dense.
const ROW_LOOP_BUDGET: usize = 60_000;

/// The most entries one invocation of sparse_columns.wgsl adds (a
/// column's segment): loops stay short on every adapter (lavapipe leaves a
/// loop after 65,535 iterations), and long columns are summed in float64 on
/// the host from float32 segments.
const SEGMENT_ENTRIES: usize = 4096;

/// A source's sparse rows on the device, for raw sums at many parameters.
pub(super) struct SparseSums<'s> {
    context: &'s GpuContext,
    /// The rows' standardization, folded into the parameters and out of
    /// the sums on the host.
    sparse: Sparse<'s>,
    params: wgpu::Buffer,
    sums: wgpu::Buffer,
    partials: wgpu::Buffer,
    rows_bind_group: wgpu::BindGroup,
    columns_bind_group: wgpu::BindGroup,
    rows: usize,
    features: usize,
    /// Margins a row (K classes of the multinomial, else 1).
    margins: usize,
    row_groups: usize,
    /// Where each column's segments start, then where the last ends.
    column_segments: Vec<usize>,
    /// The entries stored.
    entries: usize,
    /// What the passes did since it was last taken.
    work: WorkCounts,
}

impl<'s> SparseSums<'s> {
    /// The sums run of `source`'s sparse rows under `objective`, where the
    /// source holds them and every array fits the adapter's limits; `None`
    /// otherwise (the rows are then read dense).
    pub(super) fn open(
        context: &'s GpuContext,
        source: &'s dyn DataSource,
        objective: Objective,
    ) -> Result<Option<Self>> {
        let Some(sparse) = source.sparse() else {
            return Ok(None);
        };
        let margins = objective.loss.margins();
        let csr = sparse.csr;
        let (n, d, entries) = (source.rows(), csr.features, csr.indices.len());
        let weighted = source.weights(0, n.min(1))?.is_some();
        let row_groups = n.div_ceil(WORKGROUP_SIZE as usize).max(1);
        // Every buffer within a binding, every index the shaders compute
        // within 32 bits, every loop of a row within the budget.
        let counts = [
            entries,
            (n + 1) * margins,
            (d + 1) * margins,
            (1 + usize::from(weighted)) * n,
            (2 + margins) * row_groups,
            (d + entries / SEGMENT_ENTRIES + 1) * margins,
        ];
        if !within_bindings(context, &counts) || !rows_within_loop_budget(&csr, margins) {
            return Ok(None);
        }
        // The copy by column: a counting sort of the entries by feature,
        // each column's entries in row order.
        let mut colptr = vec![0u32; d + 1];
        for &j in csr.indices {
            colptr[j as usize + 1] += 1;
        }
        for j in 0..d {
            colptr[j + 1] += colptr[j];
        }
        // Each column cut into segments of at most SEGMENT_ENTRIES.
        let (mut segment_starts, mut column_segments) = (Vec::new(), vec![0usize]);
        for j in 0..d {
            let (start, end) = (colptr[j] as usize, colptr[j + 1] as usize);
            segment_starts.extend((start..end).step_by(SEGMENT_ENTRIES).map(|e| e as u32));
            column_segments.push(segment_starts.len());
        }
        segment_starts.push(entries as u32);
        let segments = segment_starts.len() - 1;
        let mut next: Vec<u32> = colptr[..d].to_vec();
        let (mut rows_of, mut column_values) = (vec![0u32; entries], vec![0f32; entries]);
        for i in 0..n {
            let (indices, values) = csr.row(i);
            for (&j, &v) in indices.iter().zip(values) {
                let at = next[j as usize] as usize;
                rows_of[at] = i as u32;
                column_values[at] = v;
                next[j as usize] += 1;
            }
        }
        let targets = targets_of(source)?;
        drop(colptr);
        let shape = Shape {
            rows: n as u32,
            features: d as u32,
            loss: loss_code(objective.loss),
            loss_epsilon: objective.loss.epsilon().unwrap_or(0.0),
            weighted: u32::from(weighted),
            classes: margins as u32,
            ..bytemuck::Zeroable::zeroed()
        };
        let device = &context.device;
        let built = context.checked("uploading sparse rows", || {
            let storage = |label: &str, bytes: &[u8], extra| storage_buffer(device, label, bytes, extra);
            let copy = wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC;
            let shape = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("sparse shape"),
                contents: bytemuck::bytes_of(&shape),
                usage: wgpu::BufferUsages::UNIFORM,
            });
            let params = storage("sparse parameters", &vec![0u8; 4 * (d + 1) * margins], copy);
            let rows = CsrBuffers::upload(device, &csr, &targets);
            let slopes = storage(
                "slopes",
                &vec![0u8; 4 * n.max(1) * margins],
                wgpu::BufferUsages::empty(),
            );
            let partials = storage("row partials", &vec![0u8; 4 * (2 + margins) * row_groups], copy);
            let segment_starts = storage(
                "segment starts",
                bytemuck::cast_slice(&segment_starts),
                wgpu::BufferUsages::empty(),
            );
            let rows_of = storage(
                "rows of entries",
                bytemuck::cast_slice(&rows_of),
                wgpu::BufferUsages::empty(),
            );
            let column_values = storage(
                "values by column",
                bytemuck::cast_slice(&column_values),
                wgpu::BufferUsages::empty(),
            );
            let sums = storage("segment sums", &vec![0u8; 4 * (segments * margins).max(1)], copy);
            let bind = |kernel, buffers: &[&wgpu::Buffer]| bind_group(device, kernel, buffers);
            let pipelines = &context.pipelines;
            let rows_bind_group = bind(
                &pipelines.sparse_rows,
                &[
                    &shape,
                    &params,
                    &rows.indptr,
                    &rows.indices,
                    &rows.values,
                    &rows.targets,
                    &slopes,
                    &partials,
                ],
            );
            let columns_bind_group = bind(
                &pipelines.sparse_columns,
                &[&shape, &segment_starts, &rows_of, &column_values, &slopes, &sums],
            );
            (params, sums, partials, rows_bind_group, columns_bind_group)
        })?;
        let (params, sums, partials, rows_bind_group, columns_bind_group) = built;
        Ok(Some(SparseSums {
            context,
            sparse,
            params,
            sums,
            partials,
            rows_bind_group,
            columns_bind_group,
            rows: n,
            features: d,
            margins,
            row_groups,
            column_segments,
            entries,
            work: WorkCounts::default(),
        }))
    }
}

impl SumsRun for SparseSums<'_> {
    fn take_work(&mut self) -> WorkCounts {
        std::mem::take(&mut self.work)
    }

    fn raw_sums(&mut self, parameters: &[f32]) -> Result<RawSums> {
        let (context, d, k) = (self.context, self.features, self.margins);
        if parameters.len() != (d + 1) * k {
            return Err(Error::Engine(EngineError::GpuFailure {
                reason: format!(
                    "{} parameters for {d} features and a bias, {k} margins each",
                    parameters.len()
                ),
            }));
        }
        // The standardization folded in: the weights over the scales, the
        // centring in the biases.
        let mut folded: Vec<f64> = parameters.iter().map(|&v| f64::from(v)).collect();
        self.sparse.fold(&mut folded, k);
        let folded: Vec<f32> = folded.into_iter().map(|v| v as f32).collect();
        context
            .queue
            .write_buffer(&self.params, 0, bytemuck::cast_slice(&folded));
        let mut encoder = context.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            let pipelines = &context.pipelines;
            pass.set_pipeline(&pipelines.sparse_rows.pipeline);
            pass.set_bind_group(0, &self.rows_bind_group, &[]);
            let (x, y) = grid(context, self.row_groups);
            pass.dispatch_workgroups(x, y, 1);
            pass.set_pipeline(&pipelines.sparse_columns.pipeline);
            pass.set_bind_group(0, &self.columns_bind_group, &[]);
            let segments = self.column_segments[d];
            let (x, y) = grid(context, (segments * k).div_ceil(WORKGROUP_SIZE as usize));
            pass.dispatch_workgroups(x, y, 1);
        }
        let bytes = read_back(
            context,
            encoder,
            &[
                (&self.sums, (4 * (self.column_segments[d] * k).max(1)) as u64),
                (&self.partials, (4 * (2 + k) * self.row_groups) as u64),
            ],
        )?;
        // Two dispatches, one submission and one readback; each entry read
        // twice (its feature and value by row, its row and value by
        // column), the parameters uploaded.
        self.work.add(&WorkCounts {
            dispatches: 2,
            submissions: 1,
            readbacks: 1,
            uploaded_bytes: 4 * folded.len() as u64,
            x_bytes_read: 16 * self.entries as u64,
            ..WorkCounts::default()
        });
        let values: Vec<f32> = bytemuck::pod_collect_to_vec(&bytes);
        let (sums, partials) = values.split_at((self.column_segments[d] * k).max(1));
        // The workgroups' sums added in their order, in float64.
        let (mut loss, mut weight, mut biases) = (0.0, 0.0, vec![0.0f64; k]);
        for group in partials.chunks_exact(2 + k) {
            loss += f64::from(group[0]);
            weight += f64::from(group[1]);
            for (bias, &slope) in biases.iter_mut().zip(&group[2..]) {
                *bias += f64::from(slope);
            }
        }
        // Each column's segments added in their order, in float64.
        let mut derivative = vec![0.0f64; d * k];
        for (j, column) in self.column_segments.windows(2).enumerate() {
            for segment in column[0]..column[1] {
                for (total, &sum) in derivative[j * k..(j + 1) * k]
                    .iter_mut()
                    .zip(&sums[segment * k..(segment + 1) * k])
                {
                    *total += f64::from(sum);
                }
            }
        }
        derivative.extend(biases);
        self.sparse.unfold(&mut derivative, k);
        Ok(RawSums {
            derivative,
            loss,
            rows: self.rows,
            weight,
        })
    }
}

/// Whether buffers of each of `counts` 32-bit values fit one binding of the
/// adapter, and their indices 32 bits.
pub(super) fn within_bindings(context: &GpuContext, counts: &[usize]) -> bool {
    let limit = context
        .limits
        .max_storage_buffer_binding_size
        .min(u64::from(u32::MAX));
    counts.iter().all(|&count| 4 * count as u64 <= limit)
}

/// Whether every row's loop (its entries times its margins, and the
/// margins') is within [`ROW_LOOP_BUDGET`].
pub(super) fn rows_within_loop_budget(csr: &Csr<'_>, margins: usize) -> bool {
    let longest_row = (0..csr.indptr.len() - 1)
        .map(|i| csr.entries(i).len())
        .max()
        .unwrap_or(0);
    (longest_row + 1) * (margins + 1) <= ROW_LOOP_BUDGET
}

/// The targets of every row of `source`, each followed by its weight where
/// the rows are weighted.
pub(super) fn targets_of(source: &dyn DataSource) -> Result<Vec<f32>> {
    let n = source.rows();
    let y = source.targets(0, n)?;
    let weights = source.weights(0, n)?;
    Ok(targets_and_weights(&y, weights.as_deref()).into_owned())
}

/// A storage buffer holding `bytes` (4 zero bytes where there are none: a
/// binding is never empty), usable besides as `extra` says.
pub(super) fn storage_buffer(
    device: &wgpu::Device,
    label: &str,
    bytes: &[u8],
    extra: wgpu::BufferUsages,
) -> wgpu::Buffer {
    let contents = match bytes.is_empty() {
        true => &[0u8; 4][..],
        false => bytes,
    };
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents,
        usage: wgpu::BufferUsages::STORAGE | extra,
    })
}

/// The CSR arrays of sparse rows and their targets on the device, as
/// sparse_rows.wgsl binds them.
pub(super) struct CsrBuffers {
    pub(super) indptr: wgpu::Buffer,
    pub(super) indices: wgpu::Buffer,
    pub(super) values: wgpu::Buffer,
    /// Each target, followed by its row's weight where the rows are
    /// weighted ([`targets_of`]).
    pub(super) targets: wgpu::Buffer,
}

impl CsrBuffers {
    /// Uploads `csr` (its offsets from 0, as 32 bits) and `targets`.
    pub(super) fn upload(device: &wgpu::Device, csr: &Csr<'_>, targets: &[f32]) -> Self {
        let base = csr.indptr[0];
        let indptr: Vec<u32> = csr.indptr.iter().map(|&p| (p - base) as u32).collect();
        let read_only =
            |label: &str, bytes: &[u8]| storage_buffer(device, label, bytes, wgpu::BufferUsages::empty());
        CsrBuffers {
            indptr: read_only("indptr", bytemuck::cast_slice(&indptr)),
            indices: read_only("indices", bytemuck::cast_slice(csr.indices)),
            values: read_only("values", bytemuck::cast_slice(csr.values)),
            targets: read_only("targets", bytemuck::cast_slice(targets)),
        }
    }
}
