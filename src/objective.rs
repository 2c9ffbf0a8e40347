//! The objective of a fit, defined once: the loss of each row (through
//! [`Model`]) and the penalty on the weights, and the one step that turns an
//! engine's raw sums over a batch into the batch's gradient and loss.
//!
//! Engines compute only raw sums over the rows of a batch B with margins
//! zᵢ = xᵢ·w + b:
//!
//! | sum | meaning |
//! |---|---|
//! | Σ ℓ′(zᵢ) xᵢ | one value per feature |
//! | Σ ℓ′(zᵢ) | the bias column |
//! | Σ ℓ(zᵢ) | the loss of the rows |
//! | \|B\| | the rows |
//!
//! where ℓ′ = dℓ/dz ([`Model::loss_derivative`]). [`Objective::gradient`]
//! divides by \|B\| and adds the penalty; it is the only place that does, on
//! the CPU (shaders/objective.wgsl mirrors it on the GPU), and the place
//! where a multi-process engine would add the sums of every process first.

use crate::model::Model;

/// The penalty on the weights; the bias is never penalized.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Penalty {
    /// (α/2)‖w‖², gradient α·w.
    L2(f32),
}

impl Penalty {
    /// The penalty's value at `weights`.
    fn value(self, weights: &[f32]) -> f64 {
        match self {
            Penalty::L2(alpha) if alpha > 0.0 => {
                0.5 * f64::from(alpha) * weights.iter().map(|&w| f64::from(w) * f64::from(w)).sum::<f64>()
            }
            Penalty::L2(_) => 0.0,
        }
    }

    /// The penalty's derivative with respect to one weight.
    #[inline(always)]
    fn derivative(self, weight: f32) -> f32 {
        match self {
            Penalty::L2(alpha) => alpha * weight,
        }
    }
}

/// What a fit minimizes: the mean loss of a model plus a penalty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Objective {
    pub(crate) model: Model,
    pub(crate) penalty: Penalty,
}

/// The raw sums of one batch, as every engine computes them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawSums {
    /// Σ ℓ′(zᵢ) xᵢ per feature, then Σ ℓ′(zᵢ) for the bias.
    pub(crate) derivative: Vec<f64>,
    /// Σ ℓ(zᵢ).
    pub(crate) loss: f64,
    /// The rows summed.
    pub(crate) rows: usize,
}

impl RawSums {
    /// Adds `other`'s sums (over other rows) to these.
    pub(crate) fn add(&mut self, other: &RawSums) {
        for (total, &sum) in self.derivative.iter_mut().zip(&other.derivative) {
            *total += sum;
        }
        self.loss += other.loss;
        self.rows += other.rows;
    }

    /// Zero sums for `features` features.
    pub(crate) fn zeros(features: usize) -> Self {
        RawSums {
            derivative: vec![0.0; features + 1],
            loss: 0.0,
            rows: 0,
        }
    }
}

impl Objective {
    /// The model's loss without a penalty.
    pub(crate) fn unpenalized(model: Model) -> Self {
        Objective {
            model,
            penalty: Penalty::L2(0.0),
        }
    }

    /// The batch gradient from raw sums, into `gradient` (weights, then
    /// bias) at `parameters` (weights, then bias); returns the batch loss,
    /// the penalty included:
    ///
    /// gⱼ = Σ ℓ′ xⱼ / \|B\| + penalty′(wⱼ), g_b = Σ ℓ′ / \|B\|,
    /// loss = Σ ℓ / \|B\| + penalty(w).
    #[inline]
    pub(crate) fn gradient(&self, sums: &RawSums, parameters: &[f32], gradient: &mut [f32]) -> f64 {
        let d = parameters.len() - 1;
        let scale = 1.0 / sums.rows as f64;
        for ((g, &sum), &w) in gradient[..d]
            .iter_mut()
            .zip(&sums.derivative[..d])
            .zip(&parameters[..d])
        {
            *g = (scale * sum) as f32 + self.penalty.derivative(w);
        }
        gradient[d] = (scale * sums.derivative[d]) as f32;
        sums.loss / sums.rows as f64 + self.penalty.value(&parameters[..d])
    }
}
