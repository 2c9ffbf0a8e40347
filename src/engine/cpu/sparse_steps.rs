//! Mini-batch steps on sparse rows whose cost is the batch's stored
//! entries, not the features.
//!
//! A dense step reads and writes every parameter: on rows with 75 stored
//! entries among 47,000 features that is almost all of its work. Here a
//! step touches only the weights of the features its rows store entries
//! for (and the biases), by rule:
//!
//! | rule | what the other weights do in a dense step | here |
//! |---|---|---|
//! | SGD | shrink by (1 − ηλ₂) under an L2 penalty, else nothing | every weight is `scale` × a stored value, and the shrink multiplies `scale` alone (scikit-learn's `wscale`): the same step |
//! | momentum, Nesterov | move on with their decaying velocity (and the L2 term) | the missed steps are linear in (θ, v): caught up by a power of their matrix when a feature is next touched, and at the epoch's end: the same steps |
//! | AdaGrad, no L2 | nothing (their gradient is 0) | nothing: the same step |
//! | RMSProp, no L2 | their mean squares decay by α | the decay is caught up (α^k) when a feature is next touched, and at the epoch's end: the same step |
//! | Adam | their moments decay and the weights keep moving | their moments and weights wait (PyTorch's `SparseAdam`), the L2 term too: a different rule, documented |
//!
//! Every other case (an L1 penalty, AdaGrad or RMSProp with an L2 penalty,
//! whose missed steps have no closed form; averaging, centred features,
//! ranks) takes the dense step: its cost is O(features) a step.
//!
//! Under momentum with an L2 penalty, the penalty in each step's reported
//! loss is that of the weights as last updated: the drift of the untouched
//! ones since is counted when they are next touched, and at the epoch's
//! end. The steps themselves are those above.
//!
//! The sums of a batch are those of the dense pass ([`super::sparse`]),
//! in float64, row by row in the same order for batches of up to 4,096
//! rows (the dense pass's chunk). A batch whose entries outnumber the
//! features takes the dense pass and step, unless the rule is Adam.

use super::kernel::{prefetch, Rows};
use super::sparse::SparseRows;
use crate::engine::RunSpec;
use crate::math::objective::Penalty;
use crate::math::optim::{AdaGrad, Adam, AdamCorrections, Momentum, Optimizer, OptimizerState, RmsProp};

/// Rows on whose entries a single-row step asks the cache to fetch ahead.
const ROWS_AHEAD: usize = 4;

/// Row `k` of `batch`: its index, its entries' features and values. The
/// entries, target and weight of a row a few on, and where a row further
/// on starts, are asked of the cache: a permutation's rows are where the
/// hardware cannot guess.
#[inline(always)]
fn fetch_row<'r>(rows: &SparseRows<'r>, batch: Rows, k: usize) -> (usize, &'r [u32], &'r [f32]) {
    let csr = rows.sparse.csr;
    if let Some(ahead) = batch.ahead_by(k, ROWS_AHEAD) {
        let (indices, values) = csr.row(ahead);
        prefetch(indices);
        prefetch(values);
        prefetch(&rows.y[ahead..=ahead]);
        if let Some(weights) = &rows.weights {
            prefetch(&weights[ahead..=ahead]);
        }
    }
    if let Some(further) = batch.ahead_by(k, 2 * ROWS_AHEAD) {
        prefetch(&csr.indptr[further..further + 2]);
    }
    let i = batch.get(k);
    let (indices, values) = csr.row(i);
    (i, indices, values)
}

/// The rules with a step on sparse rows that touches only what a batch
/// stores entries for.
#[derive(Debug, Clone, Copy)]
enum LazyRule {
    /// Plain descent, the L2 shrink of every weight kept as one factor.
    Sgd { l2: f64 },
    /// Momentum or Nesterov, the untouched weights' and velocities' steps
    /// caught up by a power of their (linear) update.
    Momentum { momentum: Momentum, l2: f32 },
    /// AdaGrad without an L2 penalty.
    AdaGrad(AdaGrad),
    /// RMSProp without an L2 penalty.
    RmsProp(RmsProp),
    /// Adam on the touched coordinates (`SparseAdam`), with its L2 term.
    Adam { adam: Adam, l2: f32 },
}

/// What the steps of a run on sparse rows carry between them.
pub(super) struct SparseSteps {
    rule: LazyRule,
    penalty: Penalty,
    features: usize,
    margins: usize,
    /// Under SGD, the weights are `scale` times these.
    scaled: Vec<f64>,
    scale: f64,
    /// Σ of the squared weights (under SGD, of `scaled`), kept as they
    /// change, for the L2 penalty's value at each step. Under momentum,
    /// whose untouched weights move, Σ of the squared weights at the starts
    /// of the steps counted since the last report.
    squares: f64,
    /// Under RMSProp and momentum, the step each feature's state stands at.
    settled_at: Vec<u64>,
    /// Under momentum, the k-th power of the update of an untouched
    /// weight and its velocity (θ, v) ← M (θ, v) at `powers_rate`.
    powers: Vec<Power>,
    powers_rate: f32,
    /// The batch's Σ sᵢ ℓ′ᵢₖ xᵢⱼ at j·K + k for the features it touches
    /// (zero elsewhere), then its Σ sᵢ ℓ′ᵢₖ.
    sums: Vec<f64>,
    touched: Vec<u32>,
    is_touched: Vec<bool>,
    row_margins: Vec<f64>,
    slopes: Vec<f64>,
    /// Under SGD, each row's weighted slope of the current batch.
    batch_slopes: Vec<f64>,
    /// The mean weight of weighted rows ([`RunSpec::mean_weight`]).
    mean_weight: Option<f64>,
}

impl SparseSteps {
    /// The lazy steps of `spec` on `rows`, where a rule has them (the
    /// table above); `None` where the run takes dense steps.
    pub(super) fn for_run(spec: &RunSpec, rows: &SparseRows) -> Option<SparseSteps> {
        let penalty = spec.objective.penalty;
        let l2 = penalty.l2_strength();
        if !spec.steps.shuffled
            || spec.reducer.is_some()
            || spec.average_from.is_some()
            || penalty.l1_strength() != 0.0
            || rows.sparse.standardization.is_some()
        {
            return None;
        }
        let (features, csr) = (rows.sparse.csr.features, rows.sparse.csr);
        // A batch that touches about every feature is cheaper dense (its
        // sums in parallel chunks): lazy steps for the exact rules only
        // where a batch's entries are fewer than the features. Adam's rule
        // is its own and is kept whatever the batch; SGD of one margin
        // steps row by row in O(entries) whatever the batch (`sgd_batch`).
        let entries_per_batch =
            csr.indices.len() as f64 / (csr.indptr.len() - 1).max(1) as f64 * spec.steps.batch_rows as f64;
        let any_batch = match spec.optimizer {
            Optimizer::Adam(_) => true,
            Optimizer::Sgd(_) => spec.objective.loss.margins() == 1,
            _ => false,
        };
        if entries_per_batch >= features as f64 && !any_batch {
            return None;
        }
        let rule = match spec.optimizer {
            Optimizer::Sgd(_) => LazyRule::Sgd { l2: f64::from(l2) },
            Optimizer::Momentum(momentum) => LazyRule::Momentum { momentum, l2 },
            Optimizer::AdaGrad(o) if l2 == 0.0 => LazyRule::AdaGrad(o),
            Optimizer::RmsProp(o) if l2 == 0.0 => LazyRule::RmsProp(o),
            Optimizer::Adam(adam) => LazyRule::Adam { adam, l2 },
            Optimizer::AdaGrad(_) | Optimizer::RmsProp(_) => return None,
        };
        let margins = spec.objective.loss.margins();
        let d = features * margins;
        let weights = &spec.parameters[..d];
        let scaled: Vec<f64> = match rule {
            LazyRule::Sgd { .. } => weights.iter().map(|&w| f64::from(w)).collect(),
            _ => Vec::new(),
        };
        Some(SparseSteps {
            rule,
            penalty,
            features,
            margins,
            scaled,
            scale: 1.0,
            squares: match rule {
                LazyRule::Momentum { .. } => 0.0,
                _ => weights.iter().map(|&w| f64::from(w) * f64::from(w)).sum(),
            },
            settled_at: match rule {
                LazyRule::RmsProp(_) | LazyRule::Momentum { .. } => vec![spec.state.steps; features],
                _ => Vec::new(),
            },
            powers: Vec::new(),
            powers_rate: 0.0,
            sums: vec![0.0; d + margins],
            touched: Vec::new(),
            is_touched: vec![false; features],
            row_margins: vec![0.0; margins],
            slopes: vec![0.0; margins],
            batch_slopes: Vec::with_capacity(spec.steps.batch_rows),
            mean_weight: spec.mean_weight,
        })
    }

    /// One step on `batch` of `rows` at `learning_rate`: returns the batch's
    /// loss at the parameters it started from, the penalty included, as
    /// [`crate::math::objective::Objective::gradient`] gives it.
    pub(super) fn step(
        &mut self,
        rows: &SparseRows,
        batch: Rows,
        parameters: &mut [f32],
        state: &mut OptimizerState,
        learning_rate: f32,
    ) -> f64 {
        match (self.rule, batch.len(), self.margins) {
            (LazyRule::Sgd { l2 }, _, 1) => {
                return self.sgd_batch(rows, batch, parameters, state, learning_rate, l2)
            }
            (LazyRule::Momentum { momentum, l2 }, 1, 1) => {
                return self.momentum_row(rows, batch, parameters, state, learning_rate, (momentum, l2))
            }
            _ => {}
        }
        if let LazyRule::Momentum { momentum, l2 } = self.rule {
            self.catch_up_batch(
                rows,
                batch,
                parameters,
                state,
                untouched_update(momentum, l2, learning_rate),
                learning_rate,
            );
        }
        let (loss_sum, weight) = self.sum(rows, batch, parameters);
        let inverse = self.inverse(batch.len(), weight);
        let half_l2 = 0.5 * f64::from(self.penalty.l2_strength());
        let penalty = match self.rule {
            LazyRule::Sgd { .. } => self.scale * self.scale * self.squares,
            _ => self.squares,
        } * half_l2;
        self.update(inverse, parameters, state, learning_rate);
        match self.rule {
            // The squares of this step's start, and of the starts the
            // batch's features missed: the epoch's sum is exact.
            LazyRule::Momentum { .. } => loss_sum * inverse + std::mem::take(&mut self.squares) * half_l2,
            _ => loss_sum * inverse + penalty,
        }
    }

    /// [`SparseSteps::step`] under SGD for a binary or regression model:
    /// the same step, without the batch's bookkeeping. The step is linear
    /// in the gradient, Σᵢ sᵢ ℓ′ᵢ xᵢ / Σᵢ sᵢ, so each row's entries move
    /// their weights by the row's share, once every row's slope has been
    /// taken at the step's starting weights.
    fn sgd_batch(
        &mut self,
        rows: &SparseRows,
        batch: Rows,
        parameters: &mut [f32],
        state: &mut OptimizerState,
        lr: f32,
        l2: f64,
    ) -> f64 {
        // Each row's weighted slope, at the weights the step starts from.
        let (mut loss, mut weight) = (0.0, 0.0);
        let bias = &mut parameters[self.features];
        self.batch_slopes.clear();
        for k in 0..batch.len() {
            let (i, indices, values) = fetch_row(rows, batch, k);
            let scaled = &self.scaled;
            let term = |j: u32, x: f32| f64::from(x) * scaled[j as usize];
            let (index_quads, value_quads) = (indices.chunks_exact(4), values.chunks_exact(4));
            let (index_rest, value_rest) = (index_quads.remainder(), value_quads.remainder());
            // Four sums, for four additions in flight.
            let mut dots = [0.0f64; 4];
            for (j, x) in index_quads.zip(value_quads) {
                for lane in 0..4 {
                    dots[lane] += term(j[lane], x[lane]);
                }
            }
            for (&j, &x) in index_rest.iter().zip(value_rest) {
                dots[0] += term(j, x);
            }
            let dot = (dots[0] + dots[1]) + (dots[2] + dots[3]);
            let margin = [f64::from(*bias) + self.scale * dot];
            let mut slope = [0.0];
            let value = rows
                .loss
                .row_value_and_derivatives(&margin, f64::from(rows.y[i]), &mut slope);
            let s = rows.weights.as_ref().map_or(1.0, |w| f64::from(w[i]));
            loss += s * value;
            weight += s;
            self.batch_slopes.push(s * slope[0]);
        }
        let inverse = self.inverse(batch.len(), weight);
        let penalty = 0.5 * l2 * self.scale * self.scale * self.squares;
        state.steps += 1;
        if l2 != 0.0 {
            self.scale *= 1.0 - f64::from(lr) * l2;
            if self.scale.abs() < 1e-9 {
                self.rescale();
            }
        }
        let mut bias_sum = 0.0;
        for k in 0..batch.len() {
            let (_, indices, values) = fetch_row(rows, batch, k);
            let slope = self.batch_slopes[k];
            bias_sum += slope;
            let step = f64::from(lr) / self.scale * (inverse * slope);
            // Four sums of the squares' changes, for four in flight.
            let mut squares = [0.0f64; 4];
            let scaled = &mut self.scaled;
            let mut move_weight = |j: u32, x: f32| {
                let v = &mut scaled[j as usize];
                let old = *v;
                *v -= step * f64::from(x);
                *v * *v - old * old
            };
            let (index_quads, value_quads) = (indices.chunks_exact(4), values.chunks_exact(4));
            let (index_rest, value_rest) = (index_quads.remainder(), value_quads.remainder());
            for (j, x) in index_quads.zip(value_quads) {
                for lane in 0..4 {
                    squares[lane] += move_weight(j[lane], x[lane]);
                }
            }
            for (&j, &x) in index_rest.iter().zip(value_rest) {
                squares[0] += move_weight(j, x);
            }
            self.squares += (squares[0] + squares[1]) + (squares[2] + squares[3]);
        }
        crate::math::optim::Sgd { learning_rate: lr }.update(lr, bias, (inverse * bias_sum) as f32);
        loss * inverse + penalty
    }

    /// [`SparseSteps::step`] under momentum or Nesterov on the one row of
    /// `batch` of a binary or regression model: each entry's weight and
    /// velocity caught up as its margin is taken, then stepped.
    fn momentum_row(
        &mut self,
        rows: &SparseRows,
        batch: Rows,
        parameters: &mut [f32],
        state: &mut OptimizerState,
        lr: f32,
        (momentum, l2): (Momentum, f32),
    ) -> f64 {
        let (i, indices, values) = fetch_row(rows, batch, 0);
        if lr != self.powers_rate {
            self.powers.clear();
            self.powers_rate = lr;
        }
        let untouched = untouched_update(momentum, l2, lr);
        let (weights, biases) = parameters.split_at_mut(self.features);
        let velocity = &mut state.first_moment;
        let now = state.steps;
        let mut dot = 0.0;
        for (&j, &x) in indices.iter().zip(values) {
            let j = j as usize;
            let behind = now - self.settled_at[j];
            if behind > 0 {
                let power = power(&mut self.powers, untouched, behind);
                self.squares += catch_up(power, &mut weights[j], &mut velocity[j]);
            }
            dot += f64::from(x) * f64::from(weights[j]);
        }
        let margin = [f64::from(biases[0]) + dot];
        let mut slope = [0.0];
        let value = rows
            .loss
            .row_value_and_derivatives(&margin, f64::from(rows.y[i]), &mut slope);
        // The row's weight over the batch's divisor.
        let s = rows.weights.as_ref().map_or(1.0, |w| f64::from(w[i]));
        let share = s * self.inverse(1, s);
        let (value, slope) = (share * value, share * slope[0]);
        state.steps += 1;
        for (&j, &x) in indices.iter().zip(values) {
            let j = j as usize;
            self.settled_at[j] = state.steps;
            let theta = &mut weights[j];
            self.squares += f64::from(*theta) * f64::from(*theta);
            let g = (slope * f64::from(x)) as f32 + l2 * *theta;
            momentum.update(lr, theta, g, &mut velocity[j]);
        }
        momentum.update(lr, &mut biases[0], slope as f32, &mut velocity[self.features]);
        value + std::mem::take(&mut self.squares) * 0.5 * f64::from(self.penalty.l2_strength())
    }

    /// 1 over what a batch of `rows` rows of total weight `weight` divides
    /// its sums by ([`crate::math::objective::batch_divisor`]); 0 for a
    /// batch that weighs nothing.
    fn inverse(&self, rows: usize, weight: f64) -> f64 {
        let divisor = crate::math::objective::batch_divisor(rows, weight, self.mean_weight);
        if divisor > 0.0 {
            1.0 / divisor
        } else {
            0.0
        }
    }

    /// Brings the weights and velocities of the batch's features to the
    /// current step, before its margins are taken: the steps each missed
    /// since it was last touched, by the `step` matrix's power.
    fn catch_up_batch(
        &mut self,
        rows: &SparseRows,
        batch: Rows,
        parameters: &mut [f32],
        state: &mut OptimizerState,
        step: [f64; 4],
        lr: f32,
    ) {
        if lr != self.powers_rate {
            self.powers.clear();
            self.powers_rate = lr;
        }
        let csr = rows.sparse.csr;
        let (now, margins) = (state.steps, self.margins);
        for k in 0..batch.len() {
            let i = batch.get(k);
            for &j in csr.row(i).0 {
                let j = j as usize;
                let behind = now - self.settled_at[j];
                if behind == 0 {
                    continue;
                }
                self.settled_at[j] = now;
                let power = power(&mut self.powers, step, behind);
                let feature = j * margins..(j + 1) * margins;
                let velocities = &mut state.first_moment[feature.clone()];
                for (theta, v) in parameters[feature].iter_mut().zip(velocities) {
                    self.squares += catch_up(power, theta, v);
                }
            }
        }
    }

    /// The batch's raw sums into `sums`, the features it touches into
    /// `touched`: returns (Σ sᵢ lossᵢ, Σ sᵢ).
    fn sum(&mut self, rows: &SparseRows, batch: Rows, parameters: &[f32]) -> (f64, f64) {
        let csr = rows.sparse.csr;
        let (margins, d) = (self.margins, self.features * self.margins);
        let (weights, biases) = parameters.split_at(d);
        let (mut loss, mut weight) = (0.0, 0.0);
        for k in 0..batch.len() {
            let i = batch.get(k);
            let (indices, values) = csr.row(i);
            match self.rule {
                LazyRule::Sgd { .. } => {
                    self.row_margins.fill(0.0);
                    for (&j, &x) in indices.iter().zip(values) {
                        let j = j as usize;
                        let at = &self.scaled[j * margins..(j + 1) * margins];
                        for (margin, &v) in self.row_margins.iter_mut().zip(at) {
                            *margin += f64::from(x) * v;
                        }
                    }
                    for (margin, &b) in self.row_margins.iter_mut().zip(biases) {
                        *margin = f64::from(b) + self.scale * *margin;
                    }
                }
                _ => {
                    // As the dense pass adds them, for the same steps.
                    for (margin, &b) in self.row_margins.iter_mut().zip(biases) {
                        *margin = f64::from(b);
                    }
                    for (&j, &x) in indices.iter().zip(values) {
                        let j = j as usize;
                        let at = &weights[j * margins..(j + 1) * margins];
                        for (margin, &w) in self.row_margins.iter_mut().zip(at) {
                            *margin += f64::from(x) * f64::from(w);
                        }
                    }
                }
            }
            let s = rows.weights.as_ref().map_or(1.0, |w| f64::from(w[i]));
            let value = rows.loss.row_value_and_derivatives(
                &self.row_margins,
                f64::from(rows.y[i]),
                &mut self.slopes,
            );
            loss += s * value;
            weight += s;
            for slope in self.slopes.iter_mut() {
                *slope *= s;
            }
            for (&j, &x) in indices.iter().zip(values) {
                if !self.is_touched[j as usize] {
                    self.is_touched[j as usize] = true;
                    self.touched.push(j);
                }
                let j = j as usize;
                let at = &mut self.sums[j * margins..(j + 1) * margins];
                for (sum, &slope) in at.iter_mut().zip(&self.slopes) {
                    *sum += slope * f64::from(x);
                }
            }
            for (sum, &slope) in self.sums[d..].iter_mut().zip(&self.slopes) {
                *sum += slope;
            }
        }
        (loss, weight)
    }

    /// The rule's update of the touched weights and of the biases, from
    /// the sums (cleared here) divided by the batch's weight.
    fn update(&mut self, inverse: f64, parameters: &mut [f32], state: &mut OptimizerState, lr: f32) {
        let (margins, d) = (self.margins, self.features * self.margins);
        let gradient = |sum: f64| inverse * sum;
        state.steps += 1;
        if let LazyRule::Sgd { l2 } = self.rule {
            // w = scale·v: (1 − ηλ₂)w − ηg is (1 − ηλ₂)scale · (v − ηg/((1 − ηλ₂)scale)).
            self.scale *= 1.0 - f64::from(lr) * l2;
            if self.scale.abs() < 1e-9 {
                self.rescale();
            }
        }
        let (weights, biases) = parameters.split_at_mut(d);
        let (weight_sums, bias_sums) = self.sums.split_at_mut(d);
        match self.rule {
            LazyRule::Sgd { .. } => {
                let step = f64::from(lr) / self.scale;
                for &j in &self.touched {
                    let j = j as usize;
                    let feature = j * margins..(j + 1) * margins;
                    let sums = &mut weight_sums[feature.clone()];
                    for (v, sum) in self.scaled[feature].iter_mut().zip(sums) {
                        let old = *v;
                        *v -= step * gradient(std::mem::take(sum));
                        self.squares += *v * *v - old * old;
                    }
                }
                for (theta, sum) in biases.iter_mut().zip(bias_sums.iter_mut()) {
                    crate::math::optim::Sgd { learning_rate: lr }.update(lr, theta, (inverse * *sum) as f32);
                    *sum = 0.0;
                }
            }
            LazyRule::Momentum { momentum, l2 } => {
                // The batch's features were brought to the step before
                // this one by `catch_up_batch`.
                let velocity = &mut state.first_moment;
                for &j in &self.touched {
                    let j = j as usize;
                    self.settled_at[j] = state.steps;
                    for index in j * margins..(j + 1) * margins {
                        let (theta, v) = (&mut weights[index], &mut velocity[index]);
                        self.squares += f64::from(*theta) * f64::from(*theta);
                        let g = gradient(weight_sums[index]) as f32 + l2 * *theta;
                        momentum.update(lr, theta, g, v);
                        weight_sums[index] = 0.0;
                    }
                }
                for (m, (theta, sum)) in biases.iter_mut().zip(bias_sums).enumerate() {
                    momentum.update(lr, theta, (inverse * *sum) as f32, &mut velocity[d + m]);
                    *sum = 0.0;
                }
            }
            LazyRule::AdaGrad(o) => {
                for &j in &self.touched {
                    let j = j as usize;
                    for index in j * margins..(j + 1) * margins {
                        let g = gradient(weight_sums[index]) as f32;
                        o.update(lr, &mut weights[index], g, &mut state.second_moment[index]);
                        weight_sums[index] = 0.0;
                    }
                }
                for (m, (theta, sum)) in biases.iter_mut().zip(bias_sums).enumerate() {
                    o.update(
                        lr,
                        theta,
                        (inverse * *sum) as f32,
                        &mut state.second_moment[d + m],
                    );
                    *sum = 0.0;
                }
            }
            LazyRule::RmsProp(o) => {
                let now = state.steps;
                for &j in &self.touched {
                    let j = j as usize;
                    let behind = now - 1 - self.settled_at[j];
                    self.settled_at[j] = now;
                    for index in j * margins..(j + 1) * margins {
                        let mean_square = &mut state.second_moment[index];
                        *mean_square *= decay(o.alpha, behind);
                        let g = gradient(weight_sums[index]) as f32;
                        o.update(lr, &mut weights[index], g, mean_square);
                        weight_sums[index] = 0.0;
                    }
                }
                for (m, (theta, sum)) in biases.iter_mut().zip(bias_sums).enumerate() {
                    o.update(
                        lr,
                        theta,
                        (inverse * *sum) as f32,
                        &mut state.second_moment[d + m],
                    );
                    *sum = 0.0;
                }
            }
            LazyRule::Adam { adam, l2 } => {
                let corrections = AdamCorrections::at_step(&adam, state.steps);
                let (first, second) = (&mut state.first_moment, &mut state.second_moment);
                for &j in &self.touched {
                    let j = j as usize;
                    for index in j * margins..(j + 1) * margins {
                        let theta = &mut weights[index];
                        let old = f64::from(*theta);
                        let g = gradient(weight_sums[index]) as f32 + l2 * *theta;
                        adam.update(lr, &corrections, theta, g, &mut first[index], &mut second[index]);
                        self.squares += f64::from(*theta) * f64::from(*theta) - old * old;
                        weight_sums[index] = 0.0;
                    }
                }
                for (m, (theta, sum)) in biases.iter_mut().zip(bias_sums).enumerate() {
                    let g = (inverse * *sum) as f32;
                    adam.update(lr, &corrections, theta, g, &mut first[d + m], &mut second[d + m]);
                    *sum = 0.0;
                }
            }
        }
        for &j in &self.touched {
            self.is_touched[j as usize] = false;
        }
        self.touched.clear();
    }

    /// Folds `scale` into the stored values (when it nears the float's
    /// range, or is 0 after a shrink by ηλ₂ = 1).
    fn rescale(&mut self) {
        for v in &mut self.scaled {
            *v *= self.scale;
        }
        self.squares *= self.scale * self.scale;
        self.scale = 1.0;
    }

    /// Brings `parameters` and `state` to what dense steps would hold
    /// (the end of an epoch: the run reports them, or hands them on).
    /// Returns what the epoch's loss has yet to count: under momentum with
    /// an L2 penalty, the penalty at the starts of the steps the weights
    /// untouched since missed.
    pub(super) fn settle(&mut self, parameters: &mut [f32], state: &mut OptimizerState) -> f64 {
        let d = self.features * self.margins;
        match self.rule {
            LazyRule::Sgd { .. } => {
                self.rescale();
                // The run goes on from the weights it reports, so that a
                // run resumed from them continues it exactly.
                for (theta, v) in parameters[..d].iter_mut().zip(&mut self.scaled) {
                    *theta = *v as f32;
                    *v = f64::from(*theta);
                }
                self.squares = self.scaled.iter().map(|v| v * v).sum();
            }
            LazyRule::RmsProp(o) => {
                for (j, settled_at) in self.settled_at.iter_mut().enumerate() {
                    let behind = state.steps - *settled_at;
                    *settled_at = state.steps;
                    for mean_square in &mut state.second_moment[j * self.margins..(j + 1) * self.margins] {
                        *mean_square *= decay(o.alpha, behind);
                    }
                }
            }
            LazyRule::Momentum { momentum, l2 } => {
                let rate = self.powers_rate;
                for (j, settled_at) in self.settled_at.iter_mut().enumerate() {
                    let behind = state.steps - *settled_at;
                    *settled_at = state.steps;
                    let power = power(&mut self.powers, untouched_update(momentum, l2, rate), behind);
                    let feature = j * self.margins..(j + 1) * self.margins;
                    let velocities = &mut state.first_moment[feature.clone()];
                    for (theta, v) in parameters[feature].iter_mut().zip(velocities) {
                        self.squares += catch_up(power, theta, v);
                    }
                }
                let half_l2 = 0.5 * f64::from(self.penalty.l2_strength());
                return std::mem::take(&mut self.squares) * half_l2;
            }
            LazyRule::AdaGrad(_) | LazyRule::Adam { .. } => {
                self.squares = parameters[..d].iter().map(|&w| f64::from(w) * f64::from(w)).sum();
            }
        }
        0.0
    }
}

/// The step of momentum at rate `lr` on a weight whose rows' gradient is
/// 0, the L2 term λ₂θ its whole gradient: with v′ = βv + λ₂θ, heavy ball
/// takes θ′ = θ − ηv′, Nesterov θ′ = θ − η(λ₂θ + βv′); both linear in
/// (θ, v): the matrix [[a, b], [c, d]] row by row.
fn untouched_update(momentum: Momentum, l2: f32, lr: f32) -> [f64; 4] {
    let (beta, l2, lr) = (f64::from(momentum.beta), f64::from(l2), f64::from(lr));
    match momentum.nesterov {
        false => [1.0 - lr * l2, -lr * beta, l2, beta],
        true => [1.0 - lr * l2 * (1.0 + beta), -lr * beta * beta, l2, beta],
    }
}

/// The k-th power P of the update of an untouched weight, and what the
/// squares of the weight over those k steps sum to: with Pⁱ's first row
/// (aᵢ, bᵢ), Σᵢ<ₖ (aᵢθ + bᵢv)² = θ²Σaᵢ² + 2θvΣaᵢbᵢ + v²Σbᵢ².
#[derive(Debug, Clone, Copy)]
struct Power {
    matrix: [f64; 4],
    /// (Σᵢ<ₖ aᵢ², Σᵢ<ₖ aᵢbᵢ, Σᵢ<ₖ bᵢ²).
    squares: [f64; 3],
}

/// Powers of an untouched weight's update kept in a table, at most: a
/// longer gap is composed of them, so the table's memory is bounded
/// whatever the steps of an epoch.
const POWERS_TABLED: usize = 4096;

impl Power {
    /// The update's power 0: nothing moves, no step is counted.
    const IDENTITY: Power = Power {
        matrix: [1.0, 0.0, 0.0, 1.0],
        squares: [0.0; 3],
    };

    /// `self`'s m steps, then `then`'s n: Pᵐ⁺ⁿ = PⁿPᵐ, and with G the
    /// Gram matrix [[Σa², Σab], [Σab, Σb²]] of the squares,
    /// Gₘ₊ₙ = Gₘ + (Pᵐ)ᵀ Gₙ Pᵐ.
    fn then(self, then: Power) -> Power {
        let [a, b, c, d] = self.matrix;
        let [p, q, r, s] = then.matrix;
        let [x, y, z] = then.squares;
        // (Pᵐ)ᵀ Gₙ Pᵐ with Pᵐ = [[a, b], [c, d]], Gₙ = [[x, y], [y, z]].
        let (ga, gc) = (x * a + y * c, y * a + z * c);
        let (gb, gd) = (x * b + y * d, y * b + z * d);
        let [aa, ab, bb] = self.squares;
        Power {
            matrix: [p * a + q * c, p * b + q * d, r * a + s * c, r * b + s * d],
            squares: [aa + a * ga + c * gc, ab + a * gb + c * gd, bb + b * gb + d * gd],
        }
    }
}

/// The `k`-th power of `step`, from `powers` (its powers 0, 1, … so far, for
/// the same step, up to [`POWERS_TABLED`]), extended as needed.
#[inline(always)]
fn power(powers: &mut Vec<Power>, step: [f64; 4], k: u64) -> Power {
    match powers.get(k as usize) {
        Some(&power) => power,
        None => power_beyond(powers, step, k),
    }
}

/// [`power`] past the powers tabled so far: the table extended up to
/// [`POWERS_TABLED`], a longer gap composed of tabled powers.
#[cold]
fn power_beyond(powers: &mut Vec<Power>, step: [f64; 4], k: u64) -> Power {
    if powers.is_empty() {
        powers.push(Power::IDENTITY);
    }
    let tabled = (k as usize).min(POWERS_TABLED);
    while powers.len() <= tabled {
        let [a, b, c, d] = step;
        let last = powers[powers.len() - 1];
        let [p, q, r, s] = last.matrix;
        let [aa, ab, bb] = last.squares;
        powers.push(Power {
            matrix: [a * p + b * r, a * q + b * s, c * p + d * r, c * q + d * s],
            squares: [aa + p * p, ab + p * q, bb + q * q],
        });
    }
    let mut power = powers[(k % POWERS_TABLED as u64) as usize];
    for _ in 0..k / POWERS_TABLED as u64 {
        power = power.then(powers[POWERS_TABLED]);
    }
    power
}

/// (θ, v) ← P (θ, v): the steps a weight and its velocity missed. Returns
/// the sum of the weight's squares at those steps' starts.
#[inline(always)]
fn catch_up(power: Power, theta: &mut f32, v: &mut f32) -> f64 {
    let [a, b, c, d] = power.matrix;
    let [aa, ab, bb] = power.squares;
    let (t, u) = (f64::from(*theta), f64::from(*v));
    *theta = (a * t + b * u) as f32;
    *v = (c * t + d * u) as f32;
    t * t * aa + 2.0 * t * u * ab + u * u * bb
}

/// α^k, the decay of k steps without a gradient.
fn decay(alpha: f32, steps: u64) -> f32 {
    match steps {
        0 => 1.0,
        k => alpha.powi(k.min(i32::MAX as u64) as i32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A power past the table is composed of tabled ones: it equals the
    /// update applied step by step, and so does the sum of the weight's
    /// squares at the steps' starts.
    #[test]
    fn powers_beyond_the_table_compose_exactly() {
        let step = untouched_update(Optimizer::nesterov(0.01, 0.9), 0.3, 0.05);
        let mut powers = Vec::new();
        for k in [
            0,
            1,
            7,
            POWERS_TABLED as u64,
            2 * POWERS_TABLED as u64 + 5,
            10_000,
        ] {
            let (mut theta, mut v, mut squares) = (0.7f64, -0.2f64, 0.0);
            for _ in 0..k {
                squares += theta * theta;
                let [a, b, c, d] = step;
                (theta, v) = (a * theta + b * v, c * theta + d * v);
            }
            let power = power(&mut powers, step, k);
            let (mut found_theta, mut found_v) = (0.7f32, -0.2f32);
            let found_squares = catch_up(power, &mut found_theta, &mut found_v);
            let near = |a: f64, b: f64| (a - b).abs() <= 1e-6 * (1.0 + b.abs());
            assert!(near(f64::from(found_theta), theta), "{k}: {found_theta} {theta}");
            assert!(near(f64::from(found_v), v), "{k}: {found_v} {v}");
            assert!(near(found_squares, squares), "{k}: {found_squares} {squares}");
            assert!(powers.len() <= POWERS_TABLED + 1);
        }
    }
}
