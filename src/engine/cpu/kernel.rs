//! The fused pass over rows: margins, loss derivatives, loss and
//! Σ ℓ′(zᵢ) xᵢ together, each row read once (the K margins of a
//! multinomial row too: one read of the row feeds all K dot products).

use std::ops::Range;

use pulp::{Simd, WithSimd};
use rayon::prelude::*;

use super::lane_sums::{sums_of_four, FourLanes};
use crate::data::source::Block;
use crate::math::loss::Loss;
use crate::math::objective::RawSums;

/// The rows a pass reads: X row-major and contiguous, y, and the model
/// whose loss is summed.
pub(crate) struct Data<'a> {
    x: &'a [f32],
    y: &'a [f32],
    /// The rows' sample weights, where they have them.
    weights: Option<&'a [f32]>,
    features: usize,
    loss: Loss,
}

impl<'a> Data<'a> {
    pub(crate) fn new(block: &'a Block, weights: Option<&'a [f32]>, features: usize, loss: Loss) -> Self {
        Data {
            x: &block.x,
            y: &block.y,
            weights,
            features,
            loss,
        }
    }

    /// Values a row.
    pub(crate) fn features(&self) -> usize {
        self.features
    }

    /// Margins a row: the loss's.
    pub(crate) fn margins(&self) -> usize {
        self.loss.margins()
    }
}

/// Rows per task. Fixed, so that the partial sums and the order in which
/// they are added are the same whatever the number of threads: the result
/// is reproducible bit for bit.
const CHUNK_ROWS: usize = 128;

/// Rows per task for batches of at least `LARGE_BATCH` rows: fewer partial
/// sums to store and add, with as much parallelism.
const LARGE_CHUNK_ROWS: usize = 1024;
const LARGE_BATCH: usize = 1 << 16;

/// The fewest values (rows × features) of a batch whose chunks are summed
/// on many threads: below it the threads' hand-overs (some microseconds)
/// cost more than the chunks. The chunks and their order are the same
/// either way, and so are the sums, bit for bit.
const PARALLEL_VALUES: usize = 1 << 12;

/// Whether a batch of `rows` rows of `features` features is summed on
/// many threads.
pub(crate) fn on_many_threads(rows: usize, features: usize) -> bool {
    rows * features.max(1) >= PARALLEL_VALUES
}

/// The rows of one batch, or of one chunk of a batch.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rows<'a> {
    /// Rows `start..start + len` in storage order.
    Contiguous { start: usize, len: usize },
    /// Rows `order[start..start + len]` of an epoch's permutation. The rows
    /// that follow in `order`, even past the batch, are fetched into the
    /// cache ahead of their step.
    Permuted {
        order: &'a [u32],
        start: usize,
        len: usize,
    },
}

impl<'a> Rows<'a> {
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        match *self {
            Rows::Contiguous { len, .. } | Rows::Permuted { len, .. } => len,
        }
    }

    /// The k-th row of the batch.
    #[inline(always)]
    pub(super) fn get(&self, k: usize) -> usize {
        match *self {
            Rows::Contiguous { start, .. } => start + k,
            Rows::Permuted { order, start, .. } => order[start + k] as usize,
        }
    }

    /// Positions `span` of this batch.
    pub(super) fn part(&self, span: Range<usize>) -> Rows<'a> {
        match *self {
            Rows::Contiguous { start, .. } => Rows::Contiguous {
                start: start + span.start,
                len: span.len(),
            },
            Rows::Permuted { order, start, .. } => Rows::Permuted {
                order,
                start: start + span.start,
                len: span.len(),
            },
        }
    }

    /// The row at position k + `PREFETCH_AHEAD` of a permutation, if any.
    /// Contiguous rows are left to the hardware prefetcher: requesting
    /// their lines as well made the full-batch pass slower (17.3 ms
    /// against 14.3 ms for 4,000,000 × 28 logistic rows on the
    /// development machine, BENCHMARKS.md), and farther ahead slower still.
    #[inline(always)]
    fn ahead(&self, k: usize) -> Option<usize> {
        match *self {
            Rows::Contiguous { .. } => None,
            Rows::Permuted { .. } => self.ahead_by(k, PREFETCH_AHEAD),
        }
    }

    /// The row at position k + `distance` of the batch (of a permutation,
    /// even past the batch), if any.
    #[inline(always)]
    pub(super) fn ahead_by(&self, k: usize, distance: usize) -> Option<usize> {
        match *self {
            Rows::Contiguous { start, len } => (k + distance < len).then_some(start + k + distance),
            Rows::Permuted { order, start, .. } => order.get(start + k + distance).map(|&i| i as usize),
        }
    }
}

/// Every row of `order`, in its order.
fn list(order: &[u32]) -> Rows<'_> {
    Rows::Permuted {
        order,
        start: 0,
        len: order.len(),
    }
}

/// Scratch space for batch gradients, sized once per fit so that steps
/// allocate nothing.
pub(crate) struct Workspace {
    features: usize,
    /// Margins per row (K classes of a multinomial loss, else 1).
    margins: usize,
    /// Rows per chunk: fixed for the whole fit by its batch size alone.
    chunk_rows: usize,
    /// The SIMD instruction sets of this machine, detected once.
    arch: pulp::Arch,
    /// Σ ℓ′ᵢ xᵢ of each chunk, `features` × `margins` values per chunk.
    chunk_sums: Vec<f32>,
    /// Σ ℓ′ᵢₖ of each chunk, `margins` values per chunk, where a row has
    /// many margins (one margin's is in `chunk_scalars`).
    chunk_biases: Vec<f64>,
    /// A row's margins and then its slopes, 2 × `margins` values per chunk
    /// (scratch of the many-margin path).
    chunk_rows_scratch: Vec<f32>,
    /// (Σ ℓ′ᵢ, Σ lossᵢ, Σ weightᵢ) of each chunk.
    chunk_scalars: Vec<[f64; 3]>,
    /// The raw sums of the last batch.
    sums: RawSums,
}

impl Workspace {
    pub(crate) fn new(features: usize, margins: usize, largest_batch: usize) -> Self {
        let rows = if largest_batch >= LARGE_BATCH {
            LARGE_CHUNK_ROWS
        } else {
            CHUNK_ROWS
        };
        // Each chunk keeps features × margins sums: with many margins,
        // longer chunks keep them near a thirty-second of the rows' size.
        let chunk_rows = rows * margins.div_ceil(4);
        let chunks = largest_batch.div_ceil(chunk_rows).max(1);
        Workspace {
            features,
            margins,
            chunk_rows,
            arch: pulp::Arch::new(),
            chunk_sums: vec![0.0; chunks * features * margins],
            chunk_biases: vec![0.0; if margins > 1 { chunks * margins } else { 0 }],
            chunk_rows_scratch: vec![0.0; if margins > 1 { chunks * 2 * margins } else { 0 }],
            chunk_scalars: vec![[0.0; 3]; chunks],
            sums: RawSums::zeros(features, margins),
        }
    }

    /// The raw sums of `rows` at `parameters` (weights, then biases).
    pub(crate) fn accumulate(&mut self, data: &Data, parameters: &[f32], rows: Rows) -> &RawSums {
        if self.margins > 1 {
            return self.accumulate_classes(data, parameters, rows);
        }
        let (d, arch, chunk_rows) = (self.features, self.arch, self.chunk_rows);
        let (weights, bias) = (&parameters[..d], parameters[d]);
        let batch = rows.len();
        let chunks = if batch <= chunk_rows {
            1
        } else {
            batch.div_ceil(chunk_rows)
        };
        let sums = &mut self.chunk_sums[..chunks * d];
        let scalars = &mut self.chunk_scalars[..chunks];
        let totals = &mut self.sums.derivative;
        if chunks == 1 {
            // The one chunk's sums are the batch's, widened as they are
            // made.
            scalars[0] = accumulate(arch, data, weights, bias, rows, sums, Some(&mut totals[..d]));
        } else {
            let chunk = |c: usize, sums: &mut [f32], scalars: &mut [f64; 3]| {
                let span = c * chunk_rows..((c + 1) * chunk_rows).min(batch);
                *scalars = accumulate(arch, data, weights, bias, rows.part(span), sums, None);
            };
            if on_many_threads(batch, d) {
                sums.par_chunks_mut(d)
                    .zip(scalars.par_iter_mut())
                    .enumerate()
                    .for_each(|(c, (sums, scalars))| chunk(c, sums, scalars));
            } else {
                sums.chunks_mut(d)
                    .zip(scalars.iter_mut())
                    .enumerate()
                    .for_each(|(c, (sums, scalars))| chunk(c, sums, scalars));
            }
        }

        self.merge(chunks, batch)
    }

    /// The batch's raw sums from its `chunks` chunks' (one margin): the
    /// chunks added in f64 in their order (the one chunk's sums were
    /// widened as they were made).
    fn merge(&mut self, chunks: usize, batch: usize) -> &RawSums {
        let d = self.features;
        let scalars = &self.chunk_scalars[..chunks];
        let totals = &mut self.sums.derivative;
        let [derivative_sum, loss_sum, weight_sum] = if chunks == 1 {
            scalars[0]
        } else {
            totals.fill(0.0);
            let (mut derivative_sum, mut loss_sum, mut weight_sum) = (0.0f64, 0.0f64, 0.0f64);
            for (sums, &[derivative, loss, weight]) in
                self.chunk_sums[..chunks * d].chunks_exact(d).zip(scalars)
            {
                for (total, &s) in totals.iter_mut().zip(sums) {
                    *total += f64::from(s);
                }
                derivative_sum += derivative;
                loss_sum += loss;
                weight_sum += weight;
            }
            [derivative_sum, loss_sum, weight_sum]
        };
        totals[d] = derivative_sum;
        self.sums.loss = loss_sum;
        self.sums.rows = batch;
        self.sums.weight = weight_sum;
        &self.sums
    }

    /// The raw sums of each model over rows of its own, `rows[m]` (indices
    /// into `data`; one workspace per model, made for that many rows), each
    /// equal bit for bit to [`Workspace::accumulate`]'s over
    /// [`Rows::Permuted`] through its list alone, and so to its sums over a
    /// copy of those rows: the same chunks of the list, summed by the same
    /// code and merged in the same order. The models' c-th chunks are
    /// summed in one task: where the lists are the training rows of folds
    /// (most of the rows in each, spread alike), those chunks cover nearly
    /// the same rows of `data`, read from memory once for all the models.
    /// Lists of one chunk, and models of many margins, are summed model by
    /// model.
    pub(crate) fn accumulate_many_in(
        workspaces: &mut [Workspace],
        data: &Data,
        parameters: &[&[f32]],
        rows: &[&[u32]],
    ) -> Vec<RawSums> {
        debug_assert_eq!(workspaces.len(), parameters.len());
        debug_assert_eq!(workspaces.len(), rows.len());
        let chunked = workspaces
            .iter()
            .zip(rows)
            .all(|(workspace, order)| workspace.margins == 1 && order.len() > workspace.chunk_rows);
        if !chunked {
            return workspaces
                .iter_mut()
                .zip(parameters.iter().zip(rows))
                .map(|(workspace, (parameters, order))| {
                    workspace.accumulate(data, parameters, list(order)).clone()
                })
                .collect();
        }
        // Each model's chunk length, features and SIMD path.
        let shapes: Vec<(usize, usize, pulp::Arch)> = workspaces
            .iter()
            .map(|w| (w.chunk_rows, w.features, w.arch))
            .collect();
        let chunks_of = |m: usize| rows[m].len().div_ceil(shapes[m].0);
        let most = (0..rows.len()).map(chunks_of).max().unwrap_or(0);
        // Each chunk's slots: the models that have a c-th chunk.
        type Slot<'w> = (usize, &'w mut [f32], &'w mut [f64; 3]);
        let mut slots: Vec<Vec<Slot>> = (0..most).map(|_| Vec::with_capacity(workspaces.len())).collect();
        for (m, workspace) in workspaces.iter_mut().enumerate() {
            let (chunks, d) = (chunks_of(m), workspace.features);
            let sums = workspace.chunk_sums[..chunks * d].chunks_exact_mut(d);
            let scalars = workspace.chunk_scalars[..chunks].iter_mut();
            for (slot, (sums, scalars)) in slots.iter_mut().zip(sums.zip(scalars)) {
                slot.push((m, sums, scalars));
            }
        }
        slots.par_iter_mut().enumerate().for_each(|(c, models)| {
            for (m, sums, scalars) in models.iter_mut() {
                let (chunk_rows, d, arch) = shapes[*m];
                let order = rows[*m];
                let span = c * chunk_rows..((c + 1) * chunk_rows).min(order.len());
                let (weights, bias) = (&parameters[*m][..d], parameters[*m][d]);
                **scalars = accumulate(arch, data, weights, bias, list(order).part(span), sums, None);
            }
        });
        workspaces
            .iter_mut()
            .enumerate()
            .map(|(m, workspace)| workspace.merge(chunks_of(m), rows[m].len()).clone())
            .collect()
    }

    /// The raw sums of `rows` at each of `parameters` (one workspace per
    /// model, each made for the same batch size), each equal bit for bit
    /// to [`Workspace::accumulate`]'s at it alone: the same chunks, summed
    /// by the same code and merged in the same order. A chunk is read
    /// from memory once and summed for every model in turn while it stays
    /// in the cache (a chunk of 1024 rows of 64 features is 256 KiB).
    /// Batches of one chunk are summed model by model.
    pub(crate) fn accumulate_many(
        workspaces: &mut [Workspace],
        data: &Data,
        parameters: &[&[f32]],
        rows: Rows,
    ) -> Vec<RawSums> {
        debug_assert_eq!(workspaces.len(), parameters.len());
        let Some(first) = workspaces.first() else {
            return Vec::new();
        };
        let (d, arch, chunk_rows, margins) = (first.features, first.arch, first.chunk_rows, first.margins);
        let batch = rows.len();
        if batch <= chunk_rows {
            return workspaces
                .iter_mut()
                .zip(parameters)
                .map(|(workspace, parameters)| workspace.accumulate(data, parameters, rows).clone())
                .collect();
        }
        if margins > 1 {
            return Workspace::accumulate_many_classes(workspaces, data, parameters, rows);
        }
        let chunks = batch.div_ceil(chunk_rows);
        // Each chunk's slots, model by model.
        let mut slots: Vec<Vec<(&mut [f32], &mut [f64; 3])>> = (0..chunks)
            .map(|_| Vec::with_capacity(workspaces.len()))
            .collect();
        for workspace in workspaces.iter_mut() {
            let sums = workspace.chunk_sums[..chunks * d].chunks_exact_mut(d);
            let scalars = workspace.chunk_scalars[..chunks].iter_mut();
            for (slot, chunk) in slots.iter_mut().zip(sums.zip(scalars)) {
                slot.push(chunk);
            }
        }
        slots.par_iter_mut().enumerate().for_each(|(c, models)| {
            let span = c * chunk_rows..((c + 1) * chunk_rows).min(batch);
            for ((sums, scalars), parameters) in models.iter_mut().zip(parameters) {
                let (weights, bias) = (&parameters[..d], parameters[d]);
                **scalars = accumulate(arch, data, weights, bias, rows.part(span.clone()), sums, None);
            }
        });
        workspaces
            .iter_mut()
            .map(|workspace| workspace.merge(chunks, batch).clone())
            .collect()
    }
}

impl Workspace {
    /// [`Workspace::accumulate_many`] for K margins per row: each chunk
    /// read once and summed for every model by
    /// [`Workspace::accumulate_classes`]'s code, merged in its order.
    fn accumulate_many_classes(
        workspaces: &mut [Workspace],
        data: &Data,
        parameters: &[&[f32]],
        rows: Rows,
    ) -> Vec<RawSums> {
        let first = &workspaces[0];
        let (d, k, chunk_rows) = (first.features, first.margins, first.chunk_rows);
        let width = d * k;
        let batch = rows.len();
        let chunks = batch.div_ceil(chunk_rows);
        type Slot<'w> = (&'w mut [f32], &'w mut [f64], &'w mut [f32], &'w mut [f64; 3]);
        let mut slots: Vec<Vec<Slot>> = (0..chunks)
            .map(|_| Vec::with_capacity(workspaces.len()))
            .collect();
        for workspace in workspaces.iter_mut() {
            let sums = workspace.chunk_sums[..chunks * width].chunks_exact_mut(width);
            let biases = workspace.chunk_biases[..chunks * k].chunks_exact_mut(k);
            let scratch = workspace.chunk_rows_scratch[..chunks * 2 * k].chunks_exact_mut(2 * k);
            let scalars = workspace.chunk_scalars[..chunks].iter_mut();
            for (slot, (((sums, biases), scratch), scalars)) in
                slots.iter_mut().zip(sums.zip(biases).zip(scratch).zip(scalars))
            {
                slot.push((sums, biases, scratch, scalars));
            }
        }
        slots.par_iter_mut().enumerate().for_each(|(c, models)| {
            let span = c * chunk_rows..((c + 1) * chunk_rows).min(batch);
            for ((sums, biases, scratch, scalars), parameters) in models.iter_mut().zip(parameters) {
                sums.fill(0.0);
                biases.fill(0.0);
                **scalars =
                    accumulate_classes(data, parameters, rows.part(span.clone()), (sums, biases), scratch);
            }
        });
        workspaces
            .iter_mut()
            .map(|workspace| workspace.merge_classes(chunks, batch).clone())
            .collect()
    }

    /// [`Workspace::accumulate`] for K margins per row: the same fixed
    /// chunks, each summing Σ ℓ′ᵢₖ xᵢⱼ in f32 and Σ ℓ′ᵢₖ in f64, the chunks
    /// added in f64 in their order.
    fn accumulate_classes(&mut self, data: &Data, parameters: &[f32], rows: Rows) -> &RawSums {
        let (d, k, chunk_rows) = (self.features, self.margins, self.chunk_rows);
        let width = d * k;
        let batch = rows.len();
        let chunks = batch.div_ceil(chunk_rows);
        let sums = &mut self.chunk_sums[..chunks * width];
        let biases = &mut self.chunk_biases[..chunks * k];
        let scratch = &mut self.chunk_rows_scratch[..chunks * 2 * k];
        let scalars = &mut self.chunk_scalars[..chunks];
        let chunk = |c: usize, sums: &mut [f32], biases: &mut [f64], scratch: &mut [f32]| {
            let span = c * chunk_rows..((c + 1) * chunk_rows).min(batch);
            sums.fill(0.0);
            biases.fill(0.0);
            accumulate_classes(data, parameters, rows.part(span), (sums, biases), scratch)
        };
        if chunks == 1 {
            scalars[0] = chunk(0, sums, biases, scratch);
        } else if !on_many_threads(batch, d * k) {
            for (c, (((sums, biases), scratch), scalars)) in sums
                .chunks_mut(width)
                .zip(biases.chunks_mut(k))
                .zip(scratch.chunks_mut(2 * k))
                .zip(scalars.iter_mut())
                .enumerate()
            {
                *scalars = chunk(c, sums, biases, scratch);
            }
        } else {
            sums.par_chunks_mut(width)
                .zip(biases.par_chunks_mut(k))
                .zip(scratch.par_chunks_mut(2 * k))
                .zip(scalars.par_iter_mut())
                .enumerate()
                .for_each(|(c, (((sums, biases), scratch), scalars))| {
                    *scalars = chunk(c, sums, biases, scratch);
                });
        }
        self.merge_classes(chunks, batch)
    }

    /// The batch's raw sums from its `chunks` chunks' (many margins): the
    /// chunks added in f64 in their order.
    fn merge_classes(&mut self, chunks: usize, batch: usize) -> &RawSums {
        let (d, k) = (self.features, self.margins);
        let width = d * k;
        let (sums, biases, scalars) = (&self.chunk_sums, &self.chunk_biases, &self.chunk_scalars);
        let totals = &mut self.sums.derivative;
        totals.fill(0.0);
        let (mut loss_sum, mut weight_sum) = (0.0f64, 0.0f64);
        for c in 0..chunks {
            let (weight_totals, bias_totals) = totals.split_at_mut(width);
            for (total, &s) in weight_totals.iter_mut().zip(&sums[c * width..(c + 1) * width]) {
                *total += f64::from(s);
            }
            for (total, &s) in bias_totals.iter_mut().zip(&biases[c * k..(c + 1) * k]) {
                *total += s;
            }
            loss_sum += scalars[c][1];
            weight_sum += scalars[c][2];
        }
        self.sums.loss = loss_sum;
        self.sums.rows = batch;
        self.sums.weight = weight_sum;
        &self.sums
    }
}

/// Adds sᵢ ∂ℓ/∂zᵢₖ xᵢⱼ over `rows` into `sums` (at j·K + k) and
/// sᵢ ∂ℓ/∂zᵢₖ into `biases`, and returns (0, Σ sᵢ lossᵢ, Σ sᵢ): the K
/// margins of a row come from one read of it, each feature multiplying the
/// K weights that follow one another in `parameters`. `scratch` holds a
/// row's K margins, then its K slopes.
fn accumulate_classes(
    data: &Data,
    parameters: &[f32],
    rows: Rows,
    (sums, biases): (&mut [f32], &mut [f64]),
    scratch: &mut [f32],
) -> [f64; 3] {
    let d = data.features;
    let k = biases.len();
    let (weights, bias) = parameters.split_at(d * k);
    let (margins, slopes) = scratch.split_at_mut(k);
    let (mut loss_sum, mut weight_sum) = (0.0f64, 0.0f64);
    for position in 0..rows.len() {
        let i = rows.get(position);
        let x = &data.x[i * d..(i + 1) * d];
        margins.copy_from_slice(bias);
        for (&xj, w) in x.iter().zip(weights.chunks_exact(k)) {
            for (z, &w) in margins.iter_mut().zip(w) {
                *z += xj * w;
            }
        }
        let (y, weight) = (data.y[i], data.weights.map_or(1.0, |w| w[i]));
        let loss = data.loss.row_value_and_derivatives(margins, y, slopes);
        if data.weights.is_some() {
            slopes.iter_mut().for_each(|g| *g *= weight);
        }
        loss_sum += f64::from(weight * loss);
        weight_sum += f64::from(weight);
        for (b, &g) in biases.iter_mut().zip(slopes.iter()) {
            *b += f64::from(g);
        }
        for (&xj, s) in x.iter().zip(sums.chunks_exact_mut(k)) {
            for (s, &g) in s.iter_mut().zip(slopes.iter()) {
                *s += g * xj;
            }
        }
    }
    [0.0, loss_sum, weight_sum]
}

/// Rows processed together: their dot products run as independent chains
/// and their contributions to Σ ℓ′ᵢ xᵢ are added in one sweep over `sums`.
const GROUP: usize = 4;

/// Rows ahead of the current one whose cache lines are requested early
/// when rows come from a permutation (the hardware cannot guess them).
const PREFETCH_AHEAD: usize = 2 * GROUP;

/// SIMD vectors of rows per block: four, so that the loss's long chain of
/// dependent operations (eˣ, a division, ln(1 + x)) runs for four vectors
/// side by side. Four measured no faster than two while contiguous rows
/// were also prefetched by hand; without that, four are 4–6% faster on
/// AVX2 at 28 and 64 features (BENCHMARKS.md). Eight were slower.
const BLOCK_VECTORS: usize = 4;

/// The most rows whose margins, slopes and losses are computed together:
/// `BLOCK_VECTORS` SIMD vectors of them (16 float32 lanes at most), so
/// that the loss runs on whole vectors of rows, its `match` once a block.
const BLOCK_ROWS: usize = BLOCK_VECTORS * 16;

/// A block's rows are read twice (for the margins, then for Σ ℓ′ᵢ xᵢ): at
/// most this many bytes of them, so that the second read finds them in
/// the L1 cache.
const BLOCK_BYTES: usize = 16 << 10;

/// Rows per block of `lanes` float32 lanes for rows of `features`
/// values: `BLOCK_VECTORS` vectors of rows, and a multiple of `GROUP`.
fn block_rows(lanes: usize, features: usize) -> usize {
    let cached = (BLOCK_BYTES / (4 * features.max(1))).max(GROUP);
    (BLOCK_VECTORS * lanes).clamp(GROUP, BLOCK_ROWS).min(cached) / GROUP * GROUP
}

/// Writes Σ sᵢ ℓ′ᵢ xᵢ over `rows` into `sums` (and into `widened` in
/// float64, where given) and returns (Σ sᵢ ℓ′ᵢ, Σ sᵢ lossᵢ, Σ sᵢ), where
/// ℓ′ᵢ = dℓ/dz at zᵢ = xᵢ·w + b and sᵢ the row's sample weight (1 without
/// weights: the products are then exact, and the sums those of unweighted
/// rows bit for bit). The three scalar sums are added in float64: row by
/// row, or for unweighted rows in blocks, in four chains ([`FourLanes`]).
/// A row's margin sums its dot product's lanes in pulp's order whether it
/// is reduced alone or with three others ([`sums_of_four`]).
///
/// The SIMD width is chosen at run time by `pulp`; a machine always takes
/// the same path, so its results are reproducible bit for bit.
fn accumulate(
    arch: pulp::Arch,
    data: &Data,
    weights: &[f32],
    bias: f32,
    rows: Rows,
    sums: &mut [f32],
    widened: Option<&mut [f64]>,
) -> [f64; 3] {
    arch.dispatch(Accumulate {
        data,
        weights,
        bias,
        rows,
        sums,
        widened,
    })
}

struct Accumulate<'a> {
    data: &'a Data<'a>,
    weights: &'a [f32],
    bias: f32,
    rows: Rows<'a>,
    sums: &'a mut [f32],
    widened: Option<&'a mut [f64]>,
}

/// A block's rows and what the pass computes of each.
struct BlockScratch {
    index: [usize; BLOCK_ROWS],
    margins: [f32; BLOCK_ROWS],
    targets: [f32; BLOCK_ROWS],
    slopes: [f32; BLOCK_ROWS],
    losses: [f32; BLOCK_ROWS],
}

impl WithSimd for Accumulate<'_> {
    type Output = [f64; 3];

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> [f64; 3] {
        let Accumulate {
            data,
            weights,
            bias,
            rows,
            sums,
            widened,
        } = self;
        sums.fill(0.0);
        let d = data.features;
        let row = |i: usize| &data.x[i * d..(i + 1) * d];
        let fetch_ahead = |k: usize| {
            if let Some(ahead) = rows.ahead(k) {
                prefetch(row(ahead));
                prefetch(&data.y[ahead..=ahead]);
            }
        };
        let tail = Tail::<S>::new(weights);
        // The sums of the features past the whole vectors, in the last
        // lanes: kept in a register, since storing them into `sums` would
        // overlap the store of the vector before (a stall on every row).
        let mut tail_sums = simd.splat_f32s(0.0);
        let (mut derivative_sum, mut loss_sum, mut weight_sum) = (0.0f64, 0.0f64, 0.0f64);
        let len = rows.len();
        if len < GROUP {
            // A batch of a row or a few (stochastic steps): each row on
            // its own, with no block to stage it through. Its slope and
            // loss come out bit for bit as a block would give them.
            for k in 0..len {
                fetch_ahead(k);
                let i = rows.get(k);
                let z = dot(simd, row(i), weights, &tail) + bias;
                let (mut slope, mut loss) = super::row_losses::slope_and_loss(simd, data.loss, z, data.y[i]);
                let weight = data.weights.map_or(1.0, |w| w[i]);
                if data.weights.is_some() {
                    slope *= weight;
                    loss *= weight;
                }
                derivative_sum += f64::from(slope);
                loss_sum += f64::from(loss);
                weight_sum += f64::from(weight);
                add_row(simd, slope, row(i), sums, &tail, &mut tail_sums);
            }
            add_tail_sums(simd, tail_sums, &tail, sums);
            widen(sums, widened);
            return [derivative_sum, loss_sum, weight_sum];
        }
        let lanes = std::mem::size_of::<S::f32s>() / std::mem::size_of::<f32>();
        let per_block = block_rows(lanes, d);
        let mut block = BlockScratch {
            index: [0; BLOCK_ROWS],
            margins: [0.0; BLOCK_ROWS],
            targets: [0.0; BLOCK_ROWS],
            slopes: [0.0; BLOCK_ROWS],
            losses: [0.0; BLOCK_ROWS],
        };
        // Unweighted rows' slopes and losses, in four float64 chains each.
        let (mut derivative_lanes, mut loss_lanes) = (FourLanes::default(), FourLanes::default());
        let mut first = 0;
        while first < len {
            let count = per_block.min(len - first);
            let grouped = count - count % GROUP;
            let index = &mut block.index[..count];
            for (k, i) in index.iter_mut().enumerate() {
                *i = rows.get(first + k);
            }
            // The margins, four rows at a time.
            for start in (0..grouped).step_by(GROUP) {
                for k in start..start + GROUP {
                    fetch_ahead(first + k);
                }
                let xs = [
                    row(index[start]),
                    row(index[start + 1]),
                    row(index[start + 2]),
                    row(index[start + 3]),
                ];
                let z = dot_group(simd, &xs, weights, &tail);
                for (margin, z) in block.margins[start..start + GROUP].iter_mut().zip(z) {
                    *margin = z + bias;
                }
            }
            for (k, &i) in index.iter().enumerate().skip(grouped) {
                fetch_ahead(first + k);
                block.margins[k] = dot(simd, row(i), weights, &tail) + bias;
            }
            for (target, &i) in block.targets.iter_mut().zip(index.iter()) {
                *target = data.y[i];
            }
            // The slopes and losses of whole vectors of rows.
            let vectors = count.next_multiple_of(lanes);
            super::row_losses::slopes_and_losses(
                simd,
                data.loss,
                &block.margins[..vectors],
                &block.targets[..vectors],
                &mut block.slopes[..vectors],
                &mut block.losses[..vectors],
            );
            let (slopes, losses) = (&mut block.slopes[..count], &block.losses[..count]);
            match data.weights {
                None => {
                    derivative_lanes.add(simd, slopes);
                    loss_lanes.add(simd, losses);
                    weight_sum += count as f64;
                }
                Some(row_weights) => {
                    for ((slope, &loss), &i) in slopes.iter_mut().zip(losses).zip(index.iter()) {
                        let weight = row_weights[i];
                        *slope *= weight;
                        derivative_sum += f64::from(*slope);
                        loss_sum += f64::from(weight * loss);
                        weight_sum += f64::from(weight);
                    }
                }
            }
            // Σ ℓ′ᵢ xᵢ over the block's rows, now in the cache.
            for start in (0..grouped).step_by(GROUP) {
                let xs = [
                    row(index[start]),
                    row(index[start + 1]),
                    row(index[start + 2]),
                    row(index[start + 3]),
                ];
                let slope = [
                    slopes[start],
                    slopes[start + 1],
                    slopes[start + 2],
                    slopes[start + 3],
                ];
                add_group(simd, slope, &xs, sums, &tail, &mut tail_sums);
            }
            for (&slope, &i) in slopes.iter().zip(index.iter()).skip(grouped) {
                add_row(simd, slope, row(i), sums, &tail, &mut tail_sums);
            }
            first += count;
        }
        add_tail_sums(simd, tail_sums, &tail, sums);
        widen(sums, widened);
        [
            derivative_sum + derivative_lanes.total(),
            loss_sum + loss_lanes.total(),
            weight_sum,
        ]
    }
}

/// Copies `sums` into `widened` in float64, where it is given.
#[inline(always)]
fn widen(sums: &[f32], widened: Option<&mut [f64]>) {
    if let Some(widened) = widened {
        for (wide, &sum) in widened.iter_mut().zip(sums) {
            *wide = f64::from(sum);
        }
    }
}

/// Adds the sums of the features past a row's whole vectors, kept in the
/// last lanes of `tail_sums`, into `sums`.
#[inline(always)]
fn add_tail_sums<S: Simd>(_simd: S, tail_sums: S::f32s, tail: &Tail<S>, sums: &mut [f32]) {
    if tail.overlapping {
        let lanes = std::mem::size_of::<S::f32s>() / std::mem::size_of::<f32>();
        let mut lanes_out = [0.0f32; 16];
        S::as_mut_simd_f32s(&mut lanes_out[..lanes]).0[0] = tail_sums;
        let d = sums.len();
        let past = d % lanes;
        for (s, &t) in sums[d - past..].iter_mut().zip(&lanes_out[lanes - past..lanes]) {
            *s += t;
        }
    }
}

/// Asks for the cache lines of `values` ahead of their use.
#[inline(always)]
pub(super) fn prefetch<T>(values: &[T]) {
    #[cfg(target_arch = "x86_64")]
    for line in values.chunks((64 / std::mem::size_of::<T>().max(1)).max(1)) {
        // SAFETY: prefetching is a hint; it never faults, and the pointer
        // comes from a live slice.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line.as_ptr().cast())
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = values;
}

/// The last `lanes` features of a row as one vector, where a row has that
/// many: the features past the whole vectors (d mod lanes of them) are
/// read together with the ones before them, whose lanes are masked off.
/// Rows of fewer features than a vector are taken a feature at a time.
struct Tail<S: Simd> {
    /// Where the last vector of a row starts: d − lanes.
    start: usize,
    /// The weights of the features past the whole vectors, in the last
    /// lanes; 0 in the lanes that repeat features already counted.
    weights: S::f32s,
    /// 1 in those last lanes, 0 in the others.
    mask: S::f32s,
    /// Whether rows have features past their whole vectors, and enough
    /// for one vector.
    overlapping: bool,
}

impl<S: Simd> Tail<S> {
    #[inline(always)]
    fn new(w: &[f32]) -> Self {
        let lanes = std::mem::size_of::<S::f32s>() / std::mem::size_of::<f32>();
        let d = w.len();
        let past = d % lanes;
        let overlapping = past > 0 && d >= lanes;
        let mut weights = [0.0f32; 16];
        let mut mask = [0.0f32; 16];
        if overlapping {
            weights[lanes - past..lanes].copy_from_slice(&w[d - past..]);
            mask[lanes - past..lanes].fill(1.0);
        }
        Tail {
            start: d.saturating_sub(lanes),
            weights: vector::<S>(&weights[..lanes]),
            mask: vector::<S>(&mask[..lanes]),
            overlapping,
        }
    }
}

/// The vector of the first lanes of `values`.
#[inline(always)]
fn vector<S: Simd>(values: &[f32]) -> S::f32s {
    S::as_simd_f32s(values).0[0]
}

/// The dot products of `GROUP` rows with `w`, as independent SIMD chains.
#[inline(always)]
fn dot_group<S: Simd>(simd: S, rows: &[&[f32]; GROUP], w: &[f32], tail: &Tail<S>) -> [f32; GROUP] {
    let (w_head, w_tail) = S::as_simd_f32s(w);
    let [h0, h1, h2, h3] = simd_heads::<S>(rows);
    let zero = simd.splat_f32s(0.0);
    let (mut a0, mut a1, mut a2, mut a3) = (zero, zero, zero, zero);
    for ((((&wv, &x0), &x1), &x2), &x3) in w_head.iter().zip(h0).zip(h1).zip(h2).zip(h3) {
        a0 = simd.mul_add_e_f32s(x0, wv, a0);
        a1 = simd.mul_add_e_f32s(x1, wv, a1);
        a2 = simd.mul_add_e_f32s(x2, wv, a2);
        a3 = simd.mul_add_e_f32s(x3, wv, a3);
    }
    if tail.overlapping {
        let last = |k: usize| vector::<S>(&rows[k][tail.start..]);
        a0 = simd.mul_add_e_f32s(last(0), tail.weights, a0);
        a1 = simd.mul_add_e_f32s(last(1), tail.weights, a1);
        a2 = simd.mul_add_e_f32s(last(2), tail.weights, a2);
        a3 = simd.mul_add_e_f32s(last(3), tail.weights, a3);
        return sums_of_four(simd, [a0, a1, a2, a3]);
    }
    let tail_start = w.len() - w_tail.len();
    let tail = |k: usize| -> f32 { rows[k][tail_start..].iter().zip(w_tail).map(|(x, w)| x * w).sum() };
    let [s0, s1, s2, s3] = sums_of_four(simd, [a0, a1, a2, a3]);
    [s0 + tail(0), s1 + tail(1), s2 + tail(2), s3 + tail(3)]
}

/// sums ← sums + Σₖ derivativeₖ rowsₖ, the four products added pairwise.
#[inline(always)]
fn add_group<S: Simd>(
    simd: S,
    derivative: [f32; GROUP],
    rows: &[&[f32]; GROUP],
    sums: &mut [f32],
    tail: &Tail<S>,
    tail_sums: &mut S::f32s,
) {
    let [q0, q1, q2, q3] = derivative;
    let [h0, h1, h2, h3] = simd_heads::<S>(rows);
    let (v0, v1, v2, v3) = (
        simd.splat_f32s(q0),
        simd.splat_f32s(q1),
        simd.splat_f32s(q2),
        simd.splat_f32s(q3),
    );
    let add = |s: S::f32s, [x0, x1, x2, x3]: [S::f32s; GROUP], [v0, v1, v2, v3]: [S::f32s; GROUP]| {
        let pair01 = simd.mul_add_e_f32s(v1, x1, simd.mul_f32s(v0, x0));
        let pair23 = simd.mul_add_e_f32s(v3, x3, simd.mul_f32s(v2, x2));
        simd.add_f32s(s, simd.add_f32s(pair01, pair23))
    };
    let (s_head, s_tail) = S::as_mut_simd_f32s(sums);
    for ((((s, &x0), &x1), &x2), &x3) in s_head.iter_mut().zip(h0).zip(h1).zip(h2).zip(h3) {
        *s = add(*s, [x0, x1, x2, x3], [v0, v1, v2, v3]);
    }
    if tail.overlapping {
        let last = |k: usize| vector::<S>(&rows[k][tail.start..]);
        let masked = [
            simd.mul_f32s(v0, tail.mask),
            simd.mul_f32s(v1, tail.mask),
            simd.mul_f32s(v2, tail.mask),
            simd.mul_f32s(v3, tail.mask),
        ];
        *tail_sums = add(*tail_sums, [last(0), last(1), last(2), last(3)], masked);
        return;
    }
    let tail_start = rows[0].len() - s_tail.len();
    for (j, s) in s_tail.iter_mut().enumerate() {
        let j = tail_start + j;
        *s += (q0 * rows[0][j] + q1 * rows[1][j]) + (q2 * rows[2][j] + q3 * rows[3][j]);
    }
}

/// sums ← sums + derivative · x.
#[inline(always)]
fn add_row<S: Simd>(
    simd: S,
    derivative: f32,
    x: &[f32],
    sums: &mut [f32],
    tail: &Tail<S>,
    tail_sums: &mut S::f32s,
) {
    let r = simd.splat_f32s(derivative);
    let (sum_head, sum_tail) = S::as_mut_simd_f32s(sums);
    let (x_head, x_tail) = S::as_simd_f32s(x);
    for (s, &xv) in sum_head.iter_mut().zip(x_head) {
        *s = simd.mul_add_e_f32s(r, xv, *s);
    }
    if tail.overlapping {
        let masked = simd.mul_f32s(r, tail.mask);
        *tail_sums = simd.mul_add_e_f32s(masked, vector::<S>(&x[tail.start..]), *tail_sums);
        return;
    }
    for (s, &xj) in sum_tail.iter_mut().zip(x_tail) {
        *s += derivative * xj;
    }
}

/// The whole SIMD vectors of each row.
#[inline(always)]
fn simd_heads<'r, S: Simd>(rows: &[&'r [f32]; GROUP]) -> [&'r [S::f32s]; GROUP] {
    [
        S::as_simd_f32s(rows[0]).0,
        S::as_simd_f32s(rows[1]).0,
        S::as_simd_f32s(rows[2]).0,
        S::as_simd_f32s(rows[3]).0,
    ]
}

/// x · w with one SIMD accumulator.
#[inline(always)]
fn dot<S: Simd>(simd: S, x: &[f32], w: &[f32], tail: &Tail<S>) -> f32 {
    let (x_head, x_tail) = S::as_simd_f32s(x);
    let (w_head, w_tail) = S::as_simd_f32s(w);
    let mut acc = simd.splat_f32s(0.0);
    for (&a, &b) in x_head.iter().zip(w_head) {
        acc = simd.mul_add_e_f32s(a, b, acc);
    }
    if tail.overlapping {
        acc = simd.mul_add_e_f32s(vector::<S>(&x[tail.start..]), tail.weights, acc);
        return simd.reduce_sum_f32s(acc);
    }
    let rest: f32 = x_tail.iter().zip(w_tail).map(|(x, w)| x * w).sum();
    simd.reduce_sum_f32s(acc) + rest
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    /// Sums in float64 from the float64 definitions of the loss, over
    /// `order`, and the scale of their float32 rounding.
    struct Reference {
        /// Σ sᵢ ℓ′ᵢ xᵢ per feature, then Σ sᵢ ℓ′ᵢ.
        sums: Vec<f64>,
        loss: f64,
        /// Per sum, Σ over rows of the magnitude its float32 terms may be
        /// off by per unit of rounding: |sᵢ ℓ′ᵢ xᵢⱼ|, plus |xᵢⱼ| times
        /// the slope's change over the margin's rounding (|ℓ″| ≤ 2 times
        /// Σₖ |xᵢₖ wₖ|).
        scales: Vec<f64>,
        loss_scale: f64,
    }

    fn reference(
        x: &[f32],
        y: &[f32],
        weights: Option<&[f32]>,
        d: usize,
        parameters: &[f32],
        order: &[usize],
        loss: Loss,
    ) -> Reference {
        let mut sums = vec![0.0f64; d + 1];
        let mut scales = vec![0.0f64; d + 1];
        let (mut loss_sum, mut loss_scale) = (0.0, 0.0);
        for &i in order {
            let row = &x[i * d..(i + 1) * d];
            let z: f64 = row
                .iter()
                .zip(parameters)
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum::<f64>()
                + f64::from(parameters[d]);
            let magnitude: f64 = row
                .iter()
                .zip(parameters)
                .map(|(&a, &b)| (f64::from(a) * f64::from(b)).abs())
                .sum::<f64>()
                + f64::from(parameters[d]).abs();
            let s = weights.map_or(1.0, |w| f64::from(w[i]));
            let slope = s * loss.derivative(z, f64::from(y[i]));
            let value = s * loss.value(z, f64::from(y[i]));
            let slope_scale = slope.abs() + 2.0 * s * magnitude;
            for ((total, scale), &x) in sums.iter_mut().zip(&mut scales).zip(row.iter().chain([&1.0])) {
                *total += slope * f64::from(x);
                *scale += slope_scale * f64::from(x).abs();
            }
            loss_sum += value;
            loss_scale += value.abs() + slope.abs() * magnitude;
        }
        Reference {
            sums,
            loss: loss_sum,
            scales,
            loss_scale,
        }
    }

    /// Rows of every width from 1 to 40 (so of fewer features than a
    /// vector, of whole vectors, and with features past them), batches of
    /// lengths that are not multiples of four (and of one to three rows,
    /// which take no block), rows in order and permuted,
    /// with and without weights: the pass equals the float64 sums to
    /// float32 precision. The bound is the rounding of float32 sums of a
    /// chunk's rows (CHUNK_ROWS additions) of products of d-term dot
    /// products: (CHUNK_ROWS + d + 8) ε times the sum of the terms'
    /// magnitudes.
    #[test]
    fn the_pass_is_the_float64_sums_for_every_width() {
        let mut state = 12345u64;
        let mut uniform = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f64 / (1u64 << 24) as f64) as f32
        };
        for d in 1..=40 {
            let rows = 203;
            let x: Vec<f32> = (0..rows * d).map(|_| 4.0 * uniform() - 2.0).collect();
            let labels: Vec<f32> = (0..rows)
                .map(|_| if uniform() < 0.5 { 0.0 } else { 1.0 })
                .collect();
            let targets: Vec<f32> = (0..rows).map(|_| 3.0 * uniform() - 1.5).collect();
            let weights: Vec<f32> = (0..rows).map(|_| 2.0 * uniform()).collect();
            let parameters: Vec<f32> = (0..=d)
                .map(|_| (2.0 * uniform() - 1.0) / (d as f32).sqrt())
                .collect();
            let order: Vec<u32> = (0..rows as u32).map(|i| (i * 37 + 11) % rows as u32).collect();
            for (loss, y) in [
                (Loss::Squared, &targets),
                (Loss::Log, &labels),
                (Loss::Huber { epsilon: 0.5 }, &targets),
            ] {
                let block = Block {
                    x: Cow::Borrowed(&x),
                    y: Cow::Borrowed(y),
                };
                for row_weights in [None, Some(weights.as_slice())] {
                    let data = Data::new(&block, row_weights, d, loss);
                    for (rows_of, len) in [
                        (None, rows),
                        (Some(&order), 131),
                        (None, 7),
                        (Some(&order), 1),
                        (Some(&order), 3),
                    ] {
                        let (chosen, positions): (Rows, Vec<usize>) = match rows_of {
                            None => (
                                Rows::Contiguous {
                                    start: 5,
                                    len: len - 5,
                                },
                                (5..len).collect(),
                            ),
                            Some(order) => (
                                Rows::Permuted { order, start: 3, len },
                                order[3..3 + len].iter().map(|&i| i as usize).collect(),
                            ),
                        };
                        let mut workspace = Workspace::new(d, 1, rows);
                        let got = workspace.accumulate(&data, &parameters, chosen).clone();
                        let expected = reference(&x, y, row_weights, d, &parameters, &positions, loss);
                        let what = format!(
                            "{loss:?}, {d} features, {len} rows, weighted {}",
                            row_weights.is_some()
                        );
                        let rounding = (CHUNK_ROWS + d + 8) as f64 * f64::from(f32::EPSILON);
                        for (j, ((&g, &e), &scale)) in got
                            .derivative
                            .iter()
                            .zip(&expected.sums)
                            .zip(&expected.scales)
                            .enumerate()
                        {
                            assert!(
                                (g - e).abs() <= rounding * scale,
                                "{what}: sum {j}: {g} against {e}"
                            );
                        }
                        let loss_error = (got.loss - expected.loss).abs();
                        assert!(loss_error <= rounding * expected.loss_scale, "{what}: loss sum");
                        assert_eq!(got.rows, positions.len(), "{what}");
                    }
                }
            }
        }
    }
}
