//! The CPU engine's pass over sparse rows, read in their CSR arrays: a
//! row's margins from its stored entries alone, its loss and derivatives,
//! and Σ sᵢ ℓ′ᵢₖ xᵢⱼ added at its entries' features. The work of a row is
//! that of its entries, not of the features; each fixed chunk of rows
//! sums into its own float64 accumulator, and the chunks are added in
//! their order, so the sums are the same whatever the number of threads.
//!
//! Standardized sparse rows stay sparse: with xᵢⱼ standardized to
//! (xᵢⱼ − μⱼ)/sⱼ, a margin is b − Σⱼ μⱼ wⱼ/sⱼ + Σ over the stored entries
//! of xᵢⱼ wⱼ/sⱼ, and the sum Σᵢ ℓ′ᵢ (xᵢⱼ − μⱼ)/sⱼ is
//! (Σᵢ ℓ′ᵢ xᵢⱼ − μⱼ Σᵢ ℓ′ᵢ)/sⱼ: the pass runs on the stored entries with
//! the weights divided by the scales and the centring folded into the
//! bias, and its sums are mapped back.

use std::borrow::Cow;

use rayon::prelude::*;

use super::kernel::Rows;
use crate::data::source::Sparse;
use crate::math::loss::Loss;
use crate::math::objective::RawSums;

/// Rows per task: fixed, for sums that do not depend on the threads.
const CHUNK_ROWS: usize = 4096;

/// Chunks summed at once, each into its own accumulator, before their sums
/// are added to the totals in their order: the scratch is this many
/// accumulators of the parameters' length, whatever the rows.
const WAVE: usize = 8;

/// Sparse rows, their targets and sample weights, and the loss summed.
pub(super) struct SparseRows<'a> {
    /// The stored entries, and the standardization they are read under.
    pub(super) sparse: Sparse<'a>,
    pub(super) y: Cow<'a, [f32]>,
    pub(super) weights: Option<Cow<'a, [f32]>>,
    pub(super) loss: Loss,
}

/// Scratch for the sums of sparse rows, sized once per fit.
pub(super) struct SparseWorkspace {
    /// Σ sᵢ ℓ′ᵢₖ xᵢⱼ at j·K + k, then Σ sᵢ ℓ′ᵢₖ, of each chunk.
    chunk_sums: Vec<f64>,
    /// (Σ sᵢ lossᵢ, Σ sᵢ) of each chunk.
    chunk_scalars: Vec<[f64; 2]>,
    sums: RawSums,
    /// The pass's weights and biases in float64: the parameters, or under
    /// a standardization, the weights over the scales and the biases with
    /// the centring.
    parameters: Vec<f64>,
    width: usize,
    margins: usize,
}

impl SparseWorkspace {
    pub(super) fn new(features: usize, margins: usize, largest_batch: usize) -> Self {
        let width = (features + 1) * margins;
        let chunks = largest_batch.div_ceil(CHUNK_ROWS).clamp(1, WAVE);
        SparseWorkspace {
            chunk_sums: vec![0.0; chunks * width],
            chunk_scalars: vec![[0.0; 2]; chunks],
            sums: RawSums::zeros(features, margins),
            parameters: vec![0.0; width],
            width,
            margins,
        }
    }

    /// The raw sums of `rows` of `data` at `parameters` (the weights
    /// feature by feature, each margin's, then the biases).
    pub(super) fn accumulate(&mut self, data: &SparseRows, parameters: &[f32], rows: Rows) -> &RawSums {
        let (width, margins) = (self.width, self.margins);
        for (p, &v) in self.parameters.iter_mut().zip(parameters) {
            *p = f64::from(v);
        }
        data.sparse.fold(&mut self.parameters, margins);
        let parameters = &self.parameters;
        let batch = rows.len();
        let chunks = batch.div_ceil(CHUNK_ROWS).max(1);
        let totals = &mut self.sums.derivative;
        totals.fill(0.0);
        let (mut loss, mut weight) = (0.0, 0.0);
        for wave in (0..chunks).step_by(WAVE) {
            let count = WAVE.min(chunks - wave);
            let sums = &mut self.chunk_sums[..count * width];
            let scalars = &mut self.chunk_scalars[..count];
            sums.par_chunks_mut(width)
                .zip(scalars.par_iter_mut())
                .enumerate()
                .for_each(|(c, (sums, scalars))| {
                    let c = wave + c;
                    let span = c * CHUNK_ROWS..((c + 1) * CHUNK_ROWS).min(batch);
                    *scalars = chunk(data, parameters, rows.part(span), margins, sums);
                });
            for (sums, [chunk_loss, chunk_weight]) in sums.chunks_exact(width).zip(scalars.iter()) {
                for (total, &s) in totals.iter_mut().zip(sums) {
                    *total += s;
                }
                loss += chunk_loss;
                weight += chunk_weight;
            }
        }
        data.sparse.unfold(totals, margins);
        self.sums.loss = loss;
        self.sums.weight = weight;
        self.sums.rows = batch;
        &self.sums
    }
}

/// The sums of one chunk of `rows` into `sums` (zeroed here): returns
/// (Σ sᵢ lossᵢ, Σ sᵢ).
fn chunk(data: &SparseRows, parameters: &[f64], rows: Rows, margins: usize, sums: &mut [f64]) -> [f64; 2] {
    sums.fill(0.0);
    let csr = data.sparse.csr;
    let features = csr.features;
    let (weights, biases) = parameters.split_at(features * margins);
    let mut row_margins = vec![0.0f64; margins];
    let mut slopes = vec![0.0f64; margins];
    let (mut loss, mut weight) = (0.0, 0.0);
    for k in 0..rows.len() {
        let i = rows.get(k);
        let (indices, values) = csr.row(i);
        row_margins.copy_from_slice(biases);
        for (&j, &v) in indices.iter().zip(values) {
            let row_weights = &weights[j as usize * margins..(j as usize + 1) * margins];
            for (margin, &w) in row_margins.iter_mut().zip(row_weights) {
                *margin += f64::from(v) * w;
            }
        }
        let s = data.weights.as_ref().map_or(1.0, |w| f64::from(w[i]));
        let value = data
            .loss
            .row_value_and_derivatives(&row_margins, f64::from(data.y[i]), &mut slopes);
        loss += s * value;
        weight += s;
        for slope in slopes.iter_mut() {
            *slope *= s;
        }
        for (&j, &v) in indices.iter().zip(values) {
            let at = &mut sums[j as usize * margins..(j as usize + 1) * margins];
            for (sum, &slope) in at.iter_mut().zip(&slopes) {
                *sum += slope * f64::from(v);
            }
        }
        for (sum, &slope) in sums[features * margins..].iter_mut().zip(&slopes) {
            *sum += slope;
        }
    }
    [loss, weight]
}
