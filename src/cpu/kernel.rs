//! The fused pass over rows: margins, residuals, loss and Σ rᵢ xᵢ together,
//! each row read once.

use std::ops::Range;

use rayon::prelude::*;

use crate::fit::Problem;
use crate::model::Model;

/// Rows per task. Fixed, so that the partial sums and the order in which
/// they are added are the same whatever the number of threads: the result
/// is reproducible bit for bit.
pub(crate) const CHUNK_ROWS: usize = 1024;

/// Width of the independent accumulators in the dot product: enough for the
/// compiler to keep a full SIMD register busy without reassociating floats.
const LANES: usize = 8;

/// The rows of one batch: all of them in order, or those a permutation names.
#[derive(Debug, Clone)]
pub(crate) enum Rows<'a> {
    All(Range<usize>),
    Indices(&'a [u32]),
}

impl Rows<'_> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Rows::All(range) => range.len(),
            Rows::Indices(indices) => indices.len(),
        }
    }
}

/// Scratch space for batch gradients, sized once per fit so that steps
/// allocate nothing.
pub(crate) struct Workspace {
    features: usize,
    /// Σ rᵢ xᵢ of each chunk, `features` values per chunk.
    chunk_sums: Vec<f32>,
    /// (Σ rᵢ, Σ lossᵢ) of each chunk.
    chunk_scalars: Vec<[f64; 2]>,
    totals: Vec<f64>,
    /// The gradient of the last evaluation: weights, then bias.
    pub(crate) gradient: Vec<f32>,
}

impl Workspace {
    pub(crate) fn new(features: usize, largest_batch: usize) -> Self {
        let chunks = largest_batch.div_ceil(CHUNK_ROWS).max(1);
        Workspace {
            features,
            chunk_sums: vec![0.0; chunks * features],
            chunk_scalars: vec![[0.0; 2]; chunks],
            totals: vec![0.0; features],
            gradient: vec![0.0; features + 1],
        }
    }

    /// Evaluates the gradient of the penalized batch loss at `parameters`
    /// (weights, then bias) into `self.gradient` and returns the loss.
    pub(crate) fn evaluate(&mut self, problem: &Problem, parameters: &[f32], rows: Rows) -> f64 {
        let d = self.features;
        let (weights, bias) = (&parameters[..d], parameters[d]);
        let batch = rows.len();
        let chunks = batch.div_ceil(CHUNK_ROWS);
        let sums = &mut self.chunk_sums[..chunks * d];
        let scalars = &mut self.chunk_scalars[..chunks];
        let chunk = |c: usize, sums: &mut [f32], scalars: &mut [f64; 2]| {
            let span = c * CHUNK_ROWS..((c + 1) * CHUNK_ROWS).min(batch);
            sums.fill(0.0);
            *scalars = match &rows {
                Rows::All(all) => {
                    let rows = all.start + span.start..all.start + span.end;
                    accumulate(problem, weights, bias, rows, sums)
                }
                Rows::Indices(indices) => {
                    let rows = indices[span].iter().map(|&i| i as usize);
                    accumulate(problem, weights, bias, rows, sums)
                }
            };
        };
        if chunks == 1 {
            chunk(0, sums, &mut scalars[0]);
        } else {
            sums.par_chunks_mut(d)
                .zip(scalars.par_iter_mut())
                .enumerate()
                .for_each(|(c, (sums, scalars))| chunk(c, sums, scalars));
        }

        self.totals.fill(0.0);
        let (mut residual_sum, mut loss_sum) = (0.0f64, 0.0f64);
        for (sums, &[residual, loss]) in self.chunk_sums[..chunks * d].chunks_exact(d).zip(&*scalars) {
            for (total, &s) in self.totals.iter_mut().zip(sums) {
                *total += f64::from(s);
            }
            residual_sum += residual;
            loss_sum += loss;
        }

        let scale = problem.model.residual_scale::<f64>() / batch as f64;
        let l2 = problem.l2;
        for ((g, &total), &w) in self.gradient.iter_mut().zip(&self.totals).zip(weights) {
            *g = (scale * total) as f32 + l2 * w;
        }
        self.gradient[d] = (scale * residual_sum) as f32;
        let penalty = if l2 > 0.0 {
            0.5 * f64::from(l2) * weights.iter().map(|&w| f64::from(w) * f64::from(w)).sum::<f64>()
        } else {
            0.0
        };
        loss_sum / batch as f64 + penalty
    }
}

/// Adds rᵢ xᵢ over `rows` into `sums` and returns (Σ rᵢ, Σ lossᵢ), where
/// rᵢ = h(xᵢ·w + b) − yᵢ.
#[inline]
fn accumulate(
    problem: &Problem,
    weights: &[f32],
    bias: f32,
    rows: impl Iterator<Item = usize>,
    sums: &mut [f32],
) -> [f64; 2] {
    let d = problem.features;
    let model = problem.model;
    let (mut residual_sum, mut loss_sum) = (0.0f64, 0.0f64);
    for i in rows {
        let row = &problem.x[i * d..(i + 1) * d];
        let z = dot(row, weights) + bias;
        let y = problem.y[i];
        let residual = match model {
            Model::Linear => z - y,
            Model::Logistic => model.link(z) - y,
        };
        axpy(residual, row, sums);
        residual_sum += f64::from(residual);
        loss_sum += f64::from(model.sample_loss(z, y));
    }
    [residual_sum, loss_sum]
}

/// a · b with `LANES` independent partial sums.
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (a_blocks, a_tail) = a.as_chunks::<LANES>();
    let (b_blocks, b_tail) = b.as_chunks::<LANES>();
    let mut lanes = [0.0f32; LANES];
    for (x, y) in a_blocks.iter().zip(b_blocks) {
        for k in 0..LANES {
            lanes[k] += x[k] * y[k];
        }
    }
    let mut sum = 0.0;
    for (x, y) in a_tail.iter().zip(b_tail) {
        sum += x * y;
    }
    // Pairwise, so the order is fixed and short.
    let quads = [
        lanes[0] + lanes[4],
        lanes[1] + lanes[5],
        lanes[2] + lanes[6],
        lanes[3] + lanes[7],
    ];
    (quads[0] + quads[2]) + (quads[1] + quads[3]) + sum
}

/// y ← y + alpha · x.
#[inline(always)]
fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}
