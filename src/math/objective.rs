//! The objective of a fit, defined once: the loss of each row (through
//! [`Loss`]) and the penalty on the weights, and the one step that turns an
//! engine's raw sums over a batch into the batch's gradient and loss.
//!
//! Engines compute only raw sums over the rows of a batch B with margins
//! zᵢ = xᵢ·w + b:
//!
//! | sum | meaning |
//! |---|---|
//! | Σ sᵢ ℓ′(zᵢ) xᵢ | one value per feature |
//! | Σ sᵢ ℓ′(zᵢ) | the bias column |
//! | Σ sᵢ ℓ(zᵢ) | the loss of the rows |
//! | Σ sᵢ | the rows' weight |
//!
//! where ℓ′ = dℓ/dz ([`Loss::derivative`]) and sᵢ the row's sample weight
//! (1 where the rows have none, which leaves the sums as they were).
//!
//! A loss with K margins per row (the multinomial, [`Loss::margins`]) has
//! K of each of the first two: Σ sᵢ ∂ℓ/∂zᵢₖ xᵢⱼ at j·K + k, then the K
//! bias columns, in the order of the parameters (the weights feature by
//! feature, then the biases). With one margin this is the table above.
//! [`Objective::gradient`] divides by Σ sᵢ (a weighted mean, as
//! scikit-learn's `sample_weight`) and adds the penalty; it is the only place that does, on
//! the CPU (shaders/objective.wgsl mirrors it on the GPU), and the place
//! where a multi-process engine would add the sums of every process first.

use num_traits::Float;

use crate::math::loss::Loss;
use crate::math::optim::{Optimizer, OptimizerState};

/// The penalty on the weights; the bias is never penalized.
///
/// | penalty | value | applied as |
/// |---|---|---|
/// | `L2(α)` | (α/2)‖w‖² | α·w added to the gradient |
/// | `L1(α)` | α‖w‖₁ | a proximal step after each update |
/// | `ElasticNet { alpha, l1_ratio }` | α ρ‖w‖₁ + α(1−ρ)/2 ‖w‖² | both |
///
/// The L1 part is not differentiable at 0, so it is not in the gradient:
/// after every update of every optimizer, each weight is soft-thresholded,
/// wⱼ ← sign(wⱼ) · max(|wⱼ| − sⱼ·λ₁, 0), with λ₁ the L1 strength (α, or
/// α ρ) and sⱼ the step the rule takes per unit of gradient of wⱼ once its
/// state has settled: η for plain descent (proximal gradient descent,
/// ISTA), η/(1−β) for momentum and Nesterov (whose velocity sums the
/// gradients), η/(√v̂ⱼ+ε) for AdaGrad, RMSProp and Adam (their per-weight
/// step, v̂ⱼ their second moment, bias-corrected for Adam). Thresholding
/// by the rule's own step makes the penalized objective's optimum a fixed
/// point of every rule; the weights it sets to zero are exact zeros. The elastic net is written as scikit-learn's
/// `ElasticNet` writes it; with the squared error's factor (this crate's
/// loss is (1/n)Σ(z−y)², scikit-learn's (1/2n)Σ(z−y)²), `alpha` here is
/// twice scikit-learn's for the same optimum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Penalty {
    /// (α/2)‖w‖², gradient α·w.
    L2(f32),
    /// α‖w‖₁, by soft-thresholding.
    L1(f32),
    /// α ρ‖w‖₁ + α(1−ρ)/2 ‖w‖², with ρ = `l1_ratio` in [0, 1].
    ElasticNet {
        /// The overall strength α.
        alpha: f32,
        /// The L1 share ρ.
        l1_ratio: f32,
    },
}

impl Default for Penalty {
    fn default() -> Self {
        Penalty::L2(0.0)
    }
}

impl Penalty {
    /// The strength of the squared part (the λ₂ of (λ₂/2)‖w‖²).
    pub fn l2_strength(self) -> f32 {
        match self {
            Penalty::L2(alpha) => alpha,
            Penalty::L1(_) => 0.0,
            Penalty::ElasticNet { alpha, l1_ratio } => alpha * (1.0 - l1_ratio),
        }
    }

    /// The strength of the absolute part (the λ₁ of λ₁‖w‖₁).
    pub fn l1_strength(self) -> f32 {
        match self {
            Penalty::L2(_) => 0.0,
            Penalty::L1(alpha) => alpha,
            Penalty::ElasticNet { alpha, l1_ratio } => alpha * l1_ratio,
        }
    }

    /// The penalty of these strengths: `L2` or `L1` where the other part is
    /// zero, else the elastic net.
    pub fn of_strengths(l2: f32, l1: f32) -> Penalty {
        if l1 == 0.0 {
            Penalty::L2(l2)
        } else if l2 == 0.0 {
            Penalty::L1(l1)
        } else {
            Penalty::ElasticNet {
                alpha: l1 + l2,
                l1_ratio: l1 / (l1 + l2),
            }
        }
    }

    /// The penalty's value at `weights`.
    pub(crate) fn value<T: Float>(self, weights: &[T]) -> f64 {
        let (l2, l1) = (f64::from(self.l2_strength()), f64::from(self.l1_strength()));
        let wide = |w: T| w.to_f64().expect("a float converts to f64");
        let squares = match l2 > 0.0 {
            true => weights.iter().map(|&w| wide(w) * wide(w)).sum::<f64>(),
            false => 0.0,
        };
        let magnitudes = match l1 > 0.0 {
            true => weights.iter().map(|&w| wide(w).abs()).sum::<f64>(),
            false => 0.0,
        };
        0.5 * l2 * squares + l1 * magnitudes
    }

    /// The smooth part's derivative with respect to one weight, in the
    /// weight's precision.
    #[inline(always)]
    fn derivative<T: Float>(self, weight: T) -> T {
        T::from(self.l2_strength()).expect("an f32 fits every float") * weight
    }

    /// The L1 part's proximal step on the weights (not the biases: the
    /// last `biases` parameters) after `optimizer`'s update at
    /// `learning_rate`: each weight soft-thresholded by λ₁ times the rule's
    /// step for it ([`Optimizer::unit_step`]).
    #[inline]
    pub(crate) fn shrink(
        self,
        parameters: &mut [f32],
        biases: usize,
        optimizer: &Optimizer,
        state: &OptimizerState,
        learning_rate: f32,
    ) {
        let l1 = self.l1_strength();
        if l1 > 0.0 {
            let d = parameters.len() - biases;
            for (j, w) in parameters[..d].iter_mut().enumerate() {
                *w = soft_threshold(*w, l1 * optimizer.unit_step(state, j, learning_rate));
            }
        }
    }
}

/// sign(w) · max(|w| − t, 0).
#[inline(always)]
pub(crate) fn soft_threshold(w: f32, threshold: f32) -> f32 {
    let shrunk = w.abs() - threshold;
    if shrunk > 0.0 {
        shrunk.copysign(w)
    } else {
        0.0
    }
}

/// What a fit minimizes: the mean loss of the rows plus a penalty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Objective {
    pub(crate) loss: Loss,
    pub(crate) penalty: Penalty,
}

/// The raw sums of one batch, as every engine computes them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawSums {
    /// Σ ℓ′(zᵢ) xᵢ per feature, then Σ ℓ′(zᵢ) for the bias (per feature
    /// and margin, then per margin, where a row has many).
    pub(crate) derivative: Vec<f64>,
    /// Σ ℓ(zᵢ).
    pub(crate) loss: f64,
    /// The rows summed.
    pub(crate) rows: usize,
    /// Σ sᵢ, the rows' sample weights (the rows, where they have none):
    /// what the sums are divided by.
    pub(crate) weight: f64,
}

/// What a batch's sums over `rows` rows of total weight `weight` are
/// divided by: under `mean_weight` (a mini-batch fit of weighted rows,
/// whose rows weigh `mean_weight` on average) the rows times it, so that
/// a row's step grows with its weight and a batch's expected gradient is
/// the weighted mean's over all rows (scikit-learn's SGD steps by each
/// row's weight too); else the batch's own weight Σ sᵢ (the full batch's
/// weighted mean, and for unweighted rows the rows).
pub(crate) fn batch_divisor(rows: usize, weight: f64, mean_weight: Option<f64>) -> f64 {
    match mean_weight {
        Some(mean) => rows as f64 * mean,
        None => weight,
    }
}

impl RawSums {
    /// Adds `other`'s sums (over other rows) to these.
    pub(crate) fn add(&mut self, other: &RawSums) {
        for (total, &sum) in self.derivative.iter_mut().zip(&other.derivative) {
            *total += sum;
        }
        self.loss += other.loss;
        self.rows += other.rows;
        self.weight += other.weight;
    }

    /// The mean loss Σ sᵢℓᵢ / Σ sᵢ (without a penalty), or `None` where
    /// the rows weigh nothing.
    pub(crate) fn mean_loss(&self) -> Option<f64> {
        (self.weight > 0.0).then(|| self.loss / self.weight)
    }

    /// Zero sums for `features` features and `margins` margins per row.
    pub(crate) fn zeros(features: usize, margins: usize) -> Self {
        RawSums {
            derivative: vec![0.0; (features + 1) * margins],
            loss: 0.0,
            rows: 0,
            weight: 0.0,
        }
    }
}

impl Objective {
    /// The loss without a penalty.
    pub(crate) fn unpenalized(loss: Loss) -> Self {
        Objective {
            loss,
            penalty: Penalty::default(),
        }
    }

    /// The batch gradient from raw sums, into `gradient` (weights, then
    /// biases) at `parameters` (weights, then biases); returns the batch
    /// loss, the penalty included:
    ///
    /// gⱼ = Σ sᵢℓ′ xⱼ / Σ sᵢ + penalty′(wⱼ), g_b = Σ sᵢℓ′ / Σ sᵢ,
    /// loss = Σ sᵢℓ / Σ sᵢ + penalty(w), with sᵢ = 1 for unweighted rows
    /// (Σ sᵢ = \|B\|).
    ///
    /// The engines take it in f32 (the precision of their parameters), the
    /// L-BFGS solver in f64.
    #[inline]
    pub(crate) fn gradient<T: Float>(&self, sums: &RawSums, parameters: &[T], gradient: &mut [T]) -> f64 {
        self.gradient_over(sums, sums.weight, parameters, gradient)
    }

    /// [`Objective::gradient`] with the sums divided by `divisor` rather
    /// than their own weight Σ sᵢ: a mini-batch of weighted rows divides by
    /// its rows times the mean weight of all rows ([`batch_divisor`]).
    #[inline]
    pub(crate) fn gradient_over<T: Float>(
        &self,
        sums: &RawSums,
        divisor: f64,
        parameters: &[T],
        gradient: &mut [T],
    ) -> f64 {
        let d = parameters.len() - self.loss.margins();
        // A batch whose rows all weigh 0 moves nothing.
        let scale = if divisor > 0.0 { 1.0 / divisor } else { 0.0 };
        let of = |value: f64| T::from(value).expect("an f64 converts to every float");
        for (g, &sum) in gradient.iter_mut().zip(&sums.derivative) {
            *g = of(scale * sum);
        }
        // Apart, and only where there is one: a step on a row or a few
        // costs about as much as these loops.
        if self.penalty.l2_strength() != 0.0 {
            for (g, &w) in gradient[..d].iter_mut().zip(&parameters[..d]) {
                *g = *g + self.penalty.derivative(w);
            }
        }
        sums.loss * scale + self.penalty.value(&parameters[..d])
    }
}
